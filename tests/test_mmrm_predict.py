"""MMRMResult.fitted(), .residuals(type=), .predict(newdata, conditional=) against R nlme::gls.

Reference: tests/reference/mmrm/predict_{fev_us,exo_ar1h_w}.json, made by
tests/reference/make_mmrm_predict_reference.R (nlme 3.1.162): gls fits of the same models (REML;
corSymm + varIdent = unstructured; corAR1 + varIdent with varFixed(~1/W) = ar1h with SAS WEIGHT
observation weights), with nlme's fitted() and residuals(type = "response" | "pearson" |
"normalized"), which are R mmrm's definitions, and conditional predictions computed in R from
gls' estimates by the conditional-normal formula (R mmrm ``predict(conditional = TRUE)``).
Rows are matched by (subject, visit). Tolerance: MMRM_PREDICT_IN_SD (every quantity divided by the
row's model SD, from the reference's response / pearson residuals).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from tolerances import ANALYTIC, MMRM_PREDICT_IN_SD, MMRM_TIGHT_IN_SE

import trialstats as ts
from trialstats.errors import ModelError

REF = Path(__file__).parent / "reference" / "mmrm"
FEV_LEVELS = {"RACE": ["Asian", "Black or African American", "White"], "SEX": ["Male", "Female"],
              "ARMCD": ["PBO", "TRT"], "AVISIT": ["VIS1", "VIS2", "VIS3", "VIS4"]}


def _fev():
    d = pd.read_csv(REF / "fev_data.csv")
    for col, levels in FEV_LEVELS.items():
        d[col] = pd.Categorical(d[col], categories=levels)
    return d


def _exo():
    ref = json.loads((REF / "gls_weights_exo_us.json").read_text())
    d = pd.read_csv(REF / "gls_weights_exo.csv", dtype={"USUBJID": str})
    d["ARM"] = pd.Categorical(d["ARM"], categories=ref["arm_levels"])
    d["AVISIT"] = pd.Categorical(d["AVISIT"], categories=ref["visit_levels"])
    return d


CASES = {
    "fev_us": (lambda: _fev(), "FEV1 ~ RACE + SEX + ARMCD * AVISIT", "us", None),
    "exo_ar1h_w": (lambda: _exo(), "CHG ~ ARM * AVISIT + BASE", "ar1h", "W"),
}


def _position(frame, keys) -> np.ndarray:
    """Index into ``frame`` of each (subject, visit) key."""
    pos = {k: i for i, k in enumerate(zip(frame["USUBJID"].astype(str),
                                          frame["AVISIT"].astype(str), strict=True))}
    return np.array([pos[k] for k in keys])


@pytest.fixture(scope="module", params=sorted(CASES))
def case(request):
    make, formula, cov, weights = CASES[request.param]
    data = make()
    fit = ts.mmrm(formula, data, subject="USUBJID", visit="AVISIT", covariance=cov,
                  weights=weights)
    ref = json.loads((REF / f"predict_{request.param}.json").read_text())
    keys = list(zip(ref["rows"]["subject"], ref["rows"]["visit"], strict=True))
    idx = _position(fit.design.frame, keys)
    res = ref["residuals"]
    sd = np.asarray(res["response"]) / np.asarray(res["pearson"])
    return data, fit, ref, idx, sd


def test_fit_is_the_reference_fit(case):
    _, fit, ref, _, _ = case
    assert fit.converged
    assert list(fit.terms) == ref["terms"]
    se = fit.coef["std_error"].to_numpy()
    assert_allclose(fit.coef["estimate"] / se, np.asarray(ref["estimate"]) / se,
                    **MMRM_TIGHT_IN_SE)


def test_fitted_and_residuals_match_nlme(case):
    _, fit, ref, idx, sd = case
    assert_allclose(fit.fitted()[idx] / sd, np.asarray(ref["fitted"]) / sd, **MMRM_PREDICT_IN_SD)
    res = ref["residuals"]
    assert_allclose(fit.residuals()[idx] / sd, np.asarray(res["response"]) / sd,
                    **MMRM_PREDICT_IN_SD)
    assert_allclose(fit.residuals("pearson")[idx], res["pearson"], **MMRM_PREDICT_IN_SD)
    assert_allclose(fit.residuals("normalized")[idx], res["normalized"], **MMRM_PREDICT_IN_SD)


def test_predict_newdata_matches_r(case):
    data, fit, ref, _, _ = case
    nd = ref["newdata_rows"]
    keys = list(zip(nd["subject"], nd["visit"], strict=True))
    new = data.iloc[_position(data, keys)].reset_index(drop=True)
    y = np.array([np.nan if v is None or v == "NA" else v for v in nd["y"]], dtype=float)
    new[fit.design.outcome] = y
    assert np.isnan(y).any() and not np.isnan(y).all()
    mu = np.asarray(ref["predict_unconditional"])
    cond = np.asarray(ref["predict_conditional"])
    scale = np.std(fit.residuals())  # a typical SD: predictions ~ outcome scale
    assert_allclose(fit.predict(new) / scale, mu / scale, **MMRM_PREDICT_IN_SD)
    assert_allclose(fit.predict(new, conditional=True) / scale, cond / scale, **MMRM_PREDICT_IN_SD)
    # conditioning moves the predictions of missing rows of subjects with data
    assert np.max(np.abs(cond - mu)[np.isnan(y)]) > 1e-3 * scale


def test_defaults_are_the_rows_used():
    data = _fev()
    fit = ts.mmrm("FEV1 ~ RACE + SEX + ARMCD * AVISIT", data, subject="USUBJID",
                  visit="AVISIT", covariance="us")
    # closed forms: predict() is X beta; conditional on every row's own value it is y
    assert_allclose(fit.predict(), fit.design.X @ fit.coef["estimate"].to_numpy(), **ANALYTIC)
    assert_allclose(fit.predict(conditional=True), fit.design.y, **ANALYTIC)
    assert_allclose(fit.predict(fit.design.frame), fit.fitted(), **ANALYTIC)
    assert_allclose(fit.fitted() + fit.residuals(), fit.design.y, **ANALYTIC)


def test_bad_input_is_named():
    data = _fev()
    fit = ts.mmrm("FEV1 ~ RACE + SEX + ARMCD * AVISIT", data, subject="USUBJID",
                  visit="AVISIT", covariance="us")
    with pytest.raises(ModelError, match="unknown residual type 'raw'.*pearson"):
        fit.residuals("raw")
    with pytest.raises(ModelError, match=r"lacks columns \['SEX'\]"):
        fit.predict(data.drop(columns="SEX"))
    bad = data.head(4).copy()
    bad["ARMCD"] = bad["ARMCD"].astype(str)
    bad.loc[bad.index[1], "ARMCD"] = "XYZ"
    with pytest.raises(ModelError, match="'XYZ' not in the fit.*valid: PBO, TRT"):
        fit.predict(bad)
    dup = pd.concat([data.head(2), data.head(1)])
    with pytest.raises(ModelError, match="same AVISIT twice"):
        fit.predict(dup, conditional=True)
    with pytest.raises(ModelError, match="outcome column 'FEV1'"):
        fit.predict(data.drop(columns="FEV1"), conditional=True)
