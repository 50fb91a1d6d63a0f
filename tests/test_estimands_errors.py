"""Bad input to ts.rbmi: each error names what is wrong, where, and what is valid."""

from __future__ import annotations

import pandas as pd
import pytest
from rbmi_data import FORMULA, antidepressant, load_case

import trialstats as ts
from trialstats.errors import ModelError


@pytest.fixture(scope="module")
def data():
    return antidepressant()


@pytest.fixture(scope="module")
def ice():
    return pd.DataFrame(load_case("ad_jk_us_JR")["call"]["data_ice"])


def call(data, ice=None, **kw):
    args = dict(subject="PATIENT", visit="VISIT", group="THERAPY", covariates=["BASVAL"],
                reference={"DRUG": "PLACEBO"}, ice=ice, engine="sequential", method="condmean",
                inference="bootstrap", n_samples=2, seed=1)
    args.update(kw)
    return ts.rbmi(data, FORMULA, **args)


def test_reference_names_unknown_arm(data):
    with pytest.raises(ModelError, match=r"unknown arm 'DRUGX'.*valid arms: DRUG, PLACEBO"):
        call(data, reference={"DRUGX": "PLACEBO"})
    with pytest.raises(ModelError, match=r"unknown reference arm 'PLACEBOX'"):
        call(data, reference={"DRUG": "PLACEBOX"})


def test_reference_arm_absent_from_data(data):
    d = data.copy()
    d["THERAPY"] = d["THERAPY"].cat.add_categories(["ACTIVE2"])
    with pytest.raises(ModelError, match=r"reference arm 'ACTIVE2' in reference has no subjects"):
        call(d, reference={"DRUG": "ACTIVE2"})


def test_ice_unknown_strategy_subject_visit(data, ice):
    bad = ice.copy()
    bad.loc[3, "strategy"] = "J2R"
    with pytest.raises(ModelError, match=r"row 3 \(\w+\) has unknown strategy 'J2R'; valid: "
                                         r"MAR, JR, CR, CIR, LMCF"):
        call(data, bad)
    bad = pd.concat([ice, pd.DataFrame([{"PATIENT": "9999", "VISIT": "5", "strategy": "JR"}])],
                    ignore_index=True)
    with pytest.raises(ModelError, match=r"rows 43 name subjects not in the data \(9999\)"):
        call(data, bad)
    bad = ice.copy()
    bad.loc[0, "VISIT"] = "week 3"
    with pytest.raises(ModelError, match=r"row 0 \(1513\) names visit 'week 3'.*valid: 4, 5, 6, 7"):
        call(data, bad)


def test_ice_after_last_visit(data, ice):
    bad = ice.copy()
    bad.loc[0, "VISIT"] = "8"
    with pytest.raises(ModelError, match=r"row 0 \(1513\).*at VISIT 8 is after the last visit \(7\)"):
        call(data, bad)


def test_ice_twice_for_a_subject(data, ice):
    bad = pd.concat([ice, ice.iloc[[0]]], ignore_index=True)
    with pytest.raises(ModelError, match=r"more than one row for subjects 1513"):
        call(data, bad)


def test_delta_unknown_subjects_or_visits(data, ice):
    delta = pd.DataFrame({"PATIENT": ["1513", "0000"], "VISIT": ["5", "5"], "delta": [1.0, 2.0]})
    with pytest.raises(ModelError, match=r"delta table rows 1 name subjects not in the data "
                                         r"\(0000\)"):
        call(data, ice, delta=delta)
    delta = pd.DataFrame({"subject": ["1513"], "visit": ["9"], "delta": [1.0]})
    with pytest.raises(ModelError, match=r"delta table rows 0 name visits not in the data "
                                         r"\(9\); valid: 4, 5, 6, 7"):
        call(data, ice, delta=delta)
    delta = pd.DataFrame({"subject": ["1513", "1513"], "visit": ["5", "5"], "delta": [1.0, 1]})
    with pytest.raises(ModelError, match=r"several rows for the same subject and visit"):
        call(data, ice, delta=delta)


def test_non_monotone_missingness_is_imputed_under_mar_and_said(data, ice):
    with pytest.warns(UserWarning, match=r"non-monotone missingness: 1 subjects .*\(3618\).*"
                                         r"imputed under MAR"):
        mi = call(data, ice)
    assert any("3618" in n for n in mi.notes)
    assert mi.imputed.query("subject == '3618'")["strategy"].tolist() == ["MAR"]


def test_incomplete_grid_and_missing_covariate(data):
    with pytest.raises(ModelError, match=r"one row per subject and visit.*subjects without a row "
                                         r"at every visit: 1503"):
        call(data.drop(index=[0]))
    d = data.copy()
    d.loc[5, "BASVAL"] = float("nan")
    with pytest.raises(ModelError, match=r"covariate 'BASVAL' is missing in rows 5 \(1507\)"):
        call(d)


def test_lmcf_needs_a_visit_before_the_ice(data):
    bad = pd.DataFrame([{"PATIENT": "1513", "VISIT": "4", "strategy": "LMCF"}])
    with pytest.raises(ModelError, match=r"subject 1513 has strategy LMCF with the ICE at the "
                                         r"first visit"):
        call(data, bad)


def test_options(data, ice):
    with pytest.raises(ModelError, match=r"unknown method 'bayes'; valid: condmean, approxbayes"):
        call(data, ice, method="bayes")
    with pytest.raises(ModelError, match=r"needs n_samples, an integer >= 2"):
        call(data, ice, n_samples=None)
    with pytest.raises(ModelError, match=r"unknown covariance structure 'unstructured'"):
        call(data, ice, covariance="unstructured")
    with pytest.raises(ModelError, match=r"unknown strategy 'JTR'"):
        call(data, ice, strategy="JTR")


def test_user_analysis_must_return_the_rows(data, ice):
    with pytest.raises(ModelError, match=r"analysis must return a DataFrame with columns "
                                         r"parameter, estimate, std_error, df"):
        call(data, ice, analysis=lambda frame: frame.head())
    with pytest.raises(ModelError, match=r"analysis must be a function"):
        call(data, ice, analysis="ancova")


def test_unused_arm_category_is_dropped_as_in_r(data, ice):
    d = data.copy()
    d["THERAPY"] = d["THERAPY"].cat.add_categories(["ACTIVE2"])
    a = call(d, ice)
    b = call(data, ice)
    assert set(a.pooled["arm"]) == {"DRUG", "PLACEBO"}
    assert a.pooled.equals(b.pooled)
