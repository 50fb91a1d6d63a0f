"""The design engine against closed forms and R rpact.

Each Monte-Carlo check compares a rejection rate (or coverage) over R replicates with its
closed-form value p within DESIGN_MC_Z * sqrt(p (1 - p) / R) (tests/tolerances.py). CI uses a few
hundred replicates (fast); the same checks at 2,000 replicates are run by
benchmarks/design_agreement.py and recorded in benchmarks/README.md.

Sources: statsmodels TTestIndPower (two-sample t test); Schoenfeld (1983); R rpact 3.3.4
getSampleSizeSurvival / getPowerSurvival (tests/reference/design_rpact.json, made by
tests/reference/make_design_reference.R); Lu, Luo & Chen (2008) for the MMRM with dropout.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from design_util import TWO_VISIT_PLAN, make_spec, two_visit
from numpy.testing import assert_allclose
from scipy import stats
from tolerances import ANALYTIC, DESIGN_MC_Z, DESIGN_RPACT, DESIGN_TTEST_IDENTITY

import trialstats as ts
from trialstats.design import closed_form, models
from trialstats.design.analysis import analyse
from trialstats.design.models import covariance_matrix

REF = json.loads((Path(__file__).parent / "reference" / "design_rpact.json").read_text())
CASES = ["hr065_noacc", "hr060_acc_drop"]


def within_mc(rate: float, p: float, r: int) -> bool:
    return abs(rate - p) <= DESIGN_MC_Z * math.sqrt(p * (1 - p) / r)


# ---------------------------------------------------------------------------------------------
# closed forms vs rpact
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", CASES)
def test_schoenfeld_events_and_power_match_rpact(case):
    c = REF[case]  # source: tests/reference/design_rpact.json (rpact getSampleSizeSurvival)
    assert_allclose(closed_form.schoenfeld_events(c["hazard_ratio"], power=c["power"]),
                    c["n_events"], **DESIGN_RPACT)
    assert_allclose(closed_form.schoenfeld_power(c["hazard_ratio"], c["events_at_n_total"]),
                    c["power_at_n_total"], **DESIGN_RPACT)


@pytest.mark.parametrize("case", CASES)
def test_expected_events_of_the_exponential_model_match_rpact(case):
    c = REF[case]  # rpact: events at accrual + follow-up with 2 * n_per_arm subjects
    assert_allclose(c["analysis_time_at_n_total"], c["accrual_days"] + c["followup_days"],
                    rtol=1e-8)
    got = closed_form.expected_events(
        2 * c["n_per_arm"], median_reference=c["median_reference"],
        hazard_ratio=c["hazard_ratio"], followup_days=c["followup_days"],
        accrual_days=c["accrual_days"], dropout=c["dropout"])
    assert_allclose(got, c["events_at_n_total"], **DESIGN_RPACT)


def test_llc_variance_without_dropout_is_the_visit_variance():
    # complete data: the last-visit mean has variance sigma_J^2 / n whatever the correlation
    cov = covariance_matrix([8.0, 9.0, 12.0], 0.6, "ar1")
    assert_allclose(closed_form.llc_variance(cov, [1.0, 1.0, 1.0]), 144.0, **ANALYTIC)


def test_llc_variance_independent_visits_is_sigma2_over_completers():
    # independent visits: only completers inform the last visit, variance sigma_J^2 / r_J
    cov = np.diag([4.0, 9.0, 16.0])
    assert_allclose(closed_form.llc_variance(cov, [0.9, 0.8, 0.5]), 16.0 / 0.5, **ANALYTIC)


def test_llc_power_matches_the_published_normal_formula():
    # n = (z_{a/2} + z_b)^2 * 2 phi sigma^2 / delta^2 inverted: at that n the power is 1 - beta
    cov = covariance_matrix([10.0, 11.0, 12.0], 0.6, "cs")
    ret = [0.95, 0.85, 0.7]
    v = closed_form.llc_variance(cov, ret)
    n = (stats.norm.ppf(0.975) + stats.norm.ppf(0.8)) ** 2 * 2 * v / 6.0**2
    assert_allclose(closed_form.llc_power(6.0, cov, ret, n) - stats.norm.cdf(
        -6.0 / math.sqrt(2 * v / n) - stats.norm.ppf(0.975)), 0.8, **ANALYTIC)


# ---------------------------------------------------------------------------------------------
# simulation vs closed forms
# ---------------------------------------------------------------------------------------------
def test_mmrm_at_a_complete_visit_is_the_two_sample_t_test():
    plan = ts.report.plan.load_plan(TWO_VISIT_PLAN)
    params = {k: v for k, v in two_visit("alt", 6.0).items()
              if k not in ("name", "model", "null")}
    for seed in range(3):
        sim = models.generate("normal", params, 25, seed, plan)
        row = analyse(sim, plan, hypotheses=[("H1", "primary", "ACTIVE")])[0]
        wk = sim.efficacy[sim.efficacy["AVISIT"] == "WEEK 24"]
        t = stats.ttest_ind(wk.loc[wk["ARM"] == "ACTIVE", "CHG"],
                            wk.loc[wk["ARM"] == "CONTROL", "CHG"])
        assert_allclose(row["p_value"], t.pvalue, **DESIGN_TTEST_IDENTITY)


@pytest.fixture(scope="module")
def normal_run(tmp_path_factory):
    """Two-visit normal model: null and alternative (power about 0.7 at n = 30)."""
    design = {"seed": 11, "replicates": 200, "n_per_arm": 30, "chunk_size": 50,
              "scenarios": [two_visit("null", 0.0, null=True), two_visit("alt", 6.5)]}
    spec = make_spec(tmp_path_factory.mktemp("normal"), design, TWO_VISIT_PLAN)
    return ts.design.run(spec, progress=False)


def test_null_rejection_rate_within_mc_interval_of_alpha(normal_run):
    s = normal_run.summary.set_index("scenario").loc["null"]
    assert within_mc(s["rejection_rate"], 0.05, int(s["n_replicates"]))
    fw = normal_run.fwer.iloc[0]
    assert fw["scenario"] == "null" and within_mc(fw["fwer"], 0.05, int(fw["n_replicates"]))


def test_single_visit_power_agrees_with_ttestindpower(normal_run):
    s = normal_run.summary.set_index("scenario").loc["alt"]
    p = closed_form.ttest_power(6.5, 10.0, 30)
    assert 0.5 < p < 0.9  # the check has power to see an error here
    assert within_mc(s["rejection_rate"], p, int(s["n_replicates"]))


def test_confidence_intervals_cover_within_mc_error(normal_run):
    for _, s in normal_run.summary.iterrows():
        assert within_mc(s["coverage"], 0.95, int(s["n_converged"]))
        assert abs(s["bias"]) <= DESIGN_MC_Z * s["bias_mc_se"]


def test_cox_power_agrees_with_schoenfeld_and_rpact(tmp_path):
    c = REF["hr065_noacc"]  # source: tests/reference/design_rpact.json
    plan = {"relapse": {"strata": [], "tau": 300}, "hypotheses": [{"endpoint": "cox",
                                                                  "arm": "ACTIVE"}]}
    sc = {"name": "exp", "model": "exponential-relapse", "median_reference":
          c["median_reference"], "hazard_ratio": c["hazard_ratio"],
          "followup_days": c["followup_days"]}
    spec = make_spec(tmp_path, {"seed": 5, "replicates": 200, "n_per_arm": c["n_per_arm"],
                                "chunk_size": 50, "scenarios": [sc]}, plan)
    s = ts.design.run(spec, progress=False).summary.iloc[0]
    assert within_mc(s["rejection_rate"], c["power_at_n_total"], int(s["n_replicates"]))
    assert within_mc(s["coverage"], 0.95, int(s["n_converged"]))


def test_mmrm_power_with_dropout_agrees_with_lu_luo_chen(tmp_path):
    sd, rho, ret, delta, n = [10.0, 11.0, 12.0], 0.6, [0.95, 0.85, 0.7], 5.0, 70
    plan = {**TWO_VISIT_PLAN}
    sc = {"name": "llc", "model": "normal", "visits": [4, 12, 24],
          "mean_difference": [2.0, 3.5, delta], "sd": sd, "correlation": rho,
          "structure": "ar1", "retention": ret}
    spec = make_spec(tmp_path, {"seed": 9, "replicates": 150, "n_per_arm": n,
                                "chunk_size": 50, "scenarios": [sc]}, plan)
    s = ts.design.run(spec, progress=False).summary.iloc[0]
    p = closed_form.llc_power(delta, covariance_matrix(sd, rho, "ar1"), ret, n)
    assert 0.5 < p < 0.9
    assert within_mc(s["rejection_rate"], p, int(s["n_replicates"]))
