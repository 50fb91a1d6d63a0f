"""trialstats: trustworthy numbers from alopecia trials.

Load CDISC ADaM-style trial data, fit MMRM and mixed models of hair counts, analyse time to
relapse, and build a reproducible HTML report. Public names are re-exported here; heavy modules
(plots, report) are imported only when first used, so ``import trialstats`` stays light.

Examples
--------
>>> import trialstats as ts
>>> trial = ts.datasets.load("exo-hair-301")            # doctest: +SKIP
>>> fit = ts.mmrm("CHG ~ ARM * AVISIT + BASE", trial.efficacy("TAHC"),
...               subject="USUBJID", visit="AVISIT")    # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import lazy_attributes
from .errors import ConvergenceWarning, ModelError, TrialDataError, TrialstatsError

if TYPE_CHECKING:  # for IDEs and type checkers only: at run time the names load lazily (_LAZY)
    from . import data, datasets, longitudinal, plots, report, results, survival  # noqa: F401
    from .data.trial import Trial, load_trial  # noqa: F401
    from .estimands.analysis import analyse_estimand, missing_patterns  # noqa: F401
    from .estimands.definition import Estimand, IntercurrentEvent  # noqa: F401
    from .estimands.ice import intercurrent_events  # noqa: F401
    from .formula import parse_formula  # noqa: F401
    from .longitudinal.counts import count_model  # noqa: F401
    from .longitudinal.lmm import lmm  # noqa: F401
    from .longitudinal.mmrm.api import mmrm  # noqa: F401
    from .longitudinal.mmrm.problem import MMRMProblem  # noqa: F401
    from .report.build import build_report  # noqa: F401
    from .results import (  # noqa: F401
        adjust_p,
        compare,
        comparisons_frame,
        describe,
        mean_ci,
        multiplicity,
        risk_difference,
        subgroup_interaction,
    )
    from .simulate import simulate_trial  # noqa: F401
    from .survival.compare import logrank  # noqa: F401
    from .survival.competing import cumulative_incidence, gray_test  # noqa: F401
    from .survival.cox import cox  # noqa: F401
    from .survival.extrapolate import extrapolate  # noqa: F401
    from .survival.interval import interval_regression, turnbull  # noqa: F401
    from .survival.km import kaplan_meier  # noqa: F401
    from .survival.rmst import rmst  # noqa: F401

__version__ = "0.1.0"

# public name -> module that defines it (imported on first access)
_LAZY = {
    "Trial": "trialstats.data.trial",
    "load_trial": "trialstats.data.trial",
    "simulate_trial": "trialstats.simulate",
    "mmrm": "trialstats.longitudinal.mmrm.api",
    "MMRMProblem": "trialstats.longitudinal.mmrm.problem",
    "lmm": "trialstats.longitudinal.lmm",
    "count_model": "trialstats.longitudinal.counts",
    "kaplan_meier": "trialstats.survival.km",
    "logrank": "trialstats.survival.compare",
    "nelson_aalen": "trialstats.survival.hazard",
    "cox": "trialstats.survival.cox",
    "rmst": "trialstats.survival.rmst",
    "turnbull": "trialstats.survival.interval",
    "interval_regression": "trialstats.survival.interval",
    "cumulative_incidence": "trialstats.survival.competing",
    "gray_test": "trialstats.survival.competing",
    "extrapolate": "trialstats.survival.extrapolate",
    "fine_gray": "trialstats.survival.fine_gray",
    "build_report": "trialstats.report.build",
    "parse_formula": "trialstats.formula",
    "comparisons_frame": "trialstats.results",
    "compare": "trialstats.results",
    "adjust_p": "trialstats.results",
    "multiplicity": "trialstats.results",
    "risk_difference": "trialstats.results",
    "describe": "trialstats.results",
    "mean_ci": "trialstats.results",
    "subgroup_interaction": "trialstats.results",
    "rbmi": "trialstats.estimands.api",
    "tipping_point": "trialstats.estimands.tipping",
    "Estimand": "trialstats.estimands.definition",
    "IntercurrentEvent": "trialstats.estimands.definition",
    "intercurrent_events": "trialstats.estimands.ice",
    "analyse_estimand": "trialstats.estimands.analysis",
    "missing_patterns": "trialstats.estimands.analysis",
}
_SUBMODULES = {"datasets", "plots", "report", "data", "longitudinal", "survival", "results",
               "estimands", "design"}

__all__ = [
    "ConvergenceWarning",
    "ModelError",
    "TrialDataError",
    "TrialstatsError",
    "__version__",
    *sorted(_LAZY),
    *sorted(_SUBMODULES),
]


__getattr__, __dir__ = lazy_attributes(__name__, globals(), _LAZY, _SUBMODULES)
