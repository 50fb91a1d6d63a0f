"""Kaplan-Meier vs R survfit / summary.survfit / quantile.survfit.

Reference: tests/reference/survival_km.json, made by tests/reference/make_survival_reference.R
(R survival; data lung, ovarian and the simulated survival_sim_adtte.csv written by that script).
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
KM = json.loads((REF / "survival_km.json").read_text())


def _arr(values):
    if not isinstance(values, list):
        values = [values]
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def _sim():
    sim = pd.read_csv(REF / "survival_sim_adtte.csv")
    sim["ARM"] = pd.Categorical(sim["ARM"], ["PLACEBO", "EXOSOME", "MINOXIDIL"])
    return sim


def _fit(case):
    lung = pd.read_csv(REF / "survival_lung.csv")
    ova = pd.read_csv(REF / "survival_ovarian.csv")
    spec = {
        "lung_sex_loglog": (lung, "time", {"event": "event"}, "sex", "log-log"),
        "lung_sex_log": (lung, "time", {"event": "event"}, "sex", "log"),
        "lung_sex_plain": (lung, "time", {"event": "event"}, "sex", "plain"),
        "ovarian_all_loglog": (ova, "futime", {"event": "fustat"}, None, "log-log"),
        "sim_arm_loglog": (_sim(), "AVAL", {"censor": "CNSR"}, "ARM", "log-log"),
        "sim_arm_log": (_sim(), "AVAL", {"censor": "CNSR"}, "ARM", "log"),
        "sim_arm_plain": (_sim(), "AVAL", {"censor": "CNSR"}, "ARM", "plain"),
    }[case]
    data, time, outcome, by, conf_type = spec
    return ts.kaplan_meier(data, time=time, by=by, conf_type=conf_type, **outcome)


CASES = [k for k in KM if k not in ("versions", "sim_risk_table", "sim_arm_loglog_level90")]


@pytest.mark.parametrize("case", CASES)
def test_km_table_matches_r_survfit(case):
    # source: tests/reference/survival_km.json[case]["table"]
    ref = KM[case]["table"]
    tab = _fit(case).table
    assert [str(g) for g in tab.iloc[:, 0]] == [str(g) for g in ref["group"]]
    for col in ("time", "n_risk", "n_event", "n_censor"):
        assert_allclose(tab[col], _arr(ref[col]), **ANALYTIC)
    assert_allclose(tab["survival"], _arr(ref["survival"]), **SAME_ALGORITHM)
    for col in ("std_error", "conf_low", "conf_high"):
        assert_allclose(tab[col], _arr(ref[col]), equal_nan=True, **SAME_ALGORITHM_SE)


@pytest.mark.parametrize("case", CASES)
def test_km_quantiles_brookmeyer_crowley_match_r(case):
    # source: tests/reference/survival_km.json[case]["quantiles"] (R quantile.survfit)
    ref = KM[case]["quantiles"]
    q = _fit(case).quantiles((0.25, 0.5, 0.75))
    assert_allclose(q["quantile"], _arr(ref["quantile"]), equal_nan=True, **ANALYTIC)
    assert_allclose(q["conf_low"], _arr(ref["conf_low"]), equal_nan=True, **ANALYTIC)
    assert_allclose(q["conf_high"], _arr(ref["conf_high"]), equal_nan=True, **ANALYTIC)


@pytest.mark.parametrize("case", CASES)
def test_km_median_matches_r_print(case):
    # source: tests/reference/survival_km.json[case]["median"] (R summary(fit)$table)
    ref = KM[case]["median"]
    med = _fit(case).median()
    assert_allclose(med["median"], _arr(ref["median"]), equal_nan=True, **ANALYTIC)
    assert_allclose(med["conf_low"], _arr(ref["conf_low"]), equal_nan=True, **ANALYTIC)
    assert_allclose(med["conf_high"], _arr(ref["conf_high"]), equal_nan=True, **ANALYTIC)


@pytest.mark.parametrize("case", CASES)
def test_km_survival_at_matches_r_summary_times(case):
    # source: tests/reference/survival_km.json[case]["survival_at"] (summary(fit, times=, extend=TRUE))
    ref = KM[case]["survival_at"]
    at = _fit(case).survival_at(KM[case]["times"])
    assert_allclose(at["n_risk"], _arr(ref["n_risk"]), **ANALYTIC)
    assert_allclose(at["survival"], _arr(ref["survival"]), **SAME_ALGORITHM)
    for col in ("std_error", "conf_low", "conf_high"):
        assert_allclose(at[col], _arr(ref[col]), equal_nan=True, **SAME_ALGORITHM_SE)


def test_km_level_90_matches_r():
    # source: tests/reference/survival_km.json["sim_arm_loglog_level90"] (conf.int = 0.90)
    ref = KM["sim_arm_loglog_level90"]
    km = ts.kaplan_meier(_sim(), censor="CNSR", level=0.90)
    assert_allclose(km.table["conf_low"], _arr(ref["conf_low"]), equal_nan=True, **SAME_ALGORITHM_SE)
    assert_allclose(km.table["conf_high"], _arr(ref["conf_high"]), equal_nan=True, **SAME_ALGORITHM_SE)
    med = km.median()
    assert_allclose(med["conf_low"], _arr(ref["median_low"]), equal_nan=True, **ANALYTIC)
    assert_allclose(med["conf_high"], _arr(ref["median_high"]), equal_nan=True, **ANALYTIC)


def test_km_risk_table_counts_match_r():
    # source: tests/reference/survival_km.json["sim_risk_table"]
    ref = KM["sim_risk_table"]
    rt = ts.kaplan_meier(_sim(), censor="CNSR").risk_table([0, 91, 182, 273, 364])
    assert list(rt["ARM"]) == ref["group"]
    for col in ("n_risk", "n_event", "n_censor"):
        assert_allclose(rt[col], _arr(ref[col]), **ANALYTIC)


def test_km_hand_computed_six_rows():
    # hand-derived: times 1,2,2,3,4,5 with events 1,1,0,1,0,1
    d = pd.DataFrame({"AVAL": [1, 2, 2, 3, 4, 5], "EVENT": [1, 1, 0, 1, 0, 1]})
    km = ts.kaplan_meier(d, event="EVENT", by=None, conf_type="plain")
    s = [5 / 6, 5 / 6 * 4 / 5, 5 / 6 * 4 / 5 * 2 / 3, 5 / 6 * 4 / 5 * 2 / 3, 0.0]
    assert_allclose(km.table["survival"], s, **ANALYTIC)
    var = 1 / (6 * 5) + 1 / (5 * 4) + 1 / (3 * 2)
    assert_allclose(km.table["std_error"].iloc[2], s[2] * np.sqrt(var), **ANALYTIC)


def test_km_time_unit_weeks_and_months():
    sim = _sim()
    days = ts.kaplan_meier(sim, censor="CNSR")
    weeks = ts.kaplan_meier(sim, censor="CNSR", time_unit="weeks")
    months = ts.kaplan_meier(sim, censor="CNSR", time_unit="months")
    assert_allclose(weeks.table["time"], days.table["time"] / 7, **ANALYTIC)
    assert_allclose(months.table["time"], days.table["time"] / 30.4375, **ANALYTIC)
    assert_allclose(weeks.median()["median"], days.median()["median"] / 7, **ANALYTIC)


def test_km_group_order_categorical_then_sorted():
    sim = _sim()
    assert ts.kaplan_meier(sim, censor="CNSR").levels == ("PLACEBO", "EXOSOME", "MINOXIDIL")
    sim["ARM"] = sim["ARM"].astype(str)
    assert ts.kaplan_meier(sim, censor="CNSR").levels == ("EXOSOME", "MINOXIDIL", "PLACEBO")


def test_km_paramcd_filter():
    sim = _sim()
    other = sim.assign(PARAMCD="OTHER", AVAL=sim["AVAL"] * 2)
    both = pd.concat([sim, other], ignore_index=True)
    with pytest.raises(ModelError, match="several PARAMCD values.*paramcd="):
        ts.kaplan_meier(both, censor="CNSR")
    km = ts.kaplan_meier(both, censor="CNSR", paramcd="RELAPSE")
    assert_allclose(km.median()["median"], _arr(KM["sim_arm_loglog"]["median"]["median"]), **ANALYTIC)
    with pytest.raises(ModelError, match="no rows with PARAMCD == 'NOPE'"):
        ts.kaplan_meier(both, censor="CNSR", paramcd="NOPE")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (-3.0, r"negative times in row 4 \(SIM-005\): -3\.0"),
        (np.nan, r"missing times in row 4 \(SIM-005\)"),
        (np.inf, r"infinite times in row 4 \(SIM-005\)"),
    ],
)
def test_km_bad_times_name_the_rows(value, message):
    sim = _sim()
    sim["AVAL"] = sim["AVAL"].astype(float)
    sim.loc[4, "AVAL"] = value
    with pytest.raises(ModelError, match=message):
        ts.kaplan_meier(sim, censor="CNSR")


def test_km_bad_censor_values_and_both_or_neither():
    sim = _sim()
    sim.loc[2, "CNSR"] = 2
    with pytest.raises(ModelError, match=r"CNSR: values must be 0 or 1 .*row 2 \(SIM-003\): 2"):
        ts.kaplan_meier(sim, censor="CNSR")
    with pytest.raises(ModelError, match="exactly one of event=.*got both"):
        ts.kaplan_meier(_sim(), censor="CNSR", event="EVENTCD")
    with pytest.raises(ModelError, match="exactly one of event=.*got neither"):
        ts.kaplan_meier(_sim())


def test_km_bad_options():
    with pytest.raises(ModelError, match="conf_type='logit' is not valid; choose one of: log-log, log, plain"):
        ts.kaplan_meier(_sim(), censor="CNSR", conf_type="logit")
    with pytest.raises(ModelError, match="time_unit='years' is not valid"):
        ts.kaplan_meier(_sim(), censor="CNSR", time_unit="years")
    with pytest.raises(ModelError, match=r"column\(s\) ARMX not found"):
        ts.kaplan_meier(_sim(), censor="CNSR", by="ARMX")


def test_km_repr_and_summary():
    km = ts.kaplan_meier(_sim(), censor="CNSR")
    assert repr(km) == (
        "<KaplanMeierResult: 3 group(s) by ARM, 120 subjects, 80 events, "
        "log-log intervals, time in days>"
    )
    text = str(km.summary())
    assert "Median survival" in text and "EXOSOME" in text
    assert "<table" in km.summary()._repr_html_()


def test_km_lifelines_table_at_time_zero_and_numpy_error_state():
    # hand-derived: an event at time 0 is a real row (lifelines' own t = 0 row is dropped
    # only when nobody has that time); S = 5/6, 4/6 * ... as the product-limit formula
    d = pd.DataFrame({"AVAL": [0, 2, 2, 3, 4, 5], "EVENT": [1, 1, 0, 1, 0, 1]})
    before = np.geterr()
    tab = ts.kaplan_meier(d, event="EVENT", by=None).table
    assert np.geterr() == before  # lifelines calls np.seterr; kaplan_meier keeps it local
    assert_allclose(tab["time"], [0, 2, 3, 4, 5], **ANALYTIC)
    assert_allclose(tab["n_risk"], [6, 5, 3, 2, 1], **ANALYTIC)
    assert_allclose(tab["survival"], [5 / 6, 5 / 6 * 4 / 5, 5 / 6 * 4 / 5 * 2 / 3,
                                      5 / 6 * 4 / 5 * 2 / 3, 0.0], **ANALYTIC)
    d = pd.DataFrame({"AVAL": [1, 2, 2, 3, 4, 5], "EVENT": [1, 1, 0, 1, 0, 1]})
    assert ts.kaplan_meier(d, event="EVENT", by=None).table["time"].iloc[0] == 1
