"""Real trials no one here wrote (issue 8, item 8): their headline numbers equal R's.

source: tests/reference/real_trials.json, made by tests/reference/make_real_trials.R, which also
wrote the trial folders tests/data/real/colon (survival::colon) and
tests/data/real/antidepressant (rbmi::antidepressant_data).

The colon folder has ADSL and ADTTE only (the trial has no longitudinal endpoint), and
``ts.load_trial`` still requires an ADEFF, so the colon tests read its tables with pandas; the
antidepressant folder loads with ``ts.load_trial``.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

import trialstats as ts
from tests.tolerances import (
    MMRM_LOGLIK,
    REAL_GLS_US_IN_SE,
    REAL_GLS_US_SE,
    SAME_ALGORITHM,
    SAME_ALGORITHM_SE,
)

HERE = Path(__file__).parent
REAL = HERE / "data" / "real"
REF = json.loads((HERE / "reference" / "real_trials.json").read_text())


def _num(values):
    return np.array([np.nan if v in (None, "NA") else v for v in values], dtype=float)


# --- colon: survival endpoints ---
@pytest.fixture(scope="module")
def colon():
    meta = tomllib.loads((REAL / "colon" / "trial.toml").read_text())
    adsl = pd.read_csv(REAL / "colon" / "adsl.csv")
    adtte = pd.read_csv(REAL / "colon" / "adtte.csv", keep_default_na=False, na_values=[""])
    frame = adtte.merge(adsl[["USUBJID", "ARM"]], on="USUBJID", how="left", validate="m:1")
    order = [meta["arms"]["reference"]] + [a for a in meta["arms"]["codes"]
                                           if a != meta["arms"]["reference"]]
    frame["ARM"] = pd.Categorical(frame["ARM"], categories=order)
    return meta, frame


def test_colon_folder_metadata_and_no_contradiction(colon):
    from trialstats.data.consistency import adtte_problems

    meta, frame = colon
    assert meta["arms"]["reference"] == "OBS"
    assert sorted(frame["PARAMCD"].unique()) == ["DEATH", "RECURR"]
    assert len(frame) == 1858 and frame["USUBJID"].nunique() == 929
    assert adtte_problems(frame, {}, "adtte.csv") == []  # CNSR agrees with EVENTCD / EVNTDESC


@pytest.mark.parametrize("paramcd", ["RECURR", "DEATH"])
def test_colon_km_medians_equal_r(colon, paramcd):
    ref = REF["colon"][paramcd]["km"]
    d = colon[1][colon[1]["PARAMCD"] == paramcd]
    med = ts.kaplan_meier(d, censor="CNSR", by="ARM", conf_type="log-log").median()
    assert med["ARM"].astype(str).tolist() == ref["arm"]
    for col in ("median", "conf_low", "conf_high"):
        # event times of the data: exact, NaN where not reached (Lev+5FU's recurrence median)
        assert_allclose(med[col].to_numpy(float), _num(ref[col]), equal_nan=True,
                        **SAME_ALGORITHM)


@pytest.mark.parametrize("paramcd", ["RECURR", "DEATH"])
def test_colon_logrank_equals_r_survdiff(colon, paramcd):
    ref = REF["colon"][paramcd]["logrank"]
    lr = ts.logrank(colon[1][colon[1]["PARAMCD"] == paramcd], censor="CNSR", by="ARM")
    assert lr.df == ref["df"]
    assert_allclose(lr.statistic, ref["statistic"], **SAME_ALGORITHM)
    assert_allclose(lr.p_value, ref["p_value"], **SAME_ALGORITHM)


@pytest.mark.parametrize("paramcd", ["RECURR", "DEATH"])
def test_colon_cox_comparisons_equal_r(colon, paramcd):
    ref = REF["colon"][paramcd]
    d = colon[1][colon[1]["PARAMCD"] == paramcd]
    fit = ts.cox("ARM", d, censor="CNSR")
    pairs = [("LEV", "OBS"), ("LEV5FU", "OBS"), ("OBS", "LEV"), ("LEV5FU", "LEV")]
    c = fit.comparisons(reference="OBS", pairs=pairs, analysis="efficacy", endpoint=paramcd)
    assert c[["arm", "reference"]].apply(tuple, axis=1).tolist() == pairs
    assert set(c["measure"]) == {"hazard ratio"} and set(c["scale"]) == {"ratio"}
    # vs OBS: R coxph(Surv ~ ARM); vs LEV: R coxph refitted with LEV as the reference level,
    # an independent check of the any-pair contrast from the covariance matrix
    hr = np.r_[ref["cox"]["hazard_ratio"], ref["cox_vs_lev"]["hazard_ratio"]]
    se = np.r_[ref["cox"]["std_error"], ref["cox_vs_lev"]["std_error"]]
    low = np.r_[ref["cox"]["conf_low"], ref["cox_vs_lev"]["conf_low"]]
    high = np.r_[ref["cox"]["conf_high"], ref["cox_vs_lev"]["conf_high"]]
    p = np.r_[ref["cox"]["p_value"], ref["cox_vs_lev"]["p_value"]]
    assert_allclose(c["estimate"], hr, **SAME_ALGORITHM)
    assert_allclose(c["std_error"], se, **SAME_ALGORITHM_SE)
    assert_allclose(c["conf_low"], low, **SAME_ALGORITHM_SE)
    assert_allclose(c["conf_high"], high, **SAME_ALGORITHM_SE)
    assert_allclose(c["p_value"], p, **SAME_ALGORITHM_SE)


def test_colon_rmst_per_arm_and_difference_equal_r(colon):
    ref = REF["colon"]["RECURR"]["rmst_1825"]
    d = colon[1][colon[1]["PARAMCD"] == "RECURR"]
    res = ts.rmst(d, censor="CNSR", by="ARM", tau=1825)
    assert_allclose(res.per_arm["rmst"], ref["rmst"], **SAME_ALGORITHM)
    assert_allclose(res.per_arm["std_error"], ref["std_error"], **SAME_ALGORITHM_SE)
    c = res.comparisons(pairs=[("LEV5FU", "LEV")], measures=("difference",))
    # difference of R's per-arm values; independent arms, so the variances add
    assert_allclose(c["estimate"], [ref["rmst"][2] - ref["rmst"][1]], **SAME_ALGORITHM)
    assert_allclose(c["std_error"], [np.hypot(ref["std_error"][2], ref["std_error"][1])],
                    **SAME_ALGORITHM_SE)
    assert c["visit"].item() == "tau = 1825 days"


# --- antidepressant: MMRM endpoint ---
@pytest.fixture(scope="module")
def antidepressant():
    return ts.load_trial(REAL / "antidepressant")


def test_antidepressant_folder_loads_and_validates(antidepressant):
    t = antidepressant
    assert t.meta.reference == "PLACEBO" and t.arms == ["PLACEBO", "DRUG"]
    assert not t.validation.errors and t.adtte is None and t.adae is None
    assert t.adeff["PARAM"].unique().tolist() == ["HAMD-17 total score"]
    assert t.adsl.shape[0] == 172


def test_antidepressant_mmrm_difference_equals_r(antidepressant):
    ref = REF["antidepressant"]
    d = antidepressant.efficacy("HAMD17")
    d = d[d["ABLFL"] != "Y"].reset_index(drop=True)
    d["AVISIT"] = d["AVISIT"].cat.remove_unused_categories()
    fit = ts.mmrm(ref["formula"], d)
    assert (fit.n_obs, fit.n_subjects) == (ref["n_obs"], ref["n_subjects"])
    assert_allclose(-2 * fit.loglik, -2 * ref["loglik"], rtol=0, atol=MMRM_LOGLIK["atol"])
    c = fit.comparisons(analysis="primary", endpoint="HAMD17", param="HAMD-17 total score")
    assert c["visit"].tolist() == ref["difference"]["visit"]
    assert set(c["arm"]) == {"DRUG"} and set(c["reference"]) == {"PLACEBO"}
    se = np.asarray(ref["difference"]["std_error"])
    assert_allclose(c["estimate"] / se, np.asarray(ref["difference"]["estimate"]) / se,
                    **REAL_GLS_US_IN_SE)
    assert_allclose(c["std_error"], se, **REAL_GLS_US_SE)


def test_antidepressant_report_builds(antidepressant, tmp_path):
    out = ts.build_report(antidepressant, tmp_path / "antidepressant.html")
    html = Path(out).read_text(encoding="utf-8")
    assert "ANTIDEPRESSANT" in html and "HAMD17" in html
