"""A script run from a folder that holds another folder named ``trialstats`` (for example the
folder containing the clone) imports the real package, not that folder as an empty namespace
package ("module 'trialstats' has no attribute 'datasets'", issue 13).

Under ``make test`` the package is an editable install in .venv; setuptools' editable import hook
loses to such a folder, and the Makefile's ``trialstats-src.pth`` (a sys.path entry) is what makes
the real package win. The subprocess inherits this interpreter and its environment."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_a_stray_trialstats_folder_in_the_working_directory_does_not_shadow_the_package(tmp_path):
    (tmp_path / "trialstats" / "reports").mkdir(parents=True)  # a folder, no __init__.py
    script = tmp_path / "analysis.py"
    script.write_text("import trialstats\nprint(trialstats.__file__)\nprint(trialstats.datasets.names())\n")
    out = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    first, names = out.stdout.splitlines()[:2]
    assert first.endswith(str(Path("trialstats", "__init__.py"))), first
    assert "exo-hair-301" in names
