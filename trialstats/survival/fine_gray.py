"""Fine-Gray subdistribution hazards regression, as R ``survival::finegray`` + ``coxph``.

The subdistribution hazard of cause :math:`k` treats subjects who had a competing event as
still at risk, down-weighted by the probability of being uncensored. As R (Geskus 2011;
Therneau's "compete" vignette), this is a weighted Cox model on an expanded
counting-process data set (:func:`finegray_data`):

- a row with the event of interest or censored stays one row ``(0, t]``, weight 1;
- a row with a competing event at :math:`t` is kept at risk with weight 1 up to the end of
  its censoring interval, then continues through every later censoring interval that
  contains an event of interest, interval :math:`j` with weight :math:`G(c_{j-1}) / G(t-)`;

where :math:`G` is the Kaplan-Meier curve of the censoring times (censorings at an event time
count as after the events) and :math:`c_j` its jump times, closed by the largest follow-up
time. The Cox fit then uses ``start=``/``stop=``/``weights=`` of :func:`~trialstats.survival.cox`
(Efron ties by default). As in R, the non-integer weights make the robust (sandwich) standard
error the default, each expanded row its own cluster unless ``subject=`` names a subject
column.

``method="crr"`` gives cmprsk ``crr`` instead. It solves the same weighted score equation but
its censoring curve keeps subjects who fail at a censoring time at risk of that censoring (R
``survfit`` of the censoring indicator; ``finegray`` removes them first), uses Breslow ties,
and its variance is Fine and Gray's sandwich with a term for the estimated censoring
distribution (:mod:`._crr_variance`). The two methods differ at about the 3rd significant
digit (mgus2, age on progression: finegray -0.017302, crr -0.017338).

What is lifelines and what is ours
----------------------------------
lifelines has no Fine-Gray model and statsmodels' ``PHReg`` none either; the expansion is
ours (arrays) and the weighted (start, stop] Cox fit is our engine (see ``cox.py``).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from .._compat import subject_alias
from .._inference import check_level, t_inference
from ..errors import ModelError
from ._crr_variance import crr_variance
from ._input import check_choice, filter_paramcd, numeric_times, require_columns, tie_times
from .competing import _codes
from .cox import CoxResult, cox

__all__ = ["fine_gray", "finegray_data"]

_START, _STOP, _STATUS, _WEIGHT = "fgstart", "fgstop", "fgstatus", "fgwt"


def _censoring_curve(time: np.ndarray, code: np.ndarray, events_first: bool = True):
    """Jump times of the censoring Kaplan-Meier curve and its value after each jump.

    ``events_first``: subjects with an event at a censoring time are no longer at risk of
    censoring then (R finegray's -0.2 shift); False keeps them at risk (cmprsk ``crr``,
    whose curve is R's ``survfit`` of the censoring indicator).
    """
    utime, inv = np.unique(time, return_inverse=True)
    m = len(utime)
    cens = np.bincount(inv, weights=(code == 0).astype(float), minlength=m)
    n = np.cumsum(np.bincount(inv, minlength=m)[::-1])[::-1].astype(float)
    if events_first:
        n = n - np.bincount(inv, weights=(code != 0).astype(float), minlength=m)
    jumps = cens > 0
    surv = np.cumprod(np.where(jumps, 1.0 - cens / np.where(n > 0, n, 1.0), 1.0))
    return utime[jumps], surv[jumps]


def finegray_data(time, code, cause: int, events_first: bool = True) -> dict:
    """The expanded Fine-Gray rows (arrays), as R ``finegray(..., etype = cause)``.

    Parameters
    ----------
    time : ndarray
        Follow-up times (>= 0), already tied as R ``aeqSurv``.
    code : ndarray of int
        0 = censored, 1, 2, ... = causes.
    cause : int
        The event of interest.
    events_first : bool, default True
        Censoring-curve convention at times with both events and censorings (see
        :func:`_censoring_curve`): True is R ``finegray``, False cmprsk ``crr``.

    Returns
    -------
    dict
        ``row`` (index into the input of each new row), ``start``, ``stop``, ``status``
        (1 = event of interest) and ``weight``.
    """
    time = np.asarray(time, dtype=float)
    code = np.asarray(code)
    n = len(time)
    zero = 0.0 if time.min() > 0 else 2.0 * time.min() - 1.0
    ctime, cprob = _censoring_curve(time, code, events_first)
    ct2 = np.append(ctime, time.max())
    cp2 = np.concatenate([[1.0], cprob])
    # interval j = (ct2[j-1], ct2[j]]: kept when it holds an event of interest (and j = 0)
    keep = np.zeros(len(ct2), dtype=bool)
    keep[0] = True
    keep[np.searchsorted(ct2, np.unique(time[code == cause]), side="left")] = True
    stop = time.copy()
    expand = np.flatnonzero((code != 0) & (code != cause))
    j0 = np.searchsorted(ct2, time[expand], side="left")  # first ct2 >= t
    stop[expand] = ct2[j0]
    kept = np.flatnonzero(keep)
    first_extra = np.searchsorted(kept, j0, side="right")
    n_extra = len(kept) - first_extra
    rows_x = np.repeat(expand, n_extra)
    offsets = np.arange(n_extra.sum()) - np.repeat(np.cumsum(n_extra) - n_extra, n_extra)
    jx = kept[np.repeat(first_extra, n_extra) + offsets]
    tempwt = np.repeat(cp2[j0], n_extra)
    row = np.concatenate([np.arange(n), rows_x])
    order = np.argsort(row, kind="stable")
    return {
        "row": row[order],
        "start": np.concatenate([np.full(n, zero), ct2[jx - 1]])[order],
        "stop": np.concatenate([stop, ct2[jx]])[order],
        "status": np.concatenate([(code == cause).astype(float), np.zeros(len(jx))])[order],
        "weight": np.concatenate([np.ones(n), cp2[jx] / tempwt])[order],
    }


def fine_gray(
    formula: str,
    data: pd.DataFrame,
    time: str = "AVAL",
    event_code: str = "EVENTCD",
    *,
    cause: int = 1,
    method: str = "finegray",
    ties: str | None = None,
    robust: bool | None = None,
    subject: str | None = None,
    cluster: str | None = None,
    level: float = 0.95,
    paramcd: str | None = None,
) -> CoxResult:
    """Fine-Gray model of the subdistribution hazard of ``cause``, as R ``coxph`` on
    ``finegray(Surv(time, factor(code)) ~ ., etype = cause)``.

    Parameters
    ----------
    formula : str
        Right-hand side, as :func:`~trialstats.survival.cox`.
    data : DataFrame
        One row per subject.
    time : str, default "AVAL"
        Follow-up time.
    event_code : str, default "EVENTCD"
        0 = censored, 1, 2, ... = causes.
    cause : int, default 1
        The event of interest; every other non-zero code is a competing event.
    method : {"finegray", "crr"}
        R ``finegray`` + ``coxph`` (default) or cmprsk ``crr`` (estimates and its variance;
        subjects with a missing covariate are dropped before the censoring curve, as crr).
    ties : {"efron", "breslow"}, optional
        Ties of the weighted Cox fit: default Efron (R's) for "finegray"; "crr" is Breslow.
    robust : bool, optional
        "finegray" only: sandwich SEs, default True as R with non-integer weights.
    subject : str, optional
        "finegray" only: subject column for the sandwich (default: each expanded row, as R
        without ``id``).
    cluster : str, optional
        Deprecated alias of ``subject`` (FutureWarning).
    level : float, default 0.95
        Confidence level.
    paramcd : str, optional
        Keep only this PARAMCD.

    Returns
    -------
    CoxResult
        Subdistribution log hazard ratios (``hazard_ratio`` = subdistribution HR), fitted on
        the expanded rows (``n_obs`` counts them).

    Raises
    ------
    ModelError
        Invalid codes or times (rows named), a cause not in the data, no competing event,
        or ``ties="exact"``.
    """
    cluster = subject_alias(subject, cluster, "cluster", "fine_gray", default=None)
    check_choice("method", method, ("finegray", "crr"))
    crr = method == "crr"
    ties = ties or ("breslow" if crr else "efron")
    check_choice("ties", ties, ("breslow",) if crr else ("efron", "breslow"))
    if crr and (robust is not None or cluster is not None):
        raise ModelError("robust= and cluster= apply to method=\"finegray\"; method=\"crr\" "
                         "always uses crr's own sandwich variance")
    level = check_level(level)
    require_columns(data, [time, event_code, cluster])
    frame = filter_paramcd(data, paramcd)
    code = _codes(frame, event_code)
    causes = sorted(int(c) for c in np.unique(code[code > 0]))
    if cause not in causes:
        raise ModelError(f"cause={cause!r} not found in column {event_code}; causes present: "
                         f"{', '.join(map(str, causes)) or 'none'}")
    if len(causes) < 2:
        raise ModelError(f"column {event_code} has no competing event (only cause {cause}); "
                         "a Fine-Gray model equals a Cox model then: use cox()")
    (t,) = tie_times(numeric_times(frame, time))
    fit, subjects = _fit(formula, frame, t, code, cause, crr, ties=ties,
                         robust=False if crr else robust, subject=cluster, level=level)
    if not crr:
        return fit
    if len(subjects) < len(frame):  # crr drops incomplete subjects before everything else
        frame, t, code = frame.iloc[subjects], t[subjects], code[subjects]
        fit, subjects = _fit(formula, frame, t, code, cause, crr, ties=ties, robust=False,
                             level=level)
    return _with_crr_variance(fit, t, code, cause)


def _fit(formula, frame, t, code, cause, crr, **kw) -> tuple[CoxResult, np.ndarray]:
    """Weighted Cox fit on the expanded rows; also the subjects (input rows) it used."""
    fg = finegray_data(t, code, cause, events_first=not crr)
    expanded = frame.iloc[fg["row"]].reset_index(drop=True)
    expanded[_START] = fg["start"]
    expanded[_STOP] = fg["stop"]
    expanded[_STATUS] = fg["status"]
    expanded[_WEIGHT] = fg["weight"]
    fit = cox(formula, expanded, start=_START, stop=_STOP, event=_STATUS, weights=_WEIGHT, **kw)
    return fit, np.unique(fg["row"][np.asarray(fit._state["index"])])


def _with_crr_variance(fit: CoxResult, t, code, cause) -> CoxResult:
    """``fit`` with crr's sandwich covariance in place of the model-based one."""
    s = fit._state
    rows = fit._state["index"]
    first = np.unique(finegray_data(t, code, cause, events_first=False)["row"][rows],
                      return_index=True)[1]
    x = s["x"][first]
    crr_code = np.where(code == 0, 0, np.where(code == cause, 1, 2))
    _, var = crr_variance(t, crr_code, x, s["beta"])
    se = np.sqrt(np.diag(var))
    inf = t_inference(s["beta"], se, np.inf, fit.level)
    coef = fit.coef.assign(
        std_error=se, conf_low=np.exp(inf["conf_low"].to_numpy()),
        conf_high=np.exp(inf["conf_high"].to_numpy()), statistic=inf["statistic"].to_numpy(),
        p_value=inf["p_value"].to_numpy())
    return dataclasses.replace(fit, coef=coef, robust=True, _state={**s, "vcov": var})
