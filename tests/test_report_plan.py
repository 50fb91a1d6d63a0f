"""The analysis plan as data (trialstats.report.plan): defaults, sap.toml, errors naming the key."""

import dataclasses

import pytest

import trialstats as ts
from trialstats.errors import TrialstatsError
from trialstats.report.plan import (
    AnalysisPlan,
    Endpoint,
    Hypothesis,
    PlanError,
    load_plan,
    plan_for_trial,
)

FULL = """
seed = 7
level = 0.9
sensitivity = ["kenward-roger"]

[primary]
paramcd = "TAHC"
visit = "WEEK 12"

[mmrm]
formula = "CHG ~ ARM * AVISIT + BASE + SEX"
covariance = ["toeph", "cs"]
df = "kenward-roger"
method = "ml"

[[secondary]]
name = "early"
paramcd = "TAHC"
visit = "WEEK 4"

[durability]
family = "negative-binomial"
correlation = "independence"

[relapse]
paramcd = "RELAPSE"
tau = 150
landmarks = [30, 60.5]
strata = ["SEX", "STAGEGR"]

[longterm]
horizon_years = 3
distributions = ["weibull", "lognormal"]

[subgroups]
SEX = "Sex"

[safety]
rd_method = "wald"

[multiplicity]
strategy = "holm"
alpha = 0.025

[[hypotheses]]
endpoint = "primary"
arm = "EXOSOME"

[[hypotheses]]
id = "KEY2"
endpoint = "secondary:early"
arm = "MINOXIDIL"
"""


@pytest.fixture(scope="module")
def small_trial():
    return ts.simulate_trial(n_per_arm=10, seed=3)   # follow-up beyond tau = 150 in every arm


def test_defaults_are_frozen_and_documented():
    plan = AnalysisPlan()
    assert plan.mmrm.covariance == ("us", "toeph", "ar1h", "cs")
    assert plan.mmrm.df == "satterthwaite"
    assert plan.strategy == "fixed-sequence"
    assert "kenward-roger" in plan.sensitivity
    assert [c for c, _ in plan.subgroups] == ["SEX", "AGEGR1", "STAGEGR"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.level = 0.9  # type: ignore[misc]


def test_full_plan_is_read(tmp_path):
    (tmp_path / "sap.toml").write_text(FULL)
    plan = load_plan(tmp_path)  # a folder holding sap.toml
    assert plan.source == "sap.toml"
    assert plan.seed == 7 and plan.level == 0.9
    assert plan.primary == Endpoint("TAHC", "WEEK 12")
    assert plan.mmrm.covariance == ("toeph", "cs") and plan.mmrm.df == "kenward-roger" and plan.mmrm.method == "ml"
    assert plan.secondary == (Endpoint("TAHC", "WEEK 4", "early"),)
    assert plan.durability.family == "negative-binomial"
    assert plan.relapse.tau == 150.0 and plan.relapse.landmarks == (30.0, 60.5)
    assert plan.relapse.strata == ("SEX", "STAGEGR")
    assert plan.longterm.distributions == ("weibull", "lognormal")
    assert plan.subgroups == (("SEX", "Sex"),)
    assert plan.rd_method == "wald" and plan.strategy == "holm" and plan.alpha == 0.025
    assert plan.hypotheses == (Hypothesis("primary", "EXOSOME"), Hypothesis("secondary:early", "MINOXIDIL", "KEY2"))


def test_single_covariance_string_means_no_fallback():
    assert load_plan({"mmrm": {"covariance": "cs"}}).mmrm.covariance == ("cs",)


def test_plan_round_trips_through_toml(tmp_path, small_trial):
    plan = load_plan(_write(tmp_path, FULL)).resolve(small_trial)
    again = load_plan(_write(tmp_path, plan.to_toml())).resolve(small_trial)
    assert dataclasses.replace(again, source="x") == dataclasses.replace(plan, source="x")


def test_resolve_fills_trial_defaults(small_trial):
    plan = AnalysisPlan().resolve(small_trial)
    assert plan.primary == Endpoint("TAHC", "WEEK 24")
    assert plan.relapse.paramcd == "RELAPSE"
    # tau: the last day at which every arm still has follow-up
    adtte = small_trial.analysis_frame("adtte", paramcd="RELAPSE")
    assert plan.relapse.tau == float(int(adtte.groupby("ARM", observed=True)["AVAL"].max().min()))
    # default hypotheses: primary for each non-reference arm, then RMST, numbered in order
    assert [(h.id, h.endpoint, h.arm) for h in plan.hypotheses] == [
        ("H1", "primary", "EXOSOME"), ("H2", "primary", "MINOXIDIL"),
        ("H3", "rmst", "EXOSOME"), ("H4", "rmst", "MINOXIDIL"),
    ]


def test_sap_toml_in_the_trial_folder_is_used(tmp_path, small_trial):
    folder = small_trial.write(tmp_path / "trial")
    (folder / "sap.toml").write_text('[multiplicity]\nstrategy = "holm"\n')
    loaded = ts.load_trial(folder)
    assert plan_for_trial(loaded).strategy == "holm"
    assert plan_for_trial(small_trial).strategy == "fixed-sequence"  # in memory: defaults


def _write(tmp_path, text):
    p = tmp_path / "plan.toml"
    p.write_text(text)
    return p


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"colour": "red"}, r"unknown key colour"),
        ({"mmrm": {"covarance": "us"}}, r"unknown key mmrm\.covarance.*valid keys of mmrm: covariance, df"),
        ({"primary": {"paramcd": "TAHC", "visit": "WEEK 24", "when": 1}}, r"unknown key primary\.when"),
        ({"hypotheses": [{"endpoint": "primary", "arm": "EXOSOME", "order": 1}]}, r"unknown key hypotheses\[0\]\.order"),
        ({"mmrm": {"covariance": "banded"}}, r"mmrm\.covariance: unknown covariance 'banded'; valid: us, toep"),
        ({"mmrm": {"covariance": ["us", "ar2"]}}, r"mmrm\.covariance\[1\]: unknown covariance 'ar2'"),
        ({"mmrm": {"covariance": []}}, r"mmrm\.covariance: must be a string or a non-empty list"),
        ({"mmrm": {"df": "containment"}}, r"mmrm\.df: unknown df 'containment'; valid: satterthwaite, kenward-roger"),
        ({"mmrm": {"method": "bayes"}}, r"mmrm\.method: unknown method 'bayes'"),
        ({"mmrm": {"formula": "CHG ARM"}}, r"mmrm\.formula: a formula needs '~'"),
        ({"mmrm": {"formula": 3}}, r"mmrm\.formula: must be a string; got 3 \(int\)"),
        ({"mmrm": "us"}, r"mmrm: must be a table"),
        ({"seed": "one"}, r"seed: must be an integer"),
        ({"seed": True}, r"seed: must be an integer"),
        ({"level": 95}, r"level: must be strictly between 0 and 1"),
        ({"level": "0.95"}, r"level: must be a number"),
        ({"relapse": {"tau": -1}}, r"relapse\.tau: must be positive"),
        ({"relapse": {"tau": "1y"}}, r"relapse\.tau: must be a number"),
        ({"relapse": {"landmarks": [30, "x"]}}, r"relapse\.landmarks\[1\]: must be a number"),
        ({"relapse": {"strata": "SEX"}}, r"relapse\.strata: must be a list"),
        ({"longterm": {"distributions": ["weibull", "cauchy"]}}, r"longterm\.distributions\[1\]: unknown distributions 'cauchy'"),
        ({"multiplicity": {"strategy": "bonferroni"}}, r"multiplicity\.strategy: unknown strategy 'bonferroni'; valid: fixed-sequence, holm"),
        ({"multiplicity": {"alpha": 1.5}}, r"multiplicity\.alpha: must be strictly between 0 and 1"),
        ({"safety": {"rd_method": "exact"}}, r"safety\.rd_method: unknown rd_method 'exact'; valid: newcombe, wald"),
        ({"sensitivity": ["tipping-point"]}, r"sensitivity\[0\]: unknown sensitivity 'tipping-point'"),
        ({"durability": {"family": "gaussian"}}, r"durability\.family: unknown family 'gaussian'"),
        ({"secondary": [{"paramcd": "TAHC", "visit": "WEEK 4"}]}, r"secondary\[0\]\.name: required"),
        ({"secondary": {"name": "x"}}, r"secondary: must be a list"),
        ({"subgroups": {"SEX": 1}}, r"subgroups\.SEX: must be a string"),
        ({"hypotheses": [{"endpoint": "primary"}]}, r"hypotheses\[0\]\.arm: required"),
        ({"hypotheses": [{"endpoint": "median", "arm": "EXOSOME"}]}, r"hypotheses\[0\]\.endpoint: unknown endpoint 'median'"),
        ({"version": 2}, r"version: only version = 1"),
    ],
)
def test_bad_plan_names_the_key(data, match):
    with pytest.raises(PlanError, match=match):
        load_plan(data)


def test_plan_error_is_a_trialstats_error():
    assert issubclass(PlanError, TrialstatsError) and issubclass(PlanError, ValueError)


def test_unreadable_toml_and_missing_file(tmp_path):
    with pytest.raises(PlanError, match=r"plan\.toml: not valid TOML"):
        load_plan(_write(tmp_path, "seed = = 3"))
    with pytest.raises(PlanError, match="does not exist"):
        load_plan(tmp_path / "nope.toml")


def test_hypothesis_arm_checked_against_the_trial(small_trial):
    plan = load_plan({"hypotheses": [{"endpoint": "primary", "arm": "PLACEBO"}]})
    with pytest.raises(PlanError, match=r"hypotheses\[0\]\.arm: 'PLACEBO' is not a non-reference arm.*valid: EXOSOME, MINOXIDIL"):
        plan.resolve(small_trial)
    plan = load_plan({"hypotheses": [{"endpoint": "secondary:late", "arm": "EXOSOME"}]})
    with pytest.raises(PlanError, match=r"hypotheses\[0\]\.endpoint: 'secondary:late' names no secondary endpoint"):
        plan.resolve(small_trial)
