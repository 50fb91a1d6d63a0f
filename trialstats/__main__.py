"""``python -m trialstats``: the command line (see :mod:`trialstats.cli`)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
