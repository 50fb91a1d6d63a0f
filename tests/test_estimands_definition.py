"""Estimands as data: sap.toml's [[estimands]] read and checked (every problem at once, key named).

Source of the rules: ICH E9(R1) (five attributes, four strategies) and trialstats/estimands/
definition.py; the plan is read by trialstats/report/_plan_estimands.py.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

import trialstats as ts
from trialstats.estimands.definition import LIMITS, parse_estimands
from trialstats.report.plan import PlanError, load_plan, plan_for_trial

ROOT = Path(__file__).resolve().parents[1]
REAL = Path(__file__).parent / "data" / "real"

GOOD = {
    "id": "E1", "name": "as if treatment continued", "population": "ITTFL",
    "paramcd": "TAHC", "visit": "WEEK 24", "sensitivity": ["JR", "CIR"],
    "tipping_point": {"arm": "EXOSOME", "deltas": [0, -10]},
    "events": [{"name": "treatment discontinuation", "strategy": "hypothetical",
                "table": "adsl", "flag": "COMPLFL", "values": ["N"], "day": "TRTDURD"}],
}


def _with(**changes):
    d = {**GOOD, **changes}
    return {k: v for k, v in d.items() if v is not None}


def test_a_good_estimand_reads_into_frozen_data():
    (e,), problems = parse_estimands([GOOD])
    assert problems == []
    assert (e.id, e.population, e.paramcd, e.visit, e.summary) == ("E1", "ITTFL", "TAHC",
                                                                  "WEEK 24", "difference in means")
    assert e.sensitivity == ("JR", "CIR") and e.tipping_deltas == (0.0, -10.0)
    ev = e.events[0]
    assert (ev.strategy, ev.table, ev.flag, ev.values, ev.day) == (
        "hypothetical", "adsl", "COMPLFL", ("N",), "TRTDURD")


def test_every_problem_is_reported_at_once_with_its_key():
    bad = _with(summary="ratio of medians", sensitivity=["JR", "J2R"], population="ITT FL",
                events=[{"name": "x", "strategy": "hypothetic", "flag": "COMPLFL"},
                        {"name": "y", "strategy": "composite", "flag": "RESCFL"},
                        {"strategy": "hypothetical", "flag": "DCFL", "colour": "red"}])
    with pytest.raises(PlanError) as err:
        load_plan({"estimands": [bad]})
    msg = str(err.value)
    for key in ("estimands[0].summary: unknown summary 'ratio of medians'",
                "estimands[0].sensitivity[1]: unknown method 'J2R'; valid: MAR, JR, CR, CIR, LMCF",
                "estimands[0].population: 'ITT FL' is not an ADaM column name",
                "estimands[0].events[0].strategy: unknown strategy 'hypothetic'; valid: treatment "
                "policy, hypothetical, composite, while on treatment",
                "estimands[0].events[1]: a composite strategy needs exactly one of value",
                "estimands[0].events[2].name: required",
                "estimands[0].events[2]: unknown key colour"):
        assert key in msg, (key, msg)
    assert msg.startswith("7 problems in [[estimands]]")


@pytest.mark.parametrize("event, message", [
    ({"name": "d", "strategy": "hypothetical", "flag": "X", "off_treatment": "missing"},
     "events[0].off_treatment: applies to strategy 'treatment policy' only"),
    ({"name": "d", "strategy": "treatment policy", "flag": "X", "imputation": "CR"},
     "events[0].imputation: needs off_treatment = \"missing\""),
    ({"name": "d", "strategy": "treatment policy", "flag": "X", "off_treatment": "missing",
      "imputation": "LMCF"}, "events[0].imputation: unknown imputation 'LMCF'; valid: JR, CR, CIR"),
    ({"name": "d", "strategy": "composite", "flag": "X", "value": -5, "rule": "worst"},
     "a composite strategy needs exactly one of value"),
    ({"name": "d", "strategy": "composite", "flag": "X", "value": float("inf")},
     "events[0].value: must be a number"),
    ({"name": "d", "strategy": "hypothetical", "flag": "X", "table": "adeff", "day": "TRTDURD"},
     "events[0].day: only for table = \"adsl\""),
    ({"name": "d", "strategy": "hypothetical", "flag": "X", "table": "adae"},
     "events[0].table: unknown table 'adae'; valid: adsl, adeff"),
    ({"name": "d", "strategy": "hypothetical"}, "events[0].flag: required"),
    ({"name": "d", "strategy": "hypothetical", "flag": "X", "values": []},
     "events[0].values: must list at least one value"),
])
def test_event_keys_are_checked(event, message):
    _, problems = parse_estimands([_with(events=[event])])
    assert any(message in p for p in problems), problems


def test_limits_on_lists_and_numbers():
    _, problems = parse_estimands([_with(tipping_point={"arm": "EXOSOME",
                                                        "deltas": list(range(LIMITS["deltas"] + 1))})])
    assert any(f"at most {LIMITS['deltas']} are allowed" in p for p in problems)
    _, problems = parse_estimands([_with(tipping_point={"arm": "EXOSOME", "deltas": [0, 1e9]})])
    assert any("deltas[1]: 1000000000.0 is outside the allowed range" in p for p in problems)
    _, problems = parse_estimands([GOOD] * (LIMITS["estimands"] + 1))
    assert any(f"at most {LIMITS['estimands']} are allowed" in p for p in problems)
    _, problems = parse_estimands([_with(tipping_point={"arm": "EXOSOME", "deltas": [1, 1]})])
    assert any("needs at least two different numbers" in p for p in problems)


def test_duplicate_ids_and_missing_events():
    _, problems = parse_estimands([GOOD, GOOD, _with(id="E3", events=None)])
    assert any("duplicate ids E1" in p for p in problems)
    assert any(p.startswith("estimands[2].events: required") for p in problems)


def test_formula_goes_through_the_whitelist():
    _, problems = parse_estimands([_with(formula="CHG ~ ARM + __import__('os').system('x')")])
    assert problems and "formula" in problems[0]


def test_plan_round_trips_through_toml():
    plan = load_plan({"estimands": [GOOD]})
    text = ts.report.plan.AnalysisPlan.to_toml(plan)
    assert load_plan(tomllib.loads(text)).estimands == plan.estimands


def test_resolve_names_every_column_the_trial_lacks():
    trial = ts.datasets.load("exo-hair-301")
    bad = _with(paramcd="TAHC", visit="WEEK 25", population="FASFL",
                tipping_point={"arm": "PLACEBO", "deltas": [0, -1]},
                events=[{"name": "rescue", "strategy": "hypothetical", "flag": "RESCUEFL"},
                        {"name": "d", "strategy": "hypothetical", "flag": "COMPLFL", "day": "TRTEDY"}])
    with pytest.raises(PlanError) as err:
        plan_for_trial(trial, {"estimands": [bad]})
    msg = str(err.value)
    for key in ("estimands[0].visit: 'WEEK 25' is not a post-baseline visit of TAHC",
                "estimands[0].population: 'FASFL' is not a column of ADSL",
                "estimands[0].events[0].flag: 'RESCUEFL' is not a column of ADSL",
                "estimands[0].events[1].day: 'TRTEDY' is not a column of ADSL",
                "estimands[0].tipping_point.arm: 'PLACEBO' is not a non-reference arm"):
        assert key in msg, (key, msg)


def test_no_estimands_means_the_section_does_not_apply():
    trial = ts.load_trial(REAL / "colon")  # no ADEFF either
    assert "declares no estimands" in plan_for_trial(trial).skipped("estimands")
    plan = plan_for_trial(trial, {"estimands": [GOOD]})
    assert "no ADEFF" in plan.skipped("estimands")


def test_bundled_plan_declares_two_estimands():
    plan = plan_for_trial(ts.datasets.load("exo-hair-301"))
    assert [e.id for e in plan.estimands] == ["E1", "E2"]
    assert plan.skipped("estimands") is None
    assert [ev.strategy for e in plan.estimands for ev in e.events] == ["hypothetical",
                                                                         "treatment policy"]


def test_sections_switch_turns_the_estimands_off_and_the_plan_stops_printing_them():
    trial = ts.datasets.load("exo-hair-301")
    plan = plan_for_trial(trial, {"estimands": [GOOD], "sections": {"estimands": False}})
    assert plan.skipped("estimands").startswith("switched off in the analysis plan")
    assert "[[estimands]]" not in plan.to_toml()
    assert "[[estimands]]" in plan_for_trial(trial, {"estimands": [GOOD]}).to_toml()
