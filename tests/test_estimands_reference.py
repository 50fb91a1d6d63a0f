"""ts.rbmi vs R rbmi 1.5.2: the 24 deterministic conditional-mean + jackknife cases.

source: tests/reference/rbmi/ad_jk_*.json, made by tests/reference/rbmi/make_rbmi_reference.R
(rbmi 1.5.2, mmrm 0.3.18, R 4.2.2); compared with ``results.tight`` (all MMRM fits converged to
|gradient| <= 9.4e-12) at the README's tolerances (tests/tolerances.py RBMI_TIGHT_*).
The R pipeline of every case (CondMean_Inference.Rmd)::

    drawObj <- draws(dat, dat_ice, vars, method_condmean(type = "jackknife", covariance = cov,
                     same_cov = same_cov))
    imputeObj <- impute(drawObj, references = c(DRUG = "PLACEBO", PLACEBO = "PLACEBO"))
    anaObj <- analyse(imputeObj, ancova, delta = delta_df, vars = set_vars(..., covariates =
                      "BASVAL"), weights = "counterfactual")
    pool(anaObj)
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from rbmi_data import FORMULA, antidepressant, delta_table, load_case
from tolerances import (
    RBMI_PRINTED_EST,
    RBMI_PRINTED_P,
    RBMI_PRINTED_SE,
    RBMI_TIGHT_EST,
    RBMI_TIGHT_P,
    RBMI_TIGHT_SE,
)

import trialstats as ts

# the reference data has one intermittent gap (subject 3618); tests/test_estimands_errors.py checks
# the warning, here it is expected
pytestmark = pytest.mark.filterwarnings("ignore:rbmi. non-monotone missingness:UserWarning")

CASES = [f"ad_jk_{c}_{s}" for c in ("us", "toep", "ar1", "usbygroup")
         for s in ("MAR", "JR", "CR", "CIR", "LMCF")] + [
    "ad_jk_us_JR_delta5_drug", "ad_jk_us_CIR_delta5_all", "ad_jk_us_CIR_deltadlag_drug",
    "ad_jk_us_MAR_delta_infoanchored_JR"]


@pytest.fixture(scope="module")
def data():
    return antidepressant()


def run_case(data, case, delta="table"):
    call = case["call"]
    return ts.rbmi(
        data, FORMULA, subject="PATIENT", visit="VISIT", group="THERAPY",
        reference=call["references"], ice=pd.DataFrame(call["data_ice"]),
        covariance=call["covariance"], same_cov=call["same_cov"], covariates=["BASVAL"],
        delta=delta_table(case) if delta == "table" else delta, engine="sequential",
    )


@pytest.fixture(scope="module")
def results(data):
    return {name: run_case(data, load_case(name)) for name in CASES}


@pytest.mark.parametrize("name", CASES)
def test_pooled_matches_rbmi_tight(results, name):
    case = load_case(name)
    pooled = results[name].pooled.set_index(["visit", "parameter"])
    for bv in case["results"]["tight"]["by_visit"]:
        for par in ("trt", "lsm_ref", "lsm_alt"):
            got = pooled.loc[(bv["visit"], par)]
            ref = bv[par]
            assert_allclose(got["estimate"], ref["est"], **RBMI_TIGHT_EST)
            assert_allclose(got["std_error"], ref["se"], **RBMI_TIGHT_SE)
            assert_allclose([got["conf_low"], got["conf_high"]], ref["ci"], **RBMI_TIGHT_EST)
            assert_allclose(got["p_value"], ref["pvalue"], **RBMI_TIGHT_P)
            assert ref["df"] is None and np.isinf(got["df"])  # jackknife: normal, no df


@pytest.mark.parametrize("name", CASES)
def test_pooled_within_optimizer_distance_of_rbmi_as_printed(results, name):
    """results.rbmi: rbmi as shipped, whose fits stop early (README section 5 tolerances)."""
    pooled = results[name].pooled.set_index(["visit", "parameter"])
    for bv in load_case(name)["results"]["rbmi"]["by_visit"]:
        for par in ("trt", "lsm_ref", "lsm_alt"):
            got, ref = pooled.loc[(bv["visit"], par)], bv[par]
            assert_allclose(got["estimate"], ref["est"], **RBMI_PRINTED_EST)
            assert_allclose(got["std_error"], ref["se"], **RBMI_PRINTED_SE)
            assert_allclose(got["p_value"], ref["pvalue"], **RBMI_PRINTED_P)


@pytest.mark.parametrize("name", CASES)
def test_imputed_values_and_full_data_analysis(results, name):
    case = load_case(name)
    mi = results[name]
    imp = pd.DataFrame(case["imputed_values_full_data"]["tight"])
    got = mi.imputed.set_index(["subject", "visit"])["imputed_value"]
    assert len(got) == len(imp) == 80
    assert_allclose(got.loc[list(zip(imp["subject"], imp["visit"], strict=True))].to_numpy(),
                    imp["imputed_value"].to_numpy(), **RBMI_TIGHT_EST)
    full = mi.full_data.set_index(["visit", "parameter"])
    for key, ref in case["full_data_analysis"]["tight"].items():
        par, visit = key.rsplit("_", 1)
        assert_allclose(full.loc[(visit, par), "estimate"], ref["est"], **RBMI_TIGHT_EST)
        assert_allclose(full.loc[(visit, par), "std_error"], ref["se"], **RBMI_TIGHT_SE)
        assert full.loc[(visit, par), "df"] == ref["df"]


@pytest.mark.parametrize("name", ["ad_jk_us_JR", "ad_jk_usbygroup_CIR", "ad_jk_toep_LMCF"])
def test_jackknife_leave_one_out_estimates(results, name):
    case = load_case(name)
    jk = case["jackknife_estimates_tight"]
    samples = results[name].samples
    subjects = list(results[name]._prep.subjects)
    order = [subjects.index(s) for s in jk["left_out_subject"]]
    for key, values in jk["estimates"].items():
        visit = key.rsplit("_", 1)[1]
        got = samples[(samples["parameter"] == "trt") & (samples["visit"] == visit)]
        assert_allclose(got["estimate"].to_numpy()[order], values, **RBMI_TIGHT_EST)


def test_imputation_model_matches_tight_fit(results):
    for name in ("ad_jk_us_MAR", "ad_jk_usbygroup_MAR", "ad_jk_ar1_MAR"):
        ref = load_case(name)["imputation_model"]["full_data_tight"]
        model = results[name].imputation_model
        got = model["beta"]
        assert sorted(got.index) == sorted(ref["design_columns"])
        for term, value in ref["beta"].items():
            assert_allclose(got[term], value, **RBMI_TIGHT_EST)
        sig = ref["sigma"]
        for g, s in sig.items():  # "all_groups" (same_cov) or one per arm
            assert_allclose(model["sigma"]["all" if g == "all_groups" else g].to_numpy(), np.array(s["values"]), **RBMI_TIGHT_SE)


def test_delta_template_reproduces_rbmi(results):
    """rbmi delta_template(delta = c(1,1,2,2), dlag = 1), zeroed for PLACEBO, and is_missing*5."""
    mi = results["ad_jk_us_CIR"]
    tmpl = mi.delta_template(delta=[1, 1, 2, 2], dlag=[1, 1, 1, 1])
    tmpl.loc[tmpl["arm"] == "PLACEBO", "delta"] = 0.0
    got = tmpl[tmpl["delta"] != 0].set_index(["subject", "visit"])["delta"]
    ref = delta_table(load_case("ad_jk_us_CIR_deltadlag_drug")).set_index(["PATIENT", "VISIT"])
    assert len(got) == len(ref) == 37
    assert_allclose(got.loc[ref.index].to_numpy(), ref["delta"].to_numpy(), rtol=0, atol=0)
    five = mi.delta_template().assign(delta=lambda d: 5.0 * d["is_missing"])
    ref5 = delta_table(load_case("ad_jk_us_CIR_delta5_all"))
    assert int((five["delta"] != 0).sum()) == len(ref5) == 80


def test_delta_template_lag_convolution():
    """rbmi's documented example: delta 5..9, dlag 1..5, ICE at visit 3 -> 0, 0, 7, 22, 46."""
    from trialstats.estimands.results import _lagged_offsets

    got = _lagged_offsets(np.array([5.0, 6, 7, 8, 9]), np.array([1.0, 2, 3, 4, 5]), 2)
    assert_allclose(got, [0, 0, 7, 22, 46], rtol=0, atol=0)


def test_information_anchored_delta_from_jr_minus_mar(data, results):
    """CondMean_Inference.Rmd section 4: delta = JR - MAR full-data imputations (held fixed)."""
    mar = results["ad_jk_us_MAR"].imputed.set_index(["subject", "visit"])["imputed_value"]
    jr = results["ad_jk_us_JR"].imputed.set_index(["subject", "visit"])["imputed_value"]
    diff = (jr - mar)
    ref = delta_table(load_case("ad_jk_us_MAR_delta_infoanchored_JR")).set_index(
        ["PATIENT", "VISIT"])["delta"]
    assert_allclose(diff.loc[ref.index].to_numpy(), ref.to_numpy(), **RBMI_TIGHT_EST)
    assert np.all(np.abs(diff.drop(ref.index)) < 1e-12)  # 3618 (MAR in both): no offset


def _ols_trt(frame):
    """A user analysis: statsmodels OLS of CHANGE on THERAPY + BASVAL at each visit (trt only)."""
    import statsmodels.api as sm

    rows = []
    for v, sub in frame.groupby("VISIT", observed=True):
        X = np.column_stack([np.ones(len(sub)), (sub["THERAPY"] == "PLACEBO").to_numpy(float),
                             sub["BASVAL"].to_numpy(float)])
        fit = sm.OLS(sub["CHANGE"].to_numpy(float), X).fit()
        rows.append(dict(visit=v, parameter="trt", estimate=fit.params[1],
                         std_error=fit.bse[1], df=fit.df_resid))
    return pd.DataFrame(rows)


def test_user_analysis_function_reproduces_rbmi(data):
    """rbmi's analyse(fun = ...) path: an OLS by statsmodels in place of the built-in ANCOVA
    gives rbmi's jackknife results (ad_jk_us_CR, tight) for trt at every visit."""
    case = load_case("ad_jk_us_CR")
    call = case["call"]
    mi = ts.rbmi(data, FORMULA, subject="PATIENT", visit="VISIT", group="THERAPY",
                 reference=call["references"], ice=pd.DataFrame(call["data_ice"]),
                 analysis=_ols_trt, engine="sequential")
    assert list(mi.pooled["parameter"]) == ["trt"] * 4
    pooled = mi.pooled.set_index("visit")
    for bv in case["results"]["tight"]["by_visit"]:
        got, ref = pooled.loc[bv["visit"]], bv["trt"]
        assert_allclose(got["estimate"], ref["est"], **RBMI_TIGHT_EST)
        assert_allclose(got["std_error"], ref["se"], **RBMI_TIGHT_SE)
        assert_allclose(got["p_value"], ref["pvalue"], **RBMI_TIGHT_P)
