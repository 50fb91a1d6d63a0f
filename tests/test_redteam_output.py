"""Red team (issue 11), output: ``-o`` targets the earlier output tests had not tried.

Found: an existing FIFO as ``-o`` hung the build (the report marker check opened it for reading
and waited for a writer); with ``--force`` a FIFO, socket or device (``/dev/null``,
``/dev/stdout``) was accepted and would have been replaced by a plain file (as root, a device node
of /dev); an output name too long for the file system, or one whose ``<stem>_ard`` folder name is,
ended in "unexpected OSError" after loading. Each is now an OutputError before the build
(exit status 2), even with ``--force``.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
from pathlib import Path

import pytest
from design_util import TWO_VISIT_PLAN

from trialstats.cli import main
from trialstats.report._output import is_report
from trialstats.report.plan import load_plan

MINI = Path(__file__).parent / "data" / "mini_trial"


def _run_with_deadline(argv, seconds=60):
    """main(argv) in a thread; a hang fails the test instead of blocking the suite."""
    box = {}
    t = threading.Thread(target=lambda: box.setdefault("code", main(argv)), daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), f"trialstats {' '.join(argv)} hung"
    return box["code"]


def _special(tmp_path: Path, kind: str) -> Path:
    path = tmp_path / f"{kind}.html"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "socket":
        s = socket.socket(socket.AF_UNIX)
        s.bind(str(path))
        s.close()
    return path


@pytest.mark.parametrize("force", [False, True])
@pytest.mark.parametrize("kind", ["fifo", "socket"])
def test_output_that_is_not_a_regular_file_is_refused(tmp_path, capsys, kind, force):
    out = _special(tmp_path, kind)
    argv = ["report", str(MINI), "-o", str(out)] + (["--force"] if force else [])
    assert _run_with_deadline(argv) == 2
    err = capsys.readouterr().err
    assert "not a regular file" in err and "Traceback" not in err
    assert not Path(str(out)[:-5] + "_ard").exists()  # nothing written
    assert not out.is_file()  # not replaced by a plain file


def test_is_report_does_not_block_on_a_fifo(tmp_path):
    path = _special(tmp_path, "fifo")
    box = {}
    t = threading.Thread(target=lambda: box.setdefault("r", is_report(path)), daemon=True)
    t.start()
    t.join(10)
    assert not t.is_alive() and box["r"] is False


@pytest.mark.parametrize("name", ["a" * 300 + ".html", "b" * 253 + ".x"],
                         ids=["html-name", "ard-name"])
def test_output_name_too_long_is_a_clean_error(tmp_path, capsys, name):
    # the second: 255 characters fit, but its tables folder '<stem>_ard' (258) does not
    assert main(["report", str(MINI), "-o", str(tmp_path / name)]) == 2
    err = capsys.readouterr().err
    assert "cannot be used as an output name" in err and "unexpected" not in err


def test_output_symlink_loop_is_a_clean_error(tmp_path, capsys):
    link = tmp_path / "loop.html"
    os.symlink(link, link)
    assert main(["report", str(MINI), "-o", str(link)]) == 2
    err = capsys.readouterr().err
    assert "cannot be used as an output name" in err and "Traceback" not in err


def test_output_inside_a_file_used_as_folder_is_a_clean_error(tmp_path, capsys):
    folder = Path(shutil.copytree(MINI, tmp_path / "trial"))
    # -o trial/adsl.csv/report.html: a path through an input file
    assert main(["report", str(folder), "-o", str(folder / "adsl.csv" / "r.html")]) == 2
    err = capsys.readouterr().err
    assert "unexpected" not in err and "Traceback" not in err
    assert (folder / "adsl.csv").read_bytes() == (MINI / "adsl.csv").read_bytes()


# ---------------------------------------------------------------- trialstats design -o
DESIGN = ('plan = "sap.toml"\nseed = 2\nreplicates = 2\nn_per_arm = [10, 20]\n'
          '[[scenarios]]\nname = "alt"\nmodel = "normal"\nvisits = [12, 24]\n'
          'mean_difference = [3.0, 6.0]\nsd = 10.0\ncorrelation = 0.5\nretention = 1.0\n')


def _design(tmp_path: Path) -> Path:
    (tmp_path / "sap.toml").write_text(load_plan(TWO_VISIT_PLAN).to_toml(), encoding="utf-8")
    spec = tmp_path / "design.toml"
    spec.write_text(DESIGN, encoding="utf-8")
    return spec


@pytest.mark.parametrize("target", ["design.toml", "sap.toml", "notes.txt", "fifo.html"])
def test_design_output_never_destroys_its_inputs_or_other_files(tmp_path, capsys, target):
    # before: the design report was written over any -o after the whole simulation (its own
    # design.toml and plan included) and a FIFO or device would have been replaced
    spec = _design(tmp_path)
    (tmp_path / "notes.txt").write_text("keep", encoding="utf-8")
    os.mkfifo(tmp_path / "fifo.html")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    assert _run_with_deadline(["design", str(spec), "-o", str(tmp_path / target)]) == 2
    err = capsys.readouterr().err
    assert "error: -o" in err and "Traceback" not in err
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()} == before
    assert not (tmp_path / f"{Path(target).stem}_ard").exists()


def test_design_report_is_recognised_and_can_be_rebuilt(tmp_path, capsys):
    spec = _design(tmp_path)
    out = tmp_path / "d.html"
    assert main(["design", str(spec), "-o", str(out)]) == 0
    assert is_report(out)  # the generator marker
    assert main(["design", str(spec), "-o", str(out)]) == 0  # a report may be replaced
    (tmp_path / "other.html").write_text("<p>mine</p>", encoding="utf-8")
    assert main(["design", str(spec), "-o", str(tmp_path / "other.html"), "--force"]) == 0
