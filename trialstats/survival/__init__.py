"""trialstats.survival: time to relapse, matching R ``survival`` (and ``cmprsk``).

Modules: ``km`` (Kaplan-Meier), ``hazard`` (Nelson-Aalen cumulative hazard), ``compare``
(log-rank), ``cox`` (proportional hazards), ``rmst`` (restricted mean survival time),
``interval`` (interval censoring), ``competing`` (cumulative incidence, Gray's test),
``fine_gray`` (subdistribution hazards), ``extrapolate`` (parametric extrapolation).
``import trialstats`` does not import this package until a survival function is first used.

lifelines is the engine wherever it computes the quantity R reports: the Kaplan-Meier table and
estimate, the unstratified log-rank statistic, Efron Cox fits, Weibull / log-logistic interval
regression and the parametric extrapolation fits. The rest (R's interval types and quantiles,
strata and rho weights, Breslow ties, the dfbeta sandwich, cox.zph, Aalen-Johansen, Gray's test,
Turnbull, RMST variance) is our array code, because lifelines lacks it or computes something
else; each module's docstring says which part is which, and why.
"""

from __future__ import annotations

from .compare import LogrankResult, logrank
from .competing import CumulativeIncidenceResult, GrayTestResult, cumulative_incidence, gray_test
from .cox import CoxResult, cox
from .extrapolate import ExtrapolationResult, extrapolate
from .fine_gray import fine_gray
from .hazard import NelsonAalenResult, nelson_aalen
from .interval import IntervalRegressionResult, TurnbullResult, interval_regression, turnbull
from .km import KaplanMeierResult, kaplan_meier
from .rmst import RMSTResult, rmst

__all__ = [
    "CoxResult",
    "CumulativeIncidenceResult",
    "ExtrapolationResult",
    "GrayTestResult",
    "IntervalRegressionResult",
    "KaplanMeierResult",
    "LogrankResult",
    "NelsonAalenResult",
    "RMSTResult",
    "TurnbullResult",
    "cox",
    "cumulative_incidence",
    "extrapolate",
    "fine_gray",
    "gray_test",
    "interval_regression",
    "kaplan_meier",
    "logrank",
    "nelson_aalen",
    "rmst",
    "turnbull",
]
