"""Speed and memory of ts.mmrm end to end (formula -> fit -> contrasts), and of its refit path.

Data: 6 visits, 2 arms, a baseline covariate, about 15 % monotone dropout, a correlated
(unstructured-like) residual. trialstats runs ``ts.mmrm("CHG ~ ARM * AVISIT + BASE", us,
Satterthwaite)`` then ``fit.contrast("ARM", by="AVISIT")``, timed together (and again with
Kenward-Roger). Peers:

* R mmrm (us + Satterthwaite), its *fit alone*: when ``Rscript`` loads mmrm (library path from
  the environment, e.g. ``R_LIBS=/work/rlib``), timed in the same run on the same generated data
  (written to temporary CSV files; ``r_mmrm.py`` + ``r_mmrm_timing.R``), with the weighted and
  sp_exp fits at 5,000 subjects; otherwise the figures recorded in issue 14 (one run per size;
  where the issue gives a range, 5,000 subjects: 3.2-4.8 s, the low end).
* statsmodels MixedLM (random intercept and slope in week, REML), the closest model statsmodels
  offers, run on the same data in the same process (it has no unstructured residual).

Times are wall-clock best of ``repeats``; peak memory is the tracemalloc peak of one call
(NumPy reports its buffers to tracemalloc). Also: the exo-hair-301 primary analysis warm, refits
per second of that model (``MMRMProblem.fit``), and the first-call overhead in a fresh interpreter.

Spatial covariances (issue 12): at 5,000 subjects, ``sp_exp`` and ``sp_gau`` on study days with
a -3..3 day jitter, end to end, as a ratio to the same-run ``us`` fit and to R mmrm's fit on the
same rows (``bench_mmrm_spatial.R``, run when ``Rscript`` and R mmrm are available).

Run: ``python benchmarks/bench_mmrm.py`` (prints Markdown tables; ``... spatial`` prints only the
spatial table).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

VISITS = 6
FORMULA = "CHG ~ ARM * AVISIT + BASE"
# R mmrm 0.3.18 fit alone (us + Satterthwaite), seconds, as recorded in issue 14
R_MMRM_FIT_S = {200: 0.2, 1_000: 0.7, 5_000: 3.2, 20_000: 21.0}
TARGET_RATIO = {200: 10.0, 1_000: 10.0, 5_000: 30.0, 20_000: 10.0}


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


def exo_primary() -> pd.DataFrame:
    """exo-hair-301 primary analysis rows: TAHC change from baseline at weeks 4, 12 and 24."""
    import trialstats as ts

    d = ts.datasets.load("exo-hair-301").efficacy("TAHC")
    d = d[d["AVISIT"].isin(["WEEK 4", "WEEK 12", "WEEK 24"])].copy()
    d["AVISIT"] = d["AVISIT"].cat.remove_unused_categories()
    return d


def _time(fn, repeats: int, memory: bool = True):
    """(best wall s, tracemalloc peak bytes, last output, best CPU s of this process)."""
    best = best_cpu = np.inf
    out = None
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        best = min(best, time.perf_counter() - t0)
        best_cpu = min(best_cpu, time.process_time() - c0)
    peak = np.nan
    if memory:
        tracemalloc.start()
        fn()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return best, peak, out, best_cpu


def _end_to_end(df: pd.DataFrame, dof: str, weights: str | None = None):
    import trialstats as ts

    fit = ts.mmrm(FORMULA, df, subject="USUBJID", visit="AVISIT", covariance="us", df=dof,
                  weights=weights)
    fit.contrast("ARM", by="AVISIT")
    return fit


def _jittered_days(df: pd.DataFrame, seed: int = 5) -> pd.DataFrame:
    """Study days 7 * week plus a uniform -3..3 day jitter per row (42 distinct days)."""
    rng = np.random.default_rng(seed)
    return df.assign(DAY=7 * df["WEEK"] + rng.integers(-3, 4, len(df)))


def _weighted_data(df: pd.DataFrame) -> pd.DataFrame:
    """Observation weights that vary within subject (issue 12)."""
    return df.assign(W=1.0 + 0.5 * (df["USUBJID"].cat.codes % 3) + 0.25 * (df["WEEK"] > 8))


def _r_timings(sizes) -> dict:
    """R mmrm timed in this run on the same data (see r_mmrm.py), or {} when R lacks mmrm."""
    from r_mmrm import available, time_fits

    if available() is None:
        return {}
    jobs = []
    for n in sizes:
        df = make_data(n)
        jobs.append({"name": f"us_{n}", "data": df, "model": "us",
                     "repeats": 3 if n <= 1_000 else 1, "end_to_end": n <= 5_000})
        if n == 5_000:
            jobs.append({"name": "us_weights_5000", "data": _weighted_data(df),
                         "model": "us_weights", "repeats": 1, "end_to_end": False})
    return time_fits(jobs)


def _r_spatial(dd: pd.DataFrame) -> dict | None:
    """R mmrm's fit times on the same rows (benchmarks/bench_mmrm_spatial.R), or None.

    Needs ``Rscript`` and R mmrm: R_LIBS from the environment, else /work/rlib (where this
    project's machine has mmrm 0.3.18 built from source) when it exists.
    """
    import json
    import shutil

    rscript = shutil.which("Rscript")
    if rscript is None:
        return None
    from r_mmrm import r_env

    env = r_env()
    script = Path(__file__).resolve().parent / "bench_mmrm_spatial.R"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "spatial.csv"
        dd[["USUBJID", "ARM", "AVISIT", "DAY", "BASE", "CHG"]].to_csv(path, index=False)
        out = subprocess.run([rscript, str(script), str(path)], capture_output=True, text=True,
                             env=env, check=False)
    if out.returncode != 0:
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])


def _spatial_time(df: pd.DataFrame, repeats: int = 3) -> dict:
    """ts.mmrm + contrast with sp_exp and sp_gau on jittered study days (issue 12).

    Irregular days give nearly one visit pattern per subject over 42 distinct days; the spatial
    engine batches subjects by their number of observations. Same-run ``us`` fit for the ratio;
    R mmrm on the same rows when available (:func:`_r_spatial`).
    """
    import trialstats as ts

    dd = _jittered_days(df)
    out = {}
    for cov in ("sp_exp", "sp_gau"):
        def fit(cov=cov):
            res = ts.mmrm(FORMULA, dd, subject="USUBJID", coords="DAY", covariance=cov)
            res.contrast("ARM", by="AVISIT")
            return res

        wall, peak, res, cpu = _time(fit, repeats)
        out[cov] = {"wall_s": wall, "cpu_s": cpu, "peak_bytes_per_row": peak / len(dd),
                    "m2loglik": -2 * res.loglik, "converged": res.converged}
    wall, _, _, cpu = _time(lambda: _end_to_end(df, "satterthwaite"), repeats, memory=False)
    out["us"] = {"wall_s": wall, "cpu_s": cpu}
    out["r"] = _r_spatial(dd)
    return out


def run(sizes=(200, 1_000, 5_000, 20_000), repeats: int = 5) -> list[dict]:
    """End-to-end times at each size, with the R (issue) and statsmodels (same run) peers."""
    import statsmodels.formula.api as smf

    rows = []
    r_times = _r_timings(sizes)
    _end_to_end(make_data(200), "satterthwaite")  # warm: imports and first-call costs
    for n in sizes:
        df = make_data(n)
        reps = repeats if n <= 5_000 else 3
        t_ts, mem_ts, fit, cpu_ts = _time(lambda df=df: _end_to_end(df, "satterthwaite"), reps)
        t_kr, _, _, _ = _time(lambda df=df: _end_to_end(df, "kenward-roger"), reps, memory=False)

        def sm_fit(df=df):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = smf.mixedlm(FORMULA, df, groups=df["USUBJID"], re_formula="~WEEK")
                return model.fit(reml=True)

        t_sm, _, _, _ = _time(sm_fit, 1 if n >= 5_000 else 3, memory=False)
        t_w = np.nan
        t_sp = None
        if n == 5_000:  # issue 12: observation weights keep the speed (W varies within subject)
            dw = _weighted_data(df)
            t_w, _, _, _ = _time(lambda dw=dw: _end_to_end(dw, "satterthwaite", "W"), reps,
                                 memory=False)
            t_sp = _spatial_time(df)
        r_us = r_times.get(f"us_{n}", {})
        rows.append({
            "subjects": n, "rows": len(df), "converged": fit.converged, "weighted_s": t_w,
            "spatial": t_sp, "r_measured": bool(r_us),
            "r_mmrm_cpu_s": r_us.get("fit_cpu_s", np.nan),
            "r_mmrm_end_to_end_s": r_us.get("end_to_end_wall_s", np.nan),
            "r_weighted_s": r_times.get("us_weights_5000", {}).get("fit_wall_s", np.nan)
            if n == 5_000 else np.nan,
            "r_mmrm_version": r_us.get("mmrm"),
            "trialstats_s": t_ts, "trialstats_cpu_s": cpu_ts, "trialstats_kr_s": t_kr,
            "r_mmrm_fit_s": r_us.get("fit_wall_s", R_MMRM_FIT_S.get(n)),
            "statsmodels_s": t_sm, "trialstats_peak_mib": mem_ts / 2**20,
            "bytes_per_row": mem_ts / len(df),
        })
    return rows


def run_exo(n_refits: int = 300, repeats: int = 20) -> dict:
    """exo-hair-301 primary analysis warm, its refit rates, and the first-call overhead."""
    d = exo_primary()
    _end_to_end(d, "satterthwaite")
    t_sat, _, fit, cpu_sat = _time(lambda: _end_to_end(d, "satterthwaite"), repeats,
                                   memory=False)
    t_kr, _, _, _ = _time(lambda: _end_to_end(d, "kenward-roger"), repeats, memory=False)
    prob = fit.problem()
    rng = np.random.default_rng(14)
    ys = [fit.design.y + rng.normal(0, 5, fit.n_obs) for _ in range(n_refits)]
    boots = [rng.integers(0, prob.n_subjects, prob.n_subjects) for _ in range(n_refits)]
    jack = [np.delete(np.arange(prob.n_subjects), i) for i in range(n_refits)]
    prob.fit(ys[0])
    rates = {}
    for name, calls in (("outcome (y=)", [lambda y=y: prob.fit(y) for y in ys]),
                        ("bootstrap (subjects=)", [lambda s=s: prob.fit(subjects=s)
                                                   for s in boots]),
                        ("jackknife (subjects=)", [lambda s=s: prob.fit(subjects=s)
                                                   for s in jack]),
                        ("jackknife, warm start (start='full')",
                         [lambda s=s: prob.fit(subjects=s, start="full") for s in jack]),
                        ("bootstrap, warm start (start='full')",
                         [lambda s=s: prob.fit(subjects=s, start="full") for s in boots]),
                        ("bootstrap, full result (fit.refit)",
                         [lambda s=s: fit.refit(subjects=s) for s in boots[:100]])):
        t0, c0 = time.perf_counter(), time.process_time()
        for call in calls:
            call()
        rates[name] = (len(calls) / (time.perf_counter() - t0),
                       len(calls) / (time.process_time() - c0))
    return {"subjects": fit.n_subjects, "rows": fit.n_obs, "warm_s": t_sat, "warm_kr_s": t_kr,
            "warm_cpu_s": cpu_sat,
            "refits_per_s": rates, "first_call": first_call_overhead(d)}


_FIRST_CALL = """
import time
t0 = time.perf_counter()
import numpy, pandas
t1 = time.perf_counter()
import trialstats as ts
t2 = time.perf_counter()
d = pandas.read_pickle({path!r})
t3 = time.perf_counter()
ts.mmrm({formula!r}, d, subject="USUBJID", visit="AVISIT").contrast("ARM", by="AVISIT")
t4 = time.perf_counter()
ts.mmrm({formula!r}, d, subject="USUBJID", visit="AVISIT").contrast("ARM", by="AVISIT")
t5 = time.perf_counter()
print(t1 - t0, t2 - t1, t4 - t3, t5 - t4)
"""


def first_call_overhead(d: pd.DataFrame, runs: int = 3) -> dict:
    """Fresh interpreters: import times, first and warm exo-hair-301 primary call (best of runs)."""
    root = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "exo.pkl")
        d.to_pickle(path)
        code = _FIRST_CALL.format(path=path, formula=FORMULA)
        env = dict(os.environ, PYTHONPATH=str(root))
        best = None
        for _ in range(runs):
            out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                 env=env, check=True)
            vals = [float(v) for v in out.stdout.split()]
            best = vals if best is None else [min(a, b) for a, b in zip(best, vals, strict=True)]
    keys = ("import_numpy_pandas_s", "import_trialstats_s", "first_call_s", "warm_call_s")
    return dict(zip(keys, best, strict=True))


def to_markdown(rows: list[dict], exo: dict | None = None) -> str:
    measured = bool(rows) and all(r.get("r_measured") for r in rows)
    r_label = (f"R mmrm {rows[0]['r_mmrm_version']} fit (s, same run)" if measured
               else "R mmrm fit (s, issue 14)")
    head = ("| subjects | rows | ts.mmrm + contrast, us+Satterthwaite (s) | same, CPU (s) | "
            f"{r_label} | R / ts (wall; CPU) | target | with Kenward-Roger (s) | "
            "KR / Satterthwaite | statsmodels MixedLM (s, same run) | MixedLM / ts | ts peak MiB | "
            "peak bytes per row |\n"
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
    body = ""
    for r in rows:
        ratio = r["r_mmrm_fit_s"] / r["trialstats_s"] if r["r_mmrm_fit_s"] else np.nan
        r_cpu = r["r_mmrm_cpu_s"] if r.get("r_measured") else r["r_mmrm_fit_s"]
        ratio_cpu = r_cpu / r["trialstats_cpu_s"] if r_cpu else np.nan
        target = TARGET_RATIO.get(r["subjects"], 10.0)
        body += (
            f"| {r['subjects']:,} | {r['rows']:,} | {r['trialstats_s']:.4f} | "
            f"{r['trialstats_cpu_s']:.4f} | {r['r_mmrm_fit_s']:.3g} | {ratio:.1f}x; "
            f"{ratio_cpu:.1f}x | "
            f">= {target:.0f}x "
            f"({'met' if ratio >= target else 'NOT met'}) | {r['trialstats_kr_s']:.4f} | "
            f"{r['trialstats_kr_s'] / r['trialstats_s']:.2f} | {r['statsmodels_s']:.3f} | "
            f"{r['statsmodels_s'] / r['trialstats_s']:.1f}x | {r['trialstats_peak_mib']:.1f} | "
            f"{r['bytes_per_row']:.0f} |\n")
    out = head + body
    if measured:
        e2e = [f"{r['subjects']:,}: {r['r_mmrm_end_to_end_s']:.3g} s "
               f"({r['r_mmrm_end_to_end_s'] / r['trialstats_s']:.1f}x ts)"
               for r in rows if np.isfinite(r["r_mmrm_end_to_end_s"])]
        out += ("\nR mmrm end to end (fit + emmeans(~ ARM | AVISIT) + pairs), one run: "
                + "; ".join(e2e) + ".\n")
    for r in rows:
        if np.isfinite(r.get("weighted_s", np.nan)):
            r_w = r.get("r_weighted_s", np.nan)
            peer = (f"R mmrm's weighted fit (same run) {r_w:.3g} s, R / ts {r_w / r['weighted_s']:.1f}x"
                    if np.isfinite(r_w) else
                    f"R mmrm's unweighted fit / this: {r['r_mmrm_fit_s'] / r['weighted_s']:.1f}x")
            out += (f"\nWith observation weights (`weights=`), {r['subjects']:,} subjects: "
                    f"{r['weighted_s']:.4f} s ({r['weighted_s'] / r['trialstats_s']:.2f}x the "
                    f"unweighted fit; {peer}).\n")
        if r.get("spatial"):
            out += _spatial_markdown(r["subjects"], r["spatial"])
    if exo:
        fc = exo["first_call"]
        out += (
            f"\nexo-hair-301 primary ({exo['subjects']} subjects, {exo['rows']} rows, us, weeks "
            f"4-24), ts.mmrm + contrast warm: Satterthwaite {exo['warm_s'] * 1e3:.1f} ms wall, "
            f"{exo['warm_cpu_s'] * 1e3:.1f} ms CPU (target < 15 ms); Kenward-Roger "
            f"{exo['warm_kr_s'] * 1e3:.1f} ms wall.\n\n"
            "| refits of the exo-hair-301 primary model (MMRMProblem.fit) | per second (wall) "
            "| per CPU second |\n|---|---:|---:|\n"
            + "".join(f"| {k} | {w:,.0f} | {c:,.0f} |\n"
                      for k, (w, c) in exo["refits_per_s"].items())
            + f"\nFresh interpreter: import numpy+pandas {fc['import_numpy_pandas_s']:.3f} s, "
            f"import trialstats {fc['import_trialstats_s']:.4f} s, first ts.mmrm + contrast "
            f"{fc['first_call_s']:.3f} s, warm {fc['warm_call_s']:.4f} s: first-call overhead "
            f"{fc['first_call_s'] - fc['warm_call_s']:.3f} s (target <= ~0.3 s).\n")
    return out


def _spatial_markdown(n: int, sp: dict) -> str:
    """The spatial table: ts (wall, CPU), ratio to the same-run us fit, R mmrm, ratio to R."""
    r = sp.get("r") or {}
    out = (f"\nSpatial covariances, {n:,} subjects, study days with a -3..3 day jitter (42 "
           "distinct days, nearly one visit pattern per subject): ts.mmrm + contrast vs the "
           "same-run `us` fit and R mmrm's fit alone on the same rows "
           "(benchmarks/bench_mmrm_spatial.R"
           + (f", mmrm {r['mmrm']}" if r else ": R mmrm not available") + ").\n\n"
           "| covariance | ts wall (s) | ts CPU (s) | / us wall; CPU | ts peak bytes per row "
           "| R mmrm wall (s) | R CPU (s) | R / ts wall; CPU | target |\n"
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
    us = sp["us"]
    out += (f"| us (same run) | {us['wall_s']:.4f} | {us['cpu_s']:.4f} | 1; 1 | | "
            + (f"{r['us']['elapsed_s']:.2f} | {r['us']['cpu_s']:.2f} | "
               f"{r['us']['elapsed_s'] / us['wall_s']:.0f}x; {r['us']['cpu_s'] / us['cpu_s']:.0f}x"
               if r.get("us") and not r["us"].get("failed") else "| | ")
            + " | |\n")
    for cov in ("sp_exp", "sp_gau"):
        t = sp[cov]
        rr = r.get(cov) or {}
        if rr and not rr.get("failed"):
            ratio = rr["elapsed_s"] / t["wall_s"]
            r_cols = (f"{rr['elapsed_s']:.2f} ({rr['optimizer']}) | {rr['cpu_s']:.2f} | "
                      f"{ratio:.0f}x; {rr['cpu_s'] / t['cpu_s']:.0f}x | >= 10x "
                      f"({'met' if ratio >= 10 else 'NOT met'})")
        elif rr:
            r_cols = f"failed after {rr['elapsed_s']:.1f} | | | >= 10x (R has no fit)"
        else:
            r_cols = "n/a | | | >= 10x (not measured)"
        out += (f"| {cov} | {t['wall_s']:.4f} | {t['cpu_s']:.4f} | "
                f"{t['wall_s'] / us['wall_s']:.1f}; {t['cpu_s'] / us['cpu_s']:.1f} | "
                f"{t['peak_bytes_per_row']:.0f} | {r_cols} |\n")
    return out


if __name__ == "__main__":
    if sys.argv[1:] == ["spatial"]:  # the spatial table alone (5,000 subjects)
        _end_to_end(make_data(200), "satterthwaite")  # warm: imports and first-call costs
        print(_spatial_markdown(5_000, _spatial_time(make_data(5_000))))
    else:
        print(to_markdown(run(), run_exo()))
