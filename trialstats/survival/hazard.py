"""Nelson-Aalen / Fleming-Harrington cumulative hazard with standard errors, as R ``survfit``.

At the distinct times :math:`t_j` with :math:`n_j` at risk and :math:`d_j` events,

.. math::

    \\text{Nelson-Aalen:}\\quad \\hat H(t) = \\sum_{t_j \\le t} \\frac{d_j}{n_j}, \\qquad
    \\widehat{\\operatorname{Var}} = \\sum_{t_j \\le t} \\frac{d_j}{n_j^2}

    \\text{Fleming-Harrington:}\\quad \\hat H(t) = \\sum_{t_j \\le t} \\sum_{l=0}^{d_j - 1}
    \\frac{1}{n_j - l}, \\qquad
    \\widehat{\\operatorname{Var}} = \\sum_{t_j \\le t} \\sum_{l=0}^{d_j - 1} \\frac{1}{(n_j - l)^2}

These are R ``survfit(..., ctype = 1)`` (the default) and ``ctype = 2``: ``cumhaz`` and
``std.chaz``.

What is lifelines and what is ours
----------------------------------
- **lifelines** (``NelsonAalenFitter``) gives the event table and :math:`\\hat H`: with
  ``nelson_aalen_smoothing=False`` the Nelson-Aalen sum, with ``True`` the Fleming-Harrington
  one, both equal to R's.
- **ours**: the variances. lifelines' Nelson-Aalen variance is the binomial form
  :math:`\\sum (1 - d/n)(d/n)/n`, R's the Poisson form :math:`\\sum d/n^2` (aml at 8 weeks:
  lifelines 0.0869, R 0.0912 for the standard error); its Fleming-Harrington variance equals
  R's but is kept in a private attribute, so both are computed here from the event table;
  also the infinitesimal-jackknife SE (``robust=``, R's default with non-integer case
  weights), :func:`.km.ij_variance`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import ModelError
from ._input import case_weights, check_choice, prepare
from ._lifelines import quiet_lifelines
from ._summary import Summary
from .km import _counts, ij_variance

METHODS = ("nelson-aalen", "fleming-harrington")

__all__ = ["NelsonAalenResult", "nelson_aalen", "nelson_aalen_arrays"]


def nelson_aalen_arrays(time: np.ndarray, event: np.ndarray,
                        method: str = "nelson-aalen", weights: np.ndarray | None = None,
                        robust: bool = False) -> dict:
    """Cumulative hazard of one group (engine on arrays).

    Parameters
    ----------
    time, event : ndarray
        Follow-up times and 1 = event indicators.
    method : {"nelson-aalen", "fleming-harrington"}
        R ``ctype = 1`` or ``2``.
    weights : ndarray, optional
        Case weights (Nelson-Aalen only): counts become weighted sums.
    robust : bool, default False
        Infinitesimal-jackknife SE (Nelson-Aalen only), as R ``robust=TRUE``.

    Returns
    -------
    dict
        ``time`` (distinct times), ``n_risk``, ``n_event``, ``n_censor``, ``cumhaz`` and
        ``std_error``.
    """
    from lifelines import NelsonAalenFitter  # heavy import, only when a curve is fitted

    fh = method == "fleming-harrington"
    with quiet_lifelines():
        fitter = NelsonAalenFitter(nelson_aalen_smoothing=fh).fit(
            np.asarray(time, dtype=float), np.asarray(event), weights=weights)
    tab = fitter.event_table
    keep = tab["removed"].to_numpy() > 0  # lifelines adds a t = 0 row that R has not
    n = tab["at_risk"].to_numpy(dtype=float)[keep]
    d = tab["observed"].to_numpy(dtype=float)[keep]
    cumhaz = fitter.cumulative_hazard_.to_numpy()[:, 0][keep]
    if fh:  # sum over l < d of 1 / (n - l)^2, by differences of the cumulative sum of 1/k^2
        inv_sq = np.concatenate([[0.0], np.cumsum(1.0 / np.arange(1, n.max() + 1) ** 2)])
        var = np.cumsum(inv_sq[n.astype(np.int64)] - inv_sq[(n - d).astype(np.int64)])
    elif robust:  # subject i's influence on H(t): w_i (delta_i / n - sum d / n^2)
        w = np.ones(len(time)) if weights is None else np.asarray(weights, dtype=float)
        var = ij_variance(time, event, w, np.where(d > 0, d / n**2, 0.0), 1.0 / n)
    else:
        var = np.cumsum(d / n**2)
    return {
        "time": tab.index.to_numpy(dtype=float)[keep],
        "n_risk": n,
        "n_event": d,
        "n_censor": tab["censored"].to_numpy(dtype=float)[keep],
        "cumhaz": cumhaz,
        "std_error": np.sqrt(var),
    }


@dataclass(frozen=True)
class NelsonAalenResult:
    """Cumulative hazard curves per group.

    Attributes
    ----------
    table : DataFrame
        <group>, time, n_risk, n_event, n_censor, cumhaz, std_error: one row per distinct time
        of each group (R ``survfit``'s ``time``, ``n.risk``, ``n.event``, ``n.censor``,
        ``cumhaz``, ``std.chaz``).
    method : str
        "nelson-aalen" or "fleming-harrington".
    group : str
        Group column name in ``table``.
    levels : tuple
        Group labels.
    time_unit : str
        Unit of ``time``.
    """

    table: pd.DataFrame
    method: str
    group: str
    levels: tuple
    time_unit: str

    def __repr__(self) -> str:
        return (f"<NelsonAalenResult: {self.method}, {len(self.levels)} group(s) by "
                f"{self.group}, time in {self.time_unit}>")

    def summary(self) -> Summary:
        """The cumulative hazard table."""
        return Summary(repr(self)[1:-1], {"Cumulative hazard": self.table})


def nelson_aalen(
    data: pd.DataFrame,
    time: str = "AVAL",
    event: str | None = None,
    censor: str | None = None,
    by: str | None = "ARM",
    *,
    method: str = "nelson-aalen",
    paramcd: str | None = None,
    time_unit: str = "days",
    weights: str | None = None,
    robust: bool | None = None,
) -> NelsonAalenResult:
    """Cumulative hazard per group, as R ``survfit(Surv(time, status) ~ by)$cumhaz``.

    Parameters
    ----------
    data : DataFrame
        ADTTE-like table, one row per subject.
    time : str, default "AVAL"
        Follow-up time in days.
    event, censor : str
        Exactly one: 1 = event column, or 1 = censored column (ADaM ``CNSR``).
    by : str or None, default "ARM"
        Grouping column (None: one curve).
    method : {"nelson-aalen", "fleming-harrington"}
        R ``ctype = 1`` (default) or ``ctype = 2`` (tied events counted one at a time).
    paramcd : str, optional
        Keep only rows with this ``PARAMCD``.
    time_unit : {"days", "weeks", "months"}
        Reporting unit.
    weights : str, optional
        Column of case weights (finite, >= 0; Nelson-Aalen only), as R ``survfit(weights=)``.
    robust : bool, optional
        Infinitesimal-jackknife SE (Nelson-Aalen only). Default as R: True with non-integer
        weights, else False.

    Returns
    -------
    NelsonAalenResult

    Raises
    ------
    ModelError
        Invalid times, event/censor coding or options (the message names the rows).
    """
    check_choice("method", method, METHODS)
    if method == "fleming-harrington" and (weights is not None or robust):
        raise ModelError("weights= and robust= are available for method=\"nelson-aalen\" "
                         "only")
    inp = prepare(data, time=time, event=event, censor=censor, by=by, paramcd=paramcd,
                  time_unit=time_unit)
    w = None if weights is None else case_weights(inp.frame, weights)
    if robust is None:  # R survfit: robust by default with non-integer (sampling) weights
        robust = w is not None and bool(np.any(w != np.floor(w)))
    frames = []
    for k, g in enumerate(inp.levels):
        mask = inp.group == k
        c = nelson_aalen_arrays(inp.time[mask], inp.event[mask], method,
                                None if w is None else w[mask], bool(robust))
        frames.append(pd.DataFrame({inp.group_name: g, **c}))
    table = pd.concat(frames, ignore_index=True)
    for col in ("n_risk", "n_event", "n_censor"):
        table[col] = _counts(table[col].to_numpy())
    if by is not None:
        table[inp.group_name] = pd.Categorical(table[inp.group_name], categories=list(inp.levels))
    return NelsonAalenResult(table=table, method=method, group=inp.group_name, levels=inp.levels,
                             time_unit=time_unit)
