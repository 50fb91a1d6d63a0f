"""`trialstats report` progress: plain lines in a log, a tqdm bar only on a terminal (issue 13)."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
from pathlib import Path

import trialstats

DATA = Path(trialstats.__file__).resolve().parent.parent / "datasets" / "exo-hair-202"


def _run(tmp_path: Path, stderr_tty: bool) -> tuple[int, str]:
    cmd = [sys.executable, "-m", "trialstats", "report", str(DATA), "-o", str(tmp_path / "r.html")]
    if not stderr_tty:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        return out.returncode, out.stderr
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))  # 40x120
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=follower, close_fds=True)
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    return proc.wait(timeout=600), b"".join(chunks).decode("utf-8", "replace")


def test_progress_bar_only_on_a_terminal(tmp_path):
    (tmp_path / "a").mkdir()
    code, log = _run(tmp_path / "a", stderr_tty=False)
    assert code == 0, log
    lines = [ln for ln in log.splitlines() if ln.startswith("[")]
    assert lines and all("EXO-HAIR-202" in ln for ln in lines)
    assert "section/s" not in log and "%|" not in log  # no bar in a log file
    (tmp_path / "b").mkdir()
    code, tty = _run(tmp_path / "b", stderr_tty=True)
    assert code == 0, tty
    assert "%|" in tty  # tqdm's bar was drawn
    assert "EXO-HAIR-202" in tty  # and the lines are still printed above it
