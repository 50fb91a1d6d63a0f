"""Cox residuals, baseline survival and predictions vs R (issue 12, part 3).

Reference: tests/reference/survival_parity.json ("part3"), made by
tests/reference/make_survival_parity_reference.R: R ``residuals.coxph`` (all seven types),
``survfit(fit)`` (curve at ``fit$means``), ``survfit(fit, newdata)`` and ``predict.coxph``
(``type = "lp"``, ``"risk"``), on lung (Efron, Breslow, strata(ph.ecog), case weights) and
Therneau & Grambsch's test2 ((start, stop] data). Tolerances: COX_RESIDUAL for residuals and
curves (see tests/tolerances.py), SAME_ALGORITHM / SAME_ALGORITHM_SE for estimates and SEs,
ANALYTIC for counts and times.
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from tolerances import ANALYTIC, COX_RESIDUAL, SAME_ALGORITHM, SAME_ALGORITHM_SE

import trialstats as ts
from trialstats.errors import ModelError

REF = json.loads((Path(__file__).parent / "reference" / "survival_parity.json").read_text())
P3 = REF["part3"]
NEWD = pd.DataFrame({"age": [50, 70, 62], "sex": [1, 2, 2], "ph.ecog": [0, 1, 2]})


def _arr(values):
    return np.array([np.nan if v is None else v for v in np.atleast_1d(values)], dtype=float)


def _fit(name):
    lung = pd.DataFrame(REF["data"]["lung"])
    lung5 = lung.dropna(subset=["ph.ecog"])
    lung5 = lung5[lung5["ph.ecog"] < 3]
    lung_ev = dict(time="time", event="event")
    if name == "test2":
        return (ts.cox("x", pd.DataFrame(REF["data"]["test2"]), start="start", stop="stop",
                       event="event"), pd.DataFrame({"x": [0, 1]}))
    return {
        "lung_efron": lambda: ts.cox("age + C(sex)", lung, **lung_ev),
        "lung_breslow": lambda: ts.cox("age + C(sex)", lung, ties="breslow", **lung_ev),
        "lung_strata": lambda: ts.cox("age + C(sex)", lung5, strata="ph.ecog", **lung_ev),
        "lung_weighted": lambda: ts.cox("age + C(sex)", lung, weights="wt", **lung_ev),
    }[name](), NEWD


@pytest.fixture(scope="module", params=list(P3))
def case(request):
    fit, newdata = _fit(request.param)
    return fit, newdata, P3[request.param]


def test_estimates(case):
    # source: survival_parity.json part3.<case> (R coxph; robust SE for non-integer weights)
    fit, _, ref = case
    assert_allclose(fit.coef["estimate"], _arr(ref["estimate"]), **SAME_ALGORITHM)
    assert_allclose(fit.coef["std_error"], _arr(ref["std_error"]), **SAME_ALGORITHM_SE)
    assert_allclose(fit.naive_std_error, _arr(ref["naive_std_error"]), **SAME_ALGORITHM_SE)


@pytest.mark.parametrize("kind", ["martingale", "deviance", "score", "schoenfeld", "scaledsch",
                                  "dfbeta", "dfbetas"])
def test_residuals(case, kind):
    # source: survival_parity.json part3.<case>.residuals.<kind> (R residuals(fit, type=))
    fit, _, ref = case
    res = fit.residuals(kind)
    cols = ref["residuals"][kind]
    if isinstance(res, pd.Series):
        assert_allclose(res.to_numpy(), _arr(cols[0]), **COX_RESIDUAL)
        return
    terms = list(fit.coef["term"])
    assert res.shape[0] == len(cols[0])
    for j, term in enumerate(terms):
        assert_allclose(res[term].to_numpy(), _arr(cols[j]), **COX_RESIDUAL)


def _check_curve(tab, ref):
    assert_allclose(tab["time"], ref["time"], **ANALYTIC)
    assert_allclose(tab["cumhaz"], _arr(ref["cumhaz"]), **COX_RESIDUAL)
    assert_allclose(tab["survival"], _arr(ref["survival"]), **COX_RESIDUAL)
    assert_allclose(tab["std_error"], _arr(ref["std_err"]), **COX_RESIDUAL)
    assert_allclose(tab["conf_low"], _arr(ref["lower"]), **COX_RESIDUAL)
    assert_allclose(tab["conf_high"], _arr(ref["upper"]), **COX_RESIDUAL)


def test_baseline_survival(case):
    # source: survival_parity.json part3.<case>.baseline (R survfit(fit))
    fit, _, ref = case
    tab = fit.baseline_survival()
    ref = ref["baseline"]
    _check_curve(tab, ref)
    assert_allclose(tab["n_risk"], ref["n_risk"], **ANALYTIC)
    assert_allclose(tab["n_event"], ref["n_event"], **ANALYTIC)
    if fit.strata is not None:
        assert [str(v) for v in tab[fit.strata]] == [str(float(g)) for g in ref["group"]]


def test_predict_lp_risk(case):
    # source: survival_parity.json part3.<case>.lp / .risk (R predict(fit, newdata, type=))
    fit, newdata, ref = case
    assert_allclose(fit.predict(newdata, "lp"), _arr(ref["lp"]), **COX_RESIDUAL)
    assert_allclose(fit.predict(newdata, "risk"), _arr(ref["risk"]), **COX_RESIDUAL)


def test_predict_survival(case):
    # source: survival_parity.json part3.<case>.newdata_surv (R survfit(fit, newdata) per row)
    fit, newdata, ref = case
    tab = fit.predict(newdata, "survival")
    for i, label in enumerate(newdata.index):
        _check_curve(tab[tab["row"] == label], ref["newdata_surv"][i])


def test_weights_make_robust_default_as_r():
    # R coxph: robust = TRUE by default with non-integer weights (naive SE kept apart)
    fit, _ = _fit("lung_weighted")
    assert fit.robust


def test_residual_identities():
    # closed forms: martingale residuals sum to 0 (the baseline hazard estimator's increments
    # sum to the events); score residuals sum to the score, 0 at the estimate
    fit, _ = _fit("lung_efron")
    assert abs(fit.residuals("martingale").sum()) < 1e-10
    assert_allclose(fit.residuals("score").sum().to_numpy(), 0.0, atol=1e-8)
    # scaled Schoenfeld residuals average to the estimate (R: their mean is beta-hat)
    sch = fit.residuals("scaledsch")
    assert_allclose(sch[list(fit.coef["term"])].mean().to_numpy(),
                    fit.coef["estimate"].to_numpy(), rtol=1e-8)


def test_predict_errors():
    fit, _ = _fit("lung_strata")
    with pytest.raises(ModelError, match="newdata needs the strata column ph.ecog"):
        fit.predict(NEWD.drop(columns="ph.ecog"), "survival")
    with pytest.raises(ModelError, match=r"values \['7'\] are not strata of the fit"):
        fit.predict(NEWD.assign(**{"ph.ecog": [0, 1, 7]}), "lp")
    with pytest.raises(ModelError, match="type='hazard' is not valid; choose one of: lp, risk"):
        fit.predict(NEWD, "hazard")
    with pytest.raises(ModelError, match="cannot build the design matrix"):
        fit.predict(NEWD.drop(columns="age"), "lp")
    with pytest.raises(ModelError, match="type='pearson' is not valid"):
        fit.residuals("pearson")
