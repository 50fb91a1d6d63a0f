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
``trialstats report PATH [-o OUT] [--force] [--keep-going]`` / ``trialstats report --all DIR -o OUTDIR``
    Build the HTML report of one trial folder, or of every trial folder (a folder holding
    trial.toml) in DIR, as ``<folder name>.html``; print each written path. ``-o`` never
    overwrites an input of the trial, nor (without ``--force``) a file that is not a trialstats
    report.
``trialstats design SPEC -o OUT.html [--replicates N] [--engine sequential|local|ADDRESS]``
    Run a simulation-based design (:func:`trialstats.design.run`); write its HTML report and
    ``OUT_ard/`` (Parquet tables) (:mod:`trialstats.design.cli`).

Every command takes ``--debug`` (show the traceback of an unexpected error) and, for trial
folders, ``--allow-outside`` (read table files that trial.toml places outside the folder).

Exit status
-----------
0
    Success (``validate``: the trial is valid; warnings allowed).
1
    A failed analysis: a report section failed (unless ``--keep-going``; sections that do not
    apply, such as Relapse without ADTTE, are not failures), a model error, or an unexpected
    error (one line; ``--debug`` shows the traceback). ``validate``: the data are invalid (the
    problems are printed).
2
    Bad input or usage: invalid trial data or analysis plan, an output path that would destroy
    something, a bad option. With ``--all``, the worst status over the trials.
"""

from __future__ import annotations

import argparse
import re
import sys
import traceback
from pathlib import Path

from . import __version__
from .errors import ModelError, TrialstatsError

#: Exit statuses (see the module docstring).
EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``trialstats`` command."""
    parser = argparse.ArgumentParser(
        prog="trialstats", description="Analysis of alopecia trials: validate, simulate, report.")
    parser.add_argument("--version", action="version", version=f"trialstats {__version__}")
    debug = argparse.ArgumentParser(add_help=False)
    debug.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="show the full traceback of an unexpected error")
    parser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show the full traceback of an unexpected error")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("validate", parents=[debug], help="validate a trial folder and print a summary")
    p.add_argument("path", type=Path, help="trial folder (holds trial.toml)")
    p.add_argument("--allow-outside", action="store_true",
                   help="read table files that trial.toml places outside the trial folder")

    p = sub.add_parser("simulate", parents=[debug], help="simulate a trial and write it as a trial folder")
    p.add_argument("--seed", type=int, required=True, help="seed of the random generator")
    p.add_argument("--n-per-arm", type=int, default=None, help="subjects per arm")
    p.add_argument("--arms", nargs="+", default=None, metavar="CODE",
                   help="arm codes (EXOSOME, MINOXIDIL, PLACEBO, FINASTERIDE; default the "
                        "first three)")
    p.add_argument("--trial-id", default=None, help="trial id (trial.toml id, USUBJID prefix)")
    p.add_argument("--treatment-weeks", type=int, default=None, help="weeks on treatment")
    p.add_argument("--followup-weeks", type=int, default=None, help="study week of the last visit")
    p.add_argument("--dropout", type=float, default=None, help="dropout probability")
    p.add_argument("--format", choices=("csv", "parquet"), default="csv", help="table format")
    p.add_argument("-o", "--output", type=Path, required=True, help="folder to write")
    p.add_argument("--force", action="store_true",
                   help="write into an existing folder that trialstats simulate did not write")

    sub.add_parser("datasets", parents=[debug], help="list the bundled trials")

    p = sub.add_parser("report", parents=[debug], help="build the HTML report of a trial folder (or of all)")
    p.add_argument("path", type=Path, nargs="?", help="trial folder")
    p.add_argument("--all", type=Path, metavar="DIR", dest="all_dir",
                   help="build a report for every trial folder in DIR")
    p.add_argument("-o", "--output", type=Path, default=None,
                   help="output HTML file (one trial) or folder (--all)")
    p.add_argument("--allow-outside", action="store_true",
                   help="read table files that trial.toml places outside the trial folder")
    p.add_argument("--force", action="store_true",
                   help="overwrite an existing output file that is not a trialstats report "
                        "(never an input of the trial)")
    p.add_argument("--keep-going", action="store_true",
                   help="exit 0 even when a report section failed (the report shows the failure)")

    from .design.cli import add_parser as _add_design_parser

    _add_design_parser(sub)
    return parser


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _safe(text: str) -> str:
    """Text for the terminal: control characters from untrusted input (escape sequences) shown
    as '?', never interpreted."""
    return _CONTROL.sub("?", str(text))


def _progress(line: str) -> None:
    print(_safe(line), file=sys.stderr, flush=True)


_STEP = re.compile(r"\[\s*(\d+)/(\d+)\]")


def _progress_for_terminal():
    """The progress callback of one build: plain lines, plus a tqdm bar when stderr is a terminal.

    The lines (build order, naming the trial) are printed either way, so a log keeps them; the
    bar only redraws on a terminal and never reaches a file or a CI log.
    """
    if not sys.stderr.isatty():
        return _progress
    from tqdm import tqdm

    bar = None

    def progress(line: str) -> None:
        nonlocal bar
        m = _STEP.match(line)
        if bar is None and m:
            bar = tqdm(total=int(m.group(2)), file=sys.stderr, unit="section", leave=False,
                       dynamic_ncols=True)
        if bar is None:
            _progress(line)
            return
        bar.write(_safe(line), file=sys.stderr)
        bar.update(1)
        if bar.n >= bar.total:
            bar.close()
            bar = None

    return progress


def _cmd_validate(args) -> int:
    from .data import validate_folder

    report = validate_folder(args.path, allow_outside=args.allow_outside)
    print(_safe(report))
    return 0 if report.ok else 1


def _cmd_simulate(args) -> int:
    from .simulate import simulate_trial

    options = ("n_per_arm", "arms", "trial_id", "treatment_weeks", "followup_weeks", "dropout")
    kwargs = {k: getattr(args, k) for k in options if getattr(args, k) is not None}
    kwargs["seed"] = args.seed
    _check_simulate_output(args.output, args.force)
    trial = simulate_trial(**kwargs)
    folder = trial.write(args.output, format=args.format)
    print(folder)
    return 0


def _check_simulate_output(out: Path, force: bool) -> None:
    """``simulate -o``: a folder that is missing, empty or written by ``trialstats simulate``
    (its trial.toml records the generator); another trial's folder only with ``--force``."""
    from .report._output import OutputError

    try:
        if out.exists() and not out.is_dir():
            raise OutputError(f"-o {out}: exists and is not a folder; simulate writes a trial "
                              "folder (trial.toml and the tables); give a new folder")
        entries = [p.name for p in out.iterdir()] if out.is_dir() else []
        toml = out / "trial.toml"
        ours = toml.is_file() and b'function = "trialstats.simulate.simulate_trial"' in (
            toml.read_bytes()[:1_000_000])
    except OSError as e:
        raise OutputError(f"-o {out}: cannot be used ({e.strerror or e}); give a new folder") from None
    if entries and not ours and not force:
        raise OutputError(f"-o {out}: the folder holds files not written by trialstats simulate "
                          f"({', '.join(sorted(entries)[:5])}{' ...' if len(entries) > 5 else ''}); "
                          "its tables and trial.toml would be replaced; give a new folder or pass "
                          "--force")


def _cmd_datasets(args) -> int:
    from . import datasets

    for name in datasets.names():
        print(name)
    return 0


def _trial_folders(root: Path) -> list[Path]:
    return sorted(p.parent for p in root.glob("*/trial.toml"))


def _build_one(folder: Path, out: Path, args) -> int:
    """Build one report, print its path; the exit status (failed sections count unless
    --keep-going)."""
    from .data import load_trial
    from .report._output import OutputError
    from .report.build import build

    trial = load_trial(folder, allow_outside=args.allow_outside)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except (OSError, ValueError) as e:  # a file where a folder must be, a name too long, ...
        raise OutputError(f"-o {out}: cannot create its folder {out.parent} "
                          f"({getattr(e, 'strerror', None) or e}); choose another output file") from None
    result = build(trial, out, progress=_progress_for_terminal(), force=args.force)
    print(result.path)
    if result.failed and not args.keep_going:
        print(_safe(f"error: {result.path}: {len(result.failed)} section(s) failed: "
                    f"{', '.join(result.failed)} (the report shows why; --keep-going exits 0 anyway)"),
              file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def _status(e: BaseException) -> int:
    """Exit status of an error: 1 for a failed analysis, 2 for bad input."""
    if isinstance(e, ModelError) or not isinstance(e, TrialstatsError):
        return EXIT_FAILED
    return EXIT_BAD_INPUT


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split())[:500]


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
        status = EXIT_OK
        for folder in folders:
            try:
                code = _build_one(folder, args.output / f"{folder.name}.html", args)
            except TrialstatsError as e:
                print(_safe(f"{folder}: {e}"), file=sys.stderr)
                code = _status(e)
            except Exception as e:  # noqa: BLE001 - one line per trial; the others still build
                if getattr(args, "debug", False):
                    traceback.print_exc()
                print(_safe(f"{folder}: unexpected {type(e).__name__}: {_one_line(e)} (rerun with "
                            "--debug for the traceback)"), file=sys.stderr)
                code = EXIT_FAILED
            status = max(status, code)
        return status
    out = args.output if args.output is not None else Path(f"{args.path.resolve().name}.html")
    return _build_one(args.path, out, args)


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
        print(_safe(f"error: {e}"), file=sys.stderr)
        return _status(e)
    except BrokenPipeError:
        # output piped into a reader that closed early (e.g. `| head`): not an error
        sys.stderr.close()
        return 0
    except Exception as e:  # noqa: BLE001 - never a traceback without --debug
        if getattr(args, "debug", False):
            traceback.print_exc()
        print(_safe(f"error: unexpected {type(e).__name__}: {_one_line(e)} (this is a bug in "
                    "trialstats; rerun with --debug for the traceback)"), file=sys.stderr)
        return EXIT_FAILED
