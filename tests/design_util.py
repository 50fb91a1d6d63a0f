"""Helpers of the design tests: write a design and its plan to a folder, load it."""

from __future__ import annotations

from pathlib import Path

from trialstats.design import load
from trialstats.report.plan import load_plan


def make_spec(folder: Path, design: dict, plan: dict):
    """Write ``plan`` as ``sap.toml`` in ``folder`` and load ``design`` (a dict) against it."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sap.toml").write_text(load_plan(plan).to_toml(), encoding="utf-8")
    return load({"plan": "sap.toml", **design}, base=folder)


#: Two-visit normal model: the MMRM test at WEEK 24 with complete data is the two-sample t test.
TWO_VISIT_PLAN = {
    "primary": {"paramcd": "CHG", "visit": "WEEK 24"},
    "mmrm": {"formula": "CHG ~ ARM * AVISIT", "covariance": ["us"]},
    "hypotheses": [{"endpoint": "primary", "arm": "ACTIVE"}],
}


def two_visit(name: str, diff: float, *, null: bool = False, sd: float = 10.0) -> dict:
    return {"name": name, "model": "normal", "null": null, "visits": [12, 24],
            "mean_difference": [diff / 2, diff], "sd": sd, "correlation": 0.5,
            "retention": 1.0}
