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

from trialstats.cli import main
from trialstats.report._output import is_report

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
