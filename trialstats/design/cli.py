"""``trialstats design SPEC -o OUT.html``: run a design and write its report (see cli.py)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["add_parser", "command"]


def add_parser(sub) -> None:
    """Add the ``design`` subcommand to the ``trialstats`` parser's subparsers."""
    p = sub.add_parser("design", help="simulate a trial design and write its HTML report")
    p.add_argument("spec", type=Path, help="design file (design.toml)")
    p.add_argument("-o", "--output", type=Path, required=True,
                   help="output HTML file; tables go to <stem>_ard/ next to it")
    p.add_argument("--replicates", type=int, default=None, help="override the replicates")
    p.add_argument("--engine", default="sequential",
                   help="sequential, local or a Dask scheduler address (tcp://host:port)")
    p.add_argument("--workers", type=int, default=None, help="processes of the local engine")
    p.add_argument("--checkpoint", type=Path, default=None,
                   help="folder of per-chunk Parquet checkpoints (resume)")
    p.add_argument("--png", action="store_true", help="also write the power curves as PNG")
    p.add_argument("--force", action="store_true",
                   help="overwrite an existing output file that is not a trialstats report "
                        "(never the design or its plan)")
    p.add_argument("--allow-outside", action="store_true",
                   help="read a plan that the design file places outside its folder")


def command(args) -> int:
    """Run ``trialstats design``; print the written report path; 0 on success."""
    from .report import write_report
    from .run import run
    from .spec import load

    _check_output(args.spec, args.output, getattr(args, "force", False))
    spec = load(args.spec, allow_outside=args.allow_outside)
    res = run(spec, engine=args.engine, n_replicates=args.replicates,
              checkpoint=args.checkpoint, workers=args.workers)
    print(write_report(res, args.output, png=args.png))
    return 0


def _check_output(spec: Path, out: Path, force: bool) -> None:
    """Refuse ``-o`` before the simulation runs: the design file, its plan, a device or FIFO,
    a folder, or (without ``--force``) a file that is not a trialstats report."""
    import contextlib

    from .._toml import read_toml
    from ..report._output import check_output_path

    inputs = [spec]
    with contextlib.suppress(Exception):  # an unreadable design is reported by run()
        plan = read_toml(spec).get("plan")
        if isinstance(plan, str) and plan.strip():
            inputs.append(spec.parent / plan)
    resolved = []
    for p in inputs:
        with contextlib.suppress(OSError, RuntimeError, ValueError):
            resolved.append(p.resolve())
    check_output_path(out, resolved, force=force, owner=f"design {spec.name}")
