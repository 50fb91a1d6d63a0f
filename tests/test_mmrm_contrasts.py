"""ts.mmrm(contrasts=...): R's ``contrasts = list(ARMCD = "contr.sum")`` per factor.

A change of coding is a reparameterisation X -> X T of the fixed effects (T invertible, block
diagonal per factor): the fitted means, the covariance estimate, LS means and differences between
levels cannot change, only the coefficients (and, for REML, the log-likelihood by log|det T|).
Those invariances are checked here against the treatment-coded fit, whose numbers are checked
against R mmrm in tests/test_mmrm_reference.py. The coefficients, names and type III tests under
each coding are compared with R mmrm 0.3.18 itself in tests/test_mmrm_r_suite.py (cases
``contrasts_*``, tests/reference/mmrm_suite.json).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from formulaic.transforms import contrasts as fc
from numpy.testing import assert_allclose
from tolerances import REPARAMETERISED

import trialstats as ts
from trialstats.errors import ModelError

FORMULA = "FEV1 ~ RACE + SEX + ARMCD * AVISIT"


def _fit(fev, **kw):
    return ts.mmrm(FORMULA, fev, subject="USUBJID", visit="AVISIT", **kw)


@pytest.fixture(scope="module")
def treatment(fev):
    return _fit(fev)


@pytest.mark.parametrize("coding", ["sum", "contr.helmert", "poly", fc.SumContrasts()])
def test_lsmeans_contrasts_and_covariance_do_not_change(fev, treatment, coding):
    fit = _fit(fev, contrasts={"ARMCD": coding, "RACE": coding, "AVISIT": coding})
    for a, b in [(treatment.lsmeans("ARMCD", by="AVISIT"), fit.lsmeans("ARMCD", by="AVISIT")),
                 (treatment.contrast("ARMCD", by="AVISIT"), fit.contrast("ARMCD", by="AVISIT")),
                 (treatment.lsmeans("RACE"), fit.lsmeans("RACE"))]:
        for col in ("estimate", "std_error", "df"):
            assert_allclose(b[col], a[col], **REPARAMETERISED)
    assert_allclose(fit.covariance.to_numpy(), treatment.covariance.to_numpy(), **REPARAMETERISED)
    assert_allclose(fit.fitted(), treatment.fitted(), **REPARAMETERISED)


def test_r_names_per_coding(fev):
    fit = _fit(fev, contrasts={"RACE": "sum", "AVISIT": "poly", "ARMCD": "helmert"})
    assert list(fit.terms) == [
        "(Intercept)", "RACE1", "RACE2", "SEXFemale", "ARMCD1", "AVISIT.L", "AVISIT.Q",
        "AVISIT.C", "ARMCD1:AVISIT.L", "ARMCD1:AVISIT.Q", "ARMCD1:AVISIT.C"]
    assert list(fit.anova("III")["term"]) == ["RACE", "SEX", "ARMCD", "AVISIT", "ARMCD:AVISIT"]
    assert list(fit.anova("III", hypotheses="car")["term"]) == [
        "(Intercept)", "RACE", "SEX", "ARMCD", "AVISIT", "ARMCD:AVISIT"]


def test_sum_coding_intercept_is_the_grand_mean_of_cell_means(fev):
    """Closed form: with every factor sum-coded, the intercept is the unweighted mean of the
    LS means over the full grid, and ARMCD1 is half the PBO - TRT difference averaged over visits."""
    fit = _fit(fev, contrasts={"ARMCD": "sum", "RACE": "sum", "SEX": "sum", "AVISIT": "sum"})
    coef = fit.coef.set_index("term")["estimate"]
    cells = fit.lsmeans("ARMCD", by="AVISIT")
    assert_allclose(coef["(Intercept)"], cells["estimate"].mean(), **REPARAMETERISED)
    diff = fit.contrast("ARMCD", by="AVISIT")["estimate"].mean()  # TRT - PBO
    assert_allclose(coef["ARMCD1"], -diff / 2, **REPARAMETERISED)


def test_treatment_with_a_base_level(fev, treatment):
    fit = _fit(fev, contrasts={"ARMCD": fc.TreatmentContrasts(base="TRT")})
    assert "ARMCDPBO" in fit.terms
    pbo = fit.coef.set_index("term").loc["ARMCDPBO", "estimate"]
    ref = treatment.coef.set_index("term").loc["ARMCDTRT", "estimate"]
    assert_allclose(pbo, -ref, **REPARAMETERISED)


@pytest.mark.parametrize("contrasts, match", [
    ({"ARMCD": "deviation"}, "unknown contrast 'deviation' for 'ARMCD'; valid: 'treatment'"),
    ({"FEV1_BL": "sum"}, "column 'FEV1_BL' is numeric"),
    ({"NOPE": "sum"}, "names column 'NOPE' not in the data"),
    ({"ARMCD": fc.HelmertContrasts(scale=True)}, "is not supported; valid"),
    (["ARMCD"], "contrasts must be a dict"),
])
def test_bad_contrasts(fev, contrasts, match):
    with pytest.raises(ModelError, match=match):
        _fit(fev, contrasts=contrasts)


def test_contrast_for_a_factor_not_in_the_formula(fev):
    data = fev.assign(SITE=pd.Categorical(np.where(np.arange(len(fev)) % 2, "A", "B")))
    with pytest.raises(ModelError, match=r"contrasts= names 'SITE', not a term right of '~'"):
        _fit(data, contrasts={"SITE": "sum"})


def test_lsmeans_by_a_variable_outside_the_model(fev):
    """Issue 12: by= the visit when the visit is not in the formula (emmeans' reference grid
    holds it through the covariance, as R mmrm's): each visit gets the same means, which are
    the means without by (closed form: the model's rows do not depend on the visit). Compared
    with R mmrm + emmeans in tests/test_mmrm_r_suite.py (cases lsmeans_by_*)."""
    fit = ts.mmrm("FEV1 ~ ARMCD + FEV1_BL:RACE", fev, subject="USUBJID", visit="AVISIT")
    plain = fit.lsmeans("ARMCD")
    by = fit.lsmeans("ARMCD", by="AVISIT")
    assert by["AVISIT"].tolist() == [v for v in ["VIS1", "VIS2", "VIS3", "VIS4"] for _ in (0, 1)]
    for col in ("estimate", "std_error", "df"):
        assert_allclose(by[col], np.tile(plain[col], 4), **REPARAMETERISED)
    con = fit.contrast("ARMCD", by="AVISIT")
    assert con["contrast"].tolist() == ["TRT - PBO"] * 4
    with pytest.raises(ModelError, match=r"by 'SEX' is not a variable of the model .*by= also "
                                         r"takes AVISIT"):
        fit.lsmeans("ARMCD", by="SEX")


def test_a_treatment_base_level_cannot_inject_formula_text(fev):
    # the base level becomes formula text (contr.treatment('PBO')): quotes are refused
    with pytest.raises(ModelError, match="cannot be written in a formula"):
        _fit(fev, contrasts={"ARMCD": fc.TreatmentContrasts(base="x'), __import__('os')#")})
