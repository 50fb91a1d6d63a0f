"""CSV tables read through pyarrow (issue 11, part 7): explicit string types, so junk in a
numeric column is still reported (never NaN), the same Trial as the csv-module reader, row
numbers right across Arrow's blocks, the exact messages of the csv-module reader for malformed
files, and no misleading secondary warnings after a read failure. Speed and memory are measured
in benchmarks/bench_validate.py, not here.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import trialstats as ts
from trialstats.data import readers, validate_folder
from trialstats.errors import TrialDataError

ROOT = Path(__file__).resolve().parent.parent
MINI = Path(__file__).parent / "data" / "mini_trial"
N_SUBJECTS = 12_000  # x 10 visits: about 5 MB of ADEFF, more than one 4 MB Arrow block


def _python_only(monkeypatch):
    monkeypatch.setattr(readers, "read_csv_arrow", lambda *a, **k: None)  # the csv-module path


@pytest.mark.parametrize("folder", [MINI, ROOT / "datasets" / "exo-hair-301", ROOT / "datasets" / "exo-hair-202"],
                         ids=["mini", "exo-hair-301", "exo-hair-202"])
def test_arrow_and_csv_module_readers_give_the_same_trial(folder, monkeypatch):
    fast = ts.load_trial(folder)
    with monkeypatch.context() as m:
        _python_only(m)
        slow = ts.load_trial(folder)
    for name, frame in fast.tables.items():
        pd.testing.assert_frame_equal(frame, slow.tables[name], check_exact=True)
    assert [str(p) for p in fast.validation.warnings] == [str(p) for p in slow.validation.warnings]


@pytest.fixture(scope="module")
def big(tmp_path_factory) -> Path:
    """A valid trial whose ADEFF spans several Arrow blocks."""
    folder = tmp_path_factory.mktemp("big")
    ids = [f"B-{i:06d}" for i in range(N_SUBJECTS)]
    pd.DataFrame({"USUBJID": ids, "ARM": ["PLACEBO", "EXOSOME"] * (N_SUBJECTS // 2), "AGE": 40}).to_csv(
        folder / "adsl.csv", index=False)
    weeks = [0, 4, 8, 12, 16, 20, 24, 32, 40, 52]
    n = N_SUBJECTS * len(weeks)
    week = np.tile(weeks, N_SUBJECTS)
    aval = 100.0 + (np.arange(n) % 97) / 4
    base = np.repeat(aval[:: len(weeks)], len(weeks))
    pd.DataFrame({"USUBJID": np.repeat(ids, len(weeks)), "PARAMCD": "TAHC",
                  "AVISIT": [("BASELINE" if w == 0 else f"WEEK {w}") for w in week], "AVISITN": week,
                  "AVAL": aval, "BASE": base, "CHG": aval - base,
                  "ABLFL": np.where(week == 0, "Y", "")}).to_csv(folder / "adeff.csv", index=False)
    (folder / "trial.toml").write_text(
        'id = "BIG"\ntitle = "t"\n[arms]\nreference = "PLACEBO"\ncodes = { PLACEBO = "Placebo", EXOSOME = "Exo" }\n'
        '[tables]\nadsl = "adsl.csv"\nadeff = "adeff.csv"\n', encoding="utf-8")
    assert (folder / "adeff.csv").stat().st_size > 4 << 20
    return folder


def _rewrite_row(folder: Path, row: int, column: str, value: str) -> None:
    """Replace one cell of adeff.csv (row counts data rows from 1) by text."""
    lines = (folder / "adeff.csv").read_text(encoding="utf-8").split("\n")
    header = lines[0].split(",")
    cells = lines[row].split(",")
    cells[header.index(column)] = value
    lines[row] = ",".join(cells)
    (folder / "adeff.csv").write_text("\n".join(lines), encoding="utf-8")


def test_large_table_types_and_values(big):
    trial = ts.load_trial(big)
    adeff = trial.adeff
    assert len(adeff) == N_SUBJECTS * 10
    assert adeff["AVISITN"].dtype == np.int64 and adeff["AVAL"].dtype == np.float64
    assert list(adeff["AVISIT"].cat.categories[:3]) == ["BASELINE", "WEEK 4", "WEEK 8"]
    # an independent read of the same file (pandas' C parser) gives the same numbers
    ref = pd.read_csv(big / "adeff.csv")
    np.testing.assert_array_equal(adeff["AVAL"].to_numpy(), ref["AVAL"].to_numpy())
    np.testing.assert_array_equal(adeff["CHG"].to_numpy(), ref["CHG"].to_numpy())


def test_junk_in_a_late_block_is_reported_with_its_row(big, tmp_path):
    folder = Path(shutil.copytree(big, tmp_path / "t"))
    late = N_SUBJECTS * 10 - 5  # in the last Arrow block
    _rewrite_row(folder, 7, "AVAL", "12O")
    _rewrite_row(folder, late, "AVAL", "n/a")
    with pytest.raises(TrialDataError) as err:
        ts.load_trial(folder)
    (p,) = [p for p in err.value.problems if p.column == "AVAL" and "non-numeric" in p.message]
    assert p.rows == (7, late)
    assert "'12O', 'n/a'; expected numbers" in p.message
    assert f"rows 7 (B-000000), {late} (B-{(late - 1) // 10:06d})" in p.message


def test_missing_tokens_become_nan_and_integers_stay_integers(big, tmp_path):
    folder = Path(shutil.copytree(big, tmp_path / "t"))
    _rewrite_row(folder, N_SUBJECTS * 10, "AVISITN", "+52")  # a sign: still a whole number
    for row, token in ((3, "NA"), (N_SUBJECTS * 10 - 2, ".")):
        _rewrite_row(folder, row, "AVAL", token)
        _rewrite_row(folder, row, "CHG", "")
    trial = ts.load_trial(folder)
    assert trial.adeff["AVISITN"].dtype == np.int64 and trial.adeff["AVISITN"].iloc[-1] == 52
    assert np.isnan(trial.adeff["AVAL"].iloc[2]) and np.isnan(trial.adeff["AVAL"].iloc[-3])
    assert trial.adeff["AVAL"].isna().sum() == 2


def test_malformed_file_keeps_the_exact_messages_and_no_misleading_warnings(tmp_path):
    folder = Path(shutil.copytree(MINI, tmp_path / "t"))
    lines = (folder / "adeff.csv").read_text(encoding="utf-8").split("\n")
    lines[2] += ",extra"
    (folder / "adeff.csv").write_text("\n".join(lines), encoding="utf-8")
    report = validate_folder(folder)
    assert [str(p) for p in report.errors] == [
        "adeff.csv: malformed CSV: line 3 has 11 fields; the header has 10 (every line needs as "
        "many fields as the header)"]
    # before: "trial.toml, column endpoints.primary: PARAMCD 'TAHC' is in no table" (misleading)
    assert not any("endpoints" in str(p) for p in report.warnings)


def test_invalid_utf8_late_in_a_large_file_names_the_offset(big, tmp_path):
    folder = Path(shutil.copytree(big, tmp_path / "t"))
    raw = bytearray((folder / "adeff.csv").read_bytes())
    at = len(raw) - 100
    at = raw.index(b"TAHC", at - 200)
    raw[at] = 0xE9
    (folder / "adeff.csv").write_bytes(bytes(raw))
    with pytest.raises(TrialDataError, match=rf"adeff\.csv: not UTF-8 text \(byte 0xe9 at offset {at}\)"):
        ts.load_trial(folder)
