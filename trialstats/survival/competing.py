"""Competing risks: Aalen-Johansen cumulative incidence and Gray's test.

Cumulative incidence of cause :math:`k` (e.g. relapse, EVENTCD = 1) in the presence of other
causes (e.g. discontinuation before relapse, EVENTCD = 2):

.. math::

    \\hat F_k(t) = \\sum_{s \\le t} \\hat S(s-) \\frac{d_k(s)}{n(s)}

with :math:`\\hat S` the all-cause Kaplan-Meier. Its standard error is the infinitesimal
jackknife (:math:`\\sum_i U_i(t)^2`, :math:`U_i` the derivative of :math:`\\hat F_k(t)` with
respect to subject :math:`i`'s case weight), which is what R ``survfit`` reports for a
multi-state (factor status) model; intervals use R's default "log" transformation for
multi-state curves, capped at 1.

Gray's (1988) K-sample test compares the cumulative incidence of one cause between groups with
weights :math:`(1 - \\hat F(t-))^{\\rho}`, optionally stratified; its score and variance follow
Gray's paper as implemented in R ``cmprsk::cuminc`` (function ``crstm``), against which it is
tested.

What is lifelines and what is ours
----------------------------------
Everything here is ours. lifelines' ``AalenJohansenFitter`` computes the same estimate only
without tied event times: when event times are tied it warns "Tied event times were detected"
and moves them apart by random jitter, so its estimate depends on a random seed and differs from
R's (by 0.022 absolute on the PLACEBO arm of ``tests/reference/survival_sim_adtte.csv``, while the
untied EXOSOME arm agrees to 3e-16). ADTTE times in days are heavily tied, so the Aalen-Johansen
estimate, its infinitesimal-jackknife SE (lifelines' variance is a different, Greenwood-type
one after Collett, with log(-log) limits) and Gray's test (not in lifelines) are our array code.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from .._inference import check_level
from ..errors import ModelError
from ._input import (
    group_codes,
    numeric_times,
    prepare,
    require_columns,
)
from ._summary import Summary, summary_html
from .km import conf_int

__all__ = ["CumulativeIncidenceResult", "GrayTestResult", "cumulative_incidence", "gray_test",
           "aalen_johansen_arrays"]


def _codes(data: pd.DataFrame, column: str) -> np.ndarray:
    """Integer event codes (0 = censored, 1, 2, ... = causes) with row-level errors."""
    require_columns(data, [column])
    raw = pd.to_numeric(data[column], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(raw) | (raw < 0) | (raw != np.round(raw))
    if bad.any():
        from ._input import describe_rows

        raise ModelError(
            f"column {column}: event codes must be integers 0 (censored), 1, 2, ... (causes); "
            f"found {describe_rows(data, bad, data[column].to_numpy())}"
        )
    return raw.astype(np.int64)


def aalen_johansen_arrays(time, code, cause: int) -> dict:
    """Aalen-Johansen cumulative incidence of ``cause`` with infinitesimal-jackknife variance.

    Returns
    -------
    dict
        time (distinct times), n_risk, n_event (of the cause), estimate, variance.
    """
    utime, inv = np.unique(time, return_inverse=True)
    m = len(utime)
    total = np.bincount(inv, minlength=m).astype(float)
    d_all = np.bincount(inv, weights=(code > 0).astype(float), minlength=m)
    d_k = np.bincount(inv, weights=(code == cause).astype(float), minlength=m)
    y = np.cumsum(total[::-1])[::-1]
    da = d_all / y
    dak = d_k / y
    surv = np.cumprod(1.0 - da)
    s_minus = np.concatenate([[1.0], surv[:-1]])
    inc = s_minus * dak
    cif = np.cumsum(inc)
    # influence pieces (see module docstring): c(u) = dA(u) / (Y(u) - dN(u))
    with np.errstate(divide="ignore", invalid="ignore"):
        c = np.where(d_all > 0, da / (y - d_all), 0.0)
        c = np.where(np.isfinite(c), c, 0.0)
        jump = np.where(y - d_all > 0, 1.0 / (y - d_all), 0.0)
    c_minus = np.concatenate([[0.0], np.cumsum(c)[:-1]])  # C(s-)
    f_cum = np.cumsum(inc * c_minus)  # F(t)
    h_cum = np.cumsum(inc / y)  # H(t)
    g_cum = cif  # G(t)
    # subjects still at risk after t contribute (F(t) - H(t))^2 each
    at_risk_after = y - total  # number with time > t
    base = (f_cum - h_cum) ** 2 * at_risk_after
    # subjects whose time T_i <= t: U_i(t) = a_i - K_i G(t)
    ti = inv
    ev_any = code > 0
    k_i = -np.cumsum(c)[ti] + np.where(ev_any, jump[ti], 0.0)
    a_i = (f_cum[ti] + k_i * g_cum[ti] - h_cum[ti]
           + np.where(code == cause, s_minus[ti] / y[ti], 0.0))
    sa2 = np.cumsum(np.bincount(ti, weights=a_i**2, minlength=m))
    sak = np.cumsum(np.bincount(ti, weights=a_i * k_i, minlength=m))
    sk2 = np.cumsum(np.bincount(ti, weights=k_i**2, minlength=m))
    var = base + sa2 - 2.0 * g_cum * sak + g_cum**2 * sk2
    return {"time": utime, "n_risk": y, "n_event": d_k, "estimate": cif,
            "variance": np.maximum(var, 0.0)}


@dataclass(frozen=True)
class CumulativeIncidenceResult:
    """Cumulative incidence of one cause per group.

    Attributes
    ----------
    table : DataFrame
        <group>, time, n_risk, n_event (of the cause), estimate, std_error, conf_low, conf_high.
    cause : int
        The event code analysed.
    causes : tuple
        All event codes present (0 = censored excluded).
    """

    table: pd.DataFrame
    cause: int
    causes: tuple
    group: str
    levels: tuple
    level: float
    time_unit: str

    def __repr__(self) -> str:
        return (
            f"<CumulativeIncidenceResult: cause {self.cause} of {self.causes}, "
            f"{len(self.levels)} group(s) by {self.group}, time in {self.time_unit}>"
        )

    def at(self, times) -> pd.DataFrame:
        """Cumulative incidence at given times (step function; carried forward at the end).

        Returns
        -------
        DataFrame
            <group>, time, n_risk, estimate, std_error, conf_low, conf_high (as R
            ``summary(survfit, times=, extend=TRUE)``).
        """
        times = np.atleast_1d(np.asarray(times, dtype=float))
        frames = []
        for g in self.levels:
            sub = self.table[self.table[self.group] == g]
            t = sub["time"].to_numpy()
            idx = np.searchsorted(t, times, side="right") - 1
            pick = lambda col, fill, sub=sub, idx=idx: np.where(  # noqa: E731
                idx >= 0, sub[col].to_numpy()[np.maximum(idx, 0)], fill)
            pos = np.searchsorted(t, times, side="left")
            n_risk = np.concatenate([sub["n_risk"].to_numpy(), [0]])[pos]
            frames.append(pd.DataFrame({
                self.group: g, "time": times, "n_risk": n_risk,
                "estimate": pick("estimate", 0.0), "std_error": pick("std_error", 0.0),
                "conf_low": pick("conf_low", np.nan), "conf_high": pick("conf_high", np.nan),
            }))
        return pd.concat(frames, ignore_index=True)

    _repr_html_ = summary_html  # Jupyter shows summary() as tables

    def summary(self) -> Summary:
        """Last estimate per group."""
        last = self.table.groupby(self.group, observed=True, sort=False).tail(1)
        return Summary(repr(self)[1:-1], {"Cumulative incidence at last time": last})


def cumulative_incidence(
    data: pd.DataFrame,
    time: str = "AVAL",
    event_code: str = "EVENTCD",
    by: str | None = "ARM",
    *,
    cause: int = 1,
    level: float = 0.95,
    paramcd: str | None = None,
    time_unit: str = "days",
) -> CumulativeIncidenceResult:
    """Aalen-Johansen cumulative incidence of one cause, as R ``survfit(Surv(t, factor(code)) ~ by)``.

    Parameters
    ----------
    data : DataFrame
        ADTTE-like table with an event-code column.
    time : str, default "AVAL"
        Follow-up time in days.
    event_code : str, default "EVENTCD"
        0 = censored, 1, 2, ... = causes (ADTTE: 1 relapse, 2 discontinued before relapse).
    by : str or None, default "ARM"
        Grouping column.
    cause : int, default 1
        The cause whose incidence is estimated.
    level : float, default 0.95
    paramcd : str, optional
    time_unit : {"days", "weeks", "months"}

    Returns
    -------
    CumulativeIncidenceResult
    """
    level = check_level(level)
    require_columns(data, [time, event_code, by])
    tmp = data.assign(_EVENT=0)
    inp = prepare(tmp, time=time, event="_EVENT", censor=None, by=by, paramcd=paramcd,
                  time_unit=time_unit)
    code = _codes(inp.frame, event_code)
    causes = tuple(int(c) for c in np.unique(code[code > 0]))
    if cause not in causes:
        raise ModelError(f"cause={cause!r} does not occur in column {event_code}; "
                         f"causes present: {', '.join(map(str, causes)) or 'none'}")
    frames = []
    for k, g in enumerate(inp.levels):
        m = inp.group == k
        r = aalen_johansen_arrays(inp.time[m], code[m], cause)
        se = np.sqrt(r["variance"])
        with np.errstate(divide="ignore", invalid="ignore"):
            se_log = np.where(se == 0, 0.0, se / r["estimate"])
        low, high = conf_int(r["estimate"], se_log, "log", level)
        low = np.where(r["estimate"] == 0, np.nan, low)
        high = np.where(r["estimate"] == 0, np.nan, high)
        frames.append(pd.DataFrame({
            inp.group_name: g, "time": r["time"], "n_risk": r["n_risk"].astype(np.int64),
            "n_event": r["n_event"].astype(np.int64), "estimate": r["estimate"],
            "std_error": se, "conf_low": low, "conf_high": high,
        }))
    return CumulativeIncidenceResult(pd.concat(frames, ignore_index=True), int(cause), causes,
                                     inp.group_name, inp.levels, level, time_unit)


def _gray_stratum(time, code, group, ng, cause, rho):
    r"""Gray's score (ng - 1) and its variance ((ng - 1) x (ng - 1)) within one stratum.

    With :math:`h_k = n_k(t) / \hat S_k(t-)` (at-risk count over the group's left-continuous
    all-cause Kaplan-Meier), the score of group k is

    .. math:: \sum_t w(t) \Bigl(d_{1k} - d_1 \frac{h_k (1 - \hat F_k(t-))}
              {\sum_r h_r (1 - \hat F_r(t-))}\Bigr), \quad w = (1 - \hat F(t-))^\rho,

    and its variance is assembled from each event's influence (Gray 1988, section 2), as
    ``cmprsk::cuminc`` does: the contributions of events of the cause and of the other causes,
    each with its tie correction, plus the terms carried by the running matrix ``carry``.
    """
    order = np.argsort(time, kind="stable")
    time, code, group = time[order], code[order], group[order]
    is_cause = code == cause
    is_other = (code > 0) & ~is_cause
    _, start = np.unique(time, return_index=True)
    stop = np.append(start[1:], len(time))
    at_risk = np.bincount(group, minlength=ng).astype(float)
    km_prev = np.ones(ng)  # per-group all-cause KM, left-continuous
    cif_prev = np.zeros(ng)  # per-group CIF of the cause, left-continuous
    pooled_prev = 0.0  # pooled CIF of the cause, left-continuous
    m = ng - 1
    score = np.zeros(m)
    carry = np.zeros((ng, ng))
    var = np.zeros((m, m))
    cross = np.zeros((m, ng))
    own = np.zeros(ng)

    def accumulate(psi, adj, wt):
        nonlocal var
        own[:] += adj * adj * wt
        cross[:] += psi * (adj * wt)[None, :]
        var += (psi * wt[None, :]) @ psi.T

    for lo, hi in zip(start, stop):
        grp = group[lo:hi]
        d_cause = np.bincount(grp[is_cause[lo:hi]], minlength=ng).astype(float)
        d_other = np.bincount(grp[is_other[lo:hi]], minlength=ng).astype(float)
        n_cause, n_other = d_cause.sum(), d_other.sum()
        if n_cause > 0 or n_other > 0:
            live = at_risk > 0
            n_k = np.where(live, at_risk, 1.0)
            km_now = np.where(live, km_prev * (n_k - d_cause - d_other) / n_k, km_prev)
            cif_now = np.where(live, cif_prev + km_prev * d_cause / n_k, cif_prev)
            with np.errstate(divide="ignore", invalid="ignore"):
                h = np.where(live, n_k / km_prev, 0.0)
            sum_h = h.sum()
            sum_hq = (h * (1.0 - cif_prev)).sum()
            pooled_now = pooled_prev + n_cause / sum_h
            w = (1.0 - pooled_prev) ** rho
            # derivative of the weighted score with respect to the groups' hazard increments
            deriv = -w * np.outer(h, h) / sum_h
            deriv[np.diag_indices(ng)] = w * h * (1.0 - h / sum_h)
            deriv[~live, :] = 0.0
            deriv[:, ~live] = 0.0
            carry += deriv * n_cause / (sum_h * (1.0 - pooled_prev))
            score += np.where(live, w * (d_cause - n_cause * h * (1.0 - cif_prev) / sum_hq),
                              0.0)[:m]
            with np.errstate(divide="ignore", invalid="ignore"):
                if n_cause > 0:
                    adj = np.where(km_now > 0, 1.0 - (1.0 - pooled_now) / km_now, 1.0)
                    ties = (1.0 - (n_cause - 1.0) / (sum_h * km_prev - 1.0)
                            if n_cause > 1 else np.ones(ng))
                    wt = np.where(live, ties * km_prev * n_cause / (sum_h * n_k), 0.0)
                    accumulate(deriv[:m, :] - adj[None, :] * carry[:m, :], adj, wt)
                if n_other > 0:
                    use = live & (km_now > 0) & (d_other > 0)
                    adj = np.where(use, (1.0 - pooled_now) / km_now, 0.0)
                    ties = np.where(d_other > 1, 1.0 - (d_other - 1.0) / (n_k - 1.0), 1.0)
                    wt = np.where(use, ties * km_prev**2 * d_other / n_k**2, 0.0)
                    psi = adj[None, :] * carry[:m, :]
                    own[:] += adj * adj * wt
                    cross[:] -= psi * (adj * wt)[None, :]
                    var += (psi * wt[None, :]) @ psi.T
            pooled_prev, cif_prev, km_prev = pooled_now, cif_now, km_now
        at_risk -= np.bincount(grp, minlength=ng)
    c = carry[:m, :]
    var += (c * own) @ c.T + c @ cross.T + cross @ c.T
    return score, var


@dataclass(frozen=True)
class GrayTestResult:
    """Gray's test per cause.

    Attributes
    ----------
    table : DataFrame
        cause, statistic (chi-square), df, p_value.
    rho : float
    strata : str or None
    """

    table: pd.DataFrame
    rho: float
    strata: str | None
    group: str
    levels: tuple

    def __repr__(self) -> str:
        strat = f", stratified by {self.strata}" if self.strata else ""
        return f"<GrayTestResult: {len(self.levels)} groups by {self.group}{strat}, rho = {self.rho:g}>"

    _repr_html_ = summary_html  # Jupyter shows summary() as tables

    def summary(self) -> Summary:
        """The test table."""
        return Summary(repr(self)[1:-1], {"Gray's test": self.table})


def gray_test(
    data: pd.DataFrame,
    time: str = "AVAL",
    event_code: str = "EVENTCD",
    by: str = "ARM",
    *,
    strata: str | None = None,
    rho: float = 0.0,
    paramcd: str | None = None,
) -> GrayTestResult:
    """Gray's test of equal cumulative incidence across groups, for every cause.

    Parameters
    ----------
    data : DataFrame
    time : str, default "AVAL"
    event_code : str, default "EVENTCD"
        0 = censored, 1, 2, ... = causes.
    by : str, default "ARM"
    strata : str, optional
        Stratification column (as ``cuminc(strata=)``).
    rho : float, default 0
        Weight exponent.
    paramcd : str, optional

    Returns
    -------
    GrayTestResult
        One row per cause, as ``cmprsk::cuminc(...)$Tests``.
    """
    if by is None:
        raise ModelError("gray_test compares groups: give by= (e.g. by=\"ARM\")")
    require_columns(data, [time, event_code, by, strata])
    inp = prepare(data.assign(_EVENT=0), time=time, event="_EVENT", censor=None, by=by,
                  paramcd=paramcd, min_groups=2)
    code = _codes(inp.frame, event_code)
    t = numeric_times(inp.frame, time)
    ng = len(inp.levels)
    st = np.zeros(len(t), dtype=np.int64)
    if strata is not None:
        st, _ = group_codes(inp.frame, strata, what="strata")
    rows = []
    for cause in np.unique(code[code > 0]):
        score = np.zeros(ng - 1)
        var = np.zeros((ng - 1, ng - 1))
        for s in np.unique(st):
            m = st == s
            sc, v = _gray_stratum(t[m], code[m], inp.group[m], ng, int(cause), rho)
            score += sc
            var += v
        stat = float(score @ np.linalg.solve(var, score))
        rows.append((int(cause), stat, ng - 1, float(stats.chi2.sf(stat, ng - 1))))
    table = pd.DataFrame(rows, columns=["cause", "statistic", "df", "p_value"])
    return GrayTestResult(table, float(rho), strata, inp.group_name, inp.levels)
