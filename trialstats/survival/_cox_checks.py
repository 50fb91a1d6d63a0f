"""Checks on a Cox design before and after the fit: estimability and monotone likelihood.

Split from :mod:`.cox` (one job each): a factor level or covariate that cannot be estimated is a
``ModelError`` naming the term; a covariate that perfectly orders the events (monotone partial
likelihood: the estimate runs off to infinity) is detected exactly, per stratum, under any tie
method and factor coding, so that no fit reports ``converged=True`` with an SE of 1e7.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import ModelError

__all__ = ["_check_estimable", "_inverse", "_monotone_message"]


def _inverse(information: np.ndarray) -> np.ndarray:
    """Inverse information; NaN when it is singular or not finite (a runaway fit)."""
    try:
        return np.linalg.inv(information)
    except (np.linalg.LinAlgError, ValueError):
        return np.full_like(information, np.nan)


def _orders_events(x: np.ndarray, time, event, strata_codes) -> np.ndarray:
    """Columns (and signs) that perfectly order the events: monotone partial likelihood.

    Column ``j`` with sign ``s`` orders the events when, at every event time, each subject with
    an event has the largest ``s * x[:, j]`` of its risk set (``time >= t``, same stratum), and
    at some event time a subject at risk has a smaller value. The partial likelihood, Breslow or
    Efron, then increases for ever along ``s * beta_j`` and the estimate is infinite.

    Returns
    -------
    numpy.ndarray of bool, shape (2, p)
        Row 0 for sign +1, row 1 for sign -1.
    """
    groups = [slice(None)] if strata_codes is None else [
        np.flatnonzero(strata_codes == k) for k in np.unique(strata_codes)]
    p = x.shape[1]
    ok = np.ones((2, p), dtype=bool)  # row 0: sign +1, row 1: sign -1
    for idx in groups:  # necessary condition at each stratum's first event time: one pass
        t, e, v = time[idx], event[idx] == 1, x[idx]
        if not e.any():
            continue
        t0 = t[e].min()
        at_risk = t >= t0
        risk = v if at_risk.all() else v[at_risk]  # copy only if some left before t0
        first = v[e & (t == t0)]
        ok[0] &= (first >= risk.max(axis=0)).all(axis=0)
        ok[1] &= (first <= risk.min(axis=0)).all(axis=0)
    cols = np.flatnonzero(ok.any(axis=0))
    if len(cols) == 0:  # the usual case: no covariate orders even the first events
        return np.zeros((2, p), dtype=bool)
    strict = np.zeros((2, p), dtype=bool)
    for idx in groups:
        t_g = time[idx]
        order = np.argsort(-t_g, kind="stable")  # latest first: risk sets grow
        v, e, t = x[idx][order][:, cols], (event[idx] == 1)[order], t_g[order]
        if not e.any():
            continue
        cmax, cmin = np.maximum.accumulate(v, axis=0), np.minimum.accumulate(v, axis=0)
        last = np.searchsorted(-t, -t[e], side="right") - 1  # risk set includes tied times
        ve, hi, lo = v[e], cmax[last], cmin[last]
        ok[0, cols] &= (ve >= hi).all(axis=0)
        ok[1, cols] &= (ve <= lo).all(axis=0)
        strict[0, cols] |= (ve > lo).any(axis=0)
        strict[1, cols] |= (ve < hi).any(axis=0)
    return ok & strict


def _monotone_message(x, names, term_columns, term_names, time, event, strata_codes):
    """The first covariate that perfectly orders the events, described; None when there is none."""
    hits = _orders_events(x, time, event, strata_codes)
    for term, cols in zip(term_names, term_columns):
        for j in cols:
            for sign, row in (("largest", 0), ("smallest", 1)):
                if hits[row, j]:
                    return (f"monotone likelihood: {names[j]} (term {term}) perfectly orders the "
                            f"events (every subject with an event has the {sign} {names[j]} of "
                            "those still at risk), so its hazard ratio is infinite; drop or "
                            "coarsen that term, or use a penalised (Firth) Cox model")
    return None


def _check_levels_any_coding(sub: np.ndarray, term: str, event) -> None:
    """A factor term in any coding (sum, Helmert, 1/2 ...): each level needs an event."""
    k = sub.shape[1]
    if any(len(pd.unique(sub[:, j])) > k + 1 for j in range(k)):
        return  # more distinct values than a k-column factor has levels: a numeric term
    levels, inverse = np.unique(sub, axis=0, return_inverse=True)
    if len(levels) > k + 1:
        return
    inverse = np.ravel(inverse)
    n_level = np.bincount(inverse, minlength=len(levels))
    e_level = np.bincount(inverse, weights=event, minlength=len(levels))
    for row, n_k, e_k in zip(levels, n_level, e_level):
        if n_k > 0 and e_k == 0:
            coded = ", ".join(f"{v:g}" for v in row)
            raise ModelError(
                f"the level of {term} coded ({coded}) has no events (0 of {int(n_k)} subjects): "
                "its hazard ratio is not estimable (infinite); combine or drop that level, or "
                "use a non-parametric comparison (logrank, rmst)"
            )


def _check_estimable(x: np.ndarray, names: list, term_columns, term_names, event):
    """Refuse constant columns and factor levels without events (infinite hazard ratios)."""
    constant = x.min(axis=0) == x.max(axis=0)
    for j, name in enumerate(names):
        if constant[j]:
            raise ModelError(f"covariate {name} is constant in the {len(x)} rows analysed; "
                             "remove it from the formula")
    for term, cols in zip(term_names, term_columns):
        sub = x[:, cols]
        if not (sub.min() >= 0 and sub.max() <= 1 and np.array_equal(sub, sub.round())):
            _check_levels_any_coding(sub, term, event)
            continue  # not a 0/1 (treatment-coded factor) term
        # events and subjects per level (reference = no indicator set), by matrix products
        ref = sub.sum(axis=1) == 0
        n_level = np.append(sub.sum(axis=0), ref.sum())
        e_level = np.append(event @ sub, event[ref].sum())
        labels = [names[c] for c in cols] + [f"{term} reference level"]
        for n_k, e_k, label in zip(n_level, e_level, labels):
            if n_k > 0 and e_k == 0:
                raise ModelError(
                    f"{label} has no events (0 of {int(n_k)} subjects): its hazard ratio "
                    "is not estimable (infinite); combine or drop that level, or use a "
                    "non-parametric comparison (logrank, rmst)"
                )
