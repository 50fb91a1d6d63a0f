"""Bad input to load_trial / Trial: every problem raises one TrialDataError naming table, column,
rows and subject, and stating what was expected. Fixtures are made in tmp_path from the six-subject
trial tests/data/mini_trial (rows are 1-based data rows; the header line is not counted)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import trialstats as ts
from trialstats.data import TrialMeta, validate_folder
from trialstats.data.schema import CHG_ATOL
from trialstats.errors import TrialDataError

MINI = Path(__file__).parent / "data" / "mini_trial"


@pytest.fixture
def folder(tmp_path) -> Path:
    """A writable copy of the six-subject fixture trial."""
    return Path(shutil.copytree(MINI, tmp_path / "trial"))


def read(folder: Path, table: str) -> pd.DataFrame:
    return pd.read_csv(folder / f"{table}.csv", dtype=str, keep_default_na=False)


def write(folder: Path, table: str, df: pd.DataFrame) -> None:
    df.to_csv(folder / f"{table}.csv", index=False, lineterminator="\n")


def edit(folder: Path, table: str, row: int, column: str, value: str) -> None:
    """Set one cell; ``row`` is the 1-based data row."""
    df = read(folder, table)
    df.loc[row - 1, column] = value
    write(folder, table, df)


def load_error(folder: Path) -> TrialDataError:
    with pytest.raises(TrialDataError) as info:
        ts.load_trial(folder)
    return info.value


# --- trial.toml and files ---------------------------------------------------------------------


def test_missing_trial_toml(folder):
    (folder / "trial.toml").unlink()
    with pytest.raises(TrialDataError, match=r"no trial\.toml in .*found: adae\.csv, adeff\.csv"):
        ts.load_trial(folder)


def test_missing_folder(tmp_path):
    with pytest.raises(TrialDataError, match=r"trial folder .*nowhere' does not exist"):
        ts.load_trial(tmp_path / "nowhere")


def test_invalid_toml(folder):
    (folder / "trial.toml").write_text('id = "X"\n[arms\nreference = 1\n', encoding="utf-8")
    with pytest.raises(TrialDataError, match=r"trial\.toml: invalid TOML: .*line 2"):
        ts.load_trial(folder)


def test_toml_missing_keys_all_reported(folder):
    (folder / "trial.toml").write_text('title = "t"\n[tables]\nadsl = "adsl.csv"\n', encoding="utf-8")
    err = load_error(folder)
    msg = str(err)
    assert "trial.toml, column id: key 'id' must be a non-empty string" in msg
    assert "trial.toml, column arms: missing [arms] table" in msg
    assert "trial.toml, column tables: [tables] must name the adeff file" in msg
    assert len(err.problems) == 3


def test_reference_arm_not_an_arm(folder):
    text = (folder / "trial.toml").read_text(encoding="utf-8").replace(
        'reference = "PLACEBO"', 'reference = "SALINE"')
    (folder / "trial.toml").write_text(text, encoding="utf-8")
    with pytest.raises(TrialDataError, match=r"trial\.toml, column arms\.reference: reference arm "
                       r"'SALINE' is not an arm; valid: EXOSOME, MINOXIDIL, PLACEBO"):
        ts.load_trial(folder)


def test_tables_must_name_adeff(folder):
    # a trial needs ADEFF or ADTTE besides ADSL (issue 8: ADSL + ADTTE alone is a trial)
    text = (folder / "trial.toml").read_text(encoding="utf-8").replace('adeff = "adeff.csv"\n', "")
    text = text.replace('adtte = "adtte.csv"\n', "")
    (folder / "trial.toml").write_text(text, encoding="utf-8")
    with pytest.raises(TrialDataError, match=r"trial\.toml, column tables: \[tables\] must name the "
                       r"adeff file"):
        ts.load_trial(folder)


def test_adsl_and_adtte_without_adeff_is_a_trial(folder):
    text = (folder / "trial.toml").read_text(encoding="utf-8").replace('adeff = "adeff.csv"\n', "")
    (folder / "trial.toml").write_text(text, encoding="utf-8")
    trial = ts.load_trial(folder)
    assert trial.adeff is None and trial.adtte is not None


def test_table_file_missing(folder):
    (folder / "adeff.csv").unlink()
    with pytest.raises(TrialDataError, match=r'adeff\.csv: file named in trial\.toml \[tables\] '
                       r'adeff = "adeff\.csv" is missing'):
        ts.load_trial(folder)


def test_binary_junk_csv(folder):
    (folder / "adsl.csv").write_bytes(bytes(range(256)) * 4)
    with pytest.raises(TrialDataError, match=r"adsl\.csv: binary file, not CSV text"):
        ts.load_trial(folder)


def test_not_utf8_csv(folder):
    text = (folder / "adsl.csv").read_text(encoding="utf-8").replace("LOST TO", "PERDU \u00e0")
    (folder / "adsl.csv").write_bytes(text.encode("latin-1"))
    with pytest.raises(TrialDataError, match=r"adsl\.csv: not UTF-8 text \(byte 0xe0 at offset"):
        ts.load_trial(folder)


@pytest.mark.parametrize("ext, kind", [(".parquet", "parquet"), (".xpt", "xport"),
                                       (".sas7bdat", "sas7bdat")])
def test_unreadable_binary_table(folder, ext, kind):
    (folder / f"adtte{ext}").write_bytes(b"this is not a table\x00\x01\x02" * 20)
    text = (folder / "trial.toml").read_text(encoding="utf-8").replace("adtte.csv", f"adtte{ext}")
    (folder / "trial.toml").write_text(text, encoding="utf-8")
    with pytest.raises(TrialDataError, match=rf"adtte{ext}: cannot be read as {kind} \("):
        ts.load_trial(folder)


def test_unknown_extension(folder):
    text = (folder / "trial.toml").read_text(encoding="utf-8").replace("adae.csv", "adae.xlsx")
    (folder / "trial.toml").write_text(text, encoding="utf-8")
    with pytest.raises(TrialDataError, match=r"adae\.xlsx: unknown file type '\.xlsx'; valid: \.csv, "
                       r"\.parquet"):
        ts.load_trial(folder)


def test_ragged_csv(folder):
    with open(folder / "adtte.csv", "a", encoding="utf-8") as f:
        f.write("MINI-0007,RELAPSE,1,0,RELAPSE,0,1,1,EXTRA,FIELDS\n")
    with pytest.raises(TrialDataError, match=r"adtte\.csv: malformed CSV: line 8 has 10 fields; the "
                       r"header has 8"):
        ts.load_trial(folder)


def test_short_csv_line_is_not_padded(folder):
    text = (folder / "adsl.csv").read_text(encoding="utf-8").replace(",Y,Y,COMPLETED,\nMINI-0005", "\nMINI-0005")
    (folder / "adsl.csv").write_text(text, encoding="utf-8")
    with pytest.raises(TrialDataError, match=r"adsl\.csv: malformed CSV: line 5 has 7 fields; the "
                       r"header has 11"):
        ts.load_trial(folder)


def test_unterminated_quote(folder):
    with open(folder / "adae.csv", "a", encoding="utf-8") as f:
        f.write('MINI-0002,1,"SKIN,RASH,MILD,N,Y,3\n')
    with pytest.raises(TrialDataError, match=r"adae\.csv: malformed CSV near line 5"):
        ts.load_trial(folder)


def test_empty_file(folder):
    (folder / "adae.csv").write_bytes(b"")
    with pytest.raises(TrialDataError, match=r"adae\.csv: file is empty \(no header line\)"):
        ts.load_trial(folder)


def test_header_only_table(folder):
    header = (folder / "adtte.csv").read_text(encoding="utf-8").splitlines()[0]
    (folder / "adtte.csv").write_text(header + "\n", encoding="utf-8")
    with pytest.raises(TrialDataError, match=r"adtte\.csv: table is empty \(no data rows\); expected "
                       r"at least one row with columns USUBJID, PARAMCD, AVAL, CNSR"):
        ts.load_trial(folder)


def test_duplicate_column_names(folder):
    text = (folder / "adae.csv").read_text(encoding="utf-8").replace("ASTDY", "AESEV", 1)
    (folder / "adae.csv").write_text(text, encoding="utf-8")
    with pytest.raises(TrialDataError, match=r"adae\.csv: duplicate column names in the header: AESEV"):
        ts.load_trial(folder)


# --- columns ----------------------------------------------------------------------------------


def test_required_column_missing_with_case_hint(folder):
    df = read(folder, "adeff").rename(columns={"AVAL": "aval"}).drop(columns="AVISITN")
    write(folder, "adeff", df)
    err = load_error(folder)
    assert "adeff.csv, column AVISITN: required column AVISITN is missing; columns found:" in str(err)
    assert ("adeff.csv, column AVAL: required column AVAL is missing; found 'aval' "
            "(names are case-sensitive, no blanks)") in str(err)


def test_non_numeric_aval_reported_not_nan(folder):
    edit(folder, "adeff", 2, "AVAL", "12O")
    edit(folder, "adeff", 14, "AVAL", "n/a")
    with pytest.raises(TrialDataError, match=r"adeff\.csv, column AVAL: non-numeric values in rows "
                       r"2 \(MINI-0001\), 14 \(MINI-0005\): '12O', 'n/a'; expected numbers"):
        ts.load_trial(folder)


def test_non_numeric_age_in_adsl(folder):
    edit(folder, "adsl", 3, "AGE", "twenty")
    with pytest.raises(TrialDataError, match=r"adsl\.csv, column AGE: non-numeric values in row 3 "
                       r"\(MINI-0003\): 'twenty'"):
        ts.load_trial(folder)


def test_negative_hair_count(folder):
    edit(folder, "adeff", 5, "AVAL", "-3")
    edit(folder, "adeff", 5, "CHG", "-165.0")
    with pytest.raises(TrialDataError, match=r"adeff\.csv, column AVAL: negative hair counts -3 for "
                       r"PARAMCD TAHC in row 5 \(MINI-0002\); counts must be >= 0"):
        ts.load_trial(folder)


def test_negative_aval_allowed_for_non_count_parameter(folder):
    df = read(folder, "adeff")
    extra = df.iloc[[0, 1]].copy()
    extra["PARAMCD"] = "GPA"
    extra["AVAL"], extra["BASE"], extra["CHG"] = ["0", "-2"], ["0", "0"], ["0", "-2"]
    write(folder, "adeff", pd.concat([df, extra], ignore_index=True))
    trial = ts.load_trial(folder)
    assert trial.adeff["AVAL"].min() == -2
    assert len(trial.adeff) == 20


def test_duplicate_usubjid_in_adsl(folder):
    edit(folder, "adsl", 4, "USUBJID", "MINI-0002")
    with pytest.raises(TrialDataError, match=r"adsl\.csv, column USUBJID: duplicate USUBJID: "
                       r"MINI-0002 \(rows 2, 4\); expected ADSL must have one row per subject"):
        ts.load_trial(folder)


def test_blank_usubjid(folder):
    edit(folder, "adae", 2, "USUBJID", "")
    with pytest.raises(TrialDataError, match=r"adae\.csv, column USUBJID: blank values in row 2; "
                       r"every row needs a value"):
        ts.load_trial(folder)


@pytest.mark.parametrize("table, row", [("adeff", 7), ("adtte", 3), ("adae", 3)])
def test_subject_not_in_adsl(folder, table, row):
    edit(folder, table, row, "USUBJID", "MINI-0099")
    with pytest.raises(TrialDataError, match=rf"{table}\.csv, column USUBJID: subjects not in "
                       rf"adsl\.csv: row {row} \(MINI-0099\); every subject needs a row in adsl\.csv"):
        ts.load_trial(folder)


def test_arm_not_declared(folder):
    edit(folder, "adsl", 6, "ARM", "EXOSOMEX")
    with pytest.raises(TrialDataError, match=r"adsl\.csv, column ARM: value 'EXOSOMEX' in row 6 "
                       r"\(MINI-0006\): not an arm of trial\.toml; valid: PLACEBO, EXOSOME, MINOXIDIL"):
        ts.load_trial(folder)


def test_duplicate_visit(folder):
    edit(folder, "adeff", 3, "AVISIT", "WEEK 12")
    edit(folder, "adeff", 3, "AVISITN", "12")
    with pytest.raises(TrialDataError, match=r"adeff\.csv, column USUBJID, PARAMCD, AVISIT: duplicate "
                       r"USUBJID / PARAMCD / AVISIT: MINI-0001 / TAHC / WEEK 12 \(rows 2, 3\); "
                       r"expected one row per subject, parameter and visit"):
        ts.load_trial(folder)


def test_visit_with_two_visit_numbers(folder):
    edit(folder, "adeff", 8, "AVISITN", "13")
    with pytest.raises(TrialDataError, match=r"adeff\.csv, column AVISIT: AVISIT 'WEEK 12' has several "
                       r"AVISITN values \(12, 13\) in rows 2 \(MINI-0001\), .*8 \(MINI-0003\)"):
        ts.load_trial(folder)


def test_chg_inconsistent(folder):
    edit(folder, "adeff", 11, "CHG", "18.0")
    with pytest.raises(TrialDataError, match=rf"adeff\.csv, column CHG: CHG differs from AVAL - BASE in "
                       rf"row 11 \(MINI-0004\) \(row 11: CHG 18, AVAL - BASE = 17\); expected "
                       rf"\|CHG - \(AVAL - BASE\)\| <= {CHG_ATOL:g}"):
        ts.load_trial(folder)


def test_chg_within_tolerance_accepted(folder):
    edit(folder, "adeff", 11, "CHG", repr(17.0 + CHG_ATOL / 2))
    assert len(ts.load_trial(folder).adeff) == 18


@pytest.mark.parametrize("value, expected", [
    ("2", r"value 2 in row 3 \(MINI-0003\): valid: 0, 1 \(1 = censored, 0 = event\)"),
    ("", r"missing values in row 3 \(MINI-0003\); expected whole numbers"),
    ("0.5", r"not whole numbers in row 3 \(MINI-0003\): 0.5; expected whole numbers"),
    ("yes", r"non-numeric values in row 3 \(MINI-0003\): 'yes'"),
])
def test_cnsr_not_0_or_1(folder, value, expected):
    edit(folder, "adtte", 3, "CNSR", value)
    with pytest.raises(TrialDataError, match=r"adtte\.csv, column CNSR: " + expected):
        ts.load_trial(folder)


def test_negative_event_time(folder):
    edit(folder, "adtte", 6, "AVAL", "-28")
    with pytest.raises(TrialDataError, match=r"adtte\.csv, column AVAL: negative values -28 in row 6 "
                       r"\(MINI-0006\); expected >= 0 \(time in days\)"):
        ts.load_trial(folder)


def test_severity_not_allowed(folder):
    edit(folder, "adae", 3, "AESEV", "Moderate")
    with pytest.raises(TrialDataError, match=r"adae\.csv, column AESEV: value 'Moderate' in row 3 "
                       r"\(MINI-0005\): valid: MILD, MODERATE, SEVERE"):
        ts.load_trial(folder)


def test_all_problems_collected_in_one_error(folder):
    edit(folder, "adeff", 2, "AVAL", "12O")
    edit(folder, "adsl", 6, "ARM", "EXOSOMEX")
    edit(folder, "adtte", 3, "CNSR", "2")
    (folder / "adae.csv").write_bytes(b"\x00\x01junk")
    err = load_error(folder)
    msg = str(err)
    assert msg.startswith("4 problems in trial 'MINI-001':\n  ")
    assert [(p.table, p.column) for p in err.problems] == [
        ("adae.csv", None), ("adsl.csv", "ARM"), ("adeff.csv", "AVAL"), ("adtte.csv", "CNSR")]
    assert err.problems[1].rows == (6,) and err.problems[1].subjects == ("MINI-0006",)
    assert isinstance(err, ValueError)


def test_many_offending_rows_are_truncated(folder):
    df = read(folder, "adeff")
    df["AVAL"] = "x"
    write(folder, "adeff", df)
    err = load_error(folder)
    (problem,) = [p for p in err.problems if p.column == "AVAL"]
    assert len(problem.rows) == 18
    assert "rows 1 (MINI-0001), 2 (MINI-0001)" in problem.message
    assert "10 (MINI-0004) and 8 more: 'x'" in problem.message


# --- soft problems: warnings, rows stay --------------------------------------------------------


def test_missing_aval_is_a_warning_and_row_stays(folder):
    trial = ts.load_trial(folder)
    (w,) = [p for p in trial.validation.warnings if p.column == "AVAL"]
    assert w.table == "adeff.csv" and w.rows == (9,) and w.subjects == ("MINI-0003",)
    assert len(trial.adeff) == 18 and np.isnan(trial.adeff["AVAL"].iloc[8])


def test_subject_without_post_baseline_value_is_a_warning(folder):
    df = read(folder, "adeff")
    df.loc[[15, 16, 17], ["AVAL", "CHG"]] = ""  # MINI-0006: rows 16-18 (baseline, week 12, 24)
    df.loc[15, ["AVAL", "CHG"]] = ["148.0", "0.0"]
    write(folder, "adeff", df)
    trial = ts.load_trial(folder)
    messages = [str(p) for p in trial.validation.warnings]
    assert ("adeff.csv, column AVAL: 1 subject with no post-baseline AVAL for PARAMCD TAHC "
            "(rows 16 (MINI-0006), 17 (MINI-0006), 18 (MINI-0006)); rows kept") in messages[-1]
    assert len(trial.adeff) == 18 and trial.validation.ok


def test_subject_absent_from_adeff_is_a_warning(folder):
    df = read(folder, "adeff")
    write(folder, "adeff", df[df["USUBJID"] != "MINI-0004"])
    trial = ts.load_trial(folder)
    assert any(p.table == "adsl.csv" and p.subjects == ("MINI-0004",)
               and "no rows in adeff.csv" in p.message for p in trial.validation.warnings)
    assert len(trial.adsl) == 6 and len(trial.adeff) == 15


def test_unknown_table_and_endpoint_are_warnings(folder):
    text = (folder / "trial.toml").read_text(encoding="utf-8")
    text = text.replace('adae = "adae.csv"', 'adae = "adae.csv"\nadlb = "adlb.csv"')
    text = text.replace('visit = "WEEK 24"', 'visit = "WEEK 48"')
    (folder / "trial.toml").write_text(text, encoding="utf-8")
    report = ts.load_trial(folder).validation
    text = str(report)
    assert "trial.toml, column tables.adlb: table 'adlb' is not used by trialstats" in text
    assert ("trial.toml, column endpoints.primary: visit 'WEEK 48' is not an AVISIT of adeff; "
            "found: BASELINE, WEEK 12, WEEK 24") in text


# --- in memory: the same engine -----------------------------------------------------------------


def _meta(**changes) -> TrialMeta:
    base = dict(id="MEM-1", title="in memory", simulated=True,
                arms={"EXOSOME": "Exosome", "PLACEBO": "Placebo"}, reference="PLACEBO")
    return TrialMeta(**{**base, **changes})


def _frames():
    adsl = pd.DataFrame({"USUBJID": ["S1", "S2"], "ARM": ["EXOSOME", "PLACEBO"], "AGE": [30, 40]})
    adeff = pd.DataFrame({"USUBJID": ["S1", "S1", "S2", "S2"], "PARAMCD": "TAHC",
                          "AVISIT": ["BASELINE", "WEEK 4"] * 2, "AVISITN": [0, 4] * 2,
                          "AVAL": [100.0, 110.0, 90.0, 91.0]})
    return adsl, adeff


def test_in_memory_trial_validated_the_same_way():
    adsl, adeff = _frames()
    adeff.loc[3, "AVAL"] = -1.0
    adsl.loc[1, "ARM"] = "MINOX"
    with pytest.raises(TrialDataError) as info:
        ts.Trial(_meta(), adsl, adeff)
    msg = str(info.value)
    assert msg.startswith("2 problems in trial 'MEM-1'")
    assert "adsl, column ARM: value 'MINOX' in row 2 (S2): not an arm of trial.toml" in msg
    assert "adeff, column AVAL: negative hair counts -1 for PARAMCD TAHC in row 4 (S2)" in msg


def test_in_memory_reference_not_an_arm():
    adsl, adeff = _frames()
    with pytest.raises(TrialDataError, match=r"TrialMeta, column arms\.reference: reference arm "
                       r"'SALINE' is not an arm; valid: EXOSOME, PLACEBO"):
        ts.Trial(_meta(reference="SALINE"), adsl, adeff)


def test_in_memory_missing_required_table_and_bad_meta():
    adsl, _ = _frames()
    with pytest.raises(TrialDataError, match=r"adeff: table adeff is required"):
        ts.Trial(_meta(), adsl, None)
    with pytest.raises(TrialDataError, match=r"meta must be a TrialMeta; got dict"):
        ts.Trial({"id": "x"}, *_frames())


def test_validate_after_modification_raises():
    trial = ts.Trial(_meta(), *_frames())
    trial.adeff.loc[0, "AVAL"] = -5.0
    with pytest.raises(TrialDataError, match=r"adeff, column AVAL: negative hair counts -5 .* row 1 \(S1\)"):
        trial.validate()


def test_validate_folder_does_not_raise(folder):
    edit(folder, "adsl", 6, "ARM", "EXOSOMEX")
    report = validate_folder(folder)
    assert not report.ok and len(report.errors) == 1
    assert report.n_rows == {"adsl.csv": 6, "adeff.csv": 18, "adtte.csv": 6, "adae.csv": 3}
    with pytest.raises(TrialDataError, match=r"1 problem in trial 'MINI-001'"):
        report.raise_for_errors()
    frame = report.to_frame()
    assert frame.columns.tolist() == ["severity", "table", "column", "n_rows", "rows", "subjects",
                                      "message"]
    assert frame["severity"].tolist() == ["error", "warning"]
    assert frame.iloc[0][["table", "column", "rows", "subjects"]].tolist() == [
        "adsl.csv", "ARM", (6,), ("MINI-0006",)]


# --- remaining trial.toml and engine error paths -----------------------------------------------

_GOOD_TOML = (MINI / "trial.toml").read_text(encoding="utf-8")


@pytest.mark.parametrize("old, new, expected", [
    ('title = "Six-subject fixture trial"', "title = 3",
     r"trial\.toml, column title: key 'title' must be a string; got 3"),
    ("simulated = true", 'simulated = "yes"',
     r"trial\.toml, column simulated: key 'simulated' must be true or false; got 'yes'"),
    ('codes = { EXOSOME = "Exosome injections", MINOXIDIL = "Minoxidil 5% topical", PLACEBO = "Placebo" }',
     "codes = {}", r"trial\.toml, column arms\.codes: \[arms\] needs codes = \{ CODE = \"label\", \.\.\. \}"),
    ('PLACEBO = "Placebo" }', "PLACEBO = 0 }",
     r"trial\.toml, column arms\.codes: arm labels must be strings; not for PLACEBO"),
    ('reference = "PLACEBO"', "reference = 1",
     r"trial\.toml, column arms\.reference: \[arms\] needs reference = \"<code>\" naming the "
     r"comparator arm; got 1"),
    ('adae = "adae.csv"', "adae = 5",
     r"trial\.toml, column tables: table file names must be strings; not for adae"),
    ('relapse = { paramcd = "RELAPSE" }', 'relapse = "RELAPSE"',
     r"trial\.toml, column endpoints: \[endpoints\] must map names to tables"),
    ("seed = 7", 'column_types = "str"',
     r"trial\.toml, column column_types: \[column_types\] must map table names"),
])
def test_trial_toml_bad_values(folder, old, new, expected):
    assert old in _GOOD_TOML
    (folder / "trial.toml").write_text(_GOOD_TOML.replace(old, new), encoding="utf-8")
    with pytest.raises(TrialDataError, match=expected):
        ts.load_trial(folder)


def test_trial_toml_not_utf8(folder):
    (folder / "trial.toml").write_bytes(_GOOD_TOML.replace("Six", "Sïx").encode("latin-1"))
    with pytest.raises(TrialDataError, match=r"trial\.toml: not UTF-8 text"):
        ts.load_trial(folder)


def test_path_is_a_file(folder):
    with pytest.raises(TrialDataError, match=r"trial folder .*trial\.toml' is a file, not a folder"):
        ts.load_trial(folder / "trial.toml")


def test_table_path_is_a_folder(folder):
    (folder / "adae.csv").unlink()
    (folder / "adae.csv").mkdir()
    with pytest.raises(TrialDataError, match=r"adae\.csv: .*adae\.csv is not a file"):
        ts.load_trial(folder)


def test_in_memory_table_not_a_dataframe():
    adsl, adeff = _frames()
    with pytest.raises(TrialDataError, match=r"adtte: expected a pandas DataFrame; got dict"):
        ts.Trial(_meta(), adsl, adeff, adtte={"USUBJID": ["S1"]})


def test_in_memory_no_arms():
    with pytest.raises(TrialDataError, match=r"TrialMeta, column arms: no arms declared"):
        ts.Trial(_meta(arms={}), *_frames())


def test_in_memory_duplicate_column_names():
    adsl, adeff = _frames()
    adeff.columns = ["USUBJID", "PARAMCD", "AVISIT", "AVAL", "AVAL"]
    with pytest.raises(TrialDataError, match=r"adeff, column AVAL: duplicate column names AVAL"):
        ts.Trial(_meta(), adsl, adeff)
    adsl, adeff = _frames()
    adsl.columns = ["USUBJID", "USUBJID", "AGE"]
    with pytest.raises(TrialDataError, match=r"adsl, column USUBJID: duplicate column names USUBJID"):
        ts.Trial(_meta(), adsl, adeff)


def test_boolean_in_numeric_column_is_reported():
    adsl, adeff = _frames()
    adsl["AGE"] = [True, False]
    with pytest.raises(TrialDataError, match=r"adsl, column AGE: non-numeric values in rows 1 \(S1\), "
                       r"2 \(S2\): True, False"):
        ts.Trial(_meta(), adsl, adeff)


def test_visit_number_with_two_visit_names(folder):
    edit(folder, "adeff", 5, "AVISIT", "WEEK 12 (UNSCHEDULED)")
    with pytest.raises(TrialDataError, match=r"adeff\.csv, column AVISITN: AVISITN 12 has several AVISIT "
                       r"values \('WEEK 12', 'WEEK 12 \(UNSCHEDULED\)'\) in rows 2 \(MINI-0001\), "
                       r"5 \(MINI-0002\)"):
        ts.load_trial(folder)


# --- property: any cell content gives a Trial with the same rows, or one TrialDataError ----------

_CELLS = st.sampled_from(["", "NA", ".", "0", "1", "2", "-1", "12.5", "1e3", "12O", "n/a", " 7 ",
                          "WEEK 12", "PLACEBO", "EXOSOME", "MINI-0001", "MINI-0099", "Y", "\u00e9"])


_RAW = {t: pd.read_csv(MINI / f"{t}.csv", dtype=str, keep_default_na=False)
        for t in ("adsl", "adeff", "adtte", "adae")}
_MINI_META = ts.load_trial(MINI).meta


@settings(max_examples=40, deadline=None)
@given(cells=st.lists(st.tuples(st.sampled_from(["adsl", "adeff", "adtte", "adae"]),
                                st.integers(0, 17), st.integers(0, 10), _CELLS),
                      min_size=1, max_size=4))
def test_any_cell_edit_gives_same_rows_or_one_data_error(cells):
    raw = {t: df.copy() for t, df in _RAW.items()}
    for table, row, col, value in cells:
        df = raw[table]
        df.iat[row % len(df), col % df.shape[1]] = value
    try:
        trial = ts.Trial(_MINI_META, raw["adsl"], raw["adeff"], raw["adtte"], raw["adae"])
    except TrialDataError as e:
        assert e.problems and all(p.severity == "error" for p in e.problems)
        assert str(e).startswith(f"{len(e.problems)} problem")
        return
    assert {t: len(f) for t, f in trial.tables.items()} == {t: len(f) for t, f in raw.items()}
