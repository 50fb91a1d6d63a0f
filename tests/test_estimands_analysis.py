"""Each intercurrent-event strategy mapped to its analysis (ts.analyse_estimand).

References:
* R rbmi 1.5.2 on its antidepressant trial (tests/reference/rbmi/ad_jk_us_{JR,CR,CIR}.json,
  made by tests/reference/rbmi/make_rbmi_reference.R): conditional mean imputation + jackknife
  with the vignette's ICEs, which tests/test_estimands_ice.py shows the derivation reproduces.
  rbmi's ``trt`` is PLACEBO - DRUG (DRUG is its first level); ours is DRUG - PLACEBO (the trial's
  reference arm first), so the estimate and the interval change sign. Tolerances RBMI_TIGHT_*.
* nlme::gls (tests/reference/real_trials.json, tests/reference/make_real_trials.R) for the MAR
  MMRM of the hypothetical strategy, which on this trial (no value observed after an ICE) is the
  primary MMRM: tolerances REAL_GLS_US_* as tests/test_report_real_trials.py.
* Hand-worked grids for the value changes of each strategy.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from rbmi_data import load_case
from tolerances import (
    RBMI_TIGHT_EST,
    RBMI_TIGHT_P,
    RBMI_TIGHT_SE,
    REAL_GLS_US_IN_SE,
    REAL_GLS_US_SE,
)

import trialstats as ts
from trialstats.estimands.analysis import _apply_strategies
from trialstats.estimands.ice import IntercurrentEvents

REAL = Path(__file__).parent / "data" / "real"
REF_GLS = __import__("json").loads((Path(__file__).parent / "reference" / "real_trials.json")
                                   .read_text())["antidepressant"]["difference"]


def _ad_estimand(**kw):
    ev = ts.IntercurrentEvent(name="discontinuation", strategy="hypothetical", flag="EOSSTT",
                              values=("DISCONTINUED",))
    base = dict(id="E1", name="x", paramcd="HAMD17", visit="WEEK 6", population="ITTFL",
                events=(ev,), sensitivity=("JR", "CR", "CIR"),
                formula="CHG ~ ARM * AVISIT + BASE * AVISIT")
    base.update(kw)
    return ts.Estimand(**base)


@pytest.fixture(scope="module")
def ad():
    trial = ts.load_trial(REAL / "antidepressant")
    return ts.analyse_estimand(trial, _ad_estimand(), formula="CHG ~ ARM * AVISIT + BASE",
                               covariance="us")


@pytest.mark.parametrize("method", ["JR", "CR", "CIR"])
def test_sensitivity_rows_equal_rbmi(ad, method):
    ref = load_case(f"ad_jk_us_{method}")["results"]["tight"]["by_visit"][3]["trt"]  # visit 7
    row = ad.estimates[ad.estimates["estimator"] == method].iloc[0]
    assert (row["arm"], row["reference"], row["visit"], row["role"]) == (
        "DRUG", "PLACEBO", "WEEK 6", "sensitivity")
    assert_allclose(row["estimate"], -ref["est"], **RBMI_TIGHT_EST)
    assert_allclose([row["conf_low"], row["conf_high"]], [-ref["ci"][1], -ref["ci"][0]],
                    **RBMI_TIGHT_EST)
    assert_allclose(row["std_error"], ref["se"], **RBMI_TIGHT_SE)
    assert_allclose(row["p_value"], ref["pvalue"], **RBMI_TIGHT_P)


def test_main_estimator_is_the_mar_mmrm(ad):
    row = ad.estimates[ad.estimates["estimator"] == "MAR MMRM"].iloc[0]
    assert row["role"] == "main" and row["measure"] == "difference in LS means"
    se = REF_GLS["std_error"][3]
    assert_allclose(row["estimate"] / se, REF_GLS["estimate"][3] / se, **REAL_GLS_US_IN_SE)
    assert_allclose(row["std_error"], se, **REAL_GLS_US_SE)


def test_estimates_are_a_comparisons_frame(ad):
    frame = ad.comparisons()
    assert list(frame.columns) == list(ts.comparisons_frame(frame).columns)
    assert list(frame["analysis"]) == ["E1: MAR MMRM", "E1: JR", "E1: CR", "E1: CIR"]


def test_treatment_policy_with_missing_off_treatment_data_is_imputed_by_jr():
    trial = ts.load_trial(REAL / "antidepressant")
    ev = ts.IntercurrentEvent(name="discontinuation", strategy="treatment policy",
                              flag="EOSSTT", values=("DISCONTINUED",), off_treatment="missing",
                              imputation="JR")
    res = ts.analyse_estimand(trial, _ad_estimand(events=(ev,), sensitivity=()),
                              formula="CHG ~ ARM * AVISIT + BASE", covariance="us")
    row = res.estimates.iloc[0]
    ref = load_case("ad_jk_us_JR")["results"]["tight"]["by_visit"][3]["trt"]
    assert row["estimator"].startswith("JR") and row["role"] == "main"
    assert_allclose(row["estimate"], -ref["est"], **RBMI_TIGHT_EST)
    assert_allclose(row["std_error"], ref["se"], **RBMI_TIGHT_SE)


# --- what each strategy does to the values (hand-worked) --------------------------------------
def _grid():
    return pd.DataFrame({
        "USUBJID": np.repeat(["a", "b", "c", "d"], 3),
        "ARM": pd.Categorical(np.repeat(["P", "P", "T", "T"], 3), categories=["P", "T"]),
        "AVISIT": pd.Categorical(["1", "2", "3"] * 4, categories=["1", "2", "3"]),
        "CHG": [1.0, 2.0, 3.0, 4.0, 5.0, np.nan, 7.0, 8.0, 9.0, -1.0, -2.0, -3.0],
    })


def _events(strategy, **ev):
    est = ts.Estimand(id="E", name="x", paramcd="P", visit="3", events=(
        ts.IntercurrentEvent(name="d", strategy=strategy, flag="F", **ev),))
    table = pd.DataFrame({"USUBJID": ["a", "c"], "ARM": ["P", "T"], "event": "d",
                          "strategy": strategy, "day": np.nan, "visit": ["2", "3"],
                          "visit_index": [1, 2], "derivation": ""})
    return IntercurrentEvents(table, ("1", "2", "3"), (), pd.DataFrame()), est


@pytest.mark.parametrize("strategy, ev, a, c", [
    ("hypothetical", {}, [1, np.nan, np.nan], [7, 8, np.nan]),
    ("treatment policy", {}, [1, 2, 3], [7, 8, 9]),
    ("composite", {"value": -20.0}, [1, -20, -20], [7, 8, -20]),
    ("composite", {"rule": "worst"}, [1, -2, -3], [7, 8, -3]),  # lowest observed at the visit
    ("while on treatment", {}, [1, 1, 1], [7, 8, 8]),
])
def test_strategy_changes_the_values_from_the_event_on(strategy, ev, a, c):
    events, est = _events(strategy, **ev)
    out = _apply_strategies(_grid(), events, est, "CHG")
    y = out["CHG"].to_numpy().reshape(4, 3)
    assert_allclose(y[0], a)
    assert_allclose(y[2], c)
    assert_allclose(y[1], [4, 5, np.nan])  # no event: unchanged
    assert list(out.groupby("USUBJID")["ice_visit"].first()) == [1, 3, 2, 3]


def test_tipping_arm_must_be_a_non_reference_arm():
    trial = ts.load_trial(REAL / "antidepressant")
    with pytest.raises(ts.ModelError, match="tipping_point.arm 'PLACEBO' is not a non-reference"):
        ts.analyse_estimand(trial, _ad_estimand(sensitivity=(), tipping_arm="PLACEBO",
                                                tipping_deltas=(0.0, 1.0)),
                            formula="CHG ~ ARM * AVISIT + BASE", covariance="us")


@pytest.mark.parametrize("strategy, extra", [
    ("composite", {"value": 20.0}), ("composite", {"rule": "worst"}), ("while on treatment", {}),
])
def test_composite_and_while_on_treatment_run_end_to_end(strategy, extra):
    """On the real trial: the values from each early discontinuation on are those the strategy
    prescribes (checked against ADEFF directly), and the MMRM of the changed data runs."""
    trial = ts.load_trial(REAL / "antidepressant")
    ev = ts.IntercurrentEvent(name="discontinuation", strategy=strategy, flag="EOSSTT",
                              values=("DISCONTINUED",), **extra)
    res = ts.analyse_estimand(trial, _ad_estimand(events=(ev,), sensitivity=(), better="lower"),
                              formula="CHG ~ ARM * AVISIT + BASE", covariance="us")
    eff = trial.adeff[trial.adeff["ABLFL"] != "Y"]
    d = res.data
    after = d["AVISIT"].cat.codes.to_numpy() >= d["ice_visit"].to_numpy()
    # rbmi's grid has 80 missing values: 79 after the 43 events, and patient 3618's gap
    assert after.sum() == 79
    got = d.loc[after, ["USUBJID", "AVISIT", "CHG"]]
    if "value" in extra:
        assert (got["CHG"] == 20.0).all()
    elif strategy == "composite":  # lower is better: the largest observed change at the visit
        worst = eff.groupby(eff["AVISIT"].astype(str))["CHG"].max()
        assert_allclose(got["CHG"], got["AVISIT"].astype(str).map(worst))
    else:  # the patient's last observed change (no discontinued patient lacks one)
        last = eff.dropna(subset=["CHG"]).sort_values("AVISITN").groupby("USUBJID")["CHG"].last()
        assert_allclose(got["CHG"], got["USUBJID"].map(last))
    row = res.estimates.iloc[0]
    assert row["estimator"] == "MAR MMRM" and np.isfinite(row["estimate"])
    assert res.fits["MAR MMRM"].n_obs == len(d) - 1  # only patient 3618's gap is missing


def test_shared_jackknife_fits_give_the_draws_of_separate_runs():
    """Strategies of one estimand share the jackknife fits (results.run_draws_shared): every
    imputed value must be bitwise that of a separate run of each strategy."""
    import warnings

    from rbmi_data import FORMULA, antidepressant

    from trialstats.estimands.api import prepare
    from trialstats.estimands.results import run_draws, run_draws_shared, same_model

    ice = pd.DataFrame(load_case("ad_jk_us_JR")["call"]["data_ice"])
    args = dict(subject="PATIENT", visit="VISIT", group="THERAPY",
                reference={"DRUG": "PLACEBO"}, covariates=["BASVAL"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        preps = [prepare(antidepressant(), FORMULA, ice=ice.assign(strategy=s), **args)
                 for s in ("JR", "CIR", "MAR")]
    assert all(same_model(preps[0], p) for p in preps)
    shared = run_draws_shared(preps, "jackknife", None, None, engine="sequential")
    for prep, got in zip(preps, shared, strict=True):
        alone = run_draws(prep, "jackknife", None, None, engine="sequential")
        assert_array_equal(got.full_values, alone.full_values)
        for a, b in zip(got.values, alone.values, strict=True):
            assert_array_equal(a, b)
    # observed values after a non-MAR event leave the fit: another model, so no sharing
    data = antidepressant()
    data.loc[(data["PATIENT"] == "1513") & (data["VISIT"] == "5"), "CHANGE"] = -10.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        jr = prepare(data, FORMULA, ice=ice.assign(strategy="JR"), **args)
        mar = prepare(data, FORMULA, ice=ice.assign(strategy="MAR"), **args)
    assert not same_model(jr, mar)


def test_rows_name_the_strategy_that_imputed_them(ad):
    method = dict(zip(ad.estimates["estimator"], ad.estimates["method"], strict=True))
    assert method["JR"] == "rbmi condmean jackknife, strategy JR after the events"
    assert method["CIR"] == "rbmi condmean jackknife, strategy CIR after the events"
