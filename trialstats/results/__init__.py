"""trialstats.results: the analysis-results layer.

``ard`` (the comparisons frame: one tidy row per comparison of two arms), ``comparisons`` (the
``comparisons()`` of every result that compares arms), ``hypothesis`` (superiority and
non-inferiority tests, :func:`compare`), ``multiplicity`` (adjusted p-values), ``proportions``
(risk differences, Newcombe intervals), ``describe`` (Table 1 summaries) and ``interaction``
(treatment-by-subgroup tests).
"""

from __future__ import annotations

from .ard import COLUMNS, comparisons_frame
from .describe import describe, mean_ci
from .hypothesis import compare
from .interaction import subgroup_interaction
from .multiplicity import adjust_p, multiplicity
from .proportions import RiskDifferenceResult, risk_difference

__all__ = [
    "COLUMNS",
    "RiskDifferenceResult",
    "adjust_p",
    "compare",
    "comparisons_frame",
    "describe",
    "mean_ci",
    "multiplicity",
    "risk_difference",
    "subgroup_interaction",
]
