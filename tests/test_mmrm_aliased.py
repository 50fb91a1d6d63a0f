"""ts.mmrm(rank_deficient="drop"): aliased columns dropped as R does.

Reference: tests/reference/mmrm/aliased_fev.json, made by
tests/reference/make_mmrm_aliased_reference.R: fev_data without TRT at VIS4 (empty interaction
cell) plus FEV1_BL2 = 2 FEV1_BL; R's aliased columns are those with NA in coef(lm(...)), and the
fit is nlme::gls (unstructured, REML) on the model matrix without them. Tolerances as the other
gls references: MMRM_TIGHT_IN_SE, MMRM_TIGHT, MMRM_LOGLIK. Estimability of LS means: closed
form (the TRT mean at VIS4 involves the dropped interaction: NA, as emmeans reports it).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from tolerances import MMRM_LOGLIK, MMRM_TIGHT, MMRM_TIGHT_IN_SE

import trialstats as ts

REF = Path(__file__).parent / "reference" / "mmrm"
ALIASED = json.loads((REF / "aliased_fev.json").read_text())
FORMULA = "FEV1 ~ RACE + SEX + FEV1_BL + FEV1_BL2 + ARMCD * AVISIT"


@pytest.fixture(scope="module")
def data():
    levels = json.loads((REF / "levels.json").read_text())["fev_data"]
    d = pd.read_csv(REF / "fev_data.csv")
    for col in ["AVISIT", "ARMCD", "RACE", "SEX", "USUBJID"]:
        d[col] = pd.Categorical(d[col], categories=levels[col]["levels"])
    d = d[~((d["ARMCD"] == "TRT") & (d["AVISIT"] == "VIS4"))].copy()
    d["FEV1_BL2"] = 2 * d["FEV1_BL"]
    return d


@pytest.fixture(scope="module")
def fit(data):
    return ts.mmrm(FORMULA, data, subject="USUBJID", visit="AVISIT", rank_deficient="drop")


def test_aliased_columns_dropped_as_r(fit):
    assert fit.converged
    assert fit.n_obs == ALIASED["n_obs"]
    assert list(fit.aliased) == ALIASED["aliased"]
    assert list(fit.terms) == ALIASED["terms"]
    assert list(fit.coef["term"]) == ALIASED["all_terms"]
    coef = fit.coef.set_index("term")
    assert coef.loc[ALIASED["aliased"]].isna().all().all()
    got = coef.loc[ALIASED["terms"]]
    se = np.asarray(ALIASED["std_error"])
    assert_allclose(got["estimate"] / se, np.asarray(ALIASED["estimate"]) / se, **MMRM_TIGHT_IN_SE)
    assert_allclose(got["std_error"], se, **MMRM_TIGHT)
    assert_allclose(-2 * fit.loglik, ALIASED["m2loglik"], rtol=0, **MMRM_LOGLIK)
    assert "Aliased terms dropped" in str(fit.summary())


def test_non_estimable_lsmeans_are_na(fit):
    lsm = fit.lsmeans("ARMCD", by="AVISIT").set_index(["ARMCD", "AVISIT"])
    assert np.isnan(lsm.loc[("TRT", "VIS4"), "estimate"])
    assert np.isfinite(lsm.loc[("PBO", "VIS4"), "estimate"])
    assert np.isfinite(lsm.drop(index=[("TRT", "VIS4")])["std_error"]).all()
    con = fit.contrast("ARMCD", by="AVISIT").set_index("AVISIT")
    assert np.isnan(con.loc["VIS4", "p_value"]) and np.isfinite(con.loc["VIS1", "p_value"])
    # the anova and predictions use the fitted columns
    assert "ARMCD:AVISIT" in set(fit.anova("III")["term"])
    assert len(fit.fitted()) == fit.n_obs


def test_rank_deficient_drop_is_default_and_error_still_available(data, fit):
    # issue 12: "drop" became the default (R mmrm's behaviour); "error" raises as before
    default = ts.mmrm(FORMULA, data, subject="USUBJID", visit="AVISIT")
    assert default.aliased == fit.aliased
    assert_allclose(default.coef["estimate"], fit.coef["estimate"], rtol=0, atol=0)
    with pytest.raises(ts.ModelError, match="aliased|no observations"):
        ts.mmrm(FORMULA, data, subject="USUBJID", visit="AVISIT", rank_deficient="error")
    with pytest.raises(ts.ModelError, match="unknown rank_deficient 'omit'; valid: error, drop"):
        ts.mmrm(FORMULA, data, subject="USUBJID", visit="AVISIT", rank_deficient="omit")


def test_subgroup_interaction_keeps_its_error_for_an_empty_cell(fev):
    # ts.subgroup_interaction builds its Wald rows on the full design, so it fits with
    # rank_deficient="error": an arm x subgroup x visit cell without data is named, as before
    # issue 12 made "drop" the default
    d = fev.copy()
    d.loc[(d["ARMCD"] == "TRT") & (d["SEX"] == "Female") & (d["AVISIT"] == "VIS4"), "FEV1"] = \
        np.nan
    with pytest.raises(ts.ModelError, match=r"ARMCDTRT:AVISITVIS4:SEXFemale .*\(aliased\)"):
        ts.subgroup_interaction(d, "SEX", formula="FEV1 ~ ARMCD * AVISIT", arm="ARMCD",
                                visit="AVISIT", subject="USUBJID")
