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


def command(args) -> int:
    """Run ``trialstats design``; print the written report path; 0 on success."""
    from .report import write_report
    from .run import run

    res = run(args.spec, engine=args.engine, n_replicates=args.replicates,
              checkpoint=args.checkpoint, workers=args.workers)
    print(write_report(res, args.output, png=args.png))
    return 0
