"""Import weight: ``import trialstats`` and a first ts.mmrm fit load only what they use.

Speed itself is measured in benchmarks/ (first call vs warm call); this checks the property the
speed rests on, in a fresh interpreter: heavy optional libraries stay unimported.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("matplotlib", "lifelines", "statsmodels", "scipy.stats", "scipy.optimize")


def _loaded_after(code: str, names=HEAVY) -> list[str]:
    """Which of ``names`` are in sys.modules after running ``code`` in a fresh interpreter."""
    script = code + f"\nimport sys\nprint(','.join(m for m in {tuple(names)!r} if m in sys.modules))"
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         env=env, check=True, cwd=ROOT)
    return [m for m in out.stdout.strip().split(",") if m]


def test_import_trialstats_loads_no_heavy_library():
    assert _loaded_after("import trialstats\n", HEAVY + ("pandas", "formulaic")) == []


def test_first_mmrm_fit_and_contrast_load_no_heavy_library():
    code = (
        "import numpy as np, pandas as pd\nimport trialstats as ts\n"
        "rng = np.random.default_rng(1)\n"
        "d = pd.DataFrame({'USUBJID': np.repeat(np.arange(40), 3),\n"
        "                  'AVISIT': pd.Categorical(np.tile(['W4', 'W12', 'W24'], 40),\n"
        "                                           categories=['W4', 'W12', 'W24']),\n"
        "                  'ARM': np.repeat(np.tile(['PBO', 'ACT'], 20), 3),\n"
        "                  'BASE': np.repeat(rng.normal(size=40), 3),\n"
        "                  'CHG': rng.normal(size=120)})\n"
        "fit = ts.mmrm('CHG ~ ARM * AVISIT + BASE', d)\n"
        "fit.contrast('ARM', by='AVISIT'); fit.lsmeans('ARM', by='AVISIT'); fit.coef\n"
    )
    assert _loaded_after(code) == []
