"""ts.lmm (random intercept and slope models) against lme4::lmer, nlme::lme and emmeans.

Every reference number comes from tests/reference/make_lmm_counts_reference.R:
- tests/reference/lmm_sleepstudy.json: lme4::sleepstudy,
  ``lmer(Reaction ~ Days + (Days | Subject), REML = TRUE / FALSE)`` and
  ``lme(Reaction ~ Days, random = ~ Days | Subject)``;
- tests/reference/lmm_hair.json: the simulated hair-count trial (hair_counts.csv),
  ``lmer(AVAL ~ ARM * WEEK_OFF + BASE + (WEEK_OFF | USUBJID))``, ``lme(...)``,
  ``emtrends(fit, ~ ARM, var = "WEEK_OFF", lmer.df = "asymptotic")`` and
  ``contrast(., "trt.vs.ctrl", adjust = "none")``.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from tolerances import (
    BOUNDARY_RIDGE,
    LMM_FIXED,
    LMM_LOGLIK,
    LMM_NLME_FIXED,
    LMM_NLME_VARIANCE,
    LMM_SE,
    OPTIMISER,
)

import trialstats as ts
from trialstats.errors import ConvergenceWarning, ModelError

REF = Path(__file__).parent / "reference"


def _json(name: str) -> dict:
    with open(REF / name) as fh:
        return json.load(fh)


@pytest.fixture(scope="module")
def sleep_ref():
    return _json("lmm_sleepstudy.json")


@pytest.fixture(scope="module")
def sleep_data():
    return pd.read_csv(REF / "lmm_sleepstudy.csv")


@pytest.fixture(scope="module")
def sleep_reml(sleep_data):
    return ts.lmm("Reaction ~ Days", sleep_data, groups="Subject", re_formula="~Days")


@pytest.fixture(scope="module")
def hair_ref():
    return _json("lmm_hair.json")


@pytest.fixture(scope="module")
def hair_data(hair_ref):
    d = pd.read_csv(REF / "hair_counts.csv")
    # PLACEBO is the reference although it is not first alphabetically (R: factor(levels = ...))
    d["ARM"] = pd.Categorical(d["ARM"], categories=hair_ref["arm_levels"])
    return d


@pytest.fixture(scope="module")
def hair_fit(hair_data):
    return ts.lmm(
        "AVAL ~ ARM * WEEK_OFF + BASE", hair_data, groups="USUBJID", re_formula="~WEEK_OFF"
    )


def _check_against_lmer(fit, ref):
    assert list(fit.coef["term"]) == ref["terms"]
    assert_allclose(fit.coef["estimate"], ref["estimate"], **LMM_FIXED)
    assert_allclose(fit.coef["std_error"], ref["std_error"], **LMM_SE)
    assert_allclose(fit.vcov.to_numpy(), np.array(ref["vcov"]), **LMM_SE)
    re = fit.random_effects_cov
    assert list(re["term1"]) == ref["re_var1"]
    assert list(re["term2"]) == ref["re_var2"]
    assert_allclose(re["covariance"], ref["re_covariance"], **OPTIMISER)
    assert_allclose(re["correlation"], ref["re_correlation"], **OPTIMISER)
    assert_allclose(fit.residual_variance, ref["residual_variance"], **OPTIMISER)
    assert_allclose(fit.loglik, ref["loglik"], **LMM_LOGLIK)
    assert_allclose(fit.aic, ref["aic"], **LMM_LOGLIK)
    assert_allclose(fit.bic, ref["bic"], **LMM_LOGLIK)
    assert fit.n_obs == ref["n_obs"]
    assert fit.n_subjects == ref["n_subjects"]
    assert fit.converged


def test_sleepstudy_reml_matches_lmer(sleep_reml, sleep_ref):
    # source: tests/reference/lmm_sleepstudy.json ["reml"], lme4 1.1-31
    _check_against_lmer(sleep_reml, sleep_ref["reml"])


def test_sleepstudy_ml_matches_lmer(sleep_data, sleep_ref):
    # source: tests/reference/lmm_sleepstudy.json ["ml"] (lmer REML = FALSE)
    fit = ts.lmm("Reaction ~ Days", sleep_data, groups="Subject", re_formula="~Days", method="ml")
    _check_against_lmer(fit, sleep_ref["ml"])


def test_sleepstudy_reml_matches_nlme(sleep_reml, sleep_ref):
    # source: tests/reference/lmm_sleepstudy.json ["lme"] (nlme 3.1-162); looser: nlme stops short
    ref = sleep_ref["lme"]
    assert_allclose(sleep_reml.coef["estimate"], ref["estimate"], **LMM_NLME_FIXED)
    assert_allclose(sleep_reml.coef["std_error"], ref["std_error"], **LMM_NLME_FIXED)
    mat = sleep_reml.random_effects_cov_matrix
    assert list(mat.columns) == ref["re_names"]
    assert_allclose(mat.to_numpy(), np.array(ref["re_covariance_matrix"]), **LMM_NLME_VARIANCE)
    assert_allclose(sleep_reml.residual_variance, ref["residual_variance"], **LMM_NLME_VARIANCE)
    assert_allclose(sleep_reml.loglik, ref["loglik"], **LMM_LOGLIK)


def test_hair_reml_matches_lmer(hair_fit, hair_ref):
    # source: tests/reference/lmm_hair.json ["reml"]: unbalanced, missing visits, 3 arms
    _check_against_lmer(hair_fit, hair_ref["reml"])


def test_hair_reml_matches_nlme(hair_fit, hair_ref):
    # source: tests/reference/lmm_hair.json ["lme"]
    ref = hair_ref["lme"]
    assert_allclose(hair_fit.coef["estimate"], ref["estimate"], **LMM_NLME_FIXED)
    assert_allclose(hair_fit.coef["std_error"], ref["std_error"], **LMM_NLME_FIXED)
    assert_allclose(
        hair_fit.random_effects_cov_matrix.to_numpy(),
        np.array(ref["re_covariance_matrix"]),
        **LMM_NLME_VARIANCE,
    )
    assert hair_fit.n_obs == ref["n_obs"]


def test_hair_slopes_match_emtrends(hair_fit, hair_ref):
    # source: tests/reference/lmm_hair.json ["slopes"], emmeans 1.8.4-1 emtrends, asymptotic df
    s = hair_fit.slopes(arm="ARM", time="WEEK_OFF")
    ref = hair_ref["slopes"]
    assert list(s.per_arm["ARM"]) == ref["arm"]
    for col in ("estimate", "conf_low", "conf_high"):
        assert_allclose(s.per_arm[col], ref[col], **LMM_FIXED)
    for col in ("std_error", "statistic", "p_value"):
        assert_allclose(s.per_arm[col], ref[col], **LMM_SE)
    assert np.isinf(s.per_arm["df"]).all()


def test_hair_slope_differences_match_emmeans_contrast(hair_fit, hair_ref):
    # source: tests/reference/lmm_hair.json ["slope_differences"] (trt.vs.ctrl, adjust = "none")
    d = hair_fit.slopes(arm="ARM", time="WEEK_OFF").difference
    ref = hair_ref["slope_differences"]
    assert list(d["contrast"]) == ref["contrast"]
    for col in ("estimate", "conf_low", "conf_high"):
        assert_allclose(d[col], ref[col], **LMM_FIXED)
    for col in ("std_error", "statistic", "p_value"):
        assert_allclose(d[col], ref[col], **LMM_SE)


def test_slopes_level_changes_interval_width(hair_fit, hair_ref):
    # source: lmm_hair.json (95 % limits); a 90 % interval is narrower by z(.95)/z(.975)
    s90 = hair_fit.slopes(level=0.90).per_arm
    ref = hair_ref["slopes"]
    half95 = (np.array(ref["conf_high"]) - np.array(ref["conf_low"])) / 2
    half90 = (s90["conf_high"] - s90["conf_low"]).to_numpy() / 2
    assert_allclose(half90 / half95, 1.6448536269514722 / 1.959963984540054, **LMM_SE)


def test_singular_fit_reaches_lmer_optimum_and_warns():
    # source: tests/reference/lmm_singular.json (lmer isSingular TRUE: slope correlation +1).
    # BFGS stops short at this boundary; the Nelder-Mead / Powell fallbacks reach lme4's optimum.
    # On the boundary ridge both optimisers stop on a flat surface: SEs are compared with
    # OPTIMISER, variance components with BOUNDARY_RIDGE (observed 1.4e-4), and trialstats'
    # REML log-likelihood must be at least lme4's (it is 2e-7 higher).
    ref = _json("lmm_singular.json")
    assert ref["is_singular"] is True
    d = pd.read_csv(REF / "lmm_singular.csv")
    with pytest.warns(ConvergenceWarning, match=r"boundary \(singular\) fit"):
        fit = ts.lmm("Y ~ T", d, groups="ID", re_formula="~T")
    r = ref["reml"]
    assert fit.converged
    assert_allclose(fit.coef["estimate"], r["estimate"], **LMM_FIXED)
    assert_allclose(fit.coef["std_error"], r["std_error"], **OPTIMISER)
    assert_allclose(fit.random_effects_cov["covariance"], r["re_covariance"], **BOUNDARY_RIDGE)
    assert_allclose(fit.random_effects_cov["correlation"], r["re_correlation"], **OPTIMISER)
    assert_allclose(fit.residual_variance, r["residual_variance"], **BOUNDARY_RIDGE)
    assert_allclose(fit.loglik, r["loglik"], **LMM_LOGLIK)
    assert fit.loglik >= r["loglik"] - 1e-9


def test_hessian_vcov_is_statsmodels_observed_information(hair_data, hair_fit, hair_ref):
    # vcov="hessian" is statsmodels' bse_fe; on these unbalanced data it differs from lme4's
    # (X'V^-1 X)^-1 (lmm_hair.json) by 0.01-0.2 %, more than LMM_SE, while the estimates agree.
    fit = ts.lmm("AVAL ~ ARM * WEEK_OFF + BASE", hair_data, re_formula="~WEEK_OFF", vcov="hessian")
    ref = hair_ref["reml"]
    assert_allclose(fit.coef["estimate"], ref["estimate"], **LMM_FIXED)
    rel = np.abs(fit.coef["std_error"].to_numpy() / np.array(ref["std_error"]) - 1)
    assert rel.max() > LMM_SE["rtol"]
    assert rel.max() < 5e-3


def test_exclusions_counted_with_reason(hair_fit, hair_ref):
    # R drops the same rows (na.omit): 325 CSV rows, 317 used (lmm_hair.json). The R script set
    # AVAL missing in R rows 7, 40, 101 (pandas rows 6, 39, 100) and BASE missing for EXO-0005.
    excl = hair_fit.exclusions
    assert len(excl) == hair_ref["n_rows_csv"] - hair_ref["reml"]["n_obs"]
    aval = excl.loc[excl["reason"] == "missing AVAL", "row"].tolist()
    assert aval == [6, 39, 100]
    base = excl.loc[excl["reason"] == "missing BASE"]
    assert set(base["USUBJID"]) == {"EXO-0005"}
    assert list(excl.columns) == ["row", "USUBJID", "reason"]


def test_result_is_frozen_and_prints(hair_fit):
    with pytest.raises(dataclasses.FrozenInstanceError):
        hair_fit.loglik = 0.0
    r = repr(hair_fit)
    assert "\n" not in r
    assert r.startswith("<LMMResult:") and "317 obs / 71 subjects" in r and "REML" in r
    text = str(hair_fit.summary())
    assert "ARMEXOSOME:WEEK_OFF" in text and "missing BASE" in text and "z (df = inf)" in text
    html = hair_fit.summary()._repr_html_()
    assert "<table" in html and "ARMMINOXIDIL" in html
    assert list(hair_fit.coef.columns) == [
        "term",
        "estimate",
        "std_error",
        "df",
        "statistic",
        "p_value",
        "conf_low",
        "conf_high",
    ]
    s = hair_fit.slopes()
    assert "\n" not in repr(s) and "PLACEBO" in repr(s)
    assert "<table" in s._repr_html_()


def test_available_as_public_name():
    from trialstats.longitudinal.lmm import lmm

    assert ts.lmm is lmm


# ----------------------------------------------------------------------------- errors
def test_missing_column_named_with_available(hair_data):
    with pytest.raises(ModelError, match=r"'BASEX'.*available columns: USUBJID, ARM"):
        ts.lmm("AVAL ~ ARM * WEEK_OFF + BASEX", hair_data, re_formula="~WEEK_OFF")


def test_missing_random_effect_column(hair_data):
    with pytest.raises(
        ModelError,
        match=r"re_formula '~WEEK' names column 'WEEK' not in the data; available columns",
    ):
        ts.lmm("AVAL ~ ARM * WEEK_OFF", hair_data, re_formula="~WEEK")


def test_missing_groups_column(hair_data):
    with pytest.raises(ModelError, match=r"'SUBJ'.*available columns"):
        ts.lmm("AVAL ~ ARM * WEEK_OFF", hair_data, groups="SUBJ", re_formula="~WEEK_OFF")


def test_unknown_method_lists_valid(hair_data):
    with pytest.raises(ModelError, match=r"method='bayes' is not valid; use one of reml, ml"):
        ts.lmm("AVAL ~ ARM", hair_data, re_formula="~WEEK_OFF", method="bayes")


def test_unknown_vcov_lists_valid(hair_data):
    with pytest.raises(ModelError, match=r"vcov='robust'.*model, hessian"):
        ts.lmm("AVAL ~ ARM", hair_data, re_formula="~WEEK_OFF", vcov="robust")


def test_all_missing_outcome(hair_data):
    d = hair_data.assign(AVAL=np.nan)
    with pytest.raises(ModelError, match=r"outcome column 'AVAL' is missing in all 325 rows"):
        ts.lmm("AVAL ~ ARM * WEEK_OFF", d, re_formula="~WEEK_OFF")


def test_fewer_than_two_groups(hair_data):
    one = hair_data[hair_data["USUBJID"] == "EXO-0001"]
    with pytest.raises(ModelError, match=r"at least 2 levels of groups='USUBJID'.*have 1"):
        ts.lmm("AVAL ~ WEEK_OFF", one, re_formula="~WEEK_OFF")


def test_re_formula_must_be_one_sided(hair_data):
    with pytest.raises(ModelError, match=r"re_formula must be one-sided"):
        ts.lmm("AVAL ~ WEEK_OFF", hair_data, re_formula="WEEK_OFF")


def test_bad_level(hair_data):
    with pytest.raises(ModelError, match=r"level must be strictly between 0 and 1"):
        ts.lmm("AVAL ~ WEEK_OFF", hair_data, re_formula="~WEEK_OFF", level=95)


def test_slopes_arm_not_a_factor(hair_fit):
    with pytest.raises(ModelError, match=r"arm='SEX' is not a factor.*factors: ARM"):
        hair_fit.slopes(arm="SEX")


def test_slopes_time_not_numeric_covariate(hair_fit):
    with pytest.raises(ModelError, match=r"time='WEEK'.*numeric covariates: WEEK_OFF, BASE"):
        hair_fit.slopes(time="WEEK")


def test_slopes_refuse_nonlinear_time(hair_data):
    fit = ts.lmm("AVAL ~ ARM * WEEK_OFF + I(WEEK_OFF ** 2)", hair_data, re_formula="~1")
    with pytest.raises(ModelError, match=r"not linear in 'WEEK_OFF'"):
        fit.slopes()


def test_row_order_does_not_matter(hair_data, hair_ref):
    # rows shuffled (subjects no longer contiguous): same fit as lme4's on the sorted CSV
    # source: tests/reference/lmm_hair.json ["reml"]
    shuffled = hair_data.sample(frac=1.0, random_state=np.random.RandomState(11))
    fit = ts.lmm("AVAL ~ ARM * WEEK_OFF + BASE", shuffled, re_formula="~WEEK_OFF")
    ref = hair_ref["reml"]
    assert_allclose(fit.coef["estimate"], ref["estimate"], **LMM_FIXED)
    assert_allclose(fit.coef["std_error"], ref["std_error"], **LMM_SE)
    assert_allclose(fit.random_effects_cov["covariance"], ref["re_covariance"], **OPTIMISER)
