"""design.toml options of issue 10: allocation ratios, non-responders as an intercurrent event of
the relapse endpoint, and scenarios whose parameters come from a fitted trial (``from_trial``)."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from design_util import make_spec
from lifelines import CoxPHFitter

import trialstats as ts
from trialstats.design import DesignError
from trialstats.design.models import generate
from trialstats.simulate import expected_change

DATASETS = Path(__file__).resolve().parents[1] / "datasets"
PLAN = {"hypotheses": [{"endpoint": "primary", "arm": "EXOSOME"},
                       {"endpoint": "cox", "arm": "EXOSOME"}]}
Z_TOL = 4.0   # statistical checks in standard errors (fixed seeds: a pass is repeatable)


def design(**over):
    d = {"seed": 1, "replicates": 2, "n_per_arm": [20],
         "simulation": {"arms": ["MINOXIDIL", "EXOSOME"]},
         "scenarios": [{"name": "alt", "effects": {"EXOSOME": 30.0}}]}
    d.update(over)
    return d


# --------------------------------------------------------------------------------------------
# allocation
# --------------------------------------------------------------------------------------------
def test_allocation_ratio_reaches_the_simulated_trial(tmp_path):
    spec = make_spec(tmp_path, design(allocation={"EXOSOME": 2}), PLAN)
    sc = spec.scenarios[0]
    assert sc.params["allocation"] == {"EXOSOME": 2}
    sim = generate(sc.model, sc.params, 30, 7, spec.plan)
    counts = sim.trial.adsl["ARM"].value_counts()
    assert counts.sum() == 90 and abs(counts["EXOSOME"] - 60) <= 4 * 6   # 6 sites, block 4+2
    res = ts.design.run(spec, engine="sequential", progress=False)
    assert len(res.replicates) == 2 * 2 and res.replicates["converged"].all()


def test_one_to_one_allocation_is_the_default(tmp_path):
    spec = make_spec(tmp_path, design(allocation="1:1"), PLAN)
    assert "allocation" not in spec.scenarios[0].params


@pytest.mark.parametrize(("allocation", "msg"), [
    ({"EXOSOME": 0}, r"allocation: allocation\['EXOSOME'\] must be an integer from 1 to 10"),
    ({"PLACEBO": 2}, r"allocation: allocation has arm code\(s\) 'PLACEBO'.*valid: MINOXIDIL"),
    ("2:1", r"allocation: a table of integer ratios by arm"),
])
def test_bad_allocation(tmp_path, allocation, msg):
    with pytest.raises(DesignError, match=msg):
        make_spec(tmp_path, design(allocation=allocation), PLAN)


def test_allocation_needs_the_trial_model(tmp_path):
    bad = design(allocation={"ACTIVE": 2}, simulation={},
                 scenarios=[{"name": "n", "model": "exponential-relapse", "arms": ["C", "ACTIVE"],
                             "median_reference": 300, "hazard_ratio": 0.7,
                             "followup_days": 500}])
    with pytest.raises(DesignError, match=r"allocation: scenario 'n' \(model "
                                          r"'exponential-relapse'\) is simulated 1:1"):
        make_spec(tmp_path, bad, {"hypotheses": [{"endpoint": "cox", "arm": "ACTIVE"}]})


# --------------------------------------------------------------------------------------------
# non-responders: excluded (default) or a composite intercurrent event
# --------------------------------------------------------------------------------------------
def test_nonresponders_excluded_or_composite(tmp_path):
    excl = make_spec(tmp_path / "a", design(), PLAN)
    comp = make_spec(tmp_path / "b", design(nonresponders="composite"), PLAN)
    assert excl.nonresponders == "exclude" and comp.nonresponders == "composite"
    assert excl.fingerprint() != comp.fingerprint()
    sc = excl.scenarios[0]
    a = generate(sc.model, sc.params, 60, 11, excl.plan)
    b = generate(sc.model, sc.params, 60, 11, comp.plan, nonresponders="composite")
    eff = a.efficacy
    eot = eff[eff["AVISITN"] == 24].set_index("USUBJID")["CHG"]
    responders = set(eot[eot > 15].index)
    assert set(a.relapse["USUBJID"]) == responders
    assert set(b.relapse["USUBJID"]) == set(eot.index)          # everyone seen at week 24
    extra = b.relapse[~b.relapse["USUBJID"].isin(responders)]
    assert len(extra) == len(eot) - len(responders) > 0
    assert (extra["AVAL"] == 0).all() and (extra["CNSR"] == 0).all()
    assert list(b.relapse["ARM"].cat.categories) == ["MINOXIDIL", "EXOSOME"]
    pd.testing.assert_frame_equal(b.relapse.iloc[:len(a.relapse)].reset_index(drop=True),
                                  a.relapse.reset_index(drop=True))
    res = ts.design.run(comp, engine="sequential", progress=False)
    assert res.replicates["converged"].all()
    from trialstats.design.report import render_report

    assert "count as relapsed at day 0 (composite strategy" in render_report(res)


@pytest.mark.parametrize(("over", "msg"), [
    ({"nonresponders": "ignore"}, r"nonresponders: unknown strategy 'ignore'; valid: exclude, "
                                  r"composite"),
    ({"nonresponders": "composite", "simulation": {"arms": ["MINOXIDIL", "EXOSOME"],
                                                   "relapse": "half-gain"}},
     r"nonresponders: 'composite' needs responders"),
])
def test_bad_nonresponders(tmp_path, over, msg):
    with pytest.raises(DesignError, match=msg):
        make_spec(tmp_path, design(**over), PLAN)


# --------------------------------------------------------------------------------------------
# from_trial
# --------------------------------------------------------------------------------------------
def test_trial_scenario_recovers_the_effects_of_a_simulated_trial(tmp_path):
    """A large trial simulated with known effects, written as a folder: the scenario derived
    from it has effects within Monte-Carlo error of the truth (the inversion of the simulator's
    mean curve is exact, so only the LS means' sampling error remains)."""
    truth = {"MINOXIDIL": 18.6, "EXOSOME": 28.0}
    sim = ts.simulate_trial(n_per_arm=400, arms=["MINOXIDIL", "EXOSOME"], effects=truth,
                            dropout=0.0, missed_visit=0.0, seed=41)
    sim.write(tmp_path / "pilot")
    spec = make_spec(tmp_path, design(simulation={}, scenarios=[
        {"name": "as the pilot", "from_trial": "pilot"}]), PLAN)
    sc = spec.scenarios[0]
    assert sc.from_trial == "pilot" and sc.params["arms"] == ["MINOXIDIL", "EXOSOME"]
    from trialstats.design.report import render_report

    html = render_report(ts.design.run(spec, n_replicates=1, progress=False))
    assert "estimated from trial pilot: arms = " in html
    h24, h48 = 1 - math.exp(-24 / 6), 1 - math.exp(-48 / 6)
    # SE of an LS mean at week 24: SD of the change (about 25) / sqrt(400), times h48 / h24
    se = 25.4 / math.sqrt(400) * h48 / h24
    for arm, delta in truth.items():
        assert abs(sc.params["effects"][arm] - delta) <= Z_TOL * se, arm
    # the mapping is the exact inverse of the simulator's mean curve: simulating with the derived
    # effects has, at week 24, the pilot's MMRM LS means (fitted here with the plan's defaults)
    eff = ts.load_trial(tmp_path / "pilot").efficacy("TAHC")
    eff = eff[eff["AVISITN"].between(1, 24)].copy()
    eff["AVISIT"] = eff["AVISIT"].cat.remove_unused_categories()
    lsm = ts.mmrm("CHG ~ ARM * AVISIT + BASE", eff, subject="USUBJID", visit="AVISIT",
                  covariance="us").lsmeans("ARM", by="AVISIT")
    lsm = lsm[lsm["AVISIT"].astype(str) == "WEEK 24"].set_index("ARM")["estimate"]
    for arm in truth:
        np.testing.assert_allclose(
            expected_change(24, arm, change_week48=sc.params["effects"][arm]), lsm[arm],
            rtol=1e-10)   # closed form: the inversion is algebraic


def test_trial_scenario_keeps_its_own_keys_and_arms(tmp_path):
    shutil.copytree(DATASETS / "exo-hair-301", tmp_path / "t301")
    spec = make_spec(tmp_path, design(scenarios=[
        {"name": "own", "from_trial": "t301", "effects": {"EXOSOME": 25.0}}]), PLAN)
    p = spec.scenarios[0].params
    assert p["arms"] == ["MINOXIDIL", "EXOSOME"]              # [simulation] wins over the trial's
    assert p["effects"]["EXOSOME"] == 25.0 and set(p["effects"]) == {"MINOXIDIL", "EXOSOME"}


def test_exponential_scenario_from_exo_hair_301(tmp_path):
    """Reference-arm exponential rate (closed form from the CSV) and the Cox hazard ratio,
    against lifelines' CoxPHFitter (Efron ties) on the same rows."""
    shutil.copytree(DATASETS / "exo-hair-301", tmp_path / "t301")
    spec = make_spec(tmp_path, design(simulation={}, scenarios=[
        {"name": "observed", "model": "exponential-relapse", "from_trial": "t301",
         "arms": ["MINOXIDIL", "EXOSOME"], "followup_days": 560}]),
        {"hypotheses": [{"endpoint": "cox", "arm": "EXOSOME"}]})
    p = spec.scenarios[0].params
    adtte = pd.read_csv(DATASETS / "exo-hair-301" / "adtte.csv")
    arm = pd.read_csv(DATASETS / "exo-hair-301" / "adsl.csv").set_index("USUBJID")["ARM"]
    adtte["ARM"] = adtte["USUBJID"].map(arm)
    ref = adtte[adtte["ARM"] == "MINOXIDIL"]
    np.testing.assert_allclose(p["median_reference"],
                               math.log(2) * ref["AVAL"].sum() / (ref["CNSR"] == 0).sum(),
                               rtol=1e-12)
    two = adtte[adtte["ARM"].isin(["MINOXIDIL", "EXOSOME"])]
    cph = CoxPHFitter().fit(pd.DataFrame({"T": two["AVAL"], "E": 1 - two["CNSR"],
                                          "EXO": (two["ARM"] == "EXOSOME").astype(float)}),
                            "T", "E")
    # lifelines' Newton stops at |step| < 1e-7 or so: 1e-6 relative on the hazard ratio
    np.testing.assert_allclose(p["hazard_ratio"], math.exp(cph.params_["EXO"]), rtol=1e-6)


@pytest.mark.parametrize(("scenario", "msg"), [
    ({"from_trial": "../elsewhere"}, r"scenarios\[0\]\.from_trial: '../elsewhere' resolves "
                                     r"outside the design's folder"),
    ({"from_trial": "missing"}, r"scenarios\[0\]\.from_trial: .*missing"),
    ({"model": "normal", "from_trial": "t301", "visits": [24], "mean_difference": 1, "sd": 1,
      "retention": 1}, r"model 'normal' cannot take parameters from a trial; valid: trial, "
                       r"exponential-relapse"),
])
def test_bad_from_trial(tmp_path, scenario, msg):
    shutil.copytree(DATASETS / "exo-hair-301", tmp_path / "t301")
    with pytest.raises(DesignError, match=msg):
        make_spec(tmp_path, design(scenarios=[{"name": "x", **scenario}]), PLAN)
