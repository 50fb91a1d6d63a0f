"""Competing risks vs R: Aalen-Johansen via survfit(Surv(t, factor(code)) ~ ARM) and Gray's
test via cmprsk::cuminc.

Reference: tests/reference/survival_competing.json, made by
tests/reference/make_survival_reference.R (R survival + cmprsk).
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from tolerances import ANALYTIC, SAME_ALGORITHM, SAME_ALGORITHM_SE

import trialstats as ts
from trialstats.errors import ModelError

REF = Path(__file__).parent / "reference"
CR = json.loads((REF / "survival_competing.json").read_text())


def _sim():
    sim = pd.read_csv(REF / "survival_sim_adtte.csv")
    sim["ARM"] = pd.Categorical(sim["ARM"], ["PLACEBO", "EXOSOME", "MINOXIDIL"])
    return sim


TIMES = sorted(set(CR["sim_arm"]["time"]))


def test_cumulative_incidence_matches_r_multistate_survfit():
    # source: tests/reference/survival_competing.json["sim_arm"] (summary(survfit, times=))
    ref = CR["sim_arm"]
    assert ref["conf_type"] == "log"
    at = ts.cumulative_incidence(_sim(), cause=1).at(TIMES)
    assert list(at["ARM"]) == ref["group"]
    assert_allclose(at["n_risk"], ref["n_risk"], **ANALYTIC)
    assert_allclose(at["estimate"], ref["estimate"], **SAME_ALGORITHM)
    # infinitesimal-jackknife standard error, as R's multi-state survfit
    assert_allclose(at["std_error"], ref["std_error"], **SAME_ALGORITHM_SE)
    assert_allclose(at["conf_low"], ref["conf_low"], **SAME_ALGORITHM_SE)
    assert_allclose(at["conf_high"], ref["conf_high"], **SAME_ALGORITHM_SE)


def test_cumulative_incidence_of_the_competing_cause():
    # source: tests/reference/survival_competing.json["sim_arm"]["*_competing"]
    ref = CR["sim_arm"]
    at = ts.cumulative_incidence(_sim(), cause=2).at(TIMES)
    assert_allclose(at["estimate"], ref["estimate_competing"], **SAME_ALGORITHM)
    assert_allclose(at["std_error"], ref["std_error_competing"], **SAME_ALGORITHM_SE)


def test_gray_test_matches_cmprsk_cuminc():
    # source: tests/reference/survival_competing.json["sim_arm"]["gray"] (cuminc(...)$Tests)
    ref = CR["sim_arm"]["gray"]
    res = ts.gray_test(_sim())
    assert list(res.table["cause"]) == ref["cause"]
    assert_allclose(res.table["statistic"], ref["statistic"], **SAME_ALGORITHM)
    assert_allclose(res.table["p_value"], ref["p_value"], **SAME_ALGORITHM)
    assert list(res.table["df"]) == ref["df"]


def test_gray_test_stratified_matches_cmprsk():
    # source: tests/reference/survival_competing.json["sim_arm_strata_sex"]
    ref = CR["sim_arm_strata_sex"]
    res = ts.gray_test(_sim(), strata="SEX")
    assert_allclose(res.table["statistic"], ref["statistic"], **SAME_ALGORITHM)
    assert_allclose(res.table["p_value"], ref["p_value"], **SAME_ALGORITHM)


def test_gray_test_rho1_matches_cmprsk():
    # source: tests/reference/survival_competing.json["sim_arm_rho1"] (cuminc(rho = 1))
    ref = CR["sim_arm_rho1"]
    res = ts.gray_test(_sim(), rho=1)
    assert_allclose(res.table["statistic"], ref["statistic"], **SAME_ALGORITHM)
    assert_allclose(res.table["p_value"], ref["p_value"], **SAME_ALGORITHM)


def test_cumulative_incidence_without_competing_events_is_one_minus_km():
    # with no competing cause, the Aalen-Johansen estimate is 1 - Kaplan-Meier (analytic identity)
    sim = _sim()
    sim["CODE"] = np.where(sim["CNSR"] == 0, 1, 0)
    ci = ts.cumulative_incidence(sim, event_code="CODE").table
    km = ts.kaplan_meier(sim, censor="CNSR").table
    assert_allclose(ci["estimate"], 1 - km["survival"], atol=1e-12)


def test_competing_bad_input():
    with pytest.raises(ModelError, match=r"cause=3 does not occur in column EVENTCD; causes present: 1, 2"):
        ts.cumulative_incidence(_sim(), cause=3)
    sim = _sim()
    sim["EVENTCD"] = sim["EVENTCD"].astype(float)
    sim.loc[7, "EVENTCD"] = 1.5
    with pytest.raises(ModelError, match=r"EVENTCD: event codes must be integers .*row 7 \(SIM-008\): 1\.5"):
        ts.cumulative_incidence(sim)
    with pytest.raises(ModelError, match="at least 2 groups"):
        ts.gray_test(_sim().query("ARM == 'PLACEBO'"))
    assert "cause 1 of (1, 2)" in repr(ts.cumulative_incidence(_sim()))
