"""Intercurrent events derived from the data (ts.intercurrent_events), on real and hostile data.

Reference: rbmi's antidepressant vignette (tests/reference/rbmi/ad_jk_us_JR.json, call.data_ice,
made by tests/reference/rbmi/make_rbmi_reference.R with rbmi 1.5.2): its 43 ICEs are the first
visit with a missing outcome of each patient who left early. The antidepressant fixture
(tests/data/real/antidepressant, tests/reference/make_real_trials.R) flags those patients
EOSSTT = "DISCONTINUED" and has no event day, so the derivation "visit after the last observed
value" must give the vignette's table exactly.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rbmi_data import load_case

import trialstats as ts
from trialstats.errors import TrialDataError

REAL = Path(__file__).parent / "data" / "real"
WEEK = {"4": "WEEK 1", "5": "WEEK 2", "6": "WEEK 4", "7": "WEEK 6"}


def _estimand(**event):
    ev = dict(name="treatment discontinuation", strategy="hypothetical", table="adsl",
              flag="COMPLFL", values=("N",), day="TRTDURD")
    ev.update(event)
    return ts.Estimand(id="E1", name="test", paramcd="TAHC", visit="WEEK 24", population="ITTFL",
                       events=(ts.IntercurrentEvent(**ev),))


@pytest.fixture(scope="module")
def exo():
    return ts.datasets.load("exo-hair-301")


def _trial(exo, adsl=None, adeff=None):
    return ts.Trial(exo.meta, exo.adsl.copy() if adsl is None else adsl,
                    exo.adeff.copy() if adeff is None else adeff)


def test_antidepressant_events_equal_the_rbmi_vignette_data_ice():
    trial = ts.load_trial(REAL / "antidepressant")
    est = ts.Estimand(id="E1", name="x", paramcd="HAMD17", visit="WEEK 6", population="ITTFL",
                      events=(ts.IntercurrentEvent(name="discontinuation", strategy="hypothetical",
                                                   flag="EOSSTT", values=("DISCONTINUED",)),))
    ice = ts.intercurrent_events(trial, est)
    ref = load_case("ad_jk_us_JR")["call"]["data_ice"]  # source: R rbmi 1.5.2 vignette rule
    want = sorted((f"AD-{r['PATIENT']}", WEEK[r["VISIT"]]) for r in ref)
    got = sorted(zip(ice.table["USUBJID"], ice.table["visit"], strict=True))
    assert got == want and len(got) == 43
    assert set(ice.table["derivation"]) == {"visit after the last observed value"}
    assert ice.visits == ("WEEK 1", "WEEK 2", "WEEK 4", "WEEK 6")


def test_exo_discontinuations_fall_between_last_dose_and_next_visit(exo):
    ice = ts.intercurrent_events(exo, _estimand())
    t = ice.table
    assert set(t["USUBJID"]) == set(exo.adsl.loc[exo.adsl["COMPLFL"] == "N", "USUBJID"])
    eff = exo.adeff[(exo.adeff["PARAMCD"] == "TAHC") & (exo.adeff["ABLFL"] != "Y")]
    visits = list(ice.visits)
    for row in t.itertuples():
        own = eff[eff["USUBJID"] == row.USUBJID]
        pos = own["AVISIT"].astype(str).map({v: i for i, v in enumerate(visits)})
        # every record the subject has at or after the affected visit is after the last dose
        assert (own.loc[pos >= row.visit_index, "ADY"] > row.day).all()
        assert (own.loc[pos < row.visit_index, "ADY"] <= row.day).all()
    counts = ice.counts.set_index("ARM")
    assert counts["n"].sum() == 450 and counts["n_event"].sum() == len(t)


def test_adeff_flag_event_is_the_first_flagged_visit(exo):
    adeff = exo.adeff.copy()
    adeff["RESCFL"] = ""
    subj = exo.adsl["USUBJID"].iloc[0]
    adeff.loc[(adeff["USUBJID"] == subj) & adeff["AVISIT"].astype(str).isin(["WEEK 12", "WEEK 24"]),
              "RESCFL"] = "Y"
    est = _estimand(name="rescue medication", table="adeff", flag="RESCFL", values=("Y",), day="")
    t = ts.intercurrent_events(_trial(exo, adeff=adeff), est).table
    assert list(zip(t["USUBJID"], t["visit"], strict=True)) == [(subj, "WEEK 12")]


def test_the_earliest_of_several_events_wins(exo):
    adeff = exo.adeff.copy()
    adeff["RESCFL"] = np.where(adeff["AVISIT"].astype(str) == "WEEK 4", "Y", "")
    est = ts.Estimand(id="E", name="x", paramcd="TAHC", visit="WEEK 24", events=(
        ts.IntercurrentEvent(name="discontinuation", strategy="hypothetical", flag="COMPLFL",
                             values=("N",), day="TRTDURD"),
        ts.IntercurrentEvent(name="rescue", strategy="composite", table="adeff", flag="RESCFL",
                             value=-50.0)))
    t = ts.intercurrent_events(_trial(exo, adeff=adeff), est).table
    assert set(t.loc[t["visit"] == "WEEK 4", "event"]) <= {"rescue", "discontinuation"}
    # everybody with a WEEK 4 record was rescued there (the earliest event); a subject without
    # one (regenerated exo-hair-301: one discontinued subject) keeps the discontinuation event
    week4 = set(adeff.loc[(adeff["AVISIT"].astype(str) == "WEEK 4")
                          & (adeff["PARAMCD"] == "TAHC"), "USUBJID"])
    assert week4 and (t.loc[t["USUBJID"].isin(week4), "visit"] == "WEEK 4").all()
    assert set(t.loc[~t["USUBJID"].isin(week4), "event"]) <= {"discontinuation"}


def test_day_after_the_last_visit_is_an_error_naming_subjects(exo):
    adsl = exo.adsl.copy()
    who = adsl.index[adsl["COMPLFL"] == "N"][:2]
    adsl.loc[who, "TRTDURD"] = 5000
    with pytest.raises(TrialDataError, match=r"lies after the last visit \(WEEK 104, scheduled "
                       r"day \d+\) for subjects " + adsl.at[who[0], "USUBJID"]):
        ts.intercurrent_events(_trial(exo, adsl=adsl), _estimand())


def test_missing_day_falls_back_to_the_visit_after_the_last_observed_value(exo):
    adsl = exo.adsl.copy()
    adsl["TRTDURD"] = adsl["TRTDURD"].astype(float)
    who = adsl.index[adsl["COMPLFL"] == "N"][:3]
    adsl.loc[who, "TRTDURD"] = np.nan
    ice = ts.intercurrent_events(_trial(exo, adsl=adsl), _estimand())
    assert any("3 subjects have no TRTDURD" in n for n in ice.notes)
    t = ice.table.set_index("USUBJID")
    for s in adsl.loc[who, "USUBJID"]:
        if s in t.index:
            assert t.at[s, "derivation"] == "visit after the last observed value"
            assert np.isnan(t.at[s, "day"])


def test_unknown_flag_values_and_columns_are_errors_listing_everything(exo):
    adsl = exo.adsl.copy()
    adsl["DISCFL"] = np.where(adsl["COMPLFL"] == "N", "Y", "N")
    adsl.loc[adsl.index[:2], "DISCFL"] = "X"  # an extra column: the trial's schema does not check it
    adsl["TRTEDY"] = adsl["TRTDURD"].astype(str)
    adsl.loc[adsl.index[adsl["DISCFL"] == "Y"][:1], "TRTEDY"] = "day 12"
    est = ts.Estimand(id="E", name="x", paramcd="TAHC", visit="WEEK 24", events=(
        ts.IntercurrentEvent(name="d", strategy="hypothetical", flag="DISCFL", values=("Y",),
                             day="TRTEDY"),
        ts.IntercurrentEvent(name="r", strategy="hypothetical", flag="RESCFL"),
        ts.IntercurrentEvent(name="s", strategy="hypothetical", flag="EOSSTT",
                             values=("discontinued",))))
    with pytest.raises(TrialDataError) as err:
        ts.intercurrent_events(_trial(exo, adsl=adsl), est)
    msg = str(err.value)
    assert "4 problems" in msg
    assert "adsl, column DISCFL: a Y/N flag holds 'X'" in msg
    assert "adsl, column TRTEDY: not a number for subjects" in msg and "'day 12'" in msg
    assert "flag column 'RESCFL', which ADSL does not have" in msg
    assert "the plan's value 'discontinued' of event 's' occurs only as 'DISCONTINUED'" in msg


def test_a_plan_value_that_never_occurs_is_noted(exo):
    est = _estimand(flag="EOSSTT", values=("WITHDRAWN",), day="")
    ice = ts.intercurrent_events(exo, est)
    assert ice.table.empty
    assert any("value 'WITHDRAWN' does not occur in ADSL EOSSTT" in n for n in ice.notes)


def test_day_column_without_adeff_study_days_is_an_error():
    trial = ts.load_trial(REAL / "antidepressant")
    adsl = trial.adsl.copy()
    adsl["TRTDURD"] = 30
    est = ts.Estimand(id="E1", name="x", paramcd="HAMD17", visit="WEEK 6", events=(
        ts.IntercurrentEvent(name="d", strategy="hypothetical", flag="EOSSTT",
                             values=("DISCONTINUED",), day="TRTDURD"),))
    with pytest.raises(TrialDataError, match="ADEFF has no study day"):
        ts.intercurrent_events(ts.Trial(trial.meta, adsl, trial.adeff), est)


def test_unknown_paramcd_and_visit(exo):
    with pytest.raises(TrialDataError, match="PARAMCD 'XX' is not in ADEFF; valid: TAHC"):
        ts.intercurrent_events(exo, ts.Estimand(id="E", name="x", paramcd="XX", visit="WEEK 24"))
    with pytest.raises(TrialDataError, match="visit 'WEEK 25' is not a post-baseline visit"):
        ts.intercurrent_events(exo, ts.Estimand(id="E", name="x", paramcd="TAHC", visit="WEEK 25"))


def test_missing_patterns_by_arm_on_a_hand_made_grid():
    grid = pd.DataFrame({
        "USUBJID": np.repeat(["a", "b", "c", "d", "e"], 3),
        "ARM": pd.Categorical(np.repeat(["P", "P", "T", "T", "T"], 3), categories=["P", "T"]),
        "AVISIT": pd.Categorical(["1", "2", "3"] * 5, categories=["1", "2", "3"]),
        "CHG": [1, 2, 3, 1, np.nan, np.nan, 1, np.nan, 3, np.nan, np.nan, np.nan, 1, 2, 3],
    })
    p = ts.missing_patterns(grid, "CHG")
    assert p.to_dict("records") == [
        {"arm": "P", "pattern": "XXX", "type": "complete", "n": 1},
        {"arm": "P", "pattern": "X..", "type": "monotone", "n": 1},
        {"arm": "T", "pattern": "XXX", "type": "complete", "n": 1},
        {"arm": "T", "pattern": "X.X", "type": "intermittent", "n": 1},
        {"arm": "T", "pattern": "...", "type": "none observed", "n": 1},
    ]


def test_rows_flagged_out_of_the_analysis_do_not_count_as_observed():
    """An ANL01FL = "N" record (say an unscheduled or invalid visit) is not an observed value:
    the event of a discontinued patient without a day moves to that visit."""
    trial = ts.load_trial(REAL / "antidepressant")
    est = ts.Estimand(id="E1", name="x", paramcd="HAMD17", visit="WEEK 6", events=(
        ts.IntercurrentEvent(name="d", strategy="hypothetical", flag="EOSSTT",
                             values=("DISCONTINUED",)),))
    before = ts.intercurrent_events(trial, est).table.set_index("USUBJID")
    subj = "AD-1513"  # leaves after WEEK 1 (vignette ICE at VISIT 5 = WEEK 2)
    assert before.at[subj, "visit"] == "WEEK 2"
    adeff = trial.adeff.copy()
    adeff["ANL01FL"] = "Y"
    adeff.loc[(adeff["USUBJID"] == subj) & (adeff["AVISIT"].astype(str) == "WEEK 1"),
              "ANL01FL"] = "N"
    after = ts.intercurrent_events(ts.Trial(trial.meta, trial.adsl, adeff), est).table
    assert after.set_index("USUBJID").at[subj, "visit"] == "WEEK 1"
    assert len(after) == len(before)
