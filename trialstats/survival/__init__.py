"""trialstats.survival: time to relapse, matching R ``survival`` (and ``cmprsk``).

Modules: ``km`` (Kaplan-Meier), ``compare`` (log-rank), ``cox`` (proportional hazards),
``rmst`` (restricted mean survival time), ``interval`` (interval censoring), ``competing``
(cumulative incidence, Gray's test), ``extrapolate`` (parametric extrapolation). Public names
are imported on first use so that ``import trialstats.survival`` stays light.
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
