"""trialstats.report: the reproducible HTML report of a trial.

``build_report(trial, out_path, *, plan=None, progress=None)`` writes one self-contained,
deterministic HTML file (inline CSS and SVG figures) plus every table as CSV in
``<stem>_ard/``. The analysis it executes is an :class:`AnalysisPlan`: the defaults, or the
``sap.toml`` of the trial folder (:func:`load_plan`).
"""

from ._output import OutputError
from .build import build_report
from .plan import AnalysisPlan, PlanError, load_plan

__all__ = ["AnalysisPlan", "OutputError", "PlanError", "build_report", "load_plan"]
