"""Multi-row F tests of ts.mmrm against R lmerTest::contest on the random-intercept (cs) model.

source: tests/reference/mmrm/ftest_cs.json, made by tests/reference/make_mmrm_ftest_reference.R
(lme4 random intercept = compound symmetry; its REMLcrit equals mmrm's cs -2LL on fev_data).
Satterthwaite: lmerTest uses the observed information as we do, so F and df are compared at the
optimiser tolerance. Kenward-Roger: lmerTest calls pbkrtest, which uses the expected
information; on this unbalanced data that moves the df and the scaled F slightly, so the
documented PBKRTEST_UNBALANCED_* tolerances apply (measured here: F up to 6.9e-5, df up to
1.5e-2 relative; Satterthwaite agrees to 5e-10).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from tolerances import OPTIMISER, PBKRTEST_UNBALANCED_DF, PBKRTEST_UNBALANCED_SE

import trialstats as ts

REF = Path(__file__).parent / "reference" / "mmrm"
CASES = json.loads((REF / "ftest_cs.json").read_text())
TESTS = list(CASES["tests"].values())


@pytest.fixture(scope="module")
def fits(fev):
    return {df: ts.mmrm("FEV1 ~ RACE + SEX + ARMCD * AVISIT", fev, subject="USUBJID",
                        visit="AVISIT", covariance="cs", df=df)
            for df in ("satterthwaite", "kenward-roger-linear")}


def _L(case, terms):
    rows = case["L"] if isinstance(case["L"], list) else [case["L"]]
    return np.array([[float(row.get(t, 0.0)) for t in terms] for row in rows])


def test_same_fit_as_lme4(fits):
    fit = fits["satterthwaite"]
    np.testing.assert_allclose(-2 * fit.loglik, CASES["REMLcrit"], rtol=0, atol=1e-6)
    beta = fit.coef.set_index("term")["estimate"]
    names = list(CASES["fixef"])
    np.testing.assert_allclose(beta[names].to_numpy(),
                               np.array([CASES["fixef"][n] for n in names]), **OPTIMISER)


@pytest.mark.parametrize("case", TESTS, ids=[c["name"] for c in TESTS])
def test_satterthwaite_f_matches_lmertest(fits, case):
    fit = fits["satterthwaite"]
    got = fit.f_test(_L(case, fit.terms)).iloc[0]
    ref = case["satterthwaite"]
    assert got["num_df"] == ref["NumDF"]
    np.testing.assert_allclose(got["statistic"], ref["F"], **OPTIMISER)
    np.testing.assert_allclose(got["den_df"], ref["DenDF"], **OPTIMISER)
    np.testing.assert_allclose(got["p_value"], ref["p_value"], **OPTIMISER)


@pytest.mark.parametrize("case", TESTS, ids=[c["name"] for c in TESTS])
def test_kenward_roger_f_matches_pbkrtest(fits, case):
    fit = fits["kenward-roger-linear"]
    got = fit.f_test(_L(case, fit.terms)).iloc[0]
    ref = case["kenward_roger"]
    assert got["num_df"] == ref["NumDF"]
    np.testing.assert_allclose(got["statistic"], ref["F"], **PBKRTEST_UNBALANCED_SE)
    np.testing.assert_allclose(got["den_df"], ref["DenDF"], **PBKRTEST_UNBALANCED_DF)
