"""``comparisons()`` of every result that compares arms, as one tidy comparisons frame.

Each function here takes a fitted result and returns :func:`~.ard.comparisons_frame` rows; the
result classes carry a one-line ``comparisons()`` method that calls it. Comparisons are
``arm`` against ``reference`` for any pair of arms (``pairs=``), each arm against the reference
level by default. Differences and log ratios between two arms that are not the reference are
linear combinations of the fitted coefficients, so their standard errors use the full covariance
matrix of the estimates (not the two marginal SEs).

Nothing here is a new statistic: estimates, SEs and df come from the fitted model's own
inference (MMRM: its df method; lmm, GEE, Cox: Wald z), and p-values and intervals from
:func:`trialstats._inference.t_inference`, so a row equals the model's own contrast table where
both exist.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._inference import check_level, t_inference
from ..errors import ModelError
from .ard import COLUMNS, comparisons_frame

__all__ = [
    "count_comparisons",
    "cox_comparisons",
    "lmm_comparisons",
    "logrank_comparisons",
    "mmrm_comparisons",
    "resolve_pairs",
    "rmst_comparisons",
]


_SANDWICH_LABEL = {"empirical": ", empirical (sandwich) SE",
                   "empirical-jackknife": ", empirical jackknife (sandwich) SE",
                   "empirical-bias-reduced": ", bias-reduced (CR2) sandwich SE"}


def resolve_pairs(levels, pairs=None, *, reference=None, where="comparisons") -> list:
    """The (arm, reference) pairs to compare.

    Parameters
    ----------
    levels : sequence of str
        Arm levels, reference level first.
    pairs : None, "all" or iterable of (arm, reference)
        None: each arm against ``reference`` (default the first level); "all": every pair, the
        later level against the earlier one.
    reference : str, optional
        Comparator for ``pairs=None``.

    Returns
    -------
    list of tuple of str

    Raises
    ------
    ModelError
        An arm not among ``levels``, or an arm paired with itself.
    """
    levels = [str(v) for v in levels]
    ref = levels[0] if reference is None else str(reference)
    if ref not in levels:
        raise ModelError(f"{where}: reference {ref!r} is not an arm; valid: {', '.join(levels)}")
    if pairs is None:
        return [(a, ref) for a in levels if a != ref]
    if isinstance(pairs, str):
        if pairs != "all":
            raise ModelError(f"{where}: pairs must be None, 'all' or a list of (arm, reference); "
                             f"got {pairs!r}")
        return [(levels[i], levels[j]) for j in range(len(levels)) for i in range(j + 1, len(levels))]
    out = []
    for pair in pairs:
        if len(pair) != 2:
            raise ModelError(f"{where}: each pair is (arm, reference); got {pair!r}")
        a, b = (str(v) for v in pair)
        unknown = [v for v in (a, b) if v not in levels]
        if unknown:
            raise ModelError(f"{where}: {', '.join(map(repr, unknown))} not an arm; valid: "
                             f"{', '.join(levels)}")
        if a == b:
            raise ModelError(f"{where}: arm {a!r} compared with itself")
        out.append((a, b))
    return out


def _frame(rows: dict, *, analysis, endpoint, param) -> pd.DataFrame:
    n = len(rows["arm"])
    full = {"analysis": [analysis or ""] * n, "endpoint": [endpoint or ""] * n,
            "param": [param or ""] * n}
    full.update(rows)
    for col in COLUMNS:
        if col not in full:
            raise AssertionError(f"internal: comparisons row lacks {col}")  # pragma: no cover
        if np.ndim(full[col]) == 0:
            full[col] = [full[col]] * n
    return comparisons_frame(pd.DataFrame({c: list(full[c]) for c in COLUMNS}))


def _wald_rows(L, beta, vcov, df, level, *, ratio: bool) -> dict:
    """Estimate, SE, statistic, p and interval of ``L @ beta`` (exponentiated when ``ratio``)."""
    L = np.atleast_2d(np.asarray(L, dtype=float))
    est = L @ beta
    se = np.sqrt(np.einsum("ij,jk,ik->i", L, vcov, L))
    inf = t_inference(est, se, df, level)
    conv = np.exp if ratio else (lambda x: x)
    return {"estimate": conv(est), "std_error": se, "df": np.broadcast_to(df, est.shape),
            "statistic": inf["statistic"].to_numpy(), "p_value": inf["p_value"].to_numpy(),
            "conf_low": conv(inf["conf_low"].to_numpy()),
            "conf_high": conv(inf["conf_high"].to_numpy())}


# --------------------------------------------------------------------------- MMRM
def mmrm_comparisons(fit, arm="ARM", visit=None, *, pairs=None, level=None, analysis=None,
                     endpoint=None, param=None) -> pd.DataFrame:
    """Differences in LS means between arms, per visit, of a fitted MMRM.

    Parameters
    ----------
    fit : MMRMResult
    arm : str, default "ARM"
        Factor of the formula whose levels are compared (first level = reference).
    visit : str, optional
        Factor within whose levels the differences are taken; default the fit's visit column
        when it is a factor of the formula.
    pairs : None, "all" or list of (arm, reference)
        Which pairs (see :func:`resolve_pairs`).
    level : float, optional
        Confidence level; default the fit's.
    analysis, endpoint, param : str, optional
        Copied into the frame's identifying columns.

    Returns
    -------
    pandas.DataFrame
        A comparisons frame, measure "difference in LS means", df from the fit's df method;
        rows in visit order, then pair order. Equal to ``fit.contrast(arm, by=visit)`` for each
        arm against the reference.
    """
    level = fit.spec.level if level is None else check_level(level)
    if visit is None and fit.spec.visit in fit.design.levels:
        visit = fit.spec.visit
    levels, by_levels, keys, L = fit._grid_rows(arm, visit)
    index = {(str(s), b): i for i, (s, b) in enumerate(keys)}
    rows, arms, refs, visits = [], [], [], []
    for b in by_levels:
        for a, r in resolve_pairs(levels, pairs, where="mmrm comparisons"):
            rows.append(L[index[(a, b)]] - L[index[(r, b)]])
            arms.append(a)
            refs.append(r)
            visits.append("" if b is None else str(b))
    est = fit.inference.estimate(np.array(rows), level)
    cov = fit.spec.covariance + (f" by {fit.spec.group}" if fit.spec.group else "")
    method = (f"MMRM, {cov} covariance, {fit.spec.method.upper()}, {fit.spec.df} df"
              + _SANDWICH_LABEL.get(fit.spec.vcov, ""))
    out = {"visit": visits, "arm": arms, "reference": refs, "measure": "difference in LS means",
           "scale": "difference", "null": 0.0, "level": level, "method": method}
    for col in ("estimate", "std_error", "df", "statistic", "p_value", "conf_low", "conf_high"):
        out[col] = est[col].to_numpy()
    return _frame(out, analysis=analysis, endpoint=endpoint, param=param)


# --------------------------------------------------------------------------- lmm slopes
def lmm_comparisons(fit, arm="ARM", time="WEEK_OFF", *, pairs=None, level=None, analysis=None,
                    endpoint=None, param=None) -> pd.DataFrame:
    """Differences in slope over ``time`` between arms, from a random-slopes model.

    Parameters
    ----------
    fit : LMMResult
    arm, time : str
        Arm factor and the numeric time covariate (see :meth:`LMMResult.slopes`).
    pairs, level, analysis, endpoint, param
        As in :func:`mmrm_comparisons`.

    Returns
    -------
    pandas.DataFrame
        A comparisons frame, measure "slope difference" (per unit of ``time``), Wald z (df inf);
        equal to ``fit.slopes(arm, time).difference`` for each arm against the reference.
    """
    level = fit.level if level is None else check_level(level)
    slopes = fit.slopes(arm=arm, time=time, level=level)
    L = slopes.contrast_matrix
    levels = [str(v) for v in L.index]
    L.index = levels
    pairs_ = resolve_pairs(levels, pairs, where="lmm comparisons")
    D = np.array([L.loc[a].to_numpy() - L.loc[r].to_numpy() for a, r in pairs_])
    beta = fit.coef["estimate"].to_numpy()
    out = _wald_rows(D, beta, fit.vcov.to_numpy(), np.inf, level, ratio=False)
    out.update({"visit": "", "arm": [a for a, _ in pairs_], "reference": [r for _, r in pairs_],
                "measure": f"slope difference (per unit of {time})", "scale": "difference",
                "null": 0.0, "level": level,
                "method": f"linear mixed model, random {fit.re_formula} | {fit.groups}, "
                          f"{fit.method.upper()}, Wald z"})
    return _frame(out, analysis=analysis, endpoint=endpoint, param=param)


# --------------------------------------------------------------------------- main-effect models
def _main_effect_columns(terms, arm: str, where: str, positions=None) -> dict:
    """Arm level -> coefficient position, for R-named treatment-coded terms ``<arm><level>``.

    ``positions`` (the coefficient positions of the term ``arm``, when the fit knows them) avoids
    mistaking another variable whose name starts with ``arm`` (``ARMGRP``) for a level.
    """
    if positions is not None:
        cols = {terms[i][len(arm):]: i for i in positions}
    else:
        cols = {t[len(arm):]: i for i, t in enumerate(terms) if t.startswith(arm) and ":" not in t
                and t != arm}
    interacting = [t for t in terms if ":" in t and any(p.startswith(arm) for p in t.split(":"))]
    if not cols:
        raise ModelError(f"{where}: no treatment-coded term of {arm!r} among the terms "
                         f"{', '.join(terms)}")
    if interacting:
        raise ModelError(f"{where}: {arm!r} interacts with other terms ({', '.join(interacting)}), "
                         "so there is no single ratio between arms; fit a model where it enters "
                         "as a main effect")
    return cols


def _ratio_rows(terms, beta, vcov, arm, reference, pairs, level, where, positions=None):
    cols = _main_effect_columns(list(terms), arm, where, positions)
    if reference is None:
        raise ModelError(f"{where}: give reference= (the reference level of {arm!r}, which has "
                         "no coefficient)")
    levels = [str(reference)] + list(cols)
    pairs_ = resolve_pairs(levels, pairs, where=where)
    L = np.zeros((len(pairs_), len(beta)))
    for k, (a, r) in enumerate(pairs_):
        if a in cols:
            L[k, cols[a]] += 1.0
        if r in cols:
            L[k, cols[r]] -= 1.0
    out = _wald_rows(L, np.asarray(beta, float), np.asarray(vcov, float), np.inf, level, ratio=True)
    out.update({"arm": [a for a, _ in pairs_], "reference": [r for _, r in pairs_]})
    return out


def count_comparisons(fit, arm="ARM", reference=None, *, pairs=None, level=None, analysis=None,
                      endpoint=None, param=None) -> pd.DataFrame:
    """Rate ratios between arms from a GEE count model where the arm is a main effect.

    Parameters
    ----------
    fit : CountModelResult
    arm : str, default "ARM"
    reference : str
        The reference level of ``arm`` (it has no coefficient, so the fit cannot name it).
    pairs, level, analysis, endpoint, param
        As in :func:`mmrm_comparisons`.

    Returns
    -------
    pandas.DataFrame
        A comparisons frame, measure "rate ratio", robust (sandwich) SE of the log ratio, Wald z.

    Raises
    ------
    ModelError
        ``arm`` has no term, interacts with another term, or ``reference`` is not given.
    """
    level = fit.level if level is None else check_level(level)
    out = _ratio_rows(fit.coef["term"], fit.coef["estimate"], fit.vcov.to_numpy(), arm,
                      reference, pairs, level, "count_model comparisons")
    out.update({"visit": "", "measure": "rate ratio", "scale": "ratio", "null": 1.0,
                "level": level,
                "method": f"GEE {fit.family}, {fit.correlation} working correlation, "
                          "robust SE, Wald z"})
    return _frame(out, analysis=analysis, endpoint=endpoint, param=param)


def cox_comparisons(fit, arm="ARM", reference=None, *, pairs=None, level=None, analysis=None,
                    endpoint=None, param=None) -> pd.DataFrame:
    """Hazard ratios between arms from a Cox model where the arm is a main effect.

    Parameters
    ----------
    fit : CoxResult
    arm : str, default "ARM"
    reference : str
        The reference level of ``arm``.
    pairs, level, analysis, endpoint, param
        As in :func:`mmrm_comparisons`.

    Returns
    -------
    pandas.DataFrame
        A comparisons frame, measure "hazard ratio", Wald z on the log hazard ratio (robust SE
        when the fit is robust); each arm against the reference equals ``fit.coef``.
    """
    level = fit.level if level is None else check_level(level)
    names, columns = fit._state.get("term_names", []), fit._state.get("term_columns", [])
    positions = columns[names.index(arm)] if arm in names else None
    out = _ratio_rows(fit.coef["term"], fit.coef["estimate"], fit.vcov.to_numpy(), arm,
                      reference, pairs, level, "cox comparisons", positions)
    strata = f", stratified by {fit.strata}" if fit.strata else ""
    out.update({"visit": "", "measure": "hazard ratio", "scale": "ratio", "null": 1.0,
                "level": level,
                "method": f"Cox proportional hazards, {fit.ties} ties{strata}, "
                          f"{'robust' if fit.robust else 'model'} SE, Wald z"})
    return _frame(out, analysis=analysis, endpoint=endpoint, param=param)


# --------------------------------------------------------------------------- RMST, log-rank
def rmst_comparisons(res, *, pairs=None, measures=("difference", "ratio"), analysis=None,
                     endpoint=None, param=None) -> pd.DataFrame:
    """RMST differences and ratios between arms (independent arms: variances add).

    Parameters
    ----------
    res : RMSTResult
    pairs : None, "all" or list of (arm, reference)
    measures : tuple of {"difference", "ratio"}
        Which rows to give, differences first.
    analysis, endpoint, param : str, optional

    Returns
    -------
    pandas.DataFrame
        A comparisons frame, ``visit`` = ``"tau = <tau> <unit>"``; the ratio's SE is that of the
        log ratio (delta method), as ``res.ratio``.
    """
    per = res.per_arm
    levels = [str(v) for v in per[res.group]]
    est = dict(zip(levels, per["rmst"].to_numpy(float)))
    var = dict(zip(levels, per["std_error"].to_numpy(float) ** 2))
    pairs_ = resolve_pairs(levels, pairs, where="rmst comparisons")
    unknown = [m for m in measures if m not in ("difference", "ratio")]
    if unknown:
        raise ModelError(f"rmst comparisons: measures are 'difference' and 'ratio'; got {unknown}")
    blocks = []
    for m in measures:
        ratio = m == "ratio"
        if ratio:
            e = np.array([np.log(est[a]) - np.log(est[r]) for a, r in pairs_])
            se = np.sqrt([var[a] / est[a] ** 2 + var[r] / est[r] ** 2 for a, r in pairs_])
        else:
            e = np.array([est[a] - est[r] for a, r in pairs_])
            se = np.sqrt([var[a] + var[r] for a, r in pairs_])
        rows = _wald_rows(np.eye(len(e)), e, np.diag(se ** 2), np.inf, res.level, ratio=ratio)
        rows.update({"visit": f"tau = {res.tau:g} {res.time_unit}", "arm": [a for a, _ in pairs_],
                     "reference": [r for _, r in pairs_],
                     "measure": f"RMST {m}" + ("" if ratio else f" ({res.time_unit})"),
                     "scale": m, "null": 1.0 if ratio else 0.0, "level": res.level,
                     "method": "restricted mean survival time (Kaplan-Meier area), "
                               "normal approximation"})
        blocks.append(_frame(rows, analysis=analysis, endpoint=endpoint, param=param))
    return pd.concat(blocks, ignore_index=True)


def logrank_comparisons(res, *, analysis=None, endpoint=None, param=None,
                        level=0.95) -> pd.DataFrame:
    """The pairwise log-rank tests of each arm against the reference arm.

    A log-rank test has no estimate: ``estimate``, ``std_error`` and the interval are NaN,
    ``statistic`` is the 1-df chi-square, ``scale`` "ratio" with ``null`` 1 (the null is equal
    hazards). Other pairs need the data: call :func:`trialstats.logrank` on those two arms.

    Parameters
    ----------
    res : LogrankResult
    analysis, endpoint, param : str, optional
    level : float, default 0.95
        Recorded in the ``level`` column (no interval is computed).

    Returns
    -------
    pandas.DataFrame
        A comparisons frame, unadjusted p-values (``res.pairwise.p_adjusted`` has Holm's).
    """
    pw = res.pairwise
    n = len(pw)
    kind = "log-rank" if res.rho == 0 and res.gamma == 0 else (
        f"Fleming-Harrington G({res.rho:g}, {res.gamma:g})")
    strata = f", stratified by {res.strata}" if res.strata else ""
    nan = np.full(n, np.nan)
    out = {"visit": "", "arm": [str(v) for v in res.levels[1:]],
           "reference": str(res.levels[0]), "measure": "log-rank test", "scale": "ratio",
           "null": 1.0, "estimate": nan, "std_error": nan, "df": pw["df"].to_numpy(float),
           "statistic": pw["statistic"].to_numpy(float), "p_value": pw["p_value"].to_numpy(float),
           "conf_low": nan, "conf_high": nan, "level": check_level(level),
           "method": f"{kind} test{strata}, chi-square"}
    return _frame(out, analysis=analysis, endpoint=endpoint, param=param)
