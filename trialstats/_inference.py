"""Shared inference: p-values and confidence intervals from an estimate, its SE and its df.

Every result in trialstats derives its test statistics, p-values and intervals here, once, so
that a t-based (finite df) and a normal (infinite df) interval are computed the same way
everywhere.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import special

from .errors import ModelError


def check_level(level: float) -> float:
    """Validate a confidence level and return it as a float.

    Parameters
    ----------
    level : float
        Confidence level, strictly between 0 and 1.

    Returns
    -------
    float
    """
    try:
        value = float(level)
    except (TypeError, ValueError) as e:
        raise ModelError(f"level must be a number between 0 and 1; got {level!r}") from e
    if not 0.0 < value < 1.0:
        raise ModelError(f"level must be strictly between 0 and 1 (e.g. 0.95); got {level!r}")
    return value


def t_inference(estimate, std_error, df, level: float = 0.95, null: float = 0.0) -> pd.DataFrame:
    """Two-sided t tests and t intervals (normal where ``df`` is infinite).

    Parameters
    ----------
    estimate, std_error, df : array_like
        Estimates, their standard errors and degrees of freedom (``np.inf`` for a z test).
    level : float, default 0.95
        Confidence level of the interval.
    null : float, default 0
        Value under the null hypothesis.

    Returns
    -------
    pandas.DataFrame
        Columns ``statistic``, ``p_value``, ``conf_low``, ``conf_high``.
    """
    level = check_level(level)
    est = np.asarray(estimate, dtype=float)
    se = np.asarray(std_error, dtype=float)
    dof = np.broadcast_to(np.asarray(df, dtype=float), est.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = (est - null) / se
    q = 0.5 + level / 2.0
    finite = np.isfinite(dof)
    # the functions scipy.stats.t / norm evaluate (t.ppf = stdtrit, t.sf(x) = stdtr(df, -x),
    # norm.ppf = ndtri, norm.sf(x) = ndtr(-x)), called directly: scipy.stats costs ~0.5 s to import
    crit = np.where(finite, special.stdtrit(np.where(finite, dof, 1.0), q), special.ndtri(q))
    p = np.where(
        finite,
        2.0 * special.stdtr(np.where(finite, dof, 1.0), -np.abs(stat)),
        2.0 * special.ndtr(-np.abs(stat)),
    )
    return pd.DataFrame(
        {
            "statistic": stat,
            "p_value": p,
            "conf_low": est - crit * se,
            "conf_high": est + crit * se,
        }
    )


#: the columns a fit that did not converge leaves empty (its estimates and SEs are kept)
INFERENCE_COLUMNS = ("statistic", "p_value", "conf_low", "conf_high")


def without_inference(frame: pd.DataFrame, converged: bool, allow_nonconverged: bool,
                      columns=INFERENCE_COLUMNS) -> pd.DataFrame:
    """Blank the tests and intervals of a fit that did not converge (R mmrm's stance).

    A non-converged fit returns its estimates, but no p-value or interval is reported from it
    unless the caller asked for them with ``allow_nonconverged=True``.

    Parameters
    ----------
    frame : pandas.DataFrame
        A tidy result frame.
    converged : bool
        Whether the fit converged.
    allow_nonconverged : bool
        Keep the inference of a non-converged fit.
    columns : sequence of str
        Columns to blank (those present in ``frame``).

    Returns
    -------
    pandas.DataFrame
        ``frame`` itself when converged or allowed, else a copy with NaN in ``columns``.
    """
    if converged or allow_nonconverged:
        return frame
    out = frame.copy()
    for col in columns:
        if col in out.columns:
            out[col] = np.nan
    return out
