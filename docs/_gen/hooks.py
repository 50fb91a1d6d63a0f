"""mkdocs hook: the python blocks of the site (markdown-exec) import trialstats from THIS
checkout, and the helpers of docs/_gen; matplotlib draws off-screen and deterministically."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def on_startup(command, dirty):  # noqa: ARG001 - mkdocs hook signature
    os.environ.setdefault("MPLBACKEND", "Agg")
    for p in (ROOT / "docs" / "_gen", ROOT):
        if str(p) not in sys.path:
            sys.path.insert(0, str(p))
    os.chdir(ROOT)  # the pages refer to files relative to the repository root
