"""Readers: every format keeps every row (row counts in = row counts out) and gives the same values.

Fixtures: tests/data/mini_trial (CSV, hand-made), tests/data/mini_trial_sas (.sas7bdat made by
tests/data/make_mini_trial_sas.R with haven::write_sas); Parquet and XPT copies are written in
tmp_path (pyarrow, pyreadstat.write_xport).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pandas.testing as pdt
import pyreadstat
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import trialstats as ts
from trialstats.data.readers import read_table, write_table
from trialstats.errors import TrialDataError

DATA = Path(__file__).parent / "data"
MINI = DATA / "mini_trial"
TABLES = ("adsl", "adeff", "adtte", "adae")
# data rows of the fixture CSV files (lines minus the header), counted independently of pandas
ROWS_IN = {t: len((MINI / f"{t}.csv").read_text(encoding="utf-8").splitlines()) - 1 for t in TABLES}


@pytest.fixture(scope="module")
def reference() -> ts.Trial:
    return ts.load_trial(MINI)


def copy_with(tmp_path: Path, ext: str, writer) -> Path:
    """Copy the fixture trial, converting every table with writer(csv_frame, path)."""
    folder = Path(shutil.copytree(MINI, tmp_path / f"trial_{ext}"))
    text = (folder / "trial.toml").read_text(encoding="utf-8")
    for t in TABLES:
        raw = pd.read_csv(MINI / f"{t}.csv", keep_default_na=False, na_values=[""])
        (folder / f"{t}.csv").unlink()
        writer(raw, folder / f"{t}.{ext}")
        text = text.replace(f"{t}.csv", f"{t}.{ext}")
    (folder / "trial.toml").write_text(text, encoding="utf-8")
    return folder


def test_fixture_row_counts_are_what_the_files_hold(reference):
    assert ROWS_IN == {"adsl": 6, "adeff": 18, "adtte": 6, "adae": 3}
    assert {t: len(f) for t, f in reference.tables.items()} == ROWS_IN


@pytest.mark.parametrize("bom, newline", [(True, "\n"), (False, "\r\n"), (True, "\r\n")])
def test_csv_bom_and_crlf(tmp_path, reference, bom, newline):
    folder = Path(shutil.copytree(MINI, tmp_path / "trial"))
    for t in TABLES:
        text = (MINI / f"{t}.csv").read_text(encoding="utf-8").replace("\n", newline)
        (folder / f"{t}.csv").write_bytes((("\ufeff" if bom else "") + text).encode("utf-8"))
    trial = ts.load_trial(folder)
    for t in TABLES:
        assert len(trial.tables[t]) == ROWS_IN[t]
        pdt.assert_frame_equal(trial.tables[t], reference.tables[t])


def test_csv_quoted_comma_and_newline_keep_rows(tmp_path):
    folder = Path(shutil.copytree(MINI, tmp_path / "trial"))
    text = (folder / "adsl.csv").read_text(encoding="utf-8").replace(
        "LOST TO FOLLOW-UP", '"WITHDREW, SAID:\nNO MORE ""INJECTIONS"""')
    (folder / "adsl.csv").write_text(text, encoding="utf-8")
    trial = ts.load_trial(folder)
    assert len(trial.adsl) == 6
    assert trial.adsl.loc[2, "DCSREAS"] == 'WITHDREW, SAID:\nNO MORE "INJECTIONS"'


def test_parquet(tmp_path, reference):
    folder = copy_with(tmp_path, "parquet", lambda df, p: df.to_parquet(p, index=False))
    trial = ts.load_trial(folder)
    for t in TABLES:
        assert len(trial.tables[t]) == ROWS_IN[t]
        pdt.assert_frame_equal(trial.tables[t], reference.tables[t])
    assert trial.source_files["adeff"] == folder / "adeff.parquet"


def test_xpt_written_with_pyreadstat(tmp_path, reference):
    folder = copy_with(tmp_path, "xpt", lambda df, p: pyreadstat.write_xport(df, str(p)))
    trial = ts.load_trial(folder)
    for t in TABLES:
        assert len(trial.tables[t]) == ROWS_IN[t]
        # SAS transport stores every number as a double: compare values, not int/float dtype
        pdt.assert_frame_equal(trial.tables[t], reference.tables[t], check_dtype=False)
    assert trial.adtte["CNSR"].dtype == np.int64


def test_sas7bdat_written_by_haven(reference):
    trial = ts.load_trial(DATA / "mini_trial_sas")
    assert {t: len(f) for t, f in trial.tables.items()} == {"adsl": 6, "adeff": 18}
    for t in ("adsl", "adeff"):
        pdt.assert_frame_equal(trial.tables[t], reference.tables[t], check_dtype=False)


def test_junk_in_typed_parquet_text_column_reported(tmp_path):
    def writer(df, path):
        if path.stem == "adeff":
            df = df.astype({"AVAL": str})
            df.loc[4, "AVAL"] = "n/a"
        df.to_parquet(path, index=False)

    folder = copy_with(tmp_path, "parquet", writer)
    with pytest.raises(TrialDataError, match=r"adeff\.parquet, column AVAL: non-numeric values in row 5 "
                       r"\(MINI-0002\): 'n/a'"):
        ts.load_trial(folder)


def test_extra_csv_columns_typed_from_text(reference):
    assert reference.adsl["SITEID"].tolist() == ["S01", "S01", "S02", "S02", "S01", "S02"]
    assert reference.adsl["BASETAHC"].dtype == np.float64
    assert reference.adeff["ADY"].dtype == np.int64
    assert reference.adtte["TUPPER"].dtype == np.float64  # blank when censored
    assert np.isnan(reference.adtte["TUPPER"].iloc[0])


def test_read_table_never_changes_row_count_even_for_blank_rows(tmp_path):
    path = tmp_path / "adae.csv"
    path.write_text("USUBJID,AEDECOD\nA,HEADACHE\n,\nB,PAIN\n", encoding="utf-8")
    assert len(read_table(path, "adae")) == 3


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(allow_nan=True, allow_infinity=False, width=64), min_size=1, max_size=8))
def test_csv_float_column_round_trips_exactly(tmp_path_factory, values):
    path = tmp_path_factory.mktemp("rt") / "adsl.csv"
    df = pd.DataFrame({"X": np.array(values, dtype=float)})
    types = write_table(df, path, "adsl")
    back = read_table(path, "adsl", types)
    pdt.assert_frame_equal(back, df)


def test_sas_without_pyreadstat_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyreadstat", None)
    with pytest.raises(TrialDataError, match=r"adsl\.sas7bdat: reading \.sas7bdat files needs the "
                       r"pyreadstat package \(pip install 'pyreadstat>=1.2'\)"):
        ts.load_trial(DATA / "mini_trial_sas")


@pytest.mark.parametrize("hidden", ["\ufeff", "\u200b", "\x07"])
def test_invisible_character_inside_the_header_is_a_named_error(tmp_path, hidden):
    # a BOM in the middle of a header (two files concatenated) made "\ufeffSEX" a new column
    folder = Path(shutil.copytree(MINI, tmp_path / "trial"))
    lines = (folder / "adsl.csv").read_text(encoding="utf-8").split("\n", 1)
    lines[0] = lines[0].replace(",SEX", f",{hidden}SEX")
    (folder / "adsl.csv").write_text("\n".join(lines), encoding="utf-8")
    code = f"U\\+{ord(hidden):04X}"
    with pytest.raises(TrialDataError, match=rf"adsl\.csv.*column \d+ '.*SEX' \({code}\)"):
        ts.load_trial(folder)


def test_invisible_character_in_a_parquet_column_name_is_a_named_error(tmp_path):
    df = pd.DataFrame({"USUBJID": ["A"], "\ufeffSEX": ["F"]})
    df.to_parquet(tmp_path / "adsl.parquet")
    from trialstats.data.readers import TableReadError

    with pytest.raises(TableReadError, match=r"column 2 '.*SEX' \(U\+FEFF\)"):
        read_table(tmp_path / "adsl.parquet", "adsl")
