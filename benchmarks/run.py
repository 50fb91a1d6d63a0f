"""Run every benchmark (``make bench``) and print their Markdown tables.

Each benchmark compares trialstats with a peer run on the same data in the same process:
``bench_mmrm`` (ts.mmrm vs statsmodels MixedLM), ``bench_survival`` (KM + log-rank + Cox vs
bare lifelines), ``bench_report`` (the full report vs the bare model fits it contains) and
``bench_design`` (design replicates per second vs the bare loop; 1 vs 2 workers; Dask cluster).
Figures from a run are recorded, with the machine, in ``benchmarks/README.md``.

Usage: ``python benchmarks/run.py [mmrm] [survival] [report] [design]`` (default: all four).
"""

from __future__ import annotations

import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main(argv: list[str]) -> int:
    which = argv or ["mmrm", "survival", "report", "design"]
    print(f"Python {platform.python_version()} on {platform.machine()}, "
          f"{platform.processor() or 'unknown CPU'}\n")
    if "mmrm" in which:
        import bench_mmrm

        print("## MMRM: ts.mmrm vs statsmodels MixedLM\n")
        print(bench_mmrm.to_markdown(bench_mmrm.run()))
    if "survival" in which:
        import bench_survival

        print("## Survival: trialstats vs bare lifelines\n")
        print(bench_survival.to_markdown(bench_survival.run()))
    if "report" in which:
        import bench_report

        bench_report.run()
    if "design" in which:
        import bench_design

        print("## Design: replicates per second, workers, Dask cluster\n")
        print(bench_design.to_markdown(bench_design.run()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
