"""Cost of the issue-11 safety checks, each against its peer in the same process.

- ``parse_formula``: the whitelist check of a formula (trialstats.formula) vs formulaic's own
  ``Formula(...)`` parse of the same string, which every fit did before the check existed.
- ``cox_monotone_check``: the monotone-likelihood check of ``ts.cox`` (one sort per stratum and
  running maxima) vs the whole ``ts.cox("ARM + AGE")`` call on the same simulated ADTTE table
  (``bench_survival.make_data``); the ratio is the share of a Cox fit the check takes.

Run: ``.venv/bin/python benchmarks/bench_safety.py`` (prints a Markdown table).
"""

from __future__ import annotations

import sys
import time
import warnings

import numpy as np

FORMULAS = (
    "CHG ~ ARM * AVISIT + BASE",
    "AVAL ~ ARM * WEEK_OFF + BASE + I(WEEK_OFF ** 2)",
    "CHG ~ C(ARM, levels=['PLACEBO', 'EXOSOME', 'MINOXIDIL']) * AVISIT + log(BASE) + `odd name`",
)


def _time(fn, repeat: int) -> float:
    best = np.inf
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def run(sizes=(100_000, 1_000_000)) -> list[dict]:
    """One dict per measurement: what, ours (s), peer (s), ratio."""
    from bench_survival import make_data
    from formulaic import Formula

    import trialstats as ts
    from trialstats.formula import parse_formula
    from trialstats.survival._cox_checks import _orders_events

    rows = []
    for f in FORMULAS:
        ours = _time(lambda f=f: [parse_formula(f) for _ in range(100)], 5) / 100
        peer = _time(lambda f=f: [Formula(f) for _ in range(100)], 5) / 100
        rows.append({"what": f"parse_formula {f[:40]!r}", "ours_s": ours, "peer_s": peer,
                     "ratio": ours / peer})
    for n in sizes:
        data = make_data(n)
        x = np.column_stack([(data["ARM"] == "EXOSOME").to_numpy(float),
                             (data["ARM"] == "MINOXIDIL").to_numpy(float), data["AGE"]])
        t = data["AVAL"].to_numpy(float)
        ev = 1.0 - data["CNSR"].to_numpy(float)
        repeat = 3 if n <= 100_000 else 1
        ours = _time(lambda x=x, t=t, ev=ev: _orders_events(x, t, ev, None), repeat)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            peer = _time(lambda data=data: ts.cox("ARM + AGE", data, censor="CNSR"), repeat)
        rows.append({"what": f"cox_monotone_check n={n:,} (peer: whole ts.cox)", "ours_s": ours,
                     "peer_s": peer, "ratio": ours / peer})
    return rows


def to_markdown(rows: list[dict]) -> str:
    """The rows as a Markdown table."""
    lines = ["| check | ours (s) | peer (s) | ratio |", "|---|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['what']} | {r['ours_s']:.6f} | {r['peer_s']:.6f} | {r['ratio']:.3f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sizes = tuple(int(s) for s in sys.argv[1:]) or (100_000, 1_000_000)
    print(to_markdown(run(sizes)))
