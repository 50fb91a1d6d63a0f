"""``[[estimands]]`` of sap.toml: read (every problem at once) and checked against a trial.

The estimands themselves are library data (:class:`trialstats.estimands.Estimand`, read by
:func:`trialstats.estimands.definition.parse_estimands`, whose :data:`LIMITS` bound every list
and number like :mod:`._plan_limits`); this module turns their problems into one
:class:`~trialstats.report.plan.PlanError` and, when the plan is resolved, checks that every
column, PARAMCD, visit and arm an estimand names exists in the trial.
"""

from __future__ import annotations

import pandas as pd

__all__ = ["parse_plan_estimands", "check_estimands", "NO_ESTIMANDS"]

NO_ESTIMANDS = ("the analysis plan declares no estimands (add [[estimands]] tables to sap.toml "
                "to state them and their sensitivity analyses)")


def parse_plan_estimands(items) -> tuple:
    """The estimands of ``[[estimands]]``; :class:`PlanError` listing every problem otherwise."""
    from ..estimands.definition import parse_estimands
    from .plan import PlanError

    estimands, problems = parse_estimands(items)
    if problems:
        raise PlanError(f"{len(problems)} problem{'s' if len(problems) > 1 else ''} in "
                        "[[estimands]]:\n  " + "\n  ".join(problems))
    return estimands


def _listed(values) -> str:
    values = [str(v) for v in values]
    return ", ".join(values[:20]) + (f" and {len(values) - 20} more" if len(values) > 20 else "")


def _estimand_problems(trial, e, i: int) -> list[str]:
    where = f"estimands[{i}]"
    adsl, adeff = trial.adsl, trial.adeff
    out = []
    codes = list(dict.fromkeys(adeff["PARAMCD"].astype(str))) if "PARAMCD" in adeff.columns else []
    if e.paramcd not in codes:
        out.append(f"{where}.paramcd: {e.paramcd!r} is not a PARAMCD of ADEFF; valid: "
                   f"{_listed(codes)}")
    else:
        rows = adeff[adeff["PARAMCD"].astype(str) == e.paramcd]
        if "ABLFL" in rows.columns:
            rows = rows[rows["ABLFL"].astype(str) != "Y"]
        visits = list(dict.fromkeys(rows["AVISIT"].astype(str)))
        if e.visit not in visits:
            out.append(f"{where}.visit: {e.visit!r} is not a post-baseline visit of {e.paramcd}; "
                       f"valid: {_listed(visits)}")
    if e.population and e.population not in adsl.columns:
        out.append(f"{where}.population: {e.population!r} is not a column of ADSL; columns "
                   f"ending in FL: {_listed(c for c in adsl.columns if str(c).endswith('FL'))}")
    for j, ev in enumerate(e.events):
        table = adsl if ev.table == "adsl" else adeff
        if ev.flag not in table.columns:
            out.append(f"{where}.events[{j}].flag: {ev.flag!r} is not a column of "
                       f"{ev.table.upper()}; columns: {_listed(table.columns)}")
        if ev.day and ev.day not in adsl.columns:
            out.append(f"{where}.events[{j}].day: {ev.day!r} is not a column of ADSL; columns: "
                       f"{_listed(adsl.columns)}")
    arms = [str(a) for a in trial.arms]
    ref = str(trial.meta.reference)
    if e.tipping_arm and (e.tipping_arm not in arms or e.tipping_arm == ref):
        out.append(f"{where}.tipping_point.arm: {e.tipping_arm!r} is not a non-reference arm of "
                   f"trial {trial.meta.id!r}; valid: {_listed(a for a in arms if a != ref)}")
    return out


def check_estimands(trial, estimands: tuple, disabled: tuple, absent: tuple) -> tuple:
    """(("estimands", reason),) when the section does not apply, else () after checking every
    estimand against the trial.

    Raises
    ------
    PlanError
        Every PARAMCD, visit, population flag, event flag or day column, or tipping-point arm
        that the trial does not have, at once, each with its key.
    """
    from .plan import PlanError

    if "estimands" in disabled:
        return ()
    if not estimands:
        return (("estimands", NO_ESTIMANDS),)
    adeff = getattr(trial, "adeff", None)
    if adeff is None or not isinstance(adeff, pd.DataFrame):
        return (("estimands", "the trial has no ADEFF table (longitudinal efficacy data)"),)
    problems = [p for i, e in enumerate(estimands) for p in _estimand_problems(trial, e, i)]
    if problems:
        raise PlanError(f"{len(problems)} problem{'s' if len(problems) > 1 else ''} in "
                        f"[[estimands]] for trial {trial.meta.id!r}:\n  " + "\n  ".join(problems))
    return ()
