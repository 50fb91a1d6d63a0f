"""Restricted mean survival time (RMST) per arm and its difference and ratio vs the reference.

.. math::

    \\mathrm{RMST}(\\tau) = \\int_0^{\\tau} \\hat S(t)\\,dt, \\qquad
    \\widehat{\\operatorname{Var}} = \\sum_{t_j \\le \\tau}
        \\Bigl(\\int_{t_j}^{\\tau} \\hat S(u)\\,du\\Bigr)^2 \\frac{d_j}{n_j (n_j - d_j)}

(terms with :math:`n_j = d_j` are 0). This is the variance of R ``print(survfit, rmean=tau)``
(``survival:::survmean``) and of survRM2's ``rmst1``: a Greenwood-type variance without the
:math:`n/(n-1)` factor some software applies. Contrasts follow survRM2 ``rmst2``: the
difference with :math:`SE = \\sqrt{V_1 + V_0}`, the ratio on the log scale with
:math:`SE = \\sqrt{V_1/R_1^2 + V_0/R_0^2}` (normal intervals, exponentiated).

``tau`` defaults to the smallest of the arms' largest follow-up times (survRM2's default);
a ``tau`` beyond any arm's follow-up is refused, as the curve is not estimated there.

What is lifelines and what is ours
----------------------------------
- **lifelines**: the Kaplan-Meier curve integrated here (``km_arrays`` takes its event table
  and estimate from ``KaplanMeierFitter``, see :mod:`.km`).
- **ours**: the integral, its variance and the contrasts. ``lifelines.utils.
  restricted_mean_survival_time`` gives the same RMST, but its ``return_variance=True`` is the
  variance of the restricted survival time min(T, tau) itself (on the simulated reference data,
  PLACEBO at tau = 180: SD 57.2 days), not the standard error of the estimate that R reports
  (9.45 days); it has no contrasts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._inference import check_level, t_inference
from ..errors import ModelError
from ._input import prepare
from ._summary import Summary, summary_html
from .km import km_arrays

__all__ = ["RMSTResult", "rmst", "rmst_arrays"]


def rmst_arrays(time, event, tau: float) -> tuple[float, float]:
    """RMST up to ``tau`` and its variance for one group (survRM2 ``rmst1``)."""
    c = km_arrays(time, event)
    keep = c["time"] <= tau
    wk_time = np.concatenate([c["time"][keep], [tau]])
    surv = c["survival"][keep]
    areas = np.diff(np.concatenate([[0.0], wk_time])) * np.concatenate([[1.0], surv])
    n, d = c["n_risk"][keep], c["n_event"][keep]
    with np.errstate(divide="ignore", invalid="ignore"):
        h = np.where(n - d == 0, 0.0, d / (n * (n - d)))
    # area from each time t_j to tau
    tail = np.cumsum(areas[1:][::-1])[::-1]
    var = float(np.sum(tail**2 * h))
    return float(areas.sum()), var


@dataclass(frozen=True)
class RMSTResult:
    """RMST per arm and contrasts with the reference arm.

    Attributes
    ----------
    per_arm : DataFrame
        <group>, rmst, std_error, conf_low, conf_high.
    difference : DataFrame
        contrast ("EXOSOME - PLACEBO"), estimate, std_error, conf_low, conf_high, statistic,
        p_value.
    ratio : DataFrame
        contrast ("EXOSOME / PLACEBO"), estimate (ratio), std_error (of the log ratio),
        conf_low, conf_high (ratio scale), statistic (log ratio / SE), p_value.
    tau : float
        Truncation time, in ``time_unit``.
    tau_default : bool
        Whether tau was chosen automatically.
    level, time_unit : float, str
    """

    per_arm: pd.DataFrame
    difference: pd.DataFrame
    ratio: pd.DataFrame
    tau: float
    tau_default: bool
    level: float
    time_unit: str
    group: str
    levels: tuple

    def __repr__(self) -> str:
        return (
            f"<RMSTResult: tau = {self.tau:g} {self.time_unit}"
            f"{' (default)' if self.tau_default else ''}, {len(self.levels)} groups by "
            f"{self.group}, reference {self.levels[0]}>"
        )

    def comparisons(self, *args, **kwargs):
        """Comparisons frame of the arms: see :func:`trialstats.results.comparisons.rmst_comparisons`."""
        from ..results.comparisons import rmst_comparisons

        return rmst_comparisons(self, *args, **kwargs)

    _repr_html_ = summary_html  # Jupyter shows summary() as tables

    def summary(self) -> Summary:
        """Per-arm RMST, differences and ratios."""
        return Summary(
            f"Restricted mean survival time up to {self.tau:g} {self.time_unit}",
            {"Per arm": self.per_arm, "Difference": self.difference, "Ratio": self.ratio},
            ("Variance as R survival:::survmean / survRM2; normal-theory intervals.",),
        )


def rmst(
    data: pd.DataFrame,
    time: str = "AVAL",
    event: str | None = None,
    censor: str | None = None,
    by: str = "ARM",
    *,
    tau: float | None = None,
    level: float = 0.95,
    paramcd: str | None = None,
    time_unit: str = "days",
) -> RMSTResult:
    """Restricted mean survival time per arm, with difference and ratio vs the reference arm.

    Parameters
    ----------
    data : DataFrame
        ADTTE-like table.
    time : str, default "AVAL"
        Follow-up time in days.
    event, censor : str
        Exactly one: 1 = event column, or 1 = censored column (ADaM ``CNSR``).
    by : str, default "ARM"
        Arm column; its first level (categorical order, else sorted) is the reference.
    tau : float, optional
        Truncation time in ``time_unit``; default the smallest of the arms' largest follow-up
        times.
    level : float, default 0.95
        Confidence level.
    paramcd : str, optional
        Keep only this PARAMCD.
    time_unit : {"days", "weeks", "months"}
        Unit of ``tau`` and of the results.

    Returns
    -------
    RMSTResult

    Raises
    ------
    ModelError
        Fewer than two arms, invalid input, or ``tau`` beyond an arm's follow-up.
    """
    level = check_level(level)
    if by is None:
        raise ModelError("rmst compares arms: give by= (e.g. by=\"ARM\")")
    inp = prepare(data, time=time, event=event, censor=censor, by=by, paramcd=paramcd,
                  time_unit=time_unit, min_groups=2)
    last = {g: float(inp.time[inp.group == k].max()) for k, g in enumerate(inp.levels)}
    tau_default = tau is None
    if tau_default:
        tau = min(last.values())
    else:
        tau = float(tau)
        if not np.isfinite(tau) or tau <= 0:
            raise ModelError(f"tau must be a positive number of {time_unit}; got {tau!r}")
        beyond = {g: t for g, t in last.items() if tau > t}
        if beyond:
            detail = ", ".join(f"{g} (last follow-up {t:g})" for g, t in beyond.items())
            raise ModelError(
                f"tau = {tau:g} {time_unit} is beyond the follow-up of arm(s) {detail}; "
                f"choose tau <= {min(last.values()):g}"
            )
    est, var = [], []
    for k in range(len(inp.levels)):
        m = inp.group == k
        r, v = rmst_arrays(inp.time[m], inp.event[m], tau)
        est.append(r)
        var.append(v)
    est, var = np.array(est), np.array(var)
    se = np.sqrt(var)
    ci = t_inference(est, se, np.inf, level)
    per_arm = pd.DataFrame(
        {
            inp.group_name: pd.Categorical(list(inp.levels), categories=list(inp.levels)),
            "rmst": est,
            "std_error": se,
            "conf_low": ci["conf_low"],
            "conf_high": ci["conf_high"],
        }
    )
    ref = inp.levels[0]
    others = range(1, len(inp.levels))
    d_est = est[1:] - est[0]
    d_se = np.sqrt(var[1:] + var[0])
    d_inf = t_inference(d_est, d_se, np.inf, level)
    difference = pd.DataFrame(
        {"contrast": [f"{inp.levels[j]} - {ref}" for j in others], "estimate": d_est,
         "std_error": d_se, "conf_low": d_inf["conf_low"], "conf_high": d_inf["conf_high"],
         "statistic": d_inf["statistic"], "p_value": d_inf["p_value"]}
    )
    log_r = np.log(est[1:]) - np.log(est[0])
    r_se = np.sqrt(var[1:] / est[1:] ** 2 + var[0] / est[0] ** 2)
    r_inf = t_inference(log_r, r_se, np.inf, level)
    ratio = pd.DataFrame(
        {"contrast": [f"{inp.levels[j]} / {ref}" for j in others], "estimate": np.exp(log_r),
         "std_error": r_se, "conf_low": np.exp(r_inf["conf_low"]),
         "conf_high": np.exp(r_inf["conf_high"]), "statistic": r_inf["statistic"],
         "p_value": r_inf["p_value"]}
    )
    return RMSTResult(per_arm, difference, ratio, float(tau), tau_default, level, time_unit,
                      inp.group_name, inp.levels)
