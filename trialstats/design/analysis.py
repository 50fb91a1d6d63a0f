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
            row = con[(con["arm"] == arm) & (con["visit"] == plan.primary.visit)]
            return _pick(row.iloc[0]), cov, True
        if endpoint == "cox":  # on the log hazard ratio scale
            hr = _cox(sim, plan, cache)
            out = _pick(hr[hr["arm"] == arm].iloc[0])
            for k in ("estimate", "conf_low", "conf_high"):
                out[k] = math.log(out[k])
            return out, "", True
        if endpoint == "rmst":
            diff = _rmst(sim, plan, cache)
            return _pick(diff[diff["arm"] == arm].iloc[0]), "", True
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


def primary_rows(frame: pd.DataFrame, plan, where: str) -> tuple[pd.DataFrame, float]:
    """The primary endpoint's post-baseline rows up to the primary visit, and that visit's
    AVISITN (``where`` names the data in the error: "the simulated data", "trial 'X'")."""
    ep = plan.primary
    if "PARAMCD" in frame.columns:
        frame = frame[frame["PARAMCD"] == ep.paramcd]
    baseline = (frame["ABLFL"].astype(str) == "Y") if "ABLFL" in frame else frame["AVISITN"] <= 0
    last = frame.loc[frame["AVISIT"].astype(str) == ep.visit, "AVISITN"]
    if last.empty:
        raise TrialstatsError(f"primary visit {ep.visit!r} is not a visit of {where}")
    week = float(last.iloc[0])
    frame = frame[~baseline & (frame["AVISITN"] <= week)].reset_index(drop=True)
    frame["AVISIT"] = frame["AVISIT"].cat.remove_unused_categories()
    return frame, week


def fit_primary(frame: pd.DataFrame, plan, where: str = ""):
    """The plan's MMRM on ``frame``, its covariance structures tried in order.

    Returns
    -------
    (MMRMResult, str)
        The first converged fit and its covariance structure.

    Raises
    ------
    TrialstatsError
        No structure converged; the message lists every attempt.
    """
    from ..longitudinal.mmrm.api import mmrm

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
            return fit, cov
        tried.append(f"{cov}: did not converge")
    raise TrialstatsError(f"{where}no covariance structure of the plan converged: "
                          + "; ".join(tried))


def _fit_primary(frame, plan):
    """Each arm minus the reference per visit (comparisons frame) and the covariance used."""
    fit, cov = fit_primary(primary_rows(frame, plan, "the simulated data")[0], plan)
    return fit.comparisons(), cov


def _strata(data: pd.DataFrame, strata) -> tuple[pd.DataFrame, str | None]:
    cols = [c for c in strata if c in data.columns]
    if not cols:
        return data, None
    if len(cols) == 1:
        return data, cols[0]
    return data.assign(STRATUM=data[cols].astype(str).agg("/".join, axis=1)), "STRATUM"


def _levels(data: pd.DataFrame) -> list[str]:
    """The arms in the order the models code them (categories, else sorted values)."""
    arm = data["ARM"]
    if isinstance(arm.dtype, pd.CategoricalDtype):
        return [str(c) for c in arm.cat.remove_unused_categories().cat.categories]
    return sorted(str(v) for v in arm.dropna().unique())


def _reference(data: pd.DataFrame) -> str:
    """The reference arm: the first level (the arm without a coefficient in the models)."""
    return _levels(data)[0]


def _cox(sim, plan, cache):
    from ..survival import cox

    if "cox" not in cache:
        data, stratum = _strata(sim.relapse, plan.relapse.strata)
        fit = cox("ARM", data, time="AVAL", censor="CNSR", strata=stratum, level=plan.level)
        cache["cox"] = fit.comparisons(reference=_reference(data))
    return cache["cox"]


def _rmst(sim, plan, cache):
    from ..survival import rmst

    if "rmst" not in cache:
        if plan.relapse.tau is None:
            raise TrialstatsError("no RMST horizon: relapse.tau is not set and no follow-up")
        res = rmst(sim.relapse, time="AVAL", censor="CNSR", by="ARM", tau=plan.relapse.tau,
                   level=plan.level)
        cache["rmst"] = res.comparisons(pairs=[(str(a), _reference(sim.relapse))
                                               for a in _levels(sim.relapse)[1:]],
                                        measures=("difference",))
    return cache["rmst"]
