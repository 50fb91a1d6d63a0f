"""Estimands and missing data: reference-based multiple imputation (R rbmi) and tipping points.

``rbmi`` (:mod:`.api`) -> array engine (:mod:`._engine`: imputation MMRM, strategies of
:mod:`.strategies`) -> analysis and pooling (:mod:`._analysis`) -> frozen results
(:mod:`.results`); samples run sequentially, on local processes or on Dask (:mod:`._parallel`);
``tipping_point`` (:mod:`.tipping`) re-analyses one set of draws over a grid of deltas.
Estimands as data (ICH E9(R1)): :class:`.definition.Estimand`, the intercurrent events per
subject (:func:`.ice.intercurrent_events`) and each strategy's analysis
(:func:`.analysis.analyse_estimand`).
"""

from __future__ import annotations

from ._parallel import ClusterError
from .analysis import EstimandResult, analyse_estimand, missing_patterns
from .api import rbmi
from .definition import Estimand, IntercurrentEvent, parse_estimands
from .ice import IntercurrentEvents, intercurrent_events
from .results import RBMIResult, delta_template
from .strategies import (
                         compute_sigma,
                         strategy_CIR,
                         strategy_CR,
                         strategy_JR,
                         strategy_LMCF,
                         strategy_MAR,
)

__all__ = ["rbmi", "RBMIResult", "delta_template", "ClusterError", "compute_sigma",
           "strategy_MAR", "strategy_JR", "strategy_CR", "strategy_CIR", "strategy_LMCF",
           "Estimand", "IntercurrentEvent", "parse_estimands", "IntercurrentEvents",
           "intercurrent_events", "EstimandResult", "analyse_estimand", "missing_patterns"]
