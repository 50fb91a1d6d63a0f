"""Speed of the survival front end: trialstats vs the bare lifelines calls on the same data.

For each size, one simulated ADTTE-like table (3 arms, AGE, integer-day times with ties, ~25 %
censoring) is analysed in the same run by

- trialstats: ``kaplan_meier`` (by ARM), ``logrank`` (by ARM, with pairwise tests) and
  ``cox("ARM + AGE")`` (Efron);
- lifelines: ``KaplanMeierFitter.fit`` per arm, ``statistics.multivariate_logrank_test`` and
  ``CoxPHFitter().fit(..., formula="ARM + AGE")`` (Efron).

The ratio is trialstats time / lifelines time (below 1 = trialstats faster); the target is
below 1.1 (the trialstats layer adds < 10 % to lifelines). trialstats does more work in each call
(validation, R's confidence intervals, the observed/expected table and pairwise log-rank tests)
on top of lifelines, which is its engine for these three: ``KaplanMeierFitter`` (event table and
estimate), ``multivariate_logrank_test`` (the overall unstratified statistic) and ``CoxPHFitter``
(Efron fit). For the Cox model trialstats runs lifelines with full Newton steps and tight
stopping rules (to match R) and, when times are heavily tied, lifelines' vectorised "batch" sums,
which lifelines' own heuristic does not pick at 1e6 rows; so ``cox`` is compared both with the
default lifelines call and (``cox_same_options``) with lifelines called with those options, which
measures the trialstats layer alone.

Run: ``.venv/bin/python benchmarks/bench_survival.py`` (prints a Markdown table).
"""

from __future__ import annotations

import sys
import time
import warnings

import numpy as np
import pandas as pd


def make_data(n: int, seed: int = 1) -> pd.DataFrame:
    """A simulated relapse table with n subjects."""
    rng = np.random.default_rng(seed)
    arm = rng.choice(np.array(["PLACEBO", "EXOSOME", "MINOXIDIL"]), n)
    age = rng.normal(42, 9, n).round()
    rate = np.select([arm == "PLACEBO", arm == "EXOSOME"], [1 / 150, 1 / 260], 1 / 200)
    t_event = np.ceil(rng.exponential(1 / (rate * np.exp(0.015 * (age - 42)))))
    t_cens = np.ceil(rng.uniform(60, 720, n))
    return pd.DataFrame({
        "ARM": pd.Categorical(arm, ["PLACEBO", "EXOSOME", "MINOXIDIL"]),
        "AGE": age,
        "AVAL": np.minimum(t_event, t_cens),
        "CNSR": (t_cens < t_event).astype(int),
    })


def _time(fn, repeat: int) -> float:
    best = np.inf
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def run(sizes=(1_000, 10_000, 100_000, 1_000_000)) -> list[dict]:
    """Time trialstats and lifelines on each size; one dict per (size, analysis)."""
    import lifelines
    from lifelines.statistics import multivariate_logrank_test

    import trialstats as ts
    from trialstats.survival._cox_lifelines import _LIFELINES_FIT_OPTIONS

    rows = []
    for n in sizes:
        data = make_data(n)
        repeat = 3 if n <= 100_000 else 1
        events = 1 - data["CNSR"].to_numpy()
        arms = data["ARM"].astype(str).to_numpy()

        def lifelines_km(data=data, events=events, arms=arms):
            for a in ("PLACEBO", "EXOSOME", "MINOXIDIL"):
                m = arms == a
                lifelines.KaplanMeierFitter().fit(data["AVAL"].to_numpy()[m], events[m])

        def lifelines_cox(data=data):
            frame = data.assign(EVENT=1 - data["CNSR"]).drop(columns="CNSR")
            lifelines.CoxPHFitter().fit(frame, "AVAL", "EVENT", formula="ARM + AGE")

        def lifelines_cox_same_options(data=data):
            frame = data.assign(EVENT=1 - data["CNSR"]).drop(columns="CNSR")
            lifelines.CoxPHFitter().fit(frame, "AVAL", "EVENT", formula="ARM + AGE",
                                        batch_mode=True, fit_options=dict(_LIFELINES_FIT_OPTIONS))

        pairs = {
            "kaplan_meier": (lambda data=data: ts.kaplan_meier(data, censor="CNSR"),
                             lifelines_km),
            "logrank": (lambda data=data: ts.logrank(data, censor="CNSR"),
                        lambda data=data, events=events, arms=arms: multivariate_logrank_test(
                            data["AVAL"].to_numpy(), arms, events)),
            "cox": (lambda data=data: ts.cox("ARM + AGE", data, censor="CNSR"), lifelines_cox),
            "cox_same_options": (lambda data=data: ts.cox("ARM + AGE", data, censor="CNSR"),
                                 lifelines_cox_same_options),
        }
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for name, (ours, theirs) in pairs.items():
                t_ours = _time(ours, repeat)
                t_theirs = _time(theirs, repeat)
                rows.append({"n": n, "analysis": name, "trialstats_s": t_ours,
                             "lifelines_s": t_theirs, "ratio": t_ours / t_theirs})
    return rows


def to_markdown(rows: list[dict]) -> str:
    """The rows as a Markdown table."""
    lines = ["| n | analysis | trialstats (s) | lifelines (s) | ratio |", "|---:|---|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['n']:,} | {r['analysis']} | {r['trialstats_s']:.4f} | "
                     f"{r['lifelines_s']:.4f} | {r['ratio']:.2f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sizes = tuple(int(s) for s in sys.argv[1:]) or (1_000, 10_000, 100_000, 1_000_000)
    print(to_markdown(run(sizes)))
