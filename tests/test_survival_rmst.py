"""RMST vs R print(survfit, rmean=tau) and survRM2's rmst1/rmst2 formulas (reproduced in R).

Reference: tests/reference/survival_rmst.json, made by tests/reference/make_survival_reference.R
(survRM2 is not packaged in Debian; the script re-implements its rmst1() and the rmst2()
difference/ratio from the survRM2 source, on top of R survfit).
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
RM = json.loads((REF / "survival_rmst.json").read_text())


def _sim():
    sim = pd.read_csv(REF / "survival_sim_adtte.csv")
    sim["ARM"] = pd.Categorical(sim["ARM"], ["PLACEBO", "EXOSOME", "MINOXIDIL"])
    return sim


def _case(name):
    lung = pd.read_csv(REF / "survival_lung.csv")
    return {
        "lung_sex_tau500": dict(data=lung, time="time", event="event", by="sex", tau=500),
        "lung_sex_default": dict(data=lung, time="time", event="event", by="sex"),
        "sim_arm_tau150": dict(data=_sim(), censor="CNSR", tau=150),
        "sim_arm_default": dict(data=_sim(), censor="CNSR"),
    }[name]


CASES = [k for k in RM if k != "versions"]


@pytest.mark.parametrize("case", CASES)
def test_rmst_per_arm_matches_r_survmean_and_survrm2(case):
    # source: tests/reference/survival_rmst.json[case]
    ref = RM[case]
    res = ts.rmst(**_case(case))
    assert_allclose(res.tau, ref["tau"], **ANALYTIC)
    assert_allclose(res.per_arm["rmst"], ref["r_rmean"], **SAME_ALGORITHM)
    assert_allclose(res.per_arm["std_error"], ref["r_se_rmean"], **SAME_ALGORITHM_SE)
    assert_allclose(res.per_arm["rmst"], ref["rmst"], **SAME_ALGORITHM)
    assert_allclose(res.per_arm["std_error"], ref["std_error"], **SAME_ALGORITHM_SE)


@pytest.mark.parametrize("case", CASES)
def test_rmst_difference_and_ratio_match_survrm2(case):
    # source: tests/reference/survival_rmst.json[case]["difference"|"ratio"]
    ref = RM[case]
    res = ts.rmst(**_case(case))
    arms = ref["arm"][1:]
    assert list(res.difference["contrast"]) == [f"{a} - {ref['arm'][0]}" for a in arms]
    assert list(res.ratio["contrast"]) == [f"{a} / {ref['arm'][0]}" for a in arms]
    for frame, key in ((res.difference, "difference"), (res.ratio, "ratio")):
        for col in ("estimate", "std_error", "conf_low", "conf_high", "p_value"):
            expected = [ref[key][a][col] for a in arms]
            tol = SAME_ALGORITHM if col == "estimate" else SAME_ALGORITHM_SE
            assert_allclose(frame[col], expected, **tol)


def test_rmst_in_weeks_scales():
    days = ts.rmst(_sim(), censor="CNSR", tau=140)
    weeks = ts.rmst(_sim(), censor="CNSR", tau=20, time_unit="weeks")
    assert_allclose(weeks.per_arm["rmst"], days.per_arm["rmst"] / 7, **ANALYTIC)
    assert_allclose(weeks.ratio["estimate"], days.ratio["estimate"], **ANALYTIC)


def test_rmst_tau_beyond_follow_up_is_an_error():
    last = _sim().groupby("ARM", observed=True)["AVAL"].max()
    with pytest.raises(ModelError, match=r"tau = 1000 days is beyond the follow-up of arm\(s\) PLACEBO"):
        ts.rmst(_sim(), censor="CNSR", tau=1000)
    assert ts.rmst(_sim(), censor="CNSR").tau == last.min()
    with pytest.raises(ModelError, match="tau must be a positive number"):
        ts.rmst(_sim(), censor="CNSR", tau=-5)


def test_rmst_single_arm_is_an_error():
    sim = _sim()
    with pytest.raises(ModelError, match="at least 2 groups"):
        ts.rmst(sim[sim["ARM"] == "EXOSOME"], censor="CNSR")
    with pytest.raises(ModelError, match="rmst compares arms"):
        ts.rmst(sim, censor="CNSR", by=None)


def test_rmst_repr_and_summary():
    res = ts.rmst(_sim(), censor="CNSR", tau=150)
    assert repr(res) == "<RMSTResult: tau = 150 days, 3 groups by ARM, reference PLACEBO>"
    assert "EXOSOME / PLACEBO" in str(res.summary())
    assert np.all(res.per_arm["conf_low"] < res.per_arm["rmst"])
