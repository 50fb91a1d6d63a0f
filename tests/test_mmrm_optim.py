"""ts.mmrm(start=, optimizer=): start values and optimiser choice (R mmrm start= / optimizer=).

Reference: R mmrm 0.3.18's tight refit on fev_data, us, REML
(tests/reference/mmrm/fev_us_satterthwaite.json, field tight_refit). Every optimiser must reach
it: -2 log-likelihood at MMRM_DEFAULT_LOGLIK and estimates at MMRM_DEFAULT_IN_SE (the
tolerances used for R mmrm's own default L-BFGS-B stopping rule, since the scipy optimisers stop
by their own criteria without a Newton polish).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose
from tolerances import ANALYTIC, MMRM_DEFAULT_IN_SE, MMRM_DEFAULT_LOGLIK

import trialstats as ts
from trialstats.errors import ModelError

REF = Path(__file__).parent / "reference" / "mmrm"
TIGHT = json.loads((REF / "fev_us_satterthwaite.json").read_text())["tight_refit"]
FORMULA = "FEV1 ~ RACE + SEX + ARMCD * AVISIT"


@pytest.mark.parametrize("optimizer", ["newton", "l-bfgs-b", "bfgs"])
def test_every_optimizer_reaches_r_mmrm(fev, optimizer):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a non-converged fit would warn
        fit = ts.mmrm(FORMULA, fev, subject="USUBJID", visit="AVISIT", optimizer=optimizer)
    assert fit.converged
    assert_allclose(-2 * fit.loglik, TIGHT["m2loglik"], **MMRM_DEFAULT_LOGLIK)
    ref = TIGHT["coefficients"]
    se = np.asarray(ref["std_error"])
    got = fit.coef.set_index("term").loc[ref["term"]]
    assert_allclose(got["estimate"] / se, np.asarray(ref["estimate"]) / se, **MMRM_DEFAULT_IN_SE)


def test_start_at_the_optimum_gives_the_same_fit(fev):
    fit = ts.mmrm(FORMULA, fev, subject="USUBJID", visit="AVISIT", covariance="ar1h")
    again = ts.mmrm(FORMULA, fev, subject="USUBJID", visit="AVISIT", covariance="ar1h",
                    start=fit.theta)
    assert again.converged
    assert_allclose(again.theta, fit.theta, rtol=1e-8, atol=1e-10)
    assert_allclose(again.coef["estimate"], fit.coef["estimate"], **ANALYTIC)
    # a poor start (all correlation parameters 0, SDs 1) still reaches the optimum
    far = ts.mmrm(FORMULA, fev, subject="USUBJID", visit="AVISIT", covariance="ar1h",
                  start=np.zeros(fit.n_theta))
    assert_allclose(-2 * far.loglik, -2 * fit.loglik, rtol=0, atol=1e-8)


def test_bad_start_and_optimizer_are_named(fev):
    with pytest.raises(ModelError, match="start must be 5 finite numbers.*ar1h"):
        ts.mmrm(FORMULA, fev, subject="USUBJID", visit="AVISIT", covariance="ar1h",
                start=[0.0, 1.0])
    with pytest.raises(ModelError, match="unknown optimizer 'nlminb'; valid: newton"):
        ts.mmrm(FORMULA, fev, subject="USUBJID", visit="AVISIT", optimizer="nlminb")
