"""Regenerate the bundled simulated trials in this folder (datasets/<name>/).

Each trial is drawn by :func:`trialstats.simulate_trial` with the fixed arguments in
:data:`TRIALS` and written with :meth:`trialstats.Trial.write` (deterministic bytes: integers,
fixed float formatting, LF line endings). Same arguments, same bytes on any machine with the
same NumPy random streams.

Usage::

    python datasets/make_datasets.py            # rewrite datasets/exo-hair-301, exo-hair-202
    python datasets/make_datasets.py --check    # exit 1 if a committed file differs
    python datasets/make_datasets.py --out DIR  # write the folders under DIR instead
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent

#: Folder name -> keyword arguments of trialstats.simulate_trial.
TRIALS: dict[str, dict] = {
    "exo-hair-301": dict(
        trial_id="EXO-HAIR-301",
        title=("EXO-HAIR-301: exosome injections vs minoxidil 5% vs placebo in androgenetic "
               "alopecia, 24 weeks of treatment and follow-up to week 104 (simulated)"),
        arms=["EXOSOME", "MINOXIDIL", "PLACEBO"],
        n_per_arm=150,
        treatment_weeks=24,
        followup_weeks=104,
        dropout=0.30,
        missed_visit=0.05,
        n_sites=6,
        seed=301,
    ),
    "exo-hair-202": dict(
        trial_id="EXO-HAIR-202",
        title=("EXO-HAIR-202: exosome injections vs placebo in androgenetic alopecia, "
               "a small phase 2 trial with heavy dropout (simulated)"),
        arms=["EXOSOME", "PLACEBO"],
        n_per_arm=40,
        treatment_weeks=24,
        followup_weeks=72,
        dropout=0.55,
        missed_visit=0.08,
        n_sites=3,
        seed=202,
    ),
}


def build(name: str):
    """Simulate the bundled trial ``name`` (a key of :data:`TRIALS`); return the Trial."""
    from trialstats import simulate_trial

    return simulate_trial(**TRIALS[name])


def write_all(out: Path) -> list[Path]:
    """Write every bundled trial to ``out/<name>/``; return the folders."""
    return [build(name).write(Path(out) / name) for name in TRIALS]


def check(out: Path = HERE) -> list[str]:
    """Files under ``out`` that differ from a fresh regeneration (empty when all match)."""
    with tempfile.TemporaryDirectory() as tmp:
        write_all(Path(tmp))
        differ = []
        for fresh in sorted(Path(tmp).rglob("*")):
            if fresh.is_file():
                rel = fresh.relative_to(tmp)
                committed = Path(out) / rel
                if not committed.is_file() or committed.read_bytes() != fresh.read_bytes():
                    differ.append(str(rel))
        return differ


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE, help="parent folder (default: here)")
    parser.add_argument("--check", action="store_true",
                        help="compare with the files in --out instead of writing")
    args = parser.parse_args(argv)
    if args.check:
        differ = check(args.out)
        for rel in differ:
            print(f"differs from a fresh regeneration: {rel}")
        return 1 if differ else 0
    for folder in write_all(args.out):
        print(f"wrote {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
