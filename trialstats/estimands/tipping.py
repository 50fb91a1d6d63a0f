"""``ts.tipping_point``: how large a delta on the imputed values overturns the conclusion.

The imputation model is fitted and every jackknife / bootstrap / MI sample is drawn once
(:func:`.results.run_draws`); since a delta is added after imputation, each delta of the grid only
re-runs the analysis and pooling. The delta is added to every imputed (missing) value of the
chosen arm(s). Where the significance of the comparison changes between two grid points, the
delta at which the p-value equals ``1 - level`` is solved with :func:`scipy.optimize.root_scalar`
(Brent's method) on the pooled p-value, which is continuous in the delta.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy.optimize import root_scalar

from .._blas import one_blas_thread
from .._inference import check_level
from .._summary import Summary
from ..errors import ModelError
from .api import (
    INFERENCES,
    METHODS,
    _choice,
    _kind,
    check_n_imputations,
    check_n_samples,
    prepare,
)
from .results import analyse_draws, pool_draws, run_draws

__all__ = ["tipping_point", "TippingPointResult"]

#: Most deltas of a tipping-point grid (each delta is a full analysis of every sample)
MAX_DELTAS = 1000


@dataclass(frozen=True)
class TippingPointResult:
    """Result of :func:`tipping_point`.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per delta: delta, estimate, std_error, df, conf_low, conf_high, p_value,
        significant (p_value < 1 - level).
    tipping_delta : float
        The first delta (from the smallest) at which the conclusion flips (NaN if it never
        does on the grid).
    flips : tuple of float
        Every delta on the grid's range where significance changes.
    visit, arm, reference, parameter, delta_arms, level, settings
        What was compared: ``parameter`` ("trt") of ``arm`` minus ``reference`` at ``visit``,
        with the delta added to the imputed values of ``delta_arms``.
    """

    table: pd.DataFrame
    tipping_delta: float
    flips: tuple
    visit: object
    arm: object
    reference: object
    parameter: str
    delta_arms: tuple
    level: float
    settings: dict

    def __repr__(self) -> str:
        flip = ("never flips on the grid" if np.isnan(self.tipping_delta)
                else f"flips at delta = {self.tipping_delta:.4g}")
        return (f"<TippingPointResult: {self.arm} - {self.reference} at {self.visit}, delta on "
                f"{'/'.join(map(str, self.delta_arms))}, {len(self.table)} deltas, {flip}>")

    def summary(self) -> Summary:
        """The table and the tipping delta, printable and as HTML."""
        return Summary(title=repr(self), tables={"tipping point": self.table},
                       info=(("tipping delta", f"{self.tipping_delta:.6g}"),
                             ("level", f"{self.level:g}")))


def tipping_point(data, formula, *, deltas, visit, arm=None, at_visit=None, compare=None,
                  level=0.95,
                  method="condmean", inference="jackknife", n_samples=None, delta=None,
                  seed=None, engine=None, workers=None, progress=None, pool_type=None,
                  n_imputations=None, **model) -> TippingPointResult:
    """Tipping-point analysis: the treatment comparison over a grid of deltas.

    Parameters
    ----------
    data, formula
        As :func:`trialstats.rbmi`.
    deltas : sequence of float
        The grid (at least two values), added to every imputed outcome of ``arm``.
    visit : str
        The visit column (as in ``rbmi``).
    arm : str or list of str, optional
        Arm(s) whose imputed values are shifted; default every arm.
    at_visit : optional
        Visit of the comparison; default the last visit.
    compare : str, optional
        Arm whose difference from the first arm is reported; default the second arm.
    level : float, default 0.95
        Significance is ``p_value < 1 - level`` (two-sided).
    method, inference, n_samples, seed, engine, workers, progress, pool_type, n_imputations
        As :func:`trialstats.rbmi`.
    delta : pandas.DataFrame, optional
        A fixed delta table added before the grid's delta.
    **model
        The other arguments of :func:`trialstats.rbmi` (subject, group, reference, ice,
        strategy, covariance, same_cov, covariates, ...).

    Returns
    -------
    TippingPointResult

    Raises
    ------
    ModelError
        Fewer than two deltas, an unknown arm or visit, and every error of ``rbmi``.
    """
    level = check_level(level)
    grid = np.unique(np.asarray(deltas, dtype=float))
    if grid.size < 2 or not np.all(np.isfinite(grid)):
        raise ModelError("tipping_point: deltas must be at least two finite numbers")
    method = _choice(method, METHODS, "method")
    inference = _choice(inference, INFERENCES, "inference")
    kind = _kind(method, inference)
    n_imputations = check_n_imputations(kind, n_imputations, "tipping_point")
    if kind != "jackknife" and (not isinstance(n_samples, int | np.integer) or n_samples < 2):
        raise ModelError(f"tipping_point: method {method!r} needs n_samples >= 2")
    check_n_samples(n_samples, "tipping_point")
    if grid.size > MAX_DELTAS:
        raise ModelError(f"tipping_point: {grid.size} deltas; at most {MAX_DELTAS} are allowed")
    prep = prepare(data, formula, visit=visit, delta=delta, **model)
    arms = list(prep.arms)
    shifted = arms if arm is None else ([arm] if isinstance(arm, str) else list(arm))
    for a in shifted + ([compare] if compare is not None else []):
        if a not in arms:
            raise ModelError(f"tipping_point: unknown arm {a!r}; valid: {', '.join(map(str, arms))}")
    compare = arms[1] if compare is None else compare
    if compare == arms[0]:
        raise ModelError(f"tipping_point: compare must be an arm other than the first "
                         f"({arms[0]}), which is the reference of every comparison")
    visits = list(prep.visits)
    v = visits[-1] if at_visit is None else at_visit
    if v not in visits:
        raise ModelError(f"tipping_point: unknown visit {v!r}; valid: {', '.join(map(str, visits))}")
    with one_blas_thread():  # small matrices: see _parallel
        draws = run_draws(prep, kind, n_samples, seed, engine=engine, workers=workers,
                          progress=progress, n_imputations=n_imputations)
        return _tipping_table(prep, draws, kind, grid, shifted, compare, v, level, pool_type,
                              formula, method, inference, n_samples, model)


def _tipping_table(prep, draws, kind, grid, shifted, compare, v, level, pool_type, formula,
                   method, inference, n_samples, model) -> TippingPointResult:
    """Analyse and pool one set of draws at every delta of the grid; solve for the flips."""
    arms = list(prep.arms)
    vi = list(prep.visits).index(v)
    col = arms.index(compare) - 1  # trt column of that arm
    unit = prep.problem.missing & np.isin(prep.problem.arm, [arms.index(a)
                                                             for a in shifted])[:, None]
    base = prep.analysis.delta
    spec1 = replace(prep.analysis, visits=np.array([vi]))
    prep1 = replace(prep, analysis=spec1)
    ptype = pool_type or ("normal" if kind == "bootstrap" else None)

    def at(d: float):
        full, samples = analyse_draws(prep1, draws, delta=base + d * unit)
        out = pool_draws(kind, full, samples, level, ptype, draws.n_imputations)
        return [float(a[0, col]) for a in out]

    rows = [at(d) for d in grid]
    table = pd.DataFrame(rows, columns=["estimate", "std_error", "df", "conf_low", "conf_high",
                                        "p_value"])
    table.insert(0, "delta", grid)
    alpha = 1.0 - level
    table["significant"] = table["p_value"] < alpha
    flips = []
    sig = table["significant"].to_numpy()
    for j in np.flatnonzero(sig[1:] != sig[:-1]):
        sol = root_scalar(lambda d: at(d)[5] - alpha, bracket=(grid[j], grid[j + 1]),
                          method="brentq", xtol=1e-10)
        flips.append(float(sol.root))
    return TippingPointResult(
        table=table, tipping_delta=flips[0] if flips else float("nan"), flips=tuple(flips),
        visit=v, arm=compare, reference=arms[0], parameter="trt", delta_arms=tuple(shifted),
        level=level, settings=dict(method=method, inference=inference if method == "condmean"
                                   else None, n_samples=n_samples, seed=draws.seed,
                                   formula=formula, **{k: model[k] for k in model
                                                       if k in ("strategy", "covariance",
                                                                "same_cov")}),
    )
