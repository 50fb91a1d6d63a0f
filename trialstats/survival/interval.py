"""Interval-censored relapse times: Turnbull's NPMLE and parametric (Weibull) regression.

Relapse is only seen at visits, so ADTTE gives an interval (TLOWER, TUPPER]: the last
relapse-free visit and the visit where relapse was seen. Conventions, as R
``Surv(left, right, type="interval2")``:

- ``right`` missing: right-censored at ``left`` (no relapse seen after ``left``);
- ``left`` missing or 0: left-censored (relapse by ``right``);
- ``left == right``: exact time.

:func:`turnbull` estimates the survival curve non-parametrically with the EM algorithm of
Turnbull (1976) on the innermost intervals; the NPMLE is not unique inside those intervals and,
as R ``survfit`` does, the drop is placed at each interval's midpoint. :func:`interval_regression`
fits an accelerated failure time model by maximum likelihood, as R
``survreg(Surv(left, right, type="interval2") ~ x, dist=)``.

What is lifelines and what is ours
----------------------------------
- **lifelines** fits :func:`interval_regression` for ``dist="weibull"`` (``WeibullAFTFitter``)
  and ``"loglogistic"`` (``LogLogisticAFTFitter``) with ``fit_interval_censoring``. Its
  ``lambda_`` / ``alpha_`` coefficients are survreg's; survreg's ``Log(scale)`` is minus its
  ``rho_`` / ``beta_`` intercept (log T = x'beta + sigma W with sigma = 1 / rho). Its SLSQP
  optimiser is run to ``ftol`` 1e-16 (``_LIFELINES_FIT_OPTIONS``; its default 1e-10 leaves
  ``Log(scale)`` 3e-5 relative from R's). Weibull then agrees with R ``survreg`` to ~4e-10
  relative in the estimates and SEs.
- **ours** (:mod:`._parametric`): ``"exponential"`` (lifelines has no exponential AFT
  regression) and ``"lognormal"`` (lifelines' ``LogNormalAFTFitter`` fails, "NaN result
  encountered", when an interval starts at 0, i.e. on left-censored relapses). Also a formula
  without an intercept, and a fallback when lifelines reports a ConvergenceError.
- **ours**: :func:`turnbull` (the R ``survfit`` interval2 NPMLE with drops at the midpoints of
  the innermost intervals; lifelines' ``KaplanMeierFitter.fit_interval_censoring`` was not
  compared with R here).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._inference import check_level, t_inference
from ..errors import ConvergenceWarning, ModelError
from ..formula import formula_context
from . import _parametric
from ._input import (
    TIME_UNITS,
    check_choice,
    checked_rhs,
    describe_rows,
    filter_paramcd,
    group_codes,
    numeric_times,
    require_columns,
)
from ._lifelines import quiet_lifelines
from ._summary import Summary, summary_html

__all__ = ["TurnbullResult", "IntervalRegressionResult", "turnbull", "interval_regression",
           "turnbull_arrays"]


def _bounds(data, left, right, time_unit):
    """(lower, upper] arrays: missing right -> inf, missing left -> 0; validated."""
    require_columns(data, [left, right])
    lo = numeric_times(data, left, allow_missing=True)
    hi = numeric_times(data, right, allow_missing=True)
    both = np.isnan(lo) & np.isnan(hi)
    if both.any():
        raise ModelError(f"columns {left}/{right}: both bounds missing in "
                         f"{describe_rows(data, both)}; at least one is needed")
    lo = np.where(np.isnan(lo), 0.0, lo)
    hi = np.where(np.isnan(hi), np.inf, hi)
    bad = hi < lo
    if bad.any():
        raise ModelError(f"column {right} is smaller than {left} in {describe_rows(data, bad)}; "
                         "intervals must satisfy left <= right")
    scale = TIME_UNITS[time_unit]
    return lo / scale, hi / scale


def turnbull_arrays(lower, upper, tol: float = 1e-12, max_iter: int = 100_000) -> dict:
    """Turnbull NPMLE: innermost intervals (q, p] and their probability masses.

    Returns
    -------
    dict
        ``lower``, ``upper`` (innermost intervals), ``probability``, ``iterations``,
        ``converged``.
    """
    exact = lower == upper
    # ordering keys: at a common value, an exact time's left end < right ends < open left ends
    points = np.concatenate([lower, upper])
    tags = np.concatenate([np.where(exact, 0, 2), np.ones(len(upper), dtype=int)])
    order = np.lexsort((tags, points))
    pts, tg = points[order], tags[order]
    is_left = tg != 1
    start = np.flatnonzero(is_left[:-1] & ~is_left[1:])
    q, p = pts[start], pts[start + 1]
    q_tag = tg[start]
    # containment of innermost interval j in subject i's interval
    lo_key = np.where(exact, 0, 2)
    left_ok = (lower[:, None] < q[None, :]) | (
        (lower[:, None] == q[None, :]) & (lo_key[:, None] <= q_tag[None, :]))
    right_ok = upper[:, None] >= p[None, :]
    alpha = (left_ok & right_ok).astype(float)
    if np.any(alpha.sum(axis=1) == 0):
        raise ModelError("an interval contains no Turnbull interval; check left <= right")
    m = alpha.shape[1]
    prob = np.full(m, 1.0 / m)
    converged = False
    it = 0
    while it < max_iter:
        it += 1
        denom = alpha @ prob
        new = prob * (alpha / denom[:, None]).mean(axis=0)
        change = np.max(np.abs(new - prob))
        prob = new
        if change < tol:
            converged = True
            break
    if not converged:
        warnings.warn(f"Turnbull EM stopped after {max_iter} iterations (change {change:.2g})",
                      ConvergenceWarning, stacklevel=3)
    return {"lower": q, "upper": p, "probability": prob, "iterations": it,
            "converged": converged}


@dataclass(frozen=True)
class TurnbullResult:
    """Turnbull NPMLE per group.

    Attributes
    ----------
    intervals : DataFrame
        <group>, lower, upper (innermost intervals), probability (mass), survival (after it).
    """

    intervals: pd.DataFrame
    group: str
    levels: tuple
    time_unit: str

    def __repr__(self) -> str:
        return (f"<TurnbullResult: {len(self.levels)} group(s) by {self.group}, "
                f"{len(self.intervals)} innermost intervals, time in {self.time_unit}>")

    def survival_at(self, times) -> pd.DataFrame:
        """S(t) with each interval's mass placed at its midpoint (R ``survfit``'s convention).

        Returns
        -------
        DataFrame
            <group>, time, survival.
        """
        times = np.atleast_1d(np.asarray(times, dtype=float))
        frames = []
        for g in self.levels:
            sub = self.intervals[self.intervals[self.group] == g]
            upper = sub["upper"].to_numpy()
            mid = np.where(np.isinf(upper), np.inf, (sub["lower"].to_numpy() + upper) / 2)
            mass = sub["probability"].to_numpy()
            drop = (mid[None, :] <= times[:, None]) @ mass
            frames.append(pd.DataFrame({self.group: g, "time": times,
                                        "survival": np.clip(1.0 - drop, 0.0, 1.0)}))
        return pd.concat(frames, ignore_index=True)

    _repr_html_ = summary_html  # Jupyter shows summary() as tables

    def summary(self) -> Summary:
        """The innermost intervals with positive mass."""
        tab = self.intervals[self.intervals["probability"] > 1e-10]
        return Summary(repr(self)[1:-1], {"Turnbull intervals": tab})


def turnbull(
    data: pd.DataFrame,
    left: str = "TLOWER",
    right: str = "TUPPER",
    by: str | None = "ARM",
    *,
    paramcd: str | None = None,
    time_unit: str = "days",
) -> TurnbullResult:
    """Turnbull's NPMLE of the survival curve, as R ``survfit(Surv(l, r, type="interval2") ~ by)``.

    Parameters
    ----------
    data : DataFrame
        ADTTE-like table with interval bounds.
    left, right : str
        Lower and upper bounds in days (see module docstring for missing values).
    by : str or None, default "ARM"
    paramcd : str, optional
    time_unit : {"days", "weeks", "months"}

    Returns
    -------
    TurnbullResult
    """
    check_choice("time_unit", time_unit, tuple(TIME_UNITS))
    require_columns(data, [left, right, by])
    frame = filter_paramcd(data, paramcd)
    lo, hi = _bounds(frame, left, right, time_unit)
    if by is None:
        codes, levels, name = np.zeros(len(frame), dtype=np.int64), ("all",), "group"
    else:
        codes, levels = group_codes(frame, by)
        name = by
    frames = []
    for k, g in enumerate(levels):
        m = codes == k
        r = turnbull_arrays(lo[m], hi[m])
        frames.append(pd.DataFrame({name: g, "lower": r["lower"], "upper": r["upper"],
                                    "probability": r["probability"],
                                    "survival": 1.0 - np.cumsum(r["probability"])}))
    return TurnbullResult(pd.concat(frames, ignore_index=True), name, tuple(levels), time_unit)


@dataclass(frozen=True)
class IntervalRegressionResult:
    """A parametric AFT model for interval-censored times.

    Attributes
    ----------
    coef : DataFrame
        term ("(Intercept)", "ARMEXOSOME", ..., "Log(scale)"), estimate, std_error, statistic,
        p_value, conf_low, conf_high. Location terms are on the log-time scale: exp(estimate)
        is a time ratio.
    dist, formula : str
    scale : float
    loglik, aic : float
    n_obs : int
    converged : bool
    """

    coef: pd.DataFrame
    dist: str
    formula: str
    scale: float
    loglik: float
    aic: float
    n_obs: int
    converged: bool
    level: float

    def __repr__(self) -> str:
        return (f"<IntervalRegressionResult: {self.dist} AFT ~ {self.formula}, "
                f"{self.n_obs} obs, loglik {self.loglik:.4f}, "
                f"{'converged' if self.converged else 'NOT converged'}>")

    _repr_html_ = summary_html  # Jupyter shows summary() as tables

    def summary(self) -> Summary:
        """Coefficients and fit statistics."""
        return Summary(repr(self)[1:-1], {"Coefficients": self.coef},
                       (f"Scale = {self.scale:.4g}; AIC = {self.aic:.4f}",))


# lifelines AFT fitter, its scale-parameter name and the sign of its intercept vs survreg's
# log(scale): lifelines' shape is 1 / sigma
# lifelines' default SLSQP stop (ftol 1e-10) leaves log(scale) 3e-5 relative from survreg's
_LIFELINES_FIT_OPTIONS = {"ftol": 1e-16, "maxiter": 1000}
_LIFELINES_AFT = {"weibull": ("WeibullAFTFitter", "lambda_", "rho_"),
                  "loglogistic": ("LogLogisticAFTFitter", "alpha_", "beta_")}


def _fit_lifelines_aft(dist, lower, upper, x, intercept: int) -> dict | None:
    """survreg-parametrised fit by a lifelines AFT fitter, or None if lifelines fails.

    Returns params (x coefficients in the order of ``x``, then log(scale)), vcov, loglik,
    converged, as :func:`._parametric.fit`.
    """
    import lifelines
    from lifelines.exceptions import ConvergenceError

    fitter_name, location, shape = _LIFELINES_AFT[dist]
    p = x.shape[1]
    names = [None if j == intercept else f"x{j}" for j in range(p)]
    frame = pd.DataFrame({n: x[:, j] for j, n in enumerate(names) if n is not None})
    frame["_lower"] = lower
    frame["_upper"] = upper
    with quiet_lifelines():
        try:
            fitter = getattr(lifelines, fitter_name)().fit_interval_censoring(
                frame, "_lower", "_upper", fit_options=dict(_LIFELINES_FIT_OPTIONS))
        except ConvergenceError:
            return None
    index = [(location, "Intercept" if n is None else n) for n in names] + [(shape, "Intercept")]
    sign = np.ones(p + 1)
    sign[-1] = -1.0  # survreg's log(scale) = -log(shape)
    params = sign * fitter.params_.loc[index].to_numpy(dtype=float)
    vcov = fitter.variance_matrix_.loc[index, index].to_numpy(dtype=float) * np.outer(sign, sign)
    return {"params": params, "vcov": vcov, "loglik": float(fitter.log_likelihood_),
            "converged": True}


def _check_not_aliased(x: np.ndarray, names: list, rhs: str) -> None:
    """Refuse columns that are linear combinations of earlier ones (R's survreg: NA).

    Factors are coded as R's model.matrix codes them (trialstats/_materializer.py): an
    interaction without its margins (``ARM:SEX``) has one indicator per level combination next
    to the intercept, so one of them is aliased.
    """
    from ..longitudinal._design import _aliased

    dup = _aliased(x)
    if dup:
        raise ModelError(
            f"covariates {', '.join(names[j] for j in dup)} of '{rhs}' are linear combinations "
            "of earlier columns (aliased); add the missing main effects (e.g. A * B for A:B) or "
            "drop the aliased terms")


def interval_regression(
    formula: str,
    data: pd.DataFrame,
    left: str = "TLOWER",
    right: str = "TUPPER",
    *,
    dist: str = "weibull",
    level: float = 0.95,
    paramcd: str | None = None,
) -> IntervalRegressionResult:
    """Accelerated failure time regression for interval-censored times (R ``survreg`` interval2).

    Parameters
    ----------
    formula : str
        Right-hand side, e.g. ``"ARM"`` (formulaic syntax, treatment coding).
    data : DataFrame
    left, right : str
        Interval bounds in days.
    dist : {"weibull", "exponential", "lognormal", "loglogistic"}
    level : float, default 0.95
    paramcd : str, optional

    Returns
    -------
    IntervalRegressionResult
    """
    check_choice("dist", dist, _parametric.AFT)
    level = check_level(level)
    require_columns(data, [left, right])
    frame = filter_paramcd(data, paramcd).reset_index(drop=True)
    lo, hi = _bounds(frame, left, right, "days")
    import formulaic

    from .._materializer import MATERIALIZER  # R's model.matrix coding of factors

    if isinstance(formula, str) and not formula.split("~", 1)[-1].strip():
        formula = "1"
    rhs = checked_rhs(formula, frame, "interval_regression")  # formulas are data, never code
    for col in frame.columns:
        if isinstance(frame[col].dtype, pd.CategoricalDtype):
            frame[col] = frame[col].cat.remove_unused_categories()
    try:
        mm = formulaic.model_matrix(rhs, frame, na_action="raise", context=formula_context(),
                                     materializer=MATERIALIZER)
    except Exception as e:  # formulaic raises several types
        raise ModelError(f"cannot build the design matrix for '{rhs}': {e}") from e
    x = np.asarray(mm, dtype=float)
    if x.shape[1] == 0:
        raise ModelError(f"formula '{rhs}' has no terms (not even an intercept)")
    if not np.isfinite(x).all():
        bad = [str(c) for c, ok in zip(mm.columns, np.isfinite(x).all(axis=0)) if not ok]
        raise ModelError(f"covariates {', '.join(bad)} of '{rhs}' have infinite or undefined "
                         "values (a transform such as log(0) or x / 0); change the transform")
    names = ["(Intercept)" if c == "Intercept" else c.replace("[T.", "").rstrip("]")
             if "[T." in c else c for c in mm.columns]
    _check_not_aliased(x, names, rhs)
    res = None
    if dist in _LIFELINES_AFT and "Intercept" in mm.columns:
        res = _fit_lifelines_aft(dist, lo, hi, x, list(mm.columns).index("Intercept"))
    if res is None:
        res = _parametric.fit(dist, lo, hi, x)
    params = res["params"]
    if dist != "exponential":
        names = names + ["Log(scale)"]
    se = np.sqrt(np.diag(res["vcov"]))
    inf = t_inference(params, se, np.inf, level)
    coef = pd.DataFrame({"term": names, "estimate": params, "std_error": se,
                         "statistic": inf["statistic"], "p_value": inf["p_value"],
                         "conf_low": inf["conf_low"], "conf_high": inf["conf_high"]})
    scale = 1.0 if dist == "exponential" else float(np.exp(params[-1]))
    return IntervalRegressionResult(coef, dist, rhs, scale, res["loglik"],
                                    -2 * res["loglik"] + 2 * len(params), len(lo),
                                    res["converged"], level)
