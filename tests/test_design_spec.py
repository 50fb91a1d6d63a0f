"""trialstats.design.spec: design.toml as data; every problem reported at once, naming its key."""

from __future__ import annotations

import numpy as np
import pytest
from design_util import TWO_VISIT_PLAN, make_spec, two_visit

from trialstats.design import DesignError, load, replicate_seed
from trialstats.design.spec import hypothesis_ids

TRIAL_PLAN = {"hypotheses": [{"endpoint": "primary", "arm": "EXOSOME"},
                             {"endpoint": "cox", "arm": "EXOSOME"}]}


def good(**over):
    d = {"seed": 1, "replicates": 10, "n_per_arm": [40, 60],
         "simulation": {"arms": ["MINOXIDIL", "EXOSOME"]},
         "scenarios": [{"name": "alt", "effects": {"EXOSOME": 30.0}},
                       {"name": "null", "null": ["H1"], "effects": {"EXOSOME": 18.6}}],
         "targets": {"power": {"H1": 0.8}, "fwer": 0.05}}
    d.update(over)
    return d


def test_a_valid_design_loads(tmp_path):
    spec = make_spec(tmp_path, good(), TRIAL_PLAN)
    assert spec.n_per_arm == (40, 60)
    assert [s.name for s in spec.scenarios] == ["alt", "null"]
    assert spec.scenarios[0].params == {"arms": ["MINOXIDIL", "EXOSOME"],
                                        "effects": {"EXOSOME": 30.0}}
    assert spec.scenarios[1].null and spec.scenarios[1].null_hypotheses == ("H1",)
    assert spec.power_targets == {"H1": 0.8} and spec.fwer_target == 0.05
    assert [h[:2] for h in hypothesis_ids(spec.plan, ["MINOXIDIL", "EXOSOME"])] == [
        ("H1", "primary"), ("H2", "cox")]


def test_every_problem_is_reported_at_once(tmp_path):
    bad = good(replicates=0, n_per_arm=[1, 50], colour="red",
               scenarios=[{"name": "alt", "effect": {"EXOSOME": 3}},
                          {"name": "alt", "model": "weibull"}],
               targets={"power": {"H1": 1.0, "H9": 0.8}, "fwer": 0.05})
    with pytest.raises(DesignError) as err:
        make_spec(tmp_path, bad, TRIAL_PLAN)
    msg = str(err.value)
    for part in ("colour: unknown key", "replicates: must be an integer >= 1",
                 "n_per_arm: must be an integer >= 2",
                 "scenarios[0].effect: unknown parameter of model 'trial'; valid: arms",
                 "scenarios[1].model: unknown model 'weibull'; valid: trial, normal",
                 "scenarios: duplicate names alt",
                 "targets.power.H1: infeasible target", "power 1.0",
                 "targets.power.H9: unknown hypothesis; valid: H1, H2",
                 "targets.fwer: needs at least one scenario with null = true"):
        assert part in msg, part
    assert len(err.value.problems) >= 9


def test_unknown_endpoint_for_the_model_and_unknown_arm(tmp_path):
    plan = {"hypotheses": [{"endpoint": "cox", "arm": "ACTIVE"},
                           {"endpoint": "primary", "arm": "PLACEBO"}]}
    with pytest.raises(DesignError, match=r"(?s)hypothesis H1 in scenario 'a': endpoint 'cox' "
                       r"is not produced by model 'normal'; valid: primary.*H2.*arm 'PLACEBO' is "
                       r"not a non-reference arm of the scenario; valid: ACTIVE"):
        make_spec(tmp_path, good(scenarios=[two_visit("a", 1.0)], simulation={}, targets={}),
                  plan)


def test_plan_errors_and_missing_plan_are_named(tmp_path):
    (tmp_path / "bad.toml").write_text('[mmrm]\ncovariance = "un"\n')
    with pytest.raises(DesignError, match=r"plan: .*mmrm.covariance.*unknown covariance 'un'"):
        load({**good(), "plan": "bad.toml"}, base=tmp_path)
    with pytest.raises(DesignError, match=r"plan: analysis plan .*nope.toml' does not exist"):
        load({**good(), "plan": "nope.toml"}, base=tmp_path)


def test_a_plan_outside_the_design_folder_is_refused_unless_allowed(tmp_path):
    # as the tables of a trial folder: '../', absolute paths and escaping symlinks are refused
    design, outside = tmp_path / "design", tmp_path / "elsewhere"
    design.mkdir()
    make_spec(outside, good(), TRIAL_PLAN)  # writes elsewhere/sap.toml
    (design / "link.toml").symlink_to(outside / "sap.toml")
    for plan in ("../elsewhere/sap.toml", str(outside / "sap.toml"), "link.toml"):
        with pytest.raises(DesignError, match=r"plan: .* resolves outside the design's folder"):
            load({**good(), "plan": plan}, base=design)
        assert load({**good(), "plan": plan}, base=design, allow_outside=True).plan is not None


def test_design_file_is_read_with_the_trial_toml_limits(tmp_path):
    (tmp_path / "d.toml").write_bytes("replicates = 10\ntitle = 'caf\xe9'\n".encode("latin-1"))
    with pytest.raises(DesignError, match=r"d\.toml: .*UTF-8"):
        load(tmp_path / "d.toml")


def test_simulate_trial_parameter_ranges_are_checked(tmp_path):
    with pytest.raises(DesignError, match=r"scenarios\[0\]\.dropout must be a probability"):
        make_spec(tmp_path, good(scenarios=[{"name": "a", "dropout": 1.5}], targets={}),
                  TRIAL_PLAN)
    with pytest.raises(DesignError, match=r"unknown arm code\(s\) 'EXO'"):
        make_spec(tmp_path, good(simulation={"arms": ["EXO", "PLACEBO"]}, targets={}),
                  TRIAL_PLAN)


@pytest.mark.parametrize(("target", "message"), [
    (1.0, "infeasible target: must be a number strictly between 0 and 1; got 1.0"),
    (0.04, "is not above the plan's alpha 0.05"),
    ("high", "strictly between 0 and 1; got 'high'"),
])
def test_infeasible_power_targets(tmp_path, target, message):
    with pytest.raises(DesignError, match=message):
        make_spec(tmp_path, good(targets={"power": {"H1": target}}), TRIAL_PLAN)


def test_normal_model_parameters_are_checked(tmp_path):
    sc = {**two_visit("a", 1.0), "retention": [0.8, 0.9], "sd": -1, "correlation": 1.0}
    with pytest.raises(DesignError) as err:
        make_spec(tmp_path, good(scenarios=[sc], simulation={}, targets={}), TWO_VISIT_PLAN)
    msg = str(err.value)
    assert "retention: must not increase over visits" in msg
    assert "sd: required, a number or a list of 2 numbers" in msg
    assert "correlation: must be a number in (-1/(J-1), 1)" in msg


def test_bad_toml_and_missing_file(tmp_path):
    (tmp_path / "d.toml").write_text("seed = = 1\n")
    with pytest.raises(DesignError, match=r"d.toml: invalid TOML"):
        load(tmp_path / "d.toml")
    with pytest.raises(DesignError, match=r"design file .*missing.toml' does not exist"):
        load(tmp_path / "missing.toml")


def test_replicate_seed_is_the_spawned_seed_sequence():
    # SeedSequence(seed).spawn along (scenario, n, replicate) reaches the same sequence
    s, n, r = 1, 60, 7
    spawned = np.random.SeedSequence(123).spawn(s + 1)[s].spawn(n + 1)[n].spawn(r + 1)[r]
    expected = int(spawned.generate_state(1, dtype=np.uint64)[0])
    assert replicate_seed(123, s, n, r) == expected
    assert replicate_seed(123, s, n, r) != replicate_seed(123, s, n, r + 1)


def test_fingerprint_ignores_replicates_but_not_the_seed(tmp_path):
    spec = make_spec(tmp_path, good(), TRIAL_PLAN)
    assert spec.with_replicates(99).fingerprint() == spec.fingerprint()
    assert make_spec(tmp_path, good(seed=2), TRIAL_PLAN).fingerprint() != spec.fingerprint()
    with pytest.raises(DesignError, match="replicates: must be an integer >= 1; got 0"):
        spec.with_replicates(0)


def test_bundled_long_term_design_runs_on_simulated_trials():
    # datasets/designs/exo-longterm.toml, shrunk to 2 replicates at 40 per arm
    import math
    from dataclasses import replace
    from pathlib import Path

    import trialstats as ts

    spec = load(Path(__file__).parents[1] / "datasets" / "designs" / "exo-longterm.toml")
    assert [s.name for s in spec.scenarios] == ["expected", "modest", "equal efficacy"]
    res = ts.design.run(replace(spec, n_per_arm=(40,), replicates=2), progress=False)
    reps = res.replicates
    assert len(reps) == 3 * 2 * 3 and set(reps["hypothesis"]) == {"H1", "H2", "H3"}
    assert reps["converged"].all()
    # true H1 contrast at week 24 from the simulate_trial docstring's closed form:
    # (Delta_EXO - Delta_MIN) * h(24) / h(48), h(t) = 1 - exp(-t / 6)
    h = [1 - math.exp(-t / 6.0) for t in (24, 48)]
    for name, delta in (("expected", 28.0), ("modest", 24.0), ("equal efficacy", 18.6)):
        t = reps.loc[(reps["scenario"] == name) & (reps["hypothesis"] == "H1"), "true_value"]
        assert abs(t.iloc[0] - (delta - 18.6) * h[0] / h[1]) < 1e-10
    assert res.fwer["scenario"].unique().tolist() == ["equal efficacy"]
