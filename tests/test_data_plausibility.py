"""Plausibility checks at load (issue 11, part 3): declarative ranges in data/schema.py.

Impossible values (AVAL = 1e300, AGE = 1e308, inf, a million hairs per cm2, a time of 200,000
days) are errors naming the file, column and rows; implausible ones (AGE 130, a relapse time of
150 years) are warnings with the rows. AVAL missing while CHG is present is flagged; several
invalid CNSR values are all reported; a header-only ADAE (no adverse events) is accepted.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

import trialstats as ts
from trialstats.data import validate_folder
from trialstats.data.validation import MAX_ROWS_SHOWN
from trialstats.errors import TrialDataError
from trialstats.report.build import render_report
from trialstats.report.sections import safety

MINI = Path(__file__).parent / "data" / "mini_trial"


def _edit(tmp_path, file, old, new) -> Path:
    folder = tmp_path / "t"
    if not folder.exists():
        shutil.copytree(MINI, folder)
    text = (folder / file).read_text(encoding="utf-8")
    assert old in text
    (folder / file).write_text(text.replace(old, new, 1), encoding="utf-8")
    return folder


@pytest.mark.parametrize(
    ("file", "old", "new", "match"),
    [
        ("adsl.csv", "MINI-0002,S01,MINOXIDIL,41,", "MINI-0002,S01,MINOXIDIL,1e308,",
         r"adsl\.csv, column AGE: impossible values 1e\+308 in row 2 \(MINI-0002\); possible values are in \[0, 150\]"),
        ("adeff.csv", "WEEK 12,12,85,170.5,150.5,20.0", "WEEK 12,12,85,1e300,150.5,20.0",
         r"adeff\.csv, column AVAL: impossible values 1e\+300 in row 2 \(MINI-0001\); possible values are in \[-1e\+09, 1e\+09\]"),
        ("adeff.csv", "WEEK 12,12,85,170.5,150.5,20.0", "WEEK 12,12,85,2000000,150.5,1999849.5",
         r"adeff\.csv, column AVAL: impossible hair counts 2000000 for PARAMCD TAHC in row 2 \(MINI-0001\); counts must be below 1e\+06"),
        ("adtte.csv", "MINI-0002,RELAPSE,84,0,RELAPSE,56,84", "MINI-0002,RELAPSE,200000,0,RELAPSE,56,200000",
         r"adtte\.csv, column AVAL: impossible values 200000 in row 2 \(MINI-0002\); possible values are in \[0, 100000\]"),
    ],
)
def test_impossible_values_are_errors_naming_file_column_rows(tmp_path, file, old, new, match):
    folder = _edit(tmp_path, file, old, new)
    with pytest.raises(TrialDataError, match=match) as err:
        ts.load_trial(folder)
    hit = [p for p in err.value.problems if "impossible" in p.message]
    assert hit and hit[0].rows and hit[0].subjects


def test_infinite_values_are_errors():
    trial = ts.load_trial(MINI)
    adtte = trial.adtte.copy()
    adtte["AVAL"] = adtte["AVAL"].astype(float)
    adtte.loc[2, "AVAL"] = np.inf
    adsl = trial.adsl.copy()
    adsl["AGE"] = adsl["AGE"].astype(float)
    adsl.loc[0, "AGE"] = -np.inf
    with pytest.raises(TrialDataError) as err:
        ts.Trial(trial.meta, adsl, trial.adeff, adtte, trial.adae)
    text = str(err.value)
    assert "adtte, column AVAL: infinite values inf in row 3 (MINI-0003); expected finite numbers" in text
    assert "adsl, column AGE: infinite values -inf in row 1 (MINI-0001)" in text


def test_implausible_values_are_warnings_with_rows(tmp_path):
    folder = _edit(tmp_path, "adsl.csv", "MINI-0004,S02,EXOSOME,52,", "MINI-0004,S02,EXOSOME,130,")
    folder = _edit(tmp_path, "adtte.csv", "MINI-0005,RELAPSE,112,0,RELAPSE,84,112",
                   "MINI-0005,RELAPSE,40000,0,RELAPSE,84,40000")
    trial = ts.load_trial(folder)
    text = "\n".join(str(p) for p in trial.validation.warnings)
    assert ("adsl.csv, column AGE: implausible values 130 in row 4 (MINI-0004); plausible values are "
            "in [0, 120] (age in years); the rows are kept, check them") in text
    assert "adtte.csv, column AVAL: implausible values 40000 in row 5 (MINI-0005)" in text
    assert trial.adsl["AGE"].iloc[3] == 130


def test_aval_missing_while_chg_present_is_flagged(tmp_path):
    folder = _edit(tmp_path, "adeff.csv", "WEEK 12,12,84,171.0,162.0,9.0", "WEEK 12,12,84,,162.0,9.0")
    report = validate_folder(folder)
    hit = [p for p in report.warnings if "AVAL missing while CHG is present" in p.message]
    assert len(hit) == 1
    assert str(hit[0]).startswith("adeff.csv, column AVAL: AVAL missing while CHG is present in row 5 (MINI-0002)")
    assert hit[0].rows == (5,)


def test_several_invalid_cnsr_values_are_all_reported(tmp_path):
    folder = _edit(tmp_path, "adtte.csv", "MINI-0002,RELAPSE,84,0", "MINI-0002,RELAPSE,84,2")
    _edit(tmp_path, "adtte.csv", "MINI-0003,RELAPSE,56,0", "MINI-0003,RELAPSE,56,x")
    _edit(tmp_path, "adtte.csv", "MINI-0005,RELAPSE,112,0", "MINI-0005,RELAPSE,112,0.5")
    _edit(tmp_path, "adtte.csv", "MINI-0006,RELAPSE,28,0", "MINI-0006,RELAPSE,28,7")
    with pytest.raises(TrialDataError) as err:
        ts.load_trial(folder)
    cnsr = [p for p in err.value.problems if p.column == "CNSR"]
    assert sorted(r for p in cnsr for r in p.rows) == [2, 3, 5, 6]
    text = str(err.value)
    assert "non-numeric values in row 3 (MINI-0003): 'x'" in text
    assert "not whole numbers in row 5 (MINI-0005): 0.5" in text
    assert "values 2, 7 in rows 2 (MINI-0002), 6 (MINI-0006): valid: 0, 1" in text


def test_many_invalid_cnsr_values_list_ten_and_the_count():
    trial = ts.simulate_trial(n_per_arm=8, seed=3)
    adtte = trial.adtte.copy()
    adtte["CNSR"] = adtte["CNSR"].astype(object)
    adtte.loc[:13, "CNSR"] = 2  # 14 rows
    with pytest.raises(TrialDataError) as err:
        ts.Trial(trial.meta, trial.adsl, trial.adeff, adtte, trial.adae)
    (p,) = [p for p in err.value.problems if p.column == "CNSR"]
    assert len(p.rows) == 14
    shown = p.message.split(": valid")[0]
    assert shown.count("(") == MAX_ROWS_SHOWN and shown.endswith("and 4 more")


def test_header_only_adae_is_accepted_and_safety_says_none(tmp_path):
    folder = Path(shutil.copytree(MINI, tmp_path / "t"))
    header = (MINI / "adae.csv").read_text(encoding="utf-8").splitlines()[0]
    (folder / "adae.csv").write_text(header + "\n", encoding="utf-8")
    trial = ts.load_trial(folder)
    assert trial.adae is not None and len(trial.adae) == 0
    _, ctx, _ = render_report(trial, tmp_path / "r.html", sections=(safety,))
    sec = ctx.sections["safety"]
    assert sec.error is None and not sec.failures
    assert any("There were no adverse events in this trial" in t for t in sec.paragraphs)
    counts = sec.tables[0].data
    assert (counts["n"] == 0).all()


def test_header_only_adsl_is_still_an_error(tmp_path):
    folder = Path(shutil.copytree(MINI, tmp_path / "t"))
    header = (MINI / "adsl.csv").read_text(encoding="utf-8").splitlines()[0]
    (folder / "adsl.csv").write_text(header + "\n", encoding="utf-8")
    with pytest.raises(TrialDataError, match=r"adsl\.csv: table is empty"):
        ts.load_trial(folder)


def test_a_huge_junk_cell_is_shown_shortened(tmp_path):
    folder = _edit(tmp_path, "adsl.csv", "MINI-0002,S01,MINOXIDIL,41,", "MINI-0002,S01,MINOXIDIL," + "x" * 100_000 + ",")
    with pytest.raises(TrialDataError) as err:
        ts.load_trial(folder)
    text = str(err.value)
    assert "adsl.csv, column AGE: non-numeric values in row 2 (MINI-0002): '" + "x" * 40 + "'...;" in text
    assert len(text) < 2_000
