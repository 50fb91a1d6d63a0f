"""Run the trialstats benchmarks and print their tables (``make bench``).

Each benchmark compares trialstats with a peer run on the same data in the same process:

========  ======================================================================================
name      what it measures
========  ======================================================================================
mmrm      ts.mmrm end to end vs statsmodels MixedLM and R mmrm (timed in the run when Rscript has
          mmrm, e.g. R_LIBS=/path make bench; else the recorded times), refits/second
survival  KM + log-rank + Cox vs bare lifelines
report    the full report vs the bare model fits it contains
safety    the issue-11 checks (formula whitelist, Cox monotone likelihood) vs their peers
validate  load + validate of a 1 M- and 10 M-row ADEFF vs pandas.read_csv (time, peak memory)
rbmi      ts.rbmi vs R rbmi 1.5.2's recorded wall times; 1 vs 2 local workers
design    design replicates per second vs the bare loop; 1 vs 2 workers; a Dask cluster
========  ======================================================================================

Figures from a run are recorded, with the machine, in ``benchmarks/README.md``.
Usage: ``python benchmarks/run.py [NAME ...]`` (default: all, in the order above).
"""

from __future__ import annotations

import importlib
import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

# name -> heading of its table (None: the module prints its own output)
BENCHMARKS = {
    "mmrm": "MMRM: ts.mmrm vs statsmodels MixedLM",
    "survival": "Survival: trialstats vs bare lifelines",
    "report": None,
    "safety": "Safety checks vs their peers",
    "validate": "Load + validate: ts.load_trial vs pandas.read_csv (1 M and 10 M ADEFF rows)",
    "rbmi": "rbmi: ts.rbmi vs R rbmi 1.5.2 (recorded wall times), 1 vs 2 workers",
    "design": "Design: replicates per second, workers, Dask cluster",
}


def main(argv: list[str]) -> int:
    unknown = [a for a in argv if a not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s) {', '.join(unknown)}; valid: {', '.join(BENCHMARKS)}",
              file=sys.stderr)
        return 2
    which = argv or list(BENCHMARKS)
    print(f"Python {platform.python_version()} on {platform.machine()}, "
          f"{platform.processor() or 'unknown CPU'}\n")
    for name in which:
        try:
            module = importlib.import_module(f"bench_{name}")
        except ModuleNotFoundError as e:
            if e.name != f"bench_{name}":
                raise
            print(f"## {name}: benchmarks/bench_{name}.py is not in this tree\n")
            continue
        heading = BENCHMARKS[name]
        if heading is None:
            module.run()
            continue
        print(f"## {heading}\n")
        extra = (module.run_exo(),) if hasattr(module, "run_exo") else ()  # mmrm: exo-hair-301, refits
        print(module.to_markdown(module.run(), *extra))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
