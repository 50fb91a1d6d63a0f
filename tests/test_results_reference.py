"""trialstats.results against R: p.adjust, Newcombe risk differences, Table 1, interaction tests.

source: tests/reference/ard_reference.json, made by tests/reference/make_ard_reference.R
(R 4.2.2, nlme 3.1.162, emmeans 1.8.4.1; the data of the last two parts are the real-trial
fixtures in tests/data/real/, made by tests/reference/make_real_trials.R).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

import trialstats as ts
from tests.tolerances import (
    ANALYTIC,
    MMRM_LOGLIK,
    REAL_GLS_US_IN_SE,
    REAL_GLS_US_SE,
    SAME_ALGORITHM,
)

HERE = Path(__file__).parent
REF = json.loads((HERE / "reference" / "ard_reference.json").read_text())
REAL = HERE / "data" / "real"


def _arr(values):
    return np.array([np.nan if v is None else v for v in values], dtype=float)


# ------------------------------------------------------------------ multiplicity
@pytest.mark.parametrize("case", sorted(REF["adjust"]))
@pytest.mark.parametrize("method", ["holm", "hochberg", "bonferroni", "bh"])
def test_adjust_p_equals_r_p_adjust(case, method):
    ref = REF["adjust"][case]
    got = ts.adjust_p(_arr(ref["p"]), method)
    # p.adjust is arithmetic on the same p-values: closed form
    assert_allclose(got, _arr(ref[method]), equal_nan=True, **ANALYTIC)


@pytest.mark.parametrize("case", sorted(REF["adjust"]))
def test_fixed_sequence_equals_running_maximum_in_r(case):
    ref = REF["adjust"][case]
    got = ts.adjust_p(_arr(ref["p"]), "fixed-sequence")
    assert_allclose(got, _arr(ref["fixed_sequence"]), equal_nan=True, **ANALYTIC)


def test_gatekeeping_equals_r():
    ref = REF["gatekeeping"]
    got = ts.adjust_p(ref["p"], "gatekeeping", families=ref["families"], within=ref["within"])
    assert_allclose(got, ref["adjusted"], **ANALYTIC)


def test_multiplicity_adds_decisions_to_a_frame():
    ref = REF["adjust"]["five"]
    frame = pd.DataFrame({"hypothesis": list("abcde"), "p_value": ref["p"]})
    out = ts.multiplicity(frame, "holm", alpha=0.05)
    assert_allclose(out["p_adjusted"], ref["holm"], **ANALYTIC)
    assert out["rejected"].tolist() == [v <= 0.05 for v in ref["holm"]]
    assert list(frame.columns) == ["hypothesis", "p_value"]  # input left unchanged


# ------------------------------------------------------------------ risk differences
@pytest.mark.parametrize("k", range(len(REF["risk_difference"])))
def test_newcombe_risk_difference_equals_r_formula(k):
    ref = REF["risk_difference"][k]
    res = ts.risk_difference({"A": ref["x1"], "B": ref["x2"]}, {"B": ref["n2"], "A": ref["n1"]},
                             level=ref["level"])
    row = res.comparisons().iloc[0]
    assert (row["arm"], row["reference"], row["measure"]) == ("A", "B", "risk difference")
    # Wilson limits and the Newcombe combination are closed forms (quadratic roots)
    assert_allclose(row["estimate"], ref["estimate"], **ANALYTIC)
    assert_allclose([row["conf_low"], row["conf_high"]], [ref["conf_low"], ref["conf_high"]],
                    rtol=1e-9)  # statsmodels solves the Wilson quadratic in another algebraic form
    assert_allclose(row["p_value"], ref["p_value"], rtol=1e-9)
    assert_allclose(row["statistic"] ** 2, ref["chisq"], rtol=1e-9)
    assert row["level"] == ref["level"]


# ------------------------------------------------------------------ Table 1
@pytest.fixture(scope="module")
def colon_table1():
    adsl = pd.read_csv(REAL / "colon" / "adsl.csv")
    adsl["ARM"] = pd.Categorical(adsl["ARM"], categories=["OBS", "LEV", "LEV5FU"])
    return ts.describe(adsl, ["AGE", "NODES", "SEX", "DIFFER", "EXTENT"], by="ARM")


@pytest.mark.parametrize("variable", ["AGE", "NODES"])
def test_describe_continuous_equals_r(colon_table1, variable):
    for group, ref in REF["table1"]["continuous"][variable].items():
        got = colon_table1[(colon_table1["variable"] == variable)
                           & (colon_table1["group"] == group)].set_index("statistic")["value"]
        for stat, value in ref.items():
            # quantile type 7, mean and sd: the same arithmetic as R
            assert_allclose(got[stat], value, **SAME_ALGORITHM, err_msg=f"{group} {stat}")


@pytest.mark.parametrize("variable", ["SEX", "DIFFER", "EXTENT"])
def test_describe_categorical_equals_r(colon_table1, variable):
    rows = colon_table1[colon_table1["variable"] == variable]
    assert set(rows["type"]) == {"categorical"}  # DIFFER, EXTENT: ordinal codes typed by content
    for group, ref in REF["table1"]["categorical"][variable].items():
        g = rows[rows["group"] == group]
        n = g[g["statistic"] == "n"]
        assert n["category"].tolist() == ref["category"]
        assert_allclose(n["value"], ref["n"], **ANALYTIC)
        assert_allclose(g[g["statistic"] == "pct"]["value"], ref["pct"], **ANALYTIC)
        assert g[g["statistic"] == "n_missing"]["value"].item() == ref["n_missing"]


def test_describe_default_variables_skip_identifiers_and_constants():
    adsl = pd.read_csv(REAL / "colon" / "adsl.csv")
    out = ts.describe(adsl, by="ARM")
    assert list(dict.fromkeys(out["variable"])) == [
        "AGE", "SEX", "OBSTRUCT", "PERFOR", "ADHERE", "NODES", "DIFFER", "EXTENT", "SURG", "NODE4"]
    types = out.drop_duplicates("variable").set_index("variable")["type"]
    assert types["AGE"] == "continuous" and types["NODES"] == "continuous"
    assert types["DIFFER"] == "categorical" and types["OBSTRUCT"] == "categorical"


def test_describe_types_override_and_errors():
    adsl = pd.read_csv(REAL / "colon" / "adsl.csv")
    out = ts.describe(adsl, ["EXTENT"], by=None, types={"EXTENT": "continuous"})
    assert set(out["group"]) == {"Overall"} and set(out["type"]) == {"continuous"}
    with pytest.raises(ts.ModelError, match="columns not in the data: WEIGHT"):
        ts.describe(adsl, ["AGE", "WEIGHT"])
    with pytest.raises(ts.ModelError, match="types must be continuous or categorical"):
        ts.describe(adsl, ["AGE"], types={"AGE": "ordinal"})
    with pytest.raises(ts.ModelError, match="by='TRT' is not a column"):
        ts.describe(adsl, ["AGE"], by="TRT")


# ------------------------------------------------------------------ subgroup interaction
@pytest.fixture(scope="module")
def antidepressant_post():
    trial = ts.load_trial(REAL / "antidepressant")
    d = trial.efficacy("HAMD17")
    d = d[d["ABLFL"] != "Y"].reset_index(drop=True)
    d["AVISIT"] = d["AVISIT"].cat.remove_unused_categories()
    return d


def test_subgroup_interaction_wald_at_the_last_visit_equals_r(antidepressant_post):
    ref = REF["interaction"]["wald"]
    out = ts.subgroup_interaction(antidepressant_post, "SEX").iloc[0]
    assert out["visit"] == ref["visit"] and out["num_df"] == ref["num_df"]
    assert "(DRUG - PLACEBO) in M minus in F" in out["terms"]
    # F = (estimate / SE)^2 for one df; the estimate and SE agree with gls as the MMRM does
    # (REAL_GLS_US_IN_SE, tests/tolerances.py): F then to 2 x 2e-5 relative
    assert_allclose(out["statistic"], ref["F"], rtol=4e-5)
    assert np.isfinite(out["den_df"]) and out["den_df"] > 100
    assert out["n_subjects"] == 172 and out["n_excluded_rows"] == 0


def test_subgroup_interaction_contrast_equals_r(antidepressant_post):
    from trialstats.longitudinal._design import reference_grid_matrix

    ref = REF["interaction"]["wald"]
    fit = ts.mmrm("CHG ~ ARM * AVISIT + BASE + SEX * AVISIT + ARM:SEX + ARM:SEX:AVISIT",
                  antidepressant_post.assign(SEX=antidepressant_post["SEX"].astype(str)))

    def x(a, s):
        return reference_grid_matrix(fit.design, {"ARM": a, "SEX": s, "AVISIT": "WEEK 6"})

    L = (x("DRUG", "M") - x("PLACEBO", "M")) - (x("DRUG", "F") - x("PLACEBO", "F"))
    est = fit.linear_contrast(L[None, :]).iloc[0]
    se = ref["contrast_std_error"]
    assert_allclose(est["estimate"] / se, ref["contrast_estimate"] / se, **REAL_GLS_US_IN_SE)
    assert_allclose(est["std_error"], se, **REAL_GLS_US_SE)


def test_subgroup_interaction_likelihood_ratio_equals_r(antidepressant_post):
    ref = REF["interaction"]["lr"]
    out = ts.subgroup_interaction(antidepressant_post, "SEX", test="lr").iloc[0]
    assert out["num_df"] == ref["df"] and np.isinf(out["den_df"])
    assert out["terms"].split(", ") == ["ARMDRUG:SEXM", "ARMDRUG:AVISITWEEK 2:SEXM",
                                        "ARMDRUG:AVISITWEEK 4:SEXM", "ARMDRUG:AVISITWEEK 6:SEXM"]
    # both log-likelihoods within MMRM_LOGLIK of gls's: the statistic within 2 x 2 x that
    assert_allclose(out["statistic"], ref["statistic"], rtol=0, atol=4 * MMRM_LOGLIK["atol"])
    assert_allclose(out["p_value"], ref["p_value"], rtol=1e-5)


def test_subgroup_interaction_errors(antidepressant_post):
    with pytest.raises(ts.ModelError, match="test must be one of wald, lr"):
        ts.subgroup_interaction(antidepressant_post, "SEX", test="score")
    with pytest.raises(ts.ModelError, match="'RACE' is not a column"):
        ts.subgroup_interaction(antidepressant_post, "RACE")
    with pytest.raises(ts.ModelError, match="has 1 level"):
        ts.subgroup_interaction(antidepressant_post.assign(ONE="x"), "ONE")
    with pytest.raises(ts.ModelError, match="at='WEEK 9' is not a visit"):
        ts.subgroup_interaction(antidepressant_post, "SEX", at="WEEK 9")
    numeric = antidepressant_post.assign(AVISIT=antidepressant_post["AVISITN"])
    with pytest.raises(ts.ModelError, match="visit 'AVISIT' is not a factor of the model"):
        ts.subgroup_interaction(numeric, "SEX")
