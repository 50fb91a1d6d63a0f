"""Parametric extrapolation vs R survreg per arm (exponential, weibull, lognormal, loglogistic).

Reference: tests/reference/survival_extrapolate.json, made by
tests/reference/make_survival_reference.R (survreg; flexsurv is not packaged in Debian, so
gompertz and gengamma have no R reference and are only checked for internal consistency).
The delta-method intervals are computed in that script from survreg's vcov with analytic
derivatives of log(-log S(t)).
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from tolerances import OPTIMISER

import trialstats as ts
from trialstats.errors import ModelError

REF = Path(__file__).parent / "reference"
EX = json.loads((REF / "survival_extrapolate.json").read_text())
AFT = ("exponential", "weibull", "lognormal", "loglogistic")


def _sim():
    sim = pd.read_csv(REF / "survival_sim_adtte.csv")
    sim["ARM"] = pd.Categorical(sim["ARM"], ["PLACEBO", "EXOSOME", "MINOXIDIL"])
    return sim


@pytest.fixture(scope="module")
def fitted():
    return ts.extrapolate(_sim(), censor="CNSR", distributions=AFT + ("gompertz", "gengamma"))


@pytest.mark.parametrize("key", [k for k in EX if k != "versions"])
def test_extrapolation_matches_r_survreg(fitted, key):
    # source: tests/reference/survival_extrapolate.json[key]; maximum likelihood by optimiser
    ref = EX[key]
    arm, dist = ref["arm"], ref["distribution"]
    fit = fitted.fits[(fitted.fits["ARM"] == arm) & (fitted.fits["distribution"] == dist)]
    assert_allclose(fit["loglik"], ref["loglik"], **OPTIMISER)
    assert_allclose(fit["aic"], ref["aic"], **OPTIMISER)
    assert_allclose(fit["bic"], ref["bic"], **OPTIMISER)
    s = fitted.survival[(fitted.survival["ARM"] == arm) & (fitted.survival["distribution"] == dist)]
    assert_allclose(s["years"], ref["years"], rtol=0)
    assert_allclose(s["survival"], ref["survival"], **OPTIMISER)
    assert_allclose(s["conf_low"], ref["conf_low"], **OPTIMISER)
    assert_allclose(s["conf_high"], ref["conf_high"], **OPTIMISER)


def test_nested_models_are_consistent(fitted):
    # internal consistency for the unreferenced fits: nested families cannot fit worse than
    # their special cases (exponential within weibull and gompertz; lognormal within gengamma)
    f = fitted.fits.set_index(["ARM", "distribution"])["loglik"]
    for arm in ("PLACEBO", "EXOSOME", "MINOXIDIL"):
        assert f[(arm, "weibull")] >= f[(arm, "exponential")] - 1e-6
        assert f[(arm, "gompertz")] >= f[(arm, "exponential")] - 1e-6
        assert f[(arm, "gengamma")] >= f[(arm, "lognormal")] - 1e-6
        assert f[(arm, "gengamma")] >= f[(arm, "weibull")] - 1e-4


def test_predict_and_delta_aic(fitted):
    pred = fitted.predict([0, 365.25])
    assert set(pred["distribution"]) == set(AFT + ("gompertz", "gengamma"))
    one_year = pred[pred["time"] == 365.25].set_index(["ARM", "distribution"])["survival"]
    tab = fitted.survival[fitted.survival["years"] == 1].set_index(["ARM", "distribution"])
    assert_allclose(one_year.loc[tab.index], tab["survival"], rtol=1e-12)
    assert (fitted.fits.groupby("ARM", observed=True)["delta_aic"].min() == 0).all()


def test_extrapolate_bad_input():
    with pytest.raises(ModelError, match="distribution 'gamma' is not valid"):
        ts.extrapolate(_sim(), censor="CNSR", distributions=("gamma",))
    sim = _sim()
    sim.loc[sim["ARM"] == "EXOSOME", "CNSR"] = 1
    with pytest.raises(ModelError, match="arm EXOSOME has no events"):
        ts.extrapolate(sim, censor="CNSR", distributions=("weibull",))
    with pytest.raises(ModelError, match="times_years must be positive"):
        ts.extrapolate(_sim(), censor="CNSR", times_years=(0,))
    assert np.isfinite(ts.extrapolate(_sim(), censor="CNSR", distributions=("weibull",))
                       .fits["aic"]).all()


@pytest.mark.parametrize("dist", ["exponential", "weibull", "lognormal", "loglogistic", "gengamma"])
def test_lifelines_fits_map_to_our_parametrisation(dist):
    # the lifelines fit, mapped to _parametric's parameters, has our log-likelihood there
    # (same model, same parameters: analytic), and its covariance (autograd Hessian, through
    # the Jacobian of the map) matches our central-difference inverse Hessian at that point:
    # rtol 1e-3, as the difference Hessian itself moves by ~1e-4 with its step on gengamma
    from trialstats.survival import _parametric
    from trialstats.survival.extrapolate import _fit_lifelines

    sim = _sim()
    d = sim[sim["ARM"] == "PLACEBO"]
    t = d["AVAL"].to_numpy(float)
    e = 1 - d["CNSR"].to_numpy()
    upper = np.where(e == 1, t, np.inf)
    res = _fit_lifelines(dist, t, e)
    assert_allclose(res["loglik"], _parametric.loglik(dist, res["params"], t, upper), rtol=1e-10)
    nll = lambda th: -_parametric.loglik(dist, th, t, upper)  # noqa: E731
    assert_allclose(res["vcov"], np.linalg.inv(_parametric._num_hess(nll, res["params"])),
                    rtol=1e-3)


def test_an_arm_with_one_subject_is_a_clean_model_error():
    # lifelines fails inside its optimiser on a single time ("len() of unsized object");
    # trialstats says which arm and why (issue 11: internal errors never reach the user)
    d = pd.DataFrame({"AVAL": [10.0, 20.0, 30.0, 40.0, 15.0], "CNSR": [0, 0, 1, 0, 0],
                      "ARM": ["A", "A", "A", "A", "B"]})
    with pytest.raises(ModelError, match=r"arm B has 1 subject\(s\) with 1 distinct time"):
        ts.extrapolate(d, censor="CNSR", by="ARM")
