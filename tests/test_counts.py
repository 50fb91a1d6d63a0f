"""ts.count_model (GEE for hair counts) against geepack::geeglm, glm + sandwich::vcovCL and MASS.

Every reference number comes from tests/reference/make_lmm_counts_reference.R:
- tests/reference/counts_epil.json: MASS::epil (counts_epil.csv),
  ``geeglm(y ~ trt * lbase + lage + V4, poisson, id = subject, waves = period, corstr = ...)``
  with ``geese.control(epsilon = 1e-10)``, and ``vcovCL(glm(...), cluster = ~subject, "HC0",
  cadjust = FALSE)``;
- tests/reference/counts_hair.json: the simulated hair-count trial (hair_counts.csv), Poisson
  geeglm fits, ``MASS::glm.nb`` for theta, and the negative-binomial GEE with independence
  working correlation as ``glm(negative.binomial(theta))`` + ``vcovCL``.

Both sides solve the same estimating equations with the same moment estimators of the working
correlation (geepack's), each iterated to a relative score of about 1e-10, so estimates are
compared with SAME_ALGORITHM and robust SEs with SAME_ALGORITHM_SE (observed differences: at most
3e-8 and 6e-9).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from tolerances import OPTIMISER, SAME_ALGORITHM, SAME_ALGORITHM_SE

import trialstats as ts
from trialstats.errors import ModelError

REF = Path(__file__).parent / "reference"
EPIL_FORMULA = "y ~ trt * lbase + lage + V4"
HAIR_FORMULA = "AVAL ~ ARM * WEEK_OFF + LOGBASE"


def _json(name: str) -> dict:
    with open(REF / name) as fh:
        return json.load(fh)


@pytest.fixture(scope="module")
def epil_ref():
    return _json("counts_epil.json")


@pytest.fixture(scope="module")
def epil():
    return pd.read_csv(REF / "counts_epil.csv")


@pytest.fixture(scope="module")
def hair_ref():
    return _json("counts_hair.json")


@pytest.fixture(scope="module")
def hair(hair_ref):
    d = pd.read_csv(REF / "hair_counts.csv")
    d["ARM"] = pd.Categorical(d["ARM"], categories=hair_ref["arm_levels"])
    return d


def _check(fit, ref, *, dispersion=True):
    assert list(fit.coef["term"]) == ref["terms"]
    assert_allclose(fit.coef["estimate"], ref["estimate"], **SAME_ALGORITHM)
    assert_allclose(fit.coef["std_error"], ref["std_error"], **SAME_ALGORITHM_SE)
    if "correlation_parameter" in ref:
        if ref["correlation_parameter"] == []:  # independence: R gives no parameter
            assert fit.correlation_parameter is None
        else:
            assert_allclose(
                fit.correlation_parameter, ref["correlation_parameter"], **SAME_ALGORITHM
            )
    if dispersion and "scale" in ref:
        assert_allclose(fit.dispersion, ref["scale"], **SAME_ALGORITHM)
    if "n_subjects" in ref:
        assert fit.n_subjects == ref["n_subjects"]
    assert fit.n_obs == ref["n_obs"]
    assert fit.converged


@pytest.mark.parametrize("correlation", ["independence", "exchangeable", "ar1"])
def test_epil_poisson_matches_geeglm(epil, epil_ref, correlation):
    # source: tests/reference/counts_epil.json [correlation], geepack 1.3.9
    fit = ts.count_model(
        EPIL_FORMULA, epil, groups="subject", correlation=correlation, time="period"
    )
    _check(fit, epil_ref[correlation])


def test_epil_independence_matches_glm_vcovcl(epil, epil_ref):
    # source: tests/reference/counts_epil.json ["glm_vcovCL"], sandwich 3.0-2 (HC0, no cadjust)
    fit = ts.count_model(EPIL_FORMULA, epil, groups="subject", correlation="independence")
    _check(fit, {**epil_ref["glm_vcovCL"], "n_obs": 236})


@pytest.mark.parametrize("correlation", ["independence", "exchangeable", "ar1"])
def test_hair_poisson_matches_geeglm(hair, hair_ref, correlation):
    # source: tests/reference/counts_hair.json ["poisson_" + correlation]; AR(1) over VISITNUM
    # with missed visits (geepack waves): the correlation of visits 2 and 4 is alpha^2
    fit = ts.count_model(HAIR_FORMULA, hair, correlation=correlation, time="VISITNUM")
    _check(fit, hair_ref[f"poisson_{correlation}"])


def test_hair_ar1_does_not_depend_on_row_order(hair):
    # the AR(1) lag comes from `time`, not from row positions: shuffled rows, same fit
    fit = ts.count_model(HAIR_FORMULA, hair, correlation="ar1", time="VISITNUM")
    shuffled = hair.sample(frac=1.0, random_state=np.random.RandomState(7))
    fit2 = ts.count_model(HAIR_FORMULA, shuffled, correlation="ar1", time="VISITNUM")
    assert_allclose(fit2.coef["estimate"], fit.coef["estimate"], **SAME_ALGORITHM)
    assert_allclose(fit2.coef["std_error"], fit.coef["std_error"], **SAME_ALGORITHM_SE)


def test_negative_binomial_alpha_matches_glm_nb(hair, hair_ref):
    # source: tests/reference/counts_hair.json ["nb_alpha"] = 1 / MASS::glm.nb(...)$theta;
    # maximum likelihood by two optimisers -> OPTIMISER
    fit = ts.count_model(HAIR_FORMULA, hair, family="negative-binomial", correlation="independence")
    assert_allclose(fit.alpha, hair_ref["nb_alpha"], **OPTIMISER)
    assert fit.alpha_source.startswith("maximum likelihood")
    # with alpha estimated (not copied from R), the independence NB GEE is the glm + vcovCL fit
    # source: counts_hair.json ["negbin_independence"]
    _check(fit, hair_ref["negbin_independence"])


def test_negative_binomial_given_alpha(hair, hair_ref):
    # alpha fixed at R's 1/theta: the same glm(negative.binomial(theta)) + vcovCL reference
    fit = ts.count_model(
        HAIR_FORMULA,
        hair,
        family="negative-binomial",
        correlation="independence",
        alpha=hair_ref["nb_alpha"],
    )
    assert fit.alpha_source == "given"
    _check(fit, hair_ref["negbin_independence"])


def test_rate_ratios_are_exponentiated_coefficients(epil, epil_ref):
    # source: counts_epil.json ["exchangeable"]: exp of R's estimates and z intervals
    fit = ts.count_model(EPIL_FORMULA, epil, groups="subject", correlation="exchangeable")
    ref = epil_ref["exchangeable"]
    rr = fit.rate_ratios
    assert list(rr.columns) == ["term", "rate_ratio", "conf_low", "conf_high"]
    assert list(rr["term"]) == ref["terms"][1:]
    est, se = np.array(ref["estimate"][1:]), np.array(ref["std_error"][1:])
    z = 1.959963984540054
    assert_allclose(rr["rate_ratio"], np.exp(est), **SAME_ALGORITHM)
    assert_allclose(rr["conf_low"], np.exp(est - z * se), **SAME_ALGORITHM_SE)
    assert_allclose(rr["conf_high"], np.exp(est + z * se), **SAME_ALGORITHM_SE)
    assert np.isinf(fit.coef["df"]).all()


def test_exclusions_counted(hair, hair_ref):
    # R's na.omit leaves 317 of the 325 CSV rows (counts_hair.json n_obs); the R script blanked
    # AVAL in pandas rows 6, 39, 100 and BASE (hence LOGBASE) for subject EXO-0005
    fit = ts.count_model(HAIR_FORMULA, hair, correlation="independence")
    excl = fit.exclusions
    assert len(excl) == 325 - hair_ref["poisson_independence"]["n_obs"]
    assert excl.loc[excl["reason"] == "missing AVAL", "row"].tolist() == [6, 39, 100]
    assert set(excl.loc[excl["reason"] == "missing LOGBASE", "USUBJID"]) == {"EXO-0005"}


def test_result_is_frozen_and_prints(hair):
    fit = ts.count_model(HAIR_FORMULA, hair, family="negative-binomial", correlation="exchangeable")
    with pytest.raises(dataclasses.FrozenInstanceError):
        fit.alpha = 1.0
    r = repr(fit)
    assert "\n" not in r
    assert r.startswith("<CountModelResult: GEE negative-binomial, exchangeable")
    text = str(fit.summary())
    assert "alpha (NB dispersion)" in text and "rate ratios" in text and "missing AVAL" in text
    assert "<table" in fit._repr_html_()


def test_available_as_public_name():
    from trialstats.longitudinal.counts import count_model

    assert ts.count_model is count_model


# ----------------------------------------------------------------------------- errors
def test_unknown_family_lists_valid(hair):
    with pytest.raises(
        ModelError, match=r"family='gamma' is not valid; use one of poisson, negative-binomial"
    ):
        ts.count_model(HAIR_FORMULA, hair, family="gamma")


def test_unknown_correlation_lists_valid(hair):
    with pytest.raises(
        ModelError, match=r"correlation='unstructured'.*exchangeable, ar1, independence"
    ):
        ts.count_model(HAIR_FORMULA, hair, correlation="unstructured")


def test_ar1_needs_time(hair):
    with pytest.raises(ModelError, match=r"correlation='ar1' needs time="):
        ts.count_model(HAIR_FORMULA, hair, correlation="ar1")


def test_missing_column_named_with_available(hair):
    with pytest.raises(ModelError, match=r"'LOGBAS'.*available columns: USUBJID, ARM"):
        ts.count_model("AVAL ~ ARM + LOGBAS", hair)


def test_negative_counts_rows_listed(hair):
    d = hair.copy()
    d.loc[[3, 10], "AVAL"] = -1
    with pytest.raises(ModelError, match=r"must be counts.*negative in rows 3 \(EXO-0001\), 10 \("):
        ts.count_model(HAIR_FORMULA, d)


def test_non_integer_counts_rows_listed(hair):
    d = hair.copy()
    d["AVAL"] = d["AVAL"].astype(float)
    d.loc[12, "AVAL"] = 150.5
    with pytest.raises(ModelError, match=r"not whole numbers in rows 12 \(EXO-0003\)"):
        ts.count_model(HAIR_FORMULA, d)


def test_all_missing_outcome(hair):
    with pytest.raises(ModelError, match=r"outcome column 'AVAL' is missing in all 325 rows"):
        ts.count_model(HAIR_FORMULA, hair.assign(AVAL=np.nan))


def test_fewer_than_two_groups(hair):
    one = hair[hair["USUBJID"] == "EXO-0001"]
    with pytest.raises(ModelError, match=r"at least 2 levels of groups='USUBJID'.*have 1"):
        ts.count_model("AVAL ~ WEEK_OFF", one)


def test_duplicate_times_within_subject(hair):
    d = pd.concat([hair, hair.iloc[[0]]], ignore_index=True)
    with pytest.raises(
        ModelError, match=r"time points must be unique per subject.*rows 0 \(EXO-0001\)"
    ):
        ts.count_model(HAIR_FORMULA, d, correlation="ar1", time="VISITNUM")


def test_alpha_only_for_negative_binomial(hair):
    with pytest.raises(ModelError, match=r"alpha= applies only to family='negative-binomial'"):
        ts.count_model(HAIR_FORMULA, hair, alpha=0.1)


def test_alpha_must_be_positive(hair):
    with pytest.raises(ModelError, match=r"alpha must be a positive number; got -0.1"):
        ts.count_model(HAIR_FORMULA, hair, family="negative-binomial", alpha=-0.1)


def test_missing_time_column_named(hair):
    with pytest.raises(ModelError, match=r"time='AVISITN' names column 'AVISITN' not in the data"):
        ts.count_model(HAIR_FORMULA, hair, correlation="ar1", time="AVISITN")
