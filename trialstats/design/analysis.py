"""The analysis of one simulated trial: the plan's hypotheses → a few ARD rows.

Per replicate the plan is resolved against the simulated trial
(:meth:`~trialstats.report.plan.AnalysisPlan.resolve`, as the report does), then:

* ``primary``: the plan's MMRM (:func:`trialstats.mmrm`) on post-baseline visits up to the
  primary visit, trying the plan's covariance structures in order until one converges (as the
  report's primary section); the estimate is the arm-minus-reference LS-mean difference at the
  primary visit (``fit.contrast("ARM", by="AVISIT")``);
* ``cox``: :func:`trialstats.cox` of relapse on ARM, stratified by the plan's strata present in
  the data, Efron ties; the estimate is the log hazard ratio (interval on the log scale);
* ``rmst``: :func:`trialstats.rmst` difference, arm minus reference, up to the plan's tau;
* multiplicity: ``fixed-sequence`` (test in order at full alpha, stop at the first
  non-rejection: adjusted p is the running maximum) or ``holm``
  (:func:`statsmodels.stats.multitest.multipletests`, ``method="holm"``).

An analysis that fails (no covariance converged, tau beyond follow-up) gives a row with NaN
estimate and ``converged = False``; under the fixed sequence it stops the sequence, under Holm
it is left out of the adjustment, and it is never a rejection. Only these rows leave the
worker, never the simulated data.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
from statsmodels.stats.multitest import multipletests

from ..errors import ConvergenceWarning, TrialstatsError

__all__ = ["ARD_COLUMNS", "adjust", "analyse"]

#: Columns of one replicate's rows, in order.
ARD_COLUMNS = ("scenario", "n_per_arm", "replicate", "hypothesis", "endpoint", "arm", "measure",
               "estimate", "std_error", "p_value", "conf_low", "conf_high", "p_adjusted",
               "reject", "true_value", "converged", "covariance_used")

_MEASURES = {"primary": "difference in LS means", "cox": "log hazard ratio",
             "rmst": "difference in RMST"}


def analyse(sim, plan, *, hypotheses) -> list[dict]:
    """Analyse one simulated trial; one dict per hypothesis (the ARD columns except the keys).

    Parameters
    ----------
    sim : trialstats.design.models.Simulated
    plan : AnalysisPlan
        Unresolved plan of the design.
    hypotheses : list of (id, endpoint, arm)
        In testing order.

    Returns
    -------
    list of dict
    """
    resolved = plan.resolve(sim.trial)
    cache: dict = {}
    rows = []
    for hid, endpoint, arm in hypotheses:
        est, cov_used, ok = _estimate(endpoint, arm, sim, resolved, cache)
        rows.append({"hypothesis": hid, "endpoint": endpoint, "arm": arm,
                     "measure": _MEASURES.get(endpoint, endpoint), **est,
                     "true_value": float(sim.truth.get((endpoint, arm), math.nan)),
                     "converged": ok, "covariance_used": cov_used})
    p = np.array([r["p_value"] for r in rows], dtype=float)
    adj, reject = adjust(p, resolved.strategy, resolved.alpha)
    for r, a, rej in zip(rows, adj, reject):
        r["p_adjusted"], r["reject"] = float(a), bool(rej)
    return rows


def adjust(p_values, strategy: str, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Adjusted p-values and rejections under ``strategy`` at two-sided ``alpha``.

    ``fixed-sequence``: adjusted p is the running maximum; NaN stops the sequence (everything
    after it is NaN, not rejected). ``holm``: Holm's step-down over the non-missing p-values
    (statsmodels ``multipletests``), NaN stays NaN.
    """
    p = np.asarray(p_values, dtype=float)
    if strategy == "fixed-sequence":
        adj = np.full_like(p, np.nan)
        running = -np.inf
        for i, v in enumerate(p):
            if np.isnan(v):
                break
            running = max(running, v)
            adj[i] = running
    else:
        adj = np.full_like(p, np.nan)
        ok = ~np.isnan(p)
        if ok.any():
            adj[ok] = multipletests(p[ok], alpha=alpha, method="holm")[1]
    return adj, np.nan_to_num(adj, nan=np.inf) <= alpha


_NAN = {k: math.nan for k in ("estimate", "std_error", "p_value", "conf_low", "conf_high")}


def _estimate(endpoint, arm, sim, plan, cache):
    """(estimate dict, covariance used, converged) for one hypothesis; NaN when it failed."""
    try:
        if endpoint == "primary":
            con, cov = _primary(sim, plan, cache)
            row = con[(con["ARM"] == arm) & (con["AVISIT"].astype(str) == plan.primary.visit)]
            return _pick(row.iloc[0]), cov, True
        if endpoint == "cox":
            coef = _cox(sim, plan, cache)
            row = coef[coef["term"].astype(str).str.endswith(arm)].iloc[0]
            out = _pick(row)
            out["conf_low"], out["conf_high"] = math.log(out["conf_low"]), math.log(out["conf_high"])
            return out, "", True
        if endpoint == "rmst":
            diff = _rmst(sim, plan, cache)
            row = diff[diff["contrast"].astype(str).str.startswith(arm + " - ")].iloc[0]
            return _pick(row), "", True
    except (TrialstatsError, np.linalg.LinAlgError, IndexError) as e:
        cache.setdefault("errors", []).append(f"{endpoint}/{arm}: {e}")
    return dict(_NAN), "", False


def _pick(row) -> dict:
    return {k: float(row[k]) for k in _NAN}


def _primary(sim, plan, cache):
    if "primary" in cache:
        if isinstance(cache["primary"], Exception):
            raise cache["primary"]
        return cache["primary"]
    try:
        cache["primary"] = _fit_primary(sim.efficacy, plan)
    except TrialstatsError as e:
        cache["primary"] = e
        raise
    return cache["primary"]


def _fit_primary(frame, plan):
    from ..longitudinal.mmrm.api import mmrm

    ep = plan.primary
    if "PARAMCD" in frame.columns:
        frame = frame[frame["PARAMCD"] == ep.paramcd]
    baseline = (frame["ABLFL"].astype(str) == "Y") if "ABLFL" in frame else frame["AVISITN"] <= 0
    last = frame.loc[frame["AVISIT"].astype(str) == ep.visit, "AVISITN"]
    if last.empty:
        raise TrialstatsError(f"primary visit {ep.visit!r} is not a visit of the simulated data")
    frame = frame[~baseline & (frame["AVISITN"] <= float(last.iloc[0]))].reset_index(drop=True)
    frame["AVISIT"] = frame["AVISIT"].cat.remove_unused_categories()
    tried = []
    for cov in plan.mmrm.covariance:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                fit = mmrm(plan.mmrm.formula, frame, subject="USUBJID", visit="AVISIT",
                           covariance=cov, df=plan.mmrm.df, method=plan.mmrm.method,
                           level=plan.level, rank_deficient="error")
        except TrialstatsError as e:
            tried.append(f"{cov}: {e}")
            continue
        if getattr(fit, "converged", True):
            con = fit.contrast("ARM", by="AVISIT").reset_index(drop=True)
            con["ARM"] = con["contrast"].astype(str).str.split(" - ").str[0]
            return con, cov
        tried.append(f"{cov}: did not converge")
    raise TrialstatsError("no covariance structure converged: " + "; ".join(tried))


def _strata(data: pd.DataFrame, strata) -> tuple[pd.DataFrame, str | None]:
    cols = [c for c in strata if c in data.columns]
    if not cols:
        return data, None
    if len(cols) == 1:
        return data, cols[0]
    return data.assign(STRATUM=data[cols].astype(str).agg("/".join, axis=1)), "STRATUM"


def _cox(sim, plan, cache):
    from ..survival import cox

    if "cox" not in cache:
        data, stratum = _strata(sim.relapse, plan.relapse.strata)
        cache["cox"] = cox("ARM", data, time="AVAL", censor="CNSR", strata=stratum,
                           level=plan.level).coef
    return cache["cox"]


def _rmst(sim, plan, cache):
    from ..survival import rmst

    if "rmst" not in cache:
        if plan.relapse.tau is None:
            raise TrialstatsError("no RMST horizon: relapse.tau is not set and no follow-up")
        cache["rmst"] = rmst(sim.relapse, time="AVAL", censor="CNSR", by="ARM",
                             tau=plan.relapse.tau, level=plan.level).difference
    return cache["rmst"]
