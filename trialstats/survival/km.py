"""Kaplan-Meier estimates with Greenwood standard errors, as R ``survfit``.

.. math::

    \\hat S(t) = \\prod_{t_j \\le t} \\Bigl(1 - \\frac{d_j}{n_j}\\Bigr), \\qquad
    \\widehat{\\operatorname{Var}}\\{\\log \\hat S(t)\\} = \\sum_{t_j \\le t} \\frac{d_j}{n_j (n_j - d_j)}

Pointwise intervals use ``conf_type`` "log-log" (SAS's default; R ``conf.type="log-log"``), "log"
(R's default) or "plain", with R's conventions (``survival:::survfit_confint``). Quantiles and the
median use the Brookmeyer-Crowley method as R ``quantile.survfit``: the time where the survival
curve, and each confidence limit curve, first drops to 1 - p or below (the midpoint when the curve
is flat exactly at 1 - p).

What is lifelines and what is ours
----------------------------------
- **lifelines** (``KaplanMeierFitter``) computes, per group, the event table (``n_risk``,
  ``n_event``, ``n_censor`` at each distinct time: its ``event_table`` columns ``at_risk``,
  ``observed``, ``censored``) and the point estimate :math:`\\hat S(t)` (its
  ``survival_function_``). These are the same quantities R ``survfit`` reports (checked to
  rtol 1e-10 / 1e-6 in ``tests/test_survival_km.py``). The row lifelines adds at time 0 when
  nobody has that time is dropped, as R has no such row.
- **ours** (arrays, in this module): the Greenwood variance, the three interval types, the
  quantiles and ``survival_at``/``risk_table``. lifelines differs from R here: its only interval
  is the log-log ("exponential Greenwood") one, it reports [1, 1] where R's log-log interval is
  undefined (S = 1), and where S(t) reaches 0 its Greenwood term is set to 0 instead of R's
  infinite variance (NA standard error and limits); its median is the first time S <= 0.5,
  without R's midpoint where the curve is flat at 0.5 (times 1, 2, 3, 4 all events: lifelines 2,
  R 2.5).

``km_arrays`` is the engine on NumPy arrays; :func:`kaplan_meier` is the ADTTE front end.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from .._inference import check_level
from ..errors import ModelError
from ._input import case_weights, check_choice, prepare
from ._lifelines import quiet_lifelines
from ._summary import Summary, summary_html

CONF_TYPES = ("log-log", "log", "plain")
_TOL = np.sqrt(np.finfo(float).eps)

__all__ = ["KaplanMeierResult", "kaplan_meier", "km_arrays", "conf_int", "ij_variance"]


def km_arrays(time: np.ndarray, event: np.ndarray, weights: np.ndarray | None = None,
              robust: bool = False) -> dict:
    """Kaplan-Meier estimate for one group: lifelines' table and estimate, our Greenwood variance.

    Parameters
    ----------
    time, event : ndarray
        Follow-up times and event indicators (1 = event).
    weights : ndarray, optional
        Case weights (default 1).
    robust : bool, default False
        ``var_log`` is the infinitesimal-jackknife variance (:func:`_ij_var_log`) instead of
        Greenwood's.

    Returns
    -------
    dict
        ``time`` (unique times, event or censoring), ``n_risk``, ``n_event``, ``n_censor``,
        ``survival`` and ``var_log`` (Greenwood variance of log S; ``inf`` once S reaches 0).
    """
    from lifelines import KaplanMeierFitter  # heavy import, only when a curve is fitted

    time = np.asarray(time, dtype=float)
    event = np.asarray(event)
    w = None if weights is None else np.asarray(weights, dtype=float)
    with quiet_lifelines():
        fitter = KaplanMeierFitter().fit(time, event, weights=w)
    tab = fitter.event_table
    surv = fitter.survival_function_.to_numpy()[:, 0]
    # lifelines starts the table at t = 0 even when no subject has that time: drop that row
    keep = tab["removed"].to_numpy() > 0
    n = tab["at_risk"].to_numpy(dtype=float)[keep]
    d = tab["observed"].to_numpy(dtype=float)[keep]
    with np.errstate(divide="ignore", invalid="ignore"):
        # Greenwood, ours: infinite once S reaches 0 (n = d), as R (lifelines sets 0 there)
        term = np.where(d > 0, d / (n * (n - d)), 0.0)
    var_log = np.cumsum(term)
    if robust:
        var_log = _ij_var_log(time, event, np.ones(len(time)) if w is None else w, n, d)
    return {
        "time": tab.index.to_numpy(dtype=float)[keep],
        "n_risk": n,
        "n_event": d,
        "n_censor": tab["censored"].to_numpy(dtype=float)[keep],
        "survival": surv[keep],
        "var_log": var_log,
    }


def _ij_var_log(time, event, w, n, d) -> np.ndarray:
    """Infinitesimal-jackknife variance of log S(t) at the distinct times (R ``robust=TRUE``).

    Subject i's influence on :math:`\\log \\hat S(t)` is
    :math:`w_i \\sum_{t_j \\le \\min(t, t_i)} (d_j/n_j - \\delta_{ij}) / (n_j - d_j)`
    (weighted counts; R ``survfitkm.c`` updates the same influence on S). ``n`` and ``d`` are
    per distinct time.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(d > 0, d / (n * (n - d)), 0.0)
        c = np.where(d > 0, 1.0 / (n - d), 0.0)
    return ij_variance(time, event, w, a, c)


def ij_variance(time, event, w, a, c) -> np.ndarray:
    """:math:`\\sum_i U_i(t)^2` at the distinct times for influences of the form
    :math:`U_i(t) = w_i (\\sum_{t_j \\le \\min(t, t_i)} a_j - \\delta_i c_{j(i)})`.

    Subjects still at risk at t share :math:`A(t) = \\sum_{t_j \\le t} a_j`; the others are
    frozen at their own time, so the sum is two cumulative sums (O(n), no n x m matrix).
    """
    utime, inv = np.unique(time, return_inverse=True)
    big_a = np.cumsum(a)
    u = big_a[inv] - np.asarray(event, dtype=float) * c[inv]
    m = len(utime)
    w2 = w * w
    later = np.append(np.cumsum(np.bincount(inv, weights=w2, minlength=m)[::-1])[::-1][1:], 0.0)
    with np.errstate(invalid="ignore"):
        done = np.cumsum(np.bincount(inv, weights=w2 * u * u, minlength=m))
        return np.where(np.isfinite(big_a), big_a**2 * later + done, np.inf)


def _counts(a: np.ndarray) -> np.ndarray:
    """Counts as integers, or as floats when case weights make them fractional."""
    a = np.asarray(a, dtype=float)
    return a.astype(np.int64) if np.array_equal(a, np.round(a)) else a


def conf_int(surv, se_log, conf_type: str, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise interval for S(t) from the standard error of log S(t), as R survfit_confint.

    Where S(t) = 1 the "log-log" interval is undefined (NaN, as R; "log" and "plain" give
    [1, 1]); where S(t) = 0 the Greenwood variance is infinite and every interval is undefined (NaN).
    """
    z = stats.norm.ppf(0.5 + level / 2.0)
    p = np.asarray(surv, dtype=float)
    se = np.asarray(se_log, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        if conf_type == "plain":
            half = z * se * p
            low = np.maximum(p - half, 0.0)
            high = np.minimum(p + half, 1.0)
        elif conf_type == "log":
            xx = np.where(p == 0, np.nan, p)
            low = np.exp(np.log(xx) - z * se)
            high = np.minimum(np.exp(np.log(xx) + z * se), 1.0)
        else:
            xx = np.where((p == 0) | (p == 1), np.nan, p)
            half = z * se / np.log(xx)
            low = np.exp(-np.exp(np.log(-np.log(xx)) - half))
            high = np.exp(-np.exp(np.log(-np.log(xx)) + half))
    return low, high


def _findq(x: np.ndarray, y: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Port of ``findq`` inside R ``quantile.survfit``: where y = 1 - S first reaches p."""
    out = np.full(len(probs), np.nan)
    if np.all(np.isnan(y)) or np.nanmax(y) < np.min(probs):
        return out
    xmax = x[-1]
    _, first = np.unique(y, return_index=True)  # drop duplicated y (keep first), NaN last
    keep = np.sort(first)
    x, y = x[keep], y[keep]
    ok = ~np.isnan(y)
    x, y = x[ok], y[ok]
    n = len(y)
    for k, p in enumerate(probs):
        i1 = np.searchsorted(y + _TOL, p, side="left")
        i2 = np.searchsorted(y - _TOL, p, side="left")
        if i1 >= n:
            continue
        if p == 0:
            out[k] = x[0]
            continue
        if abs(p - y[-1]) < _TOL and i2 >= n:
            out[k] = (x[i1] + xmax) / 2.0
        elif i2 < n:
            out[k] = (x[i1] + x[i2]) / 2.0
    return out


def _quantiles(time, surv, low, high, probs) -> np.ndarray:
    """Quantile, lower and upper limit (3 x len(probs)) as R ``doquant``."""
    x = np.concatenate([[0.0], time])
    rows = [
        _findq(x, np.concatenate([[0.0], 1.0 - surv]), probs),
        _findq(x, np.concatenate([[0.0], 1.0 - low]), probs),
        _findq(x, np.concatenate([[0.0], 1.0 - high]), probs),
    ]
    return np.vstack(rows)


@dataclass(frozen=True)
class KaplanMeierResult:
    """Kaplan-Meier estimates per group.

    Attributes
    ----------
    table : DataFrame
        One row per group and distinct time: <group>, time, n_risk, n_event, n_censor, survival,
        std_error (Greenwood SE of S), conf_low, conf_high.
    group : str
        Name of the group column (``by``, or ``"group"`` without one).
    levels : tuple
        Groups in order, reference first.
    conf_type, level, time_unit : str, float, str
        The interval type, confidence level and reporting unit used.
    n_obs, n_events : dict
        Subjects and events per group.
    """

    table: pd.DataFrame
    group: str
    levels: tuple
    conf_type: str
    level: float
    time_unit: str
    n_obs: dict
    n_events: dict
    _curves: dict = field(repr=False, compare=False)

    def __repr__(self) -> str:
        n = sum(self.n_obs.values())
        e = sum(self.n_events.values())
        return (
            f"<KaplanMeierResult: {len(self.levels)} group(s) by {self.group}, {n} subjects, "
            f"{e:g} events, {self.conf_type} intervals, time in {self.time_unit}>"
        )

    def quantiles(self, probs=(0.25, 0.5, 0.75)) -> pd.DataFrame:
        """Survival-time quantiles with Brookmeyer-Crowley intervals (R ``quantile.survfit``).

        ``probs`` are the failure probabilities: 0.5 is the median, 0.25 the time by which a
        quarter of the group has had the event. NaN where not reached.

        Returns
        -------
        DataFrame
            <group>, prob, quantile, conf_low, conf_high.
        """
        probs = np.atleast_1d(np.asarray(probs, dtype=float))
        if np.any((probs < 0) | (probs > 1)):
            raise ModelError(f"probs must lie in [0, 1]; got {probs.tolist()}")
        rows = []
        for g in self.levels:
            c = self._curves[g]
            q = _quantiles(c["time"], c["survival"], c["conf_low"], c["conf_high"], probs)
            for k, p in enumerate(probs):
                rows.append((g, p, q[0, k], q[1, k], q[2, k]))
        return pd.DataFrame(rows, columns=[self.group, "prob", "quantile", "conf_low", "conf_high"])

    def median(self) -> pd.DataFrame:
        """Median survival time with its Brookmeyer-Crowley interval (NaN where not reached).

        Returns
        -------
        DataFrame
            <group>, median, conf_low, conf_high; as R ``print(survfit)``.
        """
        q = self.quantiles([0.5]).drop(columns="prob").rename(columns={"quantile": "median"})
        return q.reset_index(drop=True)

    def survival_at(self, times) -> pd.DataFrame:
        """Survival at given times, as R ``summary(fit, times=, extend=TRUE)``.

        Beyond the last follow-up time the estimate is carried forward and ``n_risk`` is 0.

        Returns
        -------
        DataFrame
            <group>, time, n_risk, survival, std_error, conf_low, conf_high.
        """
        times = np.atleast_1d(np.asarray(times, dtype=float))
        if np.any(~np.isfinite(times)) or np.any(times < 0):
            raise ModelError(f"times must be finite and >= 0; got {times.tolist()}")
        frames = []
        for g in self.levels:
            c = self._curves[g]
            idx = np.searchsorted(c["time"], times, side="right") - 1
            before = idx < 0
            j = np.maximum(idx, 0)
            surv = np.where(before, 1.0, c["survival"][j])
            var_log = np.where(before, 0.0, c["var_log"][j])
            with np.errstate(invalid="ignore"):
                se = np.where(surv > 0, surv * np.sqrt(var_log), np.nan)
            low, high = conf_int(surv, np.sqrt(var_log), self.conf_type, self.level)
            # before the first follow-up time R reports the starting values: [1, 1]
            low = np.where(before, 1.0, low)
            high = np.where(before, 1.0, high)
            # subjects at risk at t: follow-up time >= t
            pos = np.searchsorted(c["time"], times, side="left")
            at_risk = np.concatenate([c["n_risk"], [0.0]])[pos]
            frames.append(
                pd.DataFrame(
                    {
                        self.group: g,
                        "time": times,
                        "n_risk": at_risk,
                        "survival": surv,
                        "std_error": se,
                        "conf_low": low,
                        "conf_high": high,
                    }
                )
            )
        return pd.concat(frames, ignore_index=True)

    def risk_table(self, times) -> pd.DataFrame:
        """Numbers at risk at tick times, with events and censorings in each interval.

        ``n_risk`` counts follow-up times >= tick; ``n_event`` and ``n_censor`` count times in
        (previous tick, tick] (for the first tick: times <= tick).

        Returns
        -------
        DataFrame
            <group>, time, n_risk, n_event, n_censor.
        """
        ticks = np.atleast_1d(np.asarray(times, dtype=float))
        if np.any(np.diff(ticks) <= 0):
            raise ModelError(f"risk_table times must be increasing; got {ticks.tolist()}")
        frames = []
        for g in self.levels:
            c = self._curves[g]
            pos = np.searchsorted(c["time"], ticks, side="left")
            at_risk = np.concatenate([c["n_risk"], [0.0]])[pos]
            upto = np.searchsorted(c["time"], ticks, side="right")
            cum_e = np.concatenate([[0.0], np.cumsum(c["n_event"])])[upto]
            cum_c = np.concatenate([[0.0], np.cumsum(c["n_censor"])])[upto]
            frames.append(
                pd.DataFrame(
                    {
                        self.group: g,
                        "time": ticks,
                        "n_risk": _counts(at_risk),
                        "n_event": _counts(np.diff(np.concatenate([[0.0], cum_e]))),
                        "n_censor": _counts(np.diff(np.concatenate([[0.0], cum_c]))),
                    }
                )
            )
        return pd.concat(frames, ignore_index=True)

    _repr_html_ = summary_html  # Jupyter shows summary() as tables

    def summary(self) -> Summary:
        """Per-group subjects, events and median with its interval."""
        med = self.median()
        med.insert(1, "n", [self.n_obs[g] for g in self.levels])
        med.insert(2, "events", [self.n_events[g] for g in self.levels])
        title = (
            f"Kaplan-Meier estimate ({self.conf_type} {self.level:.0%} intervals, "
            f"time in {self.time_unit})"
        )
        return Summary(title, {"Median survival": med})


def kaplan_meier(
    data: pd.DataFrame,
    time: str = "AVAL",
    event: str | None = None,
    censor: str | None = None,
    by: str | None = "ARM",
    *,
    conf_type: str = "log-log",
    level: float = 0.95,
    paramcd: str | None = None,
    time_unit: str = "days",
    weights: str | None = None,
    robust: bool | None = None,
) -> KaplanMeierResult:
    """Kaplan-Meier survival curves per group, matching R ``survfit(Surv(time, status) ~ by)``.

    Parameters
    ----------
    data : DataFrame
        ADTTE-like table, one row per subject.
    time : str, default "AVAL"
        Follow-up time in days.
    event, censor : str
        Exactly one: ``event=`` a 0/1 column with 1 = event, or ``censor=`` a 0/1 column with
        1 = censored (ADaM ``CNSR``).
    by : str or None, default "ARM"
        Grouping column. A categorical keeps its level order; otherwise groups are sorted.
    conf_type : {"log-log", "log", "plain"}
        Pointwise interval type (see module docstring).
    level : float, default 0.95
        Confidence level.
    paramcd : str, optional
        Keep only rows with this ``PARAMCD``.
    time_unit : {"days", "weeks", "months"}
        Reporting unit: weeks = days / 7, months = days / 30.4375.
    weights : str, optional
        Column of case weights (finite, >= 0), as R ``survfit(weights=)``: the counts at risk
        and of events are weighted sums.
    robust : bool, optional
        Infinitesimal-jackknife standard errors (R ``robust=TRUE``) instead of Greenwood's
        (which then takes the weighted counts as counts). Default as R: True with non-integer
        weights, else False.

    Returns
    -------
    KaplanMeierResult

    Raises
    ------
    ModelError
        Invalid times, event/censor coding or options (the message names the rows).

    Examples
    --------
    >>> km = kaplan_meier(adtte, censor="CNSR", by="ARM")          # doctest: +SKIP
    >>> km.median()                                                 # doctest: +SKIP
    """
    check_choice("conf_type", conf_type, CONF_TYPES)
    level = check_level(level)
    inp = prepare(
        data, time=time, event=event, censor=censor, by=by, paramcd=paramcd, time_unit=time_unit
    )
    curves, frames, n_obs, n_events = {}, [], {}, {}
    w = None if weights is None else case_weights(inp.frame, weights)
    if robust is None:  # R survfit: robust by default with non-integer (sampling) weights
        robust = w is not None and bool(np.any(w != np.floor(w)))
    for k, g in enumerate(inp.levels):
        mask = inp.group == k
        c = km_arrays(inp.time[mask], inp.event[mask], None if w is None else w[mask],
                      robust=bool(robust))
        se_log = np.sqrt(c["var_log"])
        low, high = conf_int(c["survival"], se_log, conf_type, level)
        with np.errstate(invalid="ignore"):
            se = np.where(c["survival"] > 0, c["survival"] * se_log, np.nan)
        c.update(conf_low=low, conf_high=high, std_error=se)
        curves[g] = c
        n_obs[g] = int(mask.sum())
        n_events[g] = int(inp.event[mask].sum())
        frames.append(
            pd.DataFrame(
                {
                    inp.group_name: g,
                    "time": c["time"],
                    "n_risk": _counts(c["n_risk"]),
                    "n_event": _counts(c["n_event"]),
                    "n_censor": _counts(c["n_censor"]),
                    "survival": c["survival"],
                    "std_error": se,
                    "conf_low": low,
                    "conf_high": high,
                }
            )
        )
    table = pd.concat(frames, ignore_index=True)
    if by is not None:
        table[inp.group_name] = pd.Categorical(table[inp.group_name], categories=list(inp.levels))
    return KaplanMeierResult(
        table=table,
        group=inp.group_name,
        levels=inp.levels,
        conf_type=conf_type,
        level=level,
        time_unit=time_unit,
        n_obs=n_obs,
        n_events=n_events,
        _curves=curves,
    )
