"""Log-rank and Fleming-Harrington tests, k-sample and stratified, as R ``survdiff``.

At each distinct event time :math:`t` of stratum :math:`s`, with :math:`n_k` at risk and
:math:`d_k` events in group :math:`k` (totals :math:`n`, :math:`d`) and weight
:math:`w = \\hat S(t-)^{\\rho}\\,(1 - \\hat S(t-))^{\\gamma}` (pooled Kaplan-Meier of the stratum,
just before :math:`t`):

.. math::

    O_k = \\sum w d_k, \\quad E_k = \\sum w d \\frac{n_k}{n}, \\quad
    V_{jk} = \\sum w^2 \\frac{d (n - d)}{n - 1} \\frac{n_j}{n}
             \\Bigl(\\delta_{jk} - \\frac{n_k}{n}\\Bigr)

summed over event times and strata. The statistic is :math:`(O-E)^T V^{-}(O-E)` on the groups
with :math:`E_k > 0`, dropping the first, with as many degrees of freedom as groups kept minus
one (R ``print.survdiff``). ``rho`` is R's ``rho``; ``gamma`` (not in ``survdiff``) gives the
Fleming-Harrington G(rho, gamma) family and has no R reference here.

Pairwise tests compare each group with the reference (first) group on the rows of the two
groups, with Holm-adjusted p-values (R ``p.adjust(method="holm")``).

What is lifelines and what is ours
----------------------------------
- **lifelines** (``statistics.multivariate_logrank_test``) gives the overall chi-square of the
  unstratified, unweighted (rho = gamma = 0) k-sample test, which equals R ``survdiff``'s
  (to ~1e-15 in ``tests/test_survival_logrank.py``). Its degrees of freedom are always k - 1,
  while R drops groups with no expected events (the statistic is the same, through its
  pseudo-inverse): ``df`` and the p-value use R's rule.
- **ours** (``logrank_arrays``):

  * the observed / expected / variance table (lifelines returns only the statistic);
  * stratified tests (``multivariate_logrank_test`` has no strata);
  * rho / gamma weights: lifelines' ``weightings="fleming-harrington"`` (p = rho, q = gamma)
    equals R's rho weights when no time is 0, but fails (a length mismatch, ValueError) when
    some follow-up times are 0, which ADTTE tables can have;
  * the pairwise tests against the reference group: the same sums on two groups' columns of
    the (time x group) tallies already made for the table. Calling lifelines again per pair
    would double the cost of :func:`logrank` for the same numbers
    (benchmarks/bench_survival.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import ModelError
from ._input import group_codes, prepare
from ._lifelines import quiet_lifelines
from ._summary import Summary, summary_html

__all__ = ["LogrankResult", "logrank", "logrank_arrays", "holm"]


def _tally(time, event, group, k):
    """Subjects leaving and events per (distinct time, group): two m x k arrays."""
    utime, inverse = np.unique(time, return_inverse=True)
    m = len(utime)
    cell = inverse * k + group
    total = np.bincount(cell, minlength=m * k).reshape(m, k).astype(float)
    deaths = np.bincount(cell, weights=event, minlength=m * k).reshape(m, k)
    return total, deaths


def _tally_sums(total, deaths, rho, gamma):
    """O, E and V of one stratum from its tally (columns = the groups compared)."""
    n_k = np.cumsum(total[::-1], axis=0)[::-1]
    n = n_k.sum(axis=1)
    d = deaths.sum(axis=1)
    keep = d > 0
    if rho != 0 or gamma != 0:
        with np.errstate(invalid="ignore", divide="ignore"):  # n = 0 only after the last event
            km = np.cumprod(1.0 - d / n)
        s_minus = np.concatenate([[1.0], km[:-1]])[keep]
        w = s_minus**rho * (1.0 - s_minus) ** gamma
    else:
        w = np.ones(int(keep.sum()))
    n_k, n, d, deaths = n_k[keep], n[keep], d[keep], deaths[keep]
    obs = (w[:, None] * deaths).sum(axis=0)
    frac = n_k / n[:, None]
    exp = (w * d)[:, None] * frac
    with np.errstate(invalid="ignore", divide="ignore"):
        kt = np.where(n > 1, w**2 * d * (n - d) / (n - 1), 0.0)
    var = np.diag((kt[:, None] * frac).sum(axis=0)) - (kt[:, None] * frac).T @ frac
    return obs, exp.sum(axis=0), var


def _tallies(time, event, group, k, strata=None) -> list:
    """One tally per stratum."""
    if strata is None:
        return [_tally(time, event, group, k)]
    order = np.argsort(strata, kind="stable")
    bounds = np.flatnonzero(np.diff(strata[order])) + 1
    return [_tally(time[idx], event[idx], group[idx], k) for idx in np.split(order, bounds)]


def _test_from_tallies(tallies, columns, rho, gamma) -> dict:
    """The test among ``columns`` (group codes) from per-stratum tallies."""
    k = len(columns)
    obs = np.zeros(k)
    exp = np.zeros(k)
    var = np.zeros((k, k))
    for total, deaths in tallies:
        o, e, v = _tally_sums(total[:, columns], deaths[:, columns], rho, gamma)
        obs += o
        exp += e
        var += v
    used = np.flatnonzero(exp > 0)
    if len(used) < 2:
        raise ModelError(
            "log-rank test needs events in at least two groups' risk sets; "
            f"expected events per group: {np.round(exp, 3).tolist()}"
        )
    keep = used[1:]
    diff = (obs - exp)[keep]
    vv = var[np.ix_(keep, keep)]
    stat = float(diff @ np.linalg.lstsq(vv, diff, rcond=None)[0])
    df = len(keep)
    return {
        "observed": obs,
        "expected": exp,
        "variance": var,
        "statistic": stat,
        "df": df,
        "p_value": float(stats.chi2.sf(stat, df)),
    }


def logrank_arrays(time, event, group, k, strata=None, rho=0.0, gamma=0.0) -> dict:
    """Engine: observed, expected, variance matrix, statistic, df and p-value.

    Parameters
    ----------
    time, event : ndarray
        Times and 1 = event indicators.
    group : ndarray of int
        Group codes 0..k-1.
    k : int
        Number of groups.
    strata : ndarray of int, optional
        Stratum codes.
    rho, gamma : float
        Fleming-Harrington weight exponents (0, 0 = log-rank).
    """
    return _test_from_tallies(_tallies(time, event, group, k, strata), list(range(k)), rho, gamma)


def _lifelines_statistic(time, event, group) -> float:
    """Unstratified log-rank chi-square from lifelines ``multivariate_logrank_test``."""
    from lifelines.statistics import multivariate_logrank_test  # heavy import, used here only

    with quiet_lifelines():
        return float(multivariate_logrank_test(time, group, event).test_statistic)


def holm(p_values) -> np.ndarray:
    """Holm step-down adjusted p-values (R ``p.adjust(p, "holm")``); NaN stays NaN, not counted."""
    p = np.asarray(p_values, dtype=float)
    out = np.full(len(p), np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    m = len(ok)
    order = ok[np.argsort(p[ok], kind="stable")]
    out[order] = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    return out


@dataclass(frozen=True)
class LogrankResult:
    """A k-sample (optionally stratified) weighted log-rank test.

    Attributes
    ----------
    statistic, df, p_value : float, int, float
        Chi-square statistic, degrees of freedom and p-value.
    table : DataFrame
        <group>, n, observed, expected, o_minus_e, variance (weighted when rho/gamma are not 0,
        summed over strata).
    pairwise : DataFrame
        contrast ("EXOSOME vs PLACEBO"), statistic, df, p_value, p_adjusted (Holm): each group
        against the reference group.
    rho, gamma : float
        Weight exponents.
    strata : str or None
        Stratification column.
    """

    statistic: float
    df: int
    p_value: float
    table: pd.DataFrame
    pairwise: pd.DataFrame
    rho: float
    gamma: float
    strata: str | None
    group: str
    levels: tuple

    def __repr__(self) -> str:
        kind = "log-rank" if self.rho == 0 and self.gamma == 0 else (
            f"Fleming-Harrington G({self.rho:g}, {self.gamma:g})"
        )
        strat = f", stratified by {self.strata}" if self.strata else ""
        return (
            f"<LogrankResult: {kind}{strat}, {len(self.levels)} groups, "
            f"chi2 = {self.statistic:.4g} on {self.df} df, p = {self.p_value:.4g}>"
        )

    def comparisons(self, *args, **kwargs):
        """Comparisons frame of the arms: see :func:`trialstats.results.comparisons.logrank_comparisons`."""
        from ..results.comparisons import logrank_comparisons

        return logrank_comparisons(self, *args, **kwargs)

    _repr_html_ = summary_html  # Jupyter shows summary() as tables

    def summary(self) -> Summary:
        """Observed/expected table, the overall test and the pairwise tests."""
        test = pd.DataFrame(
            {"statistic": [self.statistic], "df": [self.df], "p_value": [self.p_value]}
        )
        return Summary(
            repr(self)[1:-1],
            {"Observed and expected events": self.table, "Overall test": test,
             "Versus the reference (Holm-adjusted)": self.pairwise},
        )


def logrank(
    data: pd.DataFrame,
    time: str = "AVAL",
    event: str | None = None,
    censor: str | None = None,
    by: str = "ARM",
    *,
    strata: str | None = None,
    rho: float = 0.0,
    gamma: float = 0.0,
    paramcd: str | None = None,
) -> LogrankResult:
    """Compare survival curves between groups, as R ``survdiff(Surv(time, status) ~ by)``.

    Parameters
    ----------
    data : DataFrame
        ADTTE-like table.
    time : str, default "AVAL"
        Follow-up time.
    event, censor : str
        Exactly one: 1 = event column, or 1 = censored column (ADaM ``CNSR``).
    by : str, default "ARM"
        Group column (categorical order kept, else sorted; the first is the reference).
    strata : str, optional
        Stratification column, as ``+ strata(x)`` in ``survdiff``.
    rho, gamma : float, default 0
        Weights :math:`S(t-)^\\rho (1-S(t-))^\\gamma`; rho = 1 is the Peto-Peto / Gehan-Wilcoxon
        variant of R.
    paramcd : str, optional
        Keep only this PARAMCD.

    Returns
    -------
    LogrankResult

    Raises
    ------
    ModelError
        Fewer than two groups, invalid input, or no events in at least two groups' risk sets.
    """
    if by is None:
        raise ModelError("logrank needs a grouping column by= with at least two groups")
    for name, value in (("rho", rho), ("gamma", gamma)):
        if not np.isfinite(value) or value < 0:
            raise ModelError(f"{name} must be a finite number >= 0; got {value!r}")
    inp = prepare(data, time=time, event=event, censor=censor, by=by, paramcd=paramcd,
                  min_groups=2)
    k = len(inp.levels)
    strat_codes = None
    if strata is not None:
        strat_codes, _ = group_codes(inp.frame, strata, what="strata")
    ev = inp.event.astype(float)
    tallies = _tallies(inp.time, ev, inp.group, k, strat_codes)
    res = _test_from_tallies(tallies, list(range(k)), rho, gamma)
    if strat_codes is None and rho == 0 and gamma == 0:
        res["statistic"] = _lifelines_statistic(inp.time, inp.event, inp.group)
        res["p_value"] = float(stats.chi2.sf(res["statistic"], res["df"]))
    n = np.bincount(inp.group, minlength=k)
    table = pd.DataFrame(
        {
            inp.group_name: pd.Categorical(list(inp.levels), categories=list(inp.levels)),
            "n": n,
            "observed": res["observed"],
            "expected": res["expected"],
            "o_minus_e": res["observed"] - res["expected"],
            "variance": np.diag(res["variance"]),
        }
    )
    # pairwise tests: the same tallies restricted to the two groups' columns (the rows of other
    # groups only add times at which the pair has nobody leaving, which change no sum)
    # a pair without expected events in both groups has no test: NaN, as R (the overall test
    # stands on the groups that have them)
    rows = []
    for j in range(1, k):
        try:
            sub = _test_from_tallies(tallies, [0, j], rho, gamma)
        except ModelError:
            sub = {"statistic": np.nan, "df": 0, "p_value": np.nan}
        rows.append((f"{inp.levels[j]} vs {inp.levels[0]}", sub["statistic"], sub["df"],
                     sub["p_value"]))
    pairwise = pd.DataFrame(rows, columns=["contrast", "statistic", "df", "p_value"])
    pairwise["p_adjusted"] = holm(pairwise["p_value"].to_numpy())
    return LogrankResult(
        statistic=res["statistic"],
        df=res["df"],
        p_value=res["p_value"],
        table=table,
        pairwise=pairwise,
        rho=float(rho),
        gamma=float(gamma),
        strata=strata,
        group=inp.group_name,
        levels=inp.levels,
    )
