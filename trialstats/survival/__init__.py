"""trialstats.survival: time to relapse, matching R ``survival`` (and ``cmprsk``).

Modules: ``km`` (Kaplan-Meier), ``compare`` (log-rank), ``cox`` (proportional hazards),
``rmst`` (restricted mean survival time), ``interval`` (interval censoring), ``competing``
(cumulative incidence, Gray's test), ``extrapolate`` (parametric extrapolation). Public names
are imported on first use so that ``import trialstats.survival`` stays light.

lifelines is the engine wherever it computes the quantity R reports: the Kaplan-Meier table and
estimate, the unstratified log-rank statistic, Efron Cox fits, Weibull / log-logistic interval
regression and the parametric extrapolation fits. The rest (R's interval types and quantiles,
strata and rho weights, Breslow ties, the dfbeta sandwich, cox.zph, Aalen-Johansen, Gray's test,
Turnbull, RMST variance) is our array code, because lifelines lacks it or computes something
else; each module's docstring says which part is which, and why.
"""

from __future__ import annotations

import importlib

_LAZY = {
    "kaplan_meier": "km",
    "KaplanMeierResult": "km",
    "logrank": "compare",
    "LogrankResult": "compare",
    "cox": "cox",
    "CoxResult": "cox",
    "rmst": "rmst",
    "RMSTResult": "rmst",
    "turnbull": "interval",
    "TurnbullResult": "interval",
    "interval_regression": "interval",
    "IntervalRegressionResult": "interval",
    "cumulative_incidence": "competing",
    "CumulativeIncidenceResult": "competing",
    "gray_test": "competing",
    "GrayTestResult": "competing",
    "extrapolate": "extrapolate",
    "ExtrapolationResult": "extrapolate",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    """Import a public name's module on first access (PEP 562)."""
    if name in _LAZY:
        value = getattr(importlib.import_module(f"trialstats.survival.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'trialstats.survival' has no attribute {name!r}")
