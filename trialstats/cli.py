"""The ``trialstats`` command line (also ``python -m trialstats``).

Commands
--------
``trialstats validate PATH``
    Print the validation summary of a trial folder (rows per table and per arm, every problem);
    exit status 1 when there are errors, 0 otherwise.
``trialstats simulate --seed N [--n-per-arm K] [--arms ...] [--trial-id ID] -o FOLDER``
    Simulate a trial (:func:`trialstats.simulate.simulate_trial`) and write it as a trial folder.
``trialstats datasets``
    List the bundled trials.
``trialstats report PATH [-o OUT]`` / ``trialstats report --all DIR -o OUTDIR``
    Build the HTML report of one trial folder, or of every trial folder (a folder holding
    trial.toml) in DIR, as ``<folder name>.html``; print each written path.
``trialstats design SPEC -o OUT.html [--replicates N] [--engine sequential|local|ADDRESS]``
    Run a simulation-based design (:func:`trialstats.design.run`); write its HTML report and
    ``OUT_ard/`` (Parquet tables) (:mod:`trialstats.design.cli`).

Exit status: 0 success, 1 invalid data or a failed command, 2 usage error (argparse).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import __version__
from .errors import TrialstatsError

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``trialstats`` command."""
    parser = argparse.ArgumentParser(
        prog="trialstats", description="Analysis of alopecia trials: validate, simulate, report.")
    parser.add_argument("--version", action="version", version=f"trialstats {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("validate", help="validate a trial folder and print a summary")
    p.add_argument("path", type=Path, help="trial folder (holds trial.toml)")

    p = sub.add_parser("simulate", help="simulate a trial and write it as a trial folder")
    p.add_argument("--seed", type=int, required=True, help="seed of the random generator")
    p.add_argument("--n-per-arm", type=int, default=None, help="subjects per arm")
    p.add_argument("--arms", nargs="+", default=None, metavar="CODE",
                   help="arm codes (EXOSOME, MINOXIDIL, PLACEBO; default all three)")
    p.add_argument("--trial-id", default=None, help="trial id (trial.toml id, USUBJID prefix)")
    p.add_argument("--treatment-weeks", type=int, default=None, help="weeks on treatment")
    p.add_argument("--followup-weeks", type=int, default=None, help="study week of the last visit")
    p.add_argument("--dropout", type=float, default=None, help="dropout probability")
    p.add_argument("--format", choices=("csv", "parquet"), default="csv", help="table format")
    p.add_argument("-o", "--output", type=Path, required=True, help="folder to write")

    sub.add_parser("datasets", help="list the bundled trials")

    p = sub.add_parser("report", help="build the HTML report of a trial folder (or of all)")
    p.add_argument("path", type=Path, nargs="?", help="trial folder")
    p.add_argument("--all", type=Path, metavar="DIR", dest="all_dir",
                   help="build a report for every trial folder in DIR")
    p.add_argument("-o", "--output", type=Path, default=None,
                   help="output HTML file (one trial) or folder (--all)")

    from .design.cli import add_parser as _add_design_parser

    _add_design_parser(sub)
    return parser


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _cmd_validate(args) -> int:
    from .data import validate_folder

    report = validate_folder(args.path)
    print(report)
    return 0 if report.ok else 1


def _cmd_simulate(args) -> int:
    from .simulate import simulate_trial

    options = ("n_per_arm", "arms", "trial_id", "treatment_weeks", "followup_weeks", "dropout")
    kwargs = {k: getattr(args, k) for k in options if getattr(args, k) is not None}
    kwargs["seed"] = args.seed
    trial = simulate_trial(**kwargs)
    folder = trial.write(args.output, format=args.format)
    print(folder)
    return 0


def _cmd_datasets(args) -> int:
    from . import datasets

    for name in datasets.names():
        print(name)
    return 0


def _trial_folders(root: Path) -> list[Path]:
    return sorted(p.parent for p in root.glob("*/trial.toml"))


def _build_one(folder: Path, out: Path) -> Path:
    from .data import load_trial
    from .report.build import build_report

    trial = load_trial(folder)
    out.parent.mkdir(parents=True, exist_ok=True)
    written = build_report(trial, out, progress=_progress)
    return Path(written) if written is not None else out


def _cmd_report(args, parser) -> int:
    if (args.path is None) == (args.all_dir is None):
        parser.error("report: give either PATH (one trial folder) or --all DIR")
    if args.all_dir is not None:
        if args.output is None:
            parser.error("report --all: give the output folder with -o OUTDIR")
        if not args.all_dir.is_dir():
            raise TrialstatsError(f"--all {args.all_dir}: not a folder (give the folder holding the trial folders)")
        folders = _trial_folders(args.all_dir)
        if not folders:
            raise TrialstatsError(f"no trial folders (folders holding trial.toml) in {args.all_dir}")
        status = 0
        for folder in folders:
            try:
                print(_build_one(folder, args.output / f"{folder.name}.html"))
            except TrialstatsError as e:
                print(f"{folder}: {e}", file=sys.stderr)
                status = 1
        return status
    out = args.output if args.output is not None else Path(f"{args.path.resolve().name}.html")
    print(_build_one(args.path, out))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status.

    Parameters
    ----------
    argv : list of str, optional
        Arguments without the program name; defaults to ``sys.argv[1:]``.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "validate":
            return _cmd_validate(args)
        if args.command == "simulate":
            return _cmd_simulate(args)
        if args.command == "datasets":
            return _cmd_datasets(args)
        if args.command == "design":
            from .design.cli import command as _cmd_design

            return _cmd_design(args)
        return _cmd_report(args, parser)
    except TrialstatsError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # output piped into a reader that closed early (e.g. `| head`): not an error
        sys.stderr.close()
        return 0
