"""A single-visit MMRM is the linear model with t inference (R mmrm fits it; issue 12).

Reference: statsmodels OLS on the same rows (mmrm's fev_data at VIS3): with one visit every
covariance structure reduces to sigma^2 I, REML gives sigma^2 = RSS / (n - p), and the
Satterthwaite and residual df are n - p. Tolerances: estimates SAME_ALGORITHM and SEs
SAME_ALGORITHM_SE (the variance is found by the optimiser; measured 2e-13).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import statsmodels.formula.api as smf
from numpy.testing import assert_allclose
from tolerances import SAME_ALGORITHM, SAME_ALGORITHM_SE

import trialstats as ts

REF = Path(__file__).parent / "reference" / "mmrm"
FORMULA = "FEV1 ~ RACE + SEX + ARMCD + FEV1_BL"


@pytest.fixture(scope="module")
def vis3():
    levels = json.loads((REF / "levels.json").read_text())["fev_data"]
    d = pd.read_csv(REF / "fev_data.csv")
    for col in ["AVISIT", "ARMCD", "RACE", "SEX", "USUBJID"]:
        d[col] = pd.Categorical(d[col], categories=levels[col]["levels"])
    return d[d["AVISIT"] == "VIS3"].dropna(subset=["FEV1"])


@pytest.mark.parametrize("cov", ["us", "cs", "ar1h", "toep"])
@pytest.mark.parametrize("df", ["satterthwaite", "residual"])
def test_single_visit_is_ols(vis3, cov, df):
    ols = smf.ols(FORMULA, vis3).fit()
    fit = ts.mmrm(FORMULA, vis3, subject="USUBJID", visit="AVISIT", covariance=cov, df=df)
    assert fit.converged
    c = fit.coef
    assert_allclose(c["estimate"], ols.params.to_numpy(), **SAME_ALGORITHM)
    assert_allclose(c["std_error"], ols.bse.to_numpy(), **SAME_ALGORITHM_SE)
    assert_allclose(c["df"], ols.df_resid, **SAME_ALGORITHM)
    assert_allclose(c["p_value"], ols.pvalues.to_numpy(), rtol=1e-5, atol=1e-12)
    assert_allclose(c["conf_low"], ols.conf_int()[0].to_numpy(), **SAME_ALGORITHM_SE)


def test_single_time_spatial_is_refused(vis3):
    d = vis3.assign(DAY=84.0)
    with pytest.raises(ts.ModelError, match="one distinct value.*at least two times"):
        ts.mmrm(FORMULA, d, subject="USUBJID", coords="DAY", covariance="sp_exp")
