"""ts.mmrm(weights=): SAS WEIGHT / R mmrm semantics, against R nlme::gls.

Source of the reference numbers: tests/reference/mmrm/gls_weights_exo_{us,ar1h}.json, made by
tests/reference/make_mmrm_weights_reference.R (R 4.2.2, nlme 3.1.162) on
tests/reference/mmrm/gls_weights_exo.csv (exo-hair-301 TAHC change at weeks 4/12/24 with a weight
column W that varies between and within subjects). In R::

    gls(CHG ~ ARM * AVISIT + BASE, data = d, method = "REML",
        correlation = corSymm(form = ~ K | USUBJID),            # ar1h: corAR1(form = ~ K | USUBJID)
        weights = varComb(varIdent(form = ~ 1 | AVISIT), varFixed(~ INVW)))   # INVW = 1 / W

i.e. subject i's covariance is W_i^-1/2 Sigma W_i^-1/2, the semantics of SAS PROC MIXED's WEIGHT
statement and R mmrm's ``weights``. Sigma (at weight 1) is recovered in R from a complete subject's
``getVarCov`` scaled back by sqrt(w). Tolerances: the MMRM_TIGHT family, as for the unweighted
gls references (test_mmrm_gls_reference.py documents nlme's agreement with mmrm's tight refits);
-2 log-likelihood: nlme's logLik includes the weights' -sum(log w) term, as ts.mmrm's does.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from pandas.testing import assert_frame_equal
from tolerances import MMRM_LOGLIK, MMRM_TIGHT, MMRM_TIGHT_IN_SE, MMRM_VCOV_SCALED, OPTIMISER

import trialstats as ts

REF = Path(__file__).parent / "reference" / "mmrm"
FORMULA = "CHG ~ ARM * AVISIT + BASE"


def _ref(cov: str) -> dict:
    return json.loads((REF / f"gls_weights_exo_{cov}.json").read_text())


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    ref = _ref("us")
    d = pd.read_csv(REF / "gls_weights_exo.csv", dtype={"USUBJID": str})
    d["ARM"] = pd.Categorical(d["ARM"], categories=ref["arm_levels"])
    d["AVISIT"] = pd.Categorical(d["AVISIT"], categories=ref["visit_levels"])
    return d


def _scaled(m: np.ndarray, ref: np.ndarray) -> np.ndarray:
    d = 1.0 / np.sqrt(np.diag(ref))
    return d[:, None] * m * d[None, :]


@pytest.mark.parametrize("cov", ["us", "ar1h"])
def test_weighted_fit_matches_nlme_gls(data, cov):
    ref = _ref(cov)
    fit = ts.mmrm(FORMULA, data, subject="USUBJID", visit="AVISIT", covariance=cov,
                  weights="W")
    assert fit.converged
    assert list(fit.terms) == ref["terms"]
    se_ref = np.asarray(ref["std_error"])
    coef = fit.coef
    assert_allclose(coef["estimate"] / se_ref, np.asarray(ref["estimate"]) / se_ref,
                    **MMRM_TIGHT_IN_SE)
    assert_allclose(coef["std_error"], se_ref, **MMRM_TIGHT)
    V_ref = np.asarray(ref["vcov"])
    assert_allclose(_scaled(fit.vcov_model.to_numpy(), V_ref), _scaled(V_ref, V_ref),
                    **MMRM_VCOV_SCALED)
    assert_allclose(-2 * fit.loglik, ref["m2loglik"], rtol=0, **MMRM_LOGLIK)
    S_ref = np.asarray(ref["sigma"])
    assert_allclose(_scaled(fit.covariance.to_numpy(), S_ref), _scaled(S_ref, S_ref),
                    **MMRM_VCOV_SCALED)
    assert "weights W" in str(fit.summary())


def test_constant_weights_rescale_sigma_only(data):
    # closed form: w = c for every row is the same model for the data (V_i = Sigma / c), so
    # the same beta, SEs and likelihood, with Sigma multiplied by c
    c = 4.0
    base = ts.mmrm(FORMULA, data, subject="USUBJID", visit="AVISIT")
    d = data.assign(W=c)
    fit = ts.mmrm(FORMULA, d, subject="USUBJID", visit="AVISIT", weights="W")
    assert_allclose(fit.coef["estimate"], base.coef["estimate"], **OPTIMISER)
    assert_allclose(fit.coef["std_error"], base.coef["std_error"], **OPTIMISER)
    assert_allclose(fit.covariance.to_numpy() / c, base.covariance.to_numpy(), **OPTIMISER)
    assert_allclose(-2 * fit.loglik, -2 * base.loglik, rtol=0, **MMRM_LOGLIK)


def test_weighted_refits_equal_fresh_fits(data):
    fit = ts.mmrm(FORMULA, data, subject="USUBJID", visit="AVISIT", weights="W")
    prob = fit.problem()
    subjects = np.random.default_rng(5).integers(0, prob.n_subjects, prob.n_subjects)
    frame = fit.design.frame
    parts = []
    for j, k in enumerate(subjects):
        part = frame[prob.subject_index == k].copy()
        part["USUBJID"] = f"copy{j}"
        parts.append(part)
    fresh = ts.mmrm(FORMULA, pd.concat(parts), subject="USUBJID", visit="AVISIT", weights="W")
    refit = fit.refit(subjects=subjects)
    assert_array_equal(refit.theta, fresh.theta)
    assert_frame_equal(refit.coef, fresh.coef)
    assert refit.loglik == fresh.loglik
    y = fit.design.y + np.random.default_rng(6).normal(0, 3, fit.n_obs)
    fresh_y = ts.mmrm(FORMULA, frame.assign(CHG=y), subject="USUBJID", visit="AVISIT",
                      weights="W")
    est = prob.fit(y)
    assert_array_equal(est.beta, fresh_y.inference.beta)
    assert est.m2loglik == -2 * fresh_y.loglik


def test_bad_weights(data):
    with pytest.raises(ts.ModelError, match="positive and finite"):
        ts.mmrm(FORMULA, data.assign(W=np.where(np.arange(len(data)) == 3, -1.0, 1.0)),
                weights="W")
    with pytest.raises(ts.ModelError, match="must be numeric"):
        ts.mmrm(FORMULA, data.assign(W="a"), weights="W")
    with pytest.raises(ts.ModelError, match="not in the data"):
        ts.mmrm(FORMULA, data, weights="NOPE")
    missing = data.assign(W=np.where(np.arange(len(data)) < 2, np.nan, 1.0))
    fit = ts.mmrm(FORMULA, missing, weights="W")
    assert fit.n_obs == len(data) - 2
    assert "missing W" in set(fit.exclusions["reason"])
