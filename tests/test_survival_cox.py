"""Cox regression vs R coxph (Efron/Breslow, strata, robust, cluster), cox.zph and concordance.

Reference: tests/reference/survival_cox.json, made by tests/reference/make_survival_reference.R.
R's Newton-Raphson stops at a relative log-likelihood change of 1e-9, so its estimates differ
from the fully converged ones by ~1e-8 relative: within SAME_ALGORITHM (rtol 1e-6).
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from tolerances import SAME_ALGORITHM, SAME_ALGORITHM_SE

import trialstats as ts
from trialstats.errors import ModelError

REF = Path(__file__).parent / "reference"
COX = json.loads((REF / "survival_cox.json").read_text())


def _sim():
    sim = pd.read_csv(REF / "survival_sim_adtte.csv")
    sim["ARM"] = pd.Categorical(sim["ARM"], ["PLACEBO", "EXOSOME", "MINOXIDIL"])
    return sim


def _case(name):
    lung = pd.read_csv(REF / "survival_lung.csv")
    vet = pd.read_csv(REF / "survival_veteran.csv")
    vet["celltype"] = pd.Categorical(vet["celltype"], ["squamous", "smallcell", "adeno", "large"])
    colon = pd.read_csv(REF / "survival_colon.csv")
    colon["rx"] = pd.Categorical(colon["rx"], ["Obs", "Lev", "Lev+5FU"])
    sim = _sim()
    lung_ev = dict(data=lung, time="time", event="event")
    return {
        "lung_age_sex_efron": dict(formula="age + C(sex)", **lung_ev),
        "lung_age_sex_breslow": dict(formula="age + C(sex)", ties="breslow", **lung_ev),
        "lung_strata_ecog": dict(formula="age + C(sex)", data=lung.dropna(subset=["ph.ecog"]),
                                 time="time", event="event", strata="ph.ecog"),
        "lung_robust": dict(formula="age + C(sex)", robust=True, **lung_ev),
        "colon_cluster": dict(formula="rx + age", data=colon, time="time", event="status",
                              subject="id"),
        "veteran_celltype": dict(formula="celltype + karno", data=vet, time="time",
                                 event="status"),
        "sim_arm_age": dict(formula="ARM + AGE", data=sim, censor="CNSR"),
        "sim_arm_age_breslow": dict(formula="ARM + AGE", data=sim, censor="CNSR", ties="breslow"),
        "sim_arm_strata_sex": dict(formula="ARM", data=sim, censor="CNSR", strata="SEX"),
        "sim_arm_x_age": dict(formula="ARM * AGE", data=sim, censor="CNSR"),
        "sim_breslow_strata_robust": dict(formula="ARM + AGE", data=sim, censor="CNSR",
                                          strata="SEX", ties="breslow", robust=True),
    }[name]


CASES = [k for k in COX if k not in ("versions", "sim_arm_age_level90")]


@pytest.fixture(scope="module", params=CASES)
def fitted(request):
    return request.param, ts.cox(**_case(request.param))


def test_cox_coefficients_match_r_coxph(fitted):
    # source: tests/reference/survival_cox.json[case] (summary(coxph)$coefficients, confint)
    case, fit = fitted
    ref = COX[case]
    assert_allclose(fit.coef["estimate"], ref["estimate"], **SAME_ALGORITHM)
    assert_allclose(fit.coef["std_error"], ref["std_error"], **SAME_ALGORITHM_SE)
    assert_allclose(fit.coef["statistic"], ref["statistic"], **SAME_ALGORITHM_SE)
    assert_allclose(fit.coef["p_value"], ref["p_value"], **SAME_ALGORITHM_SE)
    assert_allclose(fit.coef["conf_low"], ref["conf_low"], **SAME_ALGORITHM_SE)
    assert_allclose(fit.coef["conf_high"], ref["conf_high"], **SAME_ALGORITHM_SE)
    assert_allclose(fit.coef["hazard_ratio"], np.exp(ref["estimate"]), **SAME_ALGORITHM)
    assert_allclose(fit.loglik, ref["loglik"], **SAME_ALGORITHM)
    assert fit.n_obs == ref["n"] and fit.n_events == ref["nevent"]


def test_cox_ph_test_matches_r_cox_zph_km(fitted):
    # source: tests/reference/survival_cox.json[case]["zph"] (cox.zph(fit, transform="km"))
    case, fit = fitted
    ref = COX[case]["zph"]
    z = fit.ph_test()
    assert len(z) == len(ref["term"]) and z["term"].iloc[-1] == "GLOBAL"
    assert_allclose(z["statistic"], ref["statistic"], **SAME_ALGORITHM_SE)
    assert_allclose(z["df"], ref["df"], rtol=0)
    assert_allclose(z["p_value"], ref["p_value"], **SAME_ALGORITHM_SE)


def test_cox_concordance_matches_r(fitted):
    # source: tests/reference/survival_cox.json[case]["concordance"]
    case, fit = fitted
    assert_allclose(fit.concordance, COX[case]["concordance"], **SAME_ALGORITHM)


def test_cox_level_90_matches_r_confint():
    # source: tests/reference/survival_cox.json["sim_arm_age_level90"] (exp(confint(level=0.9)))
    ref = COX["sim_arm_age_level90"]
    fit = ts.cox("ARM + AGE", _sim(), censor="CNSR", level=0.90)
    assert list(fit.coef["term"]) == ref["term"]
    assert_allclose(fit.coef["conf_low"], ref["conf_low"], **SAME_ALGORITHM_SE)
    assert_allclose(fit.coef["conf_high"], ref["conf_high"], **SAME_ALGORITHM_SE)


def test_cox_r_style_term_names():
    fit = ts.cox("ARM + AGE", _sim(), censor="CNSR")
    assert list(fit.coef["term"]) == COX["sim_arm_age"]["term"]
    assert repr(fit).startswith("<CoxResult: ~ ARM + AGE, efron ties, model SE, 120 obs / 80 events")
    assert "Concordance" in str(fit.summary())
    # source: tests/reference/survival_cox.json["sim_arm_age"]: SEs are the vcov diagonal
    assert_allclose(np.sqrt(np.diag(fit.vcov)), COX["sim_arm_age"]["std_error"], **SAME_ALGORITHM_SE)
    assert_allclose(fit.aic, -2 * COX["sim_arm_age"]["loglik"][1] + 2 * 3, **SAME_ALGORITHM)


def test_cox_arm_without_events_is_not_estimable():
    sim = _sim()
    sim.loc[sim["ARM"] == "EXOSOME", "CNSR"] = 1
    with pytest.raises(ModelError, match=r"ARMEXOSOME has no events \(0 of 40 subjects\).*not estimable"):
        ts.cox("ARM + AGE", sim, censor="CNSR")
    sim = _sim()
    sim.loc[sim["ARM"] == "PLACEBO", "CNSR"] = 1
    with pytest.raises(ModelError, match="ARM reference level has no events"):
        ts.cox("ARM", sim, censor="CNSR")


def test_cox_missing_covariates_are_counted():
    sim = _sim()
    sim["AGE"] = sim["AGE"].astype(float)
    sim.loc[[0, 5], "AGE"] = np.nan
    fit = ts.cox("ARM + AGE", sim, censor="CNSR")
    assert fit.n_obs == 118 and fit.excluded == {"missing covariate": 2}


def test_cox_bad_options():
    # (issue 12 added ties="exact")
    with pytest.raises(ModelError,
                       match="ties='average' is not valid; choose one of: efron, breslow, exact"):
        ts.cox("ARM", _sim(), censor="CNSR", ties="average")
    with pytest.raises(ModelError, match="formula has no terms"):
        ts.cox("", _sim(), censor="CNSR")
    with pytest.raises(ModelError, match=r"write strata\(...\) as the strata= argument"):
        ts.cox("ARM + strata(SEX)", _sim(), censor="CNSR")
    with pytest.raises(ModelError, match="cannot build the design matrix"):
        ts.cox("NOPE", _sim(), censor="CNSR")
    with pytest.raises(ModelError, match="exactly one of event="):
        ts.cox("ARM", _sim())
    sim = _sim()
    sim["CONST"] = 1.0
    with pytest.raises(ModelError, match="covariate CONST is constant"):
        ts.cox("ARM + CONST", sim, censor="CNSR")


@pytest.mark.parametrize("fraction", [0.0, 1.0])
def test_cox_lifelines_batch_and_single_modes_agree_with_r(monkeypatch, fraction):
    # lifelines' "batch" (fraction 1: always) and row-by-row "single" (fraction 0: its own
    # choice, single on 120 rows) Efron sums; source: tests/reference/survival_cox.json
    from trialstats.survival import _cox_lifelines

    monkeypatch.setattr(_cox_lifelines, "_BATCH_FRACTION", fraction)
    before = np.geterr()
    fit = ts.cox("ARM", _sim(), censor="CNSR", strata="SEX")
    assert np.geterr() == before  # lifelines calls np.seterr; cox keeps it local
    ref = COX["sim_arm_strata_sex"]
    assert_allclose(fit.coef["estimate"], ref["estimate"], **SAME_ALGORITHM)
    assert_allclose(fit.coef["std_error"], ref["std_error"], **SAME_ALGORITHM_SE)
    assert_allclose(fit.loglik, ref["loglik"], **SAME_ALGORITHM)


def test_cox_monotone_likelihood_warns_not_converged():
    from trialstats.errors import ConvergenceWarning

    # events exactly in the order of X: the partial likelihood increases without bound
    d = pd.DataFrame({"AVAL": [1, 2, 3, 4, 5, 6.0], "EVENT": [1, 1, 0, 1, 0, 1],
                      "X": [6, 5, 4, 3, 2, 1.0]})
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        fit = ts.cox("X", d, event="EVENT")
    assert not fit.converged


def test_cox_subject_keyword_and_its_deprecated_cluster_alias():
    # one keyword for the subject column across the library: cluster= still works, with a
    # FutureWarning, and gives the very same fit as subject=
    colon = pd.read_csv(REF / "survival_colon.csv")
    colon["rx"] = pd.Categorical(colon["rx"], ["Obs", "Lev", "Lev+5FU"])
    new = ts.cox("rx + age", colon, time="time", event="status", subject="id")
    with pytest.warns(FutureWarning, match=r"cox: cluster= is deprecated.*use subject='id'"):
        old = ts.cox("rx + age", colon, time="time", event="status", cluster="id")
    pd.testing.assert_frame_equal(new.coef, old.coef)
    assert new.robust and new.cluster == "id"
    with pytest.raises(ModelError, match="subject='id' and cluster='rx' name different columns"):
        ts.cox("age", colon, time="time", event="status", subject="id", cluster="rx")
    with pytest.raises(ModelError, match=r'as the subject= argument, not in the formula'):
        ts.cox("rx + cluster(id)", colon, time="time", event="status")
