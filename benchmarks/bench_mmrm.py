"""Speed and memory of ts.mmrm against statsmodels MixedLM on the same data, in the same run.

Data: 6 visits, 2 arms, a baseline covariate, about 15 % monotone dropout, a correlated
(unstructured-like) residual. trialstats fits ``CHG ~ ARM * AVISIT + BASE`` with an unstructured
covariance and Satterthwaite df (and Kenward-Roger at the sizes where it is cheap to time);
statsmodels fits the closest model it offers, a random intercept and slope in week
(``MixedLM``, REML). Times are wall-clock best of ``repeats``; peak memory is the tracemalloc
peak of one fit (NumPy reports its buffers to tracemalloc).

Run: ``python benchmarks/bench_mmrm.py`` (prints a Markdown table).
"""

from __future__ import annotations

import time
import tracemalloc
import warnings

import numpy as np
import pandas as pd

VISITS = 6


def make_data(n_subjects: int, seed: int = 2026) -> pd.DataFrame:
    """Simulated long data: 2 arms, 6 visits, baseline covariate, ~15 % monotone dropout."""
    rng = np.random.default_rng(seed)
    weeks = np.array([2, 4, 8, 12, 16, 24], dtype=float)
    corr = 0.6 ** np.abs(np.subtract.outer(np.arange(VISITS), np.arange(VISITS)))
    sd = np.linspace(8, 14, VISITS)
    L = np.linalg.cholesky(corr * np.outer(sd, sd))
    arm = rng.integers(0, 2, n_subjects)
    base = rng.normal(150, 30, n_subjects)
    eps = rng.standard_normal((n_subjects, VISITS)) @ L.T
    mean = 0.1 * (base[:, None] - 150) + weeks[None, :] * (0.2 + 0.6 * arm[:, None])
    y = mean + eps
    # monotone dropout: ~15 % of subjects leave after a random visit
    last = np.full(n_subjects, VISITS)
    drop = rng.uniform(size=n_subjects) < 0.15
    last[drop] = rng.integers(1, VISITS, drop.sum())
    keep = np.arange(VISITS)[None, :] < last[:, None]
    sub, vis = np.nonzero(keep)
    return pd.DataFrame({
        "USUBJID": pd.Categorical([f"S{i:06d}" for i in sub]),
        "ARM": pd.Categorical(np.where(arm[sub] == 1, "EXOSOME", "PLACEBO"),
                              categories=["PLACEBO", "EXOSOME"]),
        "AVISIT": pd.Categorical([f"WEEK {int(weeks[v])}" for v in vis],
                                 categories=[f"WEEK {int(w)}" for w in weeks]),
        "WEEK": weeks[vis],
        "BASE": base[sub],
        "CHG": y[sub, vis],
    })


def _time(fn, repeats: int):
    best = np.inf
    out = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return best, peak / 2**20, out


def run(sizes=(200, 1_000, 5_000, 20_000), repeats: int = 3) -> list[dict]:
    """Time both fitters at each size; returns one dict per size."""
    import statsmodels.formula.api as smf

    import trialstats as ts

    rows = []
    for n in sizes:
        df = make_data(n)
        t_ts, mem_ts, fit = _time(
            lambda df=df: ts.mmrm("CHG ~ ARM * AVISIT + BASE", df, subject="USUBJID",
                                  visit="AVISIT", covariance="us", df="satterthwaite"),
            repeats)
        t_kr, mem_kr, _ = _time(
            lambda df=df: ts.mmrm("CHG ~ ARM * AVISIT + BASE", df, subject="USUBJID",
                                  visit="AVISIT", covariance="us", df="kenward-roger"),
            1)

        def sm_fit(df=df):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = smf.mixedlm("CHG ~ ARM * AVISIT + BASE", df, groups=df["USUBJID"],
                                    re_formula="~WEEK")
                return model.fit(reml=True)

        t_sm, mem_sm, _ = _time(sm_fit, 1 if n >= 5_000 else repeats)
        rows.append({
            "subjects": n, "rows": len(df), "converged": fit.converged,
            "trialstats_s": t_ts, "trialstats_kr_s": t_kr, "statsmodels_s": t_sm,
            "ratio_sm_over_ts": t_sm / t_ts,
            "trialstats_peak_mib": mem_ts, "trialstats_kr_peak_mib": mem_kr,
            "statsmodels_peak_mib": mem_sm,
        })
    return rows


def to_markdown(rows: list[dict]) -> str:
    head = ("| subjects | rows | ts.mmrm us+Satterthwaite (s) | ts.mmrm us+KR (s) | "
            "statsmodels MixedLM (s) | MixedLM / ts.mmrm | ts peak MiB | ts KR peak MiB | "
            "MixedLM peak MiB |\n|---|---|---|---|---|---|---|---|---|\n")
    body = "".join(
        f"| {r['subjects']:,} | {r['rows']:,} | {r['trialstats_s']:.3f} | "
        f"{r['trialstats_kr_s']:.3f} | {r['statsmodels_s']:.3f} | {r['ratio_sm_over_ts']:.1f}x | "
        f"{r['trialstats_peak_mib']:.1f} | {r['trialstats_kr_peak_mib']:.1f} | "
        f"{r['statsmodels_peak_mib']:.1f} |\n"
        for r in rows)
    return head + body


if __name__ == "__main__":
    print(to_markdown(run()))
