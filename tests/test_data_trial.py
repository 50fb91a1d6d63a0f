"""Trial: dtypes after loading, metadata, analysis_frame, in-memory construction and Trial.write
(deterministic bytes, exact CSV round trip through load_trial). Fixture: tests/data/mini_trial."""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pandas.testing as pdt
import pytest

import trialstats as ts
from trialstats.data import TrialMeta
from trialstats.data.metadata import dumps_toml
from trialstats.errors import TrialDataError

MINI = Path(__file__).parent / "data" / "mini_trial"


@pytest.fixture(scope="module")
def trial() -> ts.Trial:
    return ts.load_trial(MINI)


def _meta(**changes) -> TrialMeta:
    base = dict(id="MEM-1", title="in memory", simulated=False,
                arms={"EXOSOME": "Exosome", "PLACEBO": "Placebo"}, reference="PLACEBO")
    return TrialMeta(**{**base, **changes})


# --- loading ----------------------------------------------------------------------------------


def test_meta(trial):
    m = trial.meta
    assert (m.id, m.title, m.simulated, m.reference) == ("MINI-001", "Six-subject fixture trial",
                                                         True, "PLACEBO")
    assert m.arms == {"EXOSOME": "Exosome injections", "MINOXIDIL": "Minoxidil 5% topical",
                      "PLACEBO": "Placebo"}
    assert m.endpoints == {"primary": {"paramcd": "TAHC", "visit": "WEEK 24"},
                           "relapse": {"paramcd": "RELAPSE"}}
    assert m.extra == {"seed": 7}
    assert m.path == MINI
    assert trial.source_files == {t: MINI / f"{t}.csv" for t in ("adsl", "adeff", "adtte", "adae")}
    assert trial.arms == ["PLACEBO", "EXOSOME", "MINOXIDIL"]


def test_dtypes(trial):
    arm = trial.adsl["ARM"]
    assert isinstance(arm.dtype, pd.CategoricalDtype)
    assert list(arm.cat.categories) == ["PLACEBO", "EXOSOME", "MINOXIDIL"]
    visit = trial.adeff["AVISIT"]
    assert list(visit.cat.categories) == ["BASELINE", "WEEK 12", "WEEK 24"]
    assert trial.adtte["CNSR"].dtype == np.int64
    assert trial.adtte["CNSR"].tolist() == [1, 0, 0, 1, 0, 0]
    assert trial.adeff["AVAL"].dtype == np.float64
    assert trial.adsl["AGE"].dtype == np.int64
    assert trial.adsl["DCSREAS"].tolist()[:3] == ["", "", "LOST TO FOLLOW-UP"]
    assert trial.adeff["ABLFL"].tolist()[:2] == ["Y", ""]


def test_visits_ordered_by_avisitn_not_by_name_or_file_order(tmp_path):
    folder = Path(shutil.copytree(MINI, tmp_path / "t"))
    df = pd.read_csv(folder / "adeff.csv", dtype=str, keep_default_na=False)
    df["AVISIT"] = df["AVISIT"].replace({"WEEK 24": "WEEK 4", "WEEK 12": "WEEK 2"})
    df["AVISITN"] = df["AVISITN"].replace({"24": "4", "12": "2"})
    df.iloc[::-1].to_csv(folder / "adeff.csv", index=False)
    text = (folder / "trial.toml").read_text(encoding="utf-8").replace("WEEK 24", "WEEK 4")
    (folder / "trial.toml").write_text(text, encoding="utf-8")
    t = ts.load_trial(folder)
    assert list(t.adeff["AVISIT"].cat.categories) == ["BASELINE", "WEEK 2", "WEEK 4"]
    assert t.adeff["USUBJID"].iloc[0] == "MINI-0006"  # file order kept


def test_extra_columns_kept(trial):
    assert {"SITEID", "STAGE", "BASETAHC"} <= set(trial.adsl.columns)
    assert {"PARAM", "ADY"} <= set(trial.adeff.columns)
    assert list(trial.adae.columns) == ["USUBJID", "AESEQ", "AEBODSYS", "AEDECOD", "AESEV",
                                        "AESER", "TRTEMFL", "ASTDY"]


def test_optional_tables_absent(tmp_path):
    folder = Path(shutil.copytree(MINI, tmp_path / "t"))
    text = (folder / "trial.toml").read_text(encoding="utf-8")
    text = text.replace('adtte = "adtte.csv"\n', "").replace('adae = "adae.csv"\n', "")
    (folder / "trial.toml").write_text(text, encoding="utf-8")
    t = ts.load_trial(folder)
    assert t.adtte is None and t.adae is None
    assert list(t.tables) == ["adsl", "adeff"]
    with pytest.raises(TrialDataError, match=r"trial 'MINI-001' has no adtte table; present: adsl, adeff"):
        t.analysis_frame("adtte")


def test_repr(trial):
    assert repr(trial) == ("<Trial MINI-001 (simulated): 3 arms, 6 subjects; adsl 6 rows, "
                           "adeff 18 rows, adtte 6 rows, adae 3 rows>")


# --- analysis_frame -----------------------------------------------------------------------------


def test_analysis_frame_merges_subject_columns(trial):
    df = trial.analysis_frame("adeff", paramcd="TAHC")
    assert len(df) == len(trial.adeff) == 18
    assert df["USUBJID"].tolist() == trial.adeff["USUBJID"].tolist()
    assert df.loc[df["USUBJID"] == "MINI-0002", "ARM"].unique().tolist() == ["MINOXIDIL"]
    assert list(df["ARM"].cat.categories) == ["PLACEBO", "EXOSOME", "MINOXIDIL"]
    assert {"AGE", "SEX", "STAGE", "BASETAHC"} <= set(df.columns)
    assert trial.efficacy("TAHC").equals(df)


def test_analysis_frame_own_columns_win_and_rows_kept():
    adsl = pd.DataFrame({"USUBJID": ["S1", "S2"], "ARM": ["EXOSOME", "PLACEBO"], "AGE": [30, 40]})
    adeff = pd.DataFrame({"USUBJID": ["S1", "S1", "S2", "S2", "S2"],
                          "PARAMCD": ["TAHC", "TAHC", "TAHC", "TAHC", "GPA"],
                          "AVISIT": ["BASELINE", "WEEK 4", "BASELINE", "WEEK 4", "WEEK 8"],
                          "AVISITN": [0, 4, 0, 4, 8], "AVAL": [100.0, 110.0, 90.0, np.nan, 1.0],
                          "AGE": [31, 31, 41, 41, 41]})
    t = ts.Trial(_meta(), adsl, adeff)
    assert t.meta.path is None and t.source_files == {}
    df = t.analysis_frame("adeff", paramcd="TAHC")
    assert len(df) == 4 and df["AGE"].tolist() == [31, 31, 41, 41]
    assert list(df["AVISIT"].cat.categories) == ["BASELINE", "WEEK 4"]  # WEEK 8 (GPA) dropped
    assert len(t.analysis_frame("adeff")) == 5
    assert list(t.analysis_frame("adeff")["AVISIT"].cat.categories) == ["BASELINE", "WEEK 4", "WEEK 8"]


def test_analysis_frame_errors(trial):
    with pytest.raises(TrialDataError, match=r"unknown table 'adlb'; valid: adsl, adeff, adtte, adae"):
        trial.analysis_frame("adlb")
    with pytest.raises(TrialDataError, match=r"PARAMCD 'TAHD' is not in adeff of trial 'MINI-001'; "
                       r"valid: TAHC"):
        trial.analysis_frame("adeff", paramcd="TAHD")
    with pytest.raises(TrialDataError, match=r"table adae has no PARAMCD column"):
        trial.analysis_frame("adae", paramcd="TAHC")
    assert len(trial.analysis_frame("adae")) == 3 and "ARM" in trial.analysis_frame("adae")


# --- in memory ---------------------------------------------------------------------------------


def test_in_memory_normalises_text_columns():
    adsl = pd.DataFrame({"USUBJID": [101, 102], "ARM": pd.Categorical(["EXOSOME", "PLACEBO"]),
                         "DCSREAS": [None, "ADVERSE EVENT"], "NOTE": [np.nan, "x"]})
    adeff = pd.DataFrame({"USUBJID": ["101", "102"], "PARAMCD": "TAHC", "AVISIT": "BASELINE",
                          "AVISITN": [0, 0], "AVAL": [1, 2]})
    t = ts.Trial(_meta(), adsl, adeff)
    assert t.adsl["USUBJID"].tolist() == ["101", "102"]
    assert t.adsl["DCSREAS"].tolist() == ["", "ADVERSE EVENT"]
    assert t.adsl["NOTE"].tolist() == ["", "x"]
    assert list(t.adsl["ARM"].cat.categories) == ["PLACEBO", "EXOSOME"]
    assert t.adeff["AVAL"].dtype == np.int64
    assert len(adsl) == 2 and adsl["DCSREAS"].iloc[0] is None  # the caller's frame is untouched


# --- write ------------------------------------------------------------------------------------


def test_write_csv_round_trip_exact(trial, tmp_path):
    out = trial.write(tmp_path / "copy")
    back = ts.load_trial(out)
    for name in ("adsl", "adeff", "adtte", "adae"):
        pdt.assert_frame_equal(back.tables[name], trial.tables[name])
    assert back.meta == TrialMeta(**{**trial.meta.__dict__, "path": out})


def test_write_is_deterministic_lf_and_stable(trial, tmp_path):
    a, b = trial.write(tmp_path / "a"), ts.load_trial(trial.write(tmp_path / "b")).write(tmp_path / "c")
    names = sorted(p.name for p in a.iterdir())
    assert names == ["adae.csv", "adeff.csv", "adsl.csv", "adtte.csv", "trial.toml"]
    for name in names:
        data = (a / name).read_bytes()
        assert data == (b / name).read_bytes()
        assert b"\r" not in data and data.endswith(b"\n")
    assert (a / "adeff.csv").read_text(encoding="utf-8").splitlines()[2] == (
        "MINI-0001,TAHC,Target-area hair count (hairs/cm2),WEEK 12,12,85,170.5,150.5,20.0,")


def test_write_round_trips_awkward_values(tmp_path):
    adsl = pd.DataFrame({
        "USUBJID": ["S1", "S2", "S3"], "ARM": ["EXOSOME", "PLACEBO", "PLACEBO"],
        "SITEID": ["01", "02", "10"],                       # digits but text
        "X": [0.1 + 0.2, 1e-300, 123456789.12345679],        # repr-exact floats
        "W": [1.0, 2.0, 3.0],                                # whole floats stay float
        "N": pd.array([1, None, 3], dtype="Int64"),          # nullable integers
        "B": [True, False, True],
        "T": ['quote " and, comma', "line\nbreak", "ünïcode"],
    })
    adeff = pd.DataFrame({"USUBJID": ["S1", "S2", "S3"], "PARAMCD": "TAHC", "AVISIT": "BASELINE",
                          "AVISITN": [0, 0, 0], "AVAL": [1.5, np.nan, 2.0]})
    meta = _meta(extra={"seed": 3, "note": 'a "quoted"\tvalue\\', "generator": {"n": 2, "w": [1.5]}},
                 endpoints={"primary": {"paramcd": "TAHC", "visit": "BASELINE"}})
    t = ts.Trial(meta, adsl, adeff)
    back = ts.load_trial(t.write(tmp_path / "t"))
    pdt.assert_frame_equal(back.adsl, t.adsl)
    pdt.assert_frame_equal(back.adeff, t.adeff)
    assert back.meta.extra == meta.extra and back.meta.endpoints == meta.endpoints


def test_write_parquet_round_trip(trial, tmp_path):
    back = ts.load_trial(trial.write(tmp_path / "pq", format="parquet"))
    assert back.source_files["adsl"].name == "adsl.parquet"
    for name in ("adsl", "adeff", "adtte", "adae"):
        pdt.assert_frame_equal(back.tables[name], trial.tables[name])


def test_write_unknown_format(trial, tmp_path):
    with pytest.raises(TrialDataError, match=r"unknown format 'xlsx'; valid: csv, parquet"):
        trial.write(tmp_path / "x", format="xlsx")


def test_toml_emitter_escapes_and_reads_back():
    meta = _meta(id='ID "1"', title="tab\there\nnew line \\ \x01 \x7f é",
                 extra={"odd key": 1.5, "nan": float("inf"), "flag": False, "list": [1, "a"]})
    doc = tomllib.loads(dumps_toml(meta, {"adsl": "a b.csv"}))
    assert doc["id"] == meta.id and doc["title"] == meta.title
    assert doc["odd key"] == 1.5 and doc["nan"] == float("inf") and doc["flag"] is False
    assert doc["list"] == [1, "a"] and doc["tables"] == {"adsl": "a b.csv"}
    assert list(doc["arms"]["codes"]) == ["PLACEBO", "EXOSOME"]  # reference first


def test_toml_emitter_rejects_unknown_types():
    with pytest.raises(TrialDataError, match=r"trial\.toml: cannot write object value .*; valid types: "
                       r"str, int, float, bool, list, dict"):
        dumps_toml(_meta(extra={"x": object()}), {})
