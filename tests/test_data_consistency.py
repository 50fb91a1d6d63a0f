"""Consistency checks at load (issue 8, item 5): CNSR against EVENTCD / EVNTDESC, and MMRM
input that mixes parameters or keeps baseline rows."""

from __future__ import annotations

from pathlib import Path

import pytest

import trialstats as ts

REAL = Path(__file__).parent / "data" / "real"


@pytest.fixture(scope="module")
def exo():
    return ts.datasets.load("exo-hair-301")


def _rebuild(trial, adtte):
    return ts.Trial(trial.meta, trial.adsl, trial.adeff, adtte, trial.adae)


def test_bundled_trial_is_consistent(exo):
    assert not [p for p in exo.validation.errors if p.column == "CNSR"]


def test_reversed_cnsr_is_an_error_naming_rows(exo):
    adtte = exo.adtte.copy()
    adtte["CNSR"] = 1 - adtte["CNSR"]
    with pytest.raises(ts.TrialDataError, match=r"CNSR contradicts EVENTCD in rows 1 \(EXO-HAIR-301"
                       r"-01-0001\).*wrong way round") as e:
        _rebuild(exo, adtte)
    assert "EVNTDESC describes censoring" in str(e.value)
    problem = [p for p in e.value.problems if "EVENTCD" in p.message][0]
    assert problem.table == "adtte" and len(problem.rows) == len(adtte)


def test_one_contradicting_row_without_eventcd(exo):
    adtte = exo.adtte.drop(columns=["EVENTCD"]).copy()
    row = adtte.index[adtte["EVNTDESC"].str.startswith("NO RELAPSE")][0]
    adtte.loc[row, "CNSR"] = 0
    with pytest.raises(ts.TrialDataError, match=rf"EVNTDESC describes censoring in row {row + 1} "):
        _rebuild(exo, adtte)


def test_same_description_on_events_and_censored_rows(exo):
    adtte = exo.adtte.drop(columns=["EVENTCD"]).copy()
    adtte["EVNTDESC"] = adtte["EVNTDESC"].where(adtte["CNSR"] == 1, "RELAPSE")
    adtte.loc[adtte.index[adtte["CNSR"] == 1][:2], "EVNTDESC"] = "RELAPSE"
    with pytest.raises(ts.TrialDataError, match="EVNTDESC 'RELAPSE' \\(PARAMCD RELAPSE\\) is on "
                       "event rows \\(CNSR 0\\) and on censored rows"):
        _rebuild(exo, adtte)


@pytest.fixture(scope="module")
def hamd():
    return ts.load_trial(REAL / "antidepressant").efficacy("HAMD17")


def test_mmrm_with_baseline_rows_says_so(hamd):
    with pytest.raises(ts.ModelError, match="the MMRM data keep baseline rows \\(ABLFL = 'Y'\\) "
                       "with AVAL present: 0 \\(AD-1503\\)"):
        ts.mmrm("AVAL ~ ARM * AVISIT + BASE", hamd)
    with pytest.raises(ts.ModelError, match="keep baseline rows"):
        ts.mmrm("CHG ~ ARM * AVISIT + BASE", hamd.fillna({"CHG": 0.0}))


def test_mmrm_with_several_parameters_says_so(hamd):
    import pandas as pd

    post = hamd[hamd["ABLFL"] != "Y"]
    both = pd.concat([post, post.assign(PARAMCD="HAMD6")], ignore_index=True)
    with pytest.raises(ts.ModelError, match="the MMRM data mix several parameters \\(PARAMCD: "
                       "HAMD17 \\(608 rows\\), HAMD6 \\(608 rows\\)\\)"):
        ts.mmrm("CHG ~ ARM * AVISIT + BASE", both)


def test_mmrm_baseline_rows_without_outcome_are_fine(hamd):
    fit = ts.mmrm("CHG ~ ARM * AVISIT + BASE", hamd)  # baseline CHG is blank: rows excluded
    assert fit.n_obs == 608
