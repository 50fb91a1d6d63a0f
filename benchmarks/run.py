"""Run every benchmark (``make bench``) and print their Markdown tables.

Each benchmark compares trialstats with a peer run on the same data in the same process:
``bench_mmrm`` (ts.mmrm vs statsmodels MixedLM), ``bench_survival`` (KM + log-rank + Cox vs
bare lifelines) and ``bench_report`` (the full report vs the bare model fits it contains).
Figures from a run are recorded, with the machine, in ``benchmarks/README.md``.

``bench_safety`` times the issue-11 checks (formula whitelist, Cox monotone likelihood) against
their peers. Usage: ``python benchmarks/run.py [mmrm] [survival] [report] [safety]`` (default:
all four).
"""

from __future__ import annotations

import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main(argv: list[str]) -> int:
    which = argv or ["mmrm", "survival", "report", "safety"]
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
    if "safety" in which:
        import bench_safety

        print("## Safety checks vs their peers\n")
        print(bench_safety.to_markdown(bench_safety.run()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
