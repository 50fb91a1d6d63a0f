"""Mixed models for repeated measures (MMRM): ``trialstats.mmrm``.

``api`` (formula, columns, validation) → ``_engine`` (arrays: likelihood, gradient, optimiser)
with ``covariance`` (structures) and ``dof`` (Satterthwaite, Kenward-Roger), results in ``results``.
"""

from .api import mmrm
from .problem import MMRMEstimates, MMRMProblem
from .results import MMRMResult

__all__ = ["mmrm", "MMRMResult", "MMRMProblem", "MMRMEstimates"]
