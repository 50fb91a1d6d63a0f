"""Table files stay inside the trial folder (issue 11, part 2) and reports never record absolute
paths (issue 13): ``../x``, absolute paths and escaping symbolic links are refused with a
TrialDataError naming the ``[tables]`` key and the path, unless ``allow_outside=True`` /
``--allow-outside``; the appendix records each input relative to the folder with its SHA-256.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

import trialstats as ts
from trialstats.cli import main
from trialstats.data import validate_folder
from trialstats.errors import TrialDataError, TrialstatsError
from trialstats.report.manifest import input_hashes

MINI = Path(__file__).parent / "data" / "mini_trial"


def _with_table_path(tmp_path: Path, value: str) -> Path:
    folder = Path(shutil.copytree(MINI, tmp_path / "trial"))
    toml = folder / "trial.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace('adsl = "adsl.csv"', f'adsl = "{value}"'),
                    encoding="utf-8")
    return folder


def _outside_copy(tmp_path: Path) -> Path:
    other = tmp_path / "elsewhere"
    other.mkdir()
    shutil.copy(MINI / "adsl.csv", other / "adsl.csv")
    return other / "adsl.csv"


@pytest.mark.parametrize("kind", ["dotdot", "absolute", "symlink"])
def test_table_path_leaving_the_folder_is_refused(tmp_path, kind):
    outside = _outside_copy(tmp_path)
    if kind == "dotdot":
        folder = _with_table_path(tmp_path, "../elsewhere/adsl.csv")
        shown = "../elsewhere/adsl.csv"
    elif kind == "absolute":
        folder = _with_table_path(tmp_path, outside.as_posix())
        shown = outside.as_posix()
    else:
        folder = _with_table_path(tmp_path, "link.csv")
        os.symlink(outside, folder / "link.csv")
        shown = "link.csv"
    with pytest.raises(TrialDataError, match=r"column tables\.adsl: path \"" + shown.replace(".", r"\.")
                       + r"\" leaves the trial folder") as err:
        ts.load_trial(folder)
    assert isinstance(err.value, TrialstatsError)
    assert "allow_outside=True" in str(err.value)
    report = validate_folder(folder)
    assert not report.ok and any(p.column == "tables.adsl" for p in report.errors)
    # trusted folder: explicitly allowed
    trial = ts.load_trial(folder, allow_outside=True)
    assert len(trial.adsl) == 6
    assert validate_folder(folder, allow_outside=True).ok


def test_symlink_inside_the_folder_is_accepted(tmp_path):
    folder = _with_table_path(tmp_path, "link.csv")
    os.symlink(folder / "adsl.csv", folder / "link.csv")
    assert len(ts.load_trial(folder).adsl) == 6


def test_cli_refuses_and_allow_outside_accepts(tmp_path, capsys):
    _outside_copy(tmp_path)
    folder = _with_table_path(tmp_path, "../elsewhere/adsl.csv")
    assert main(["validate", str(folder)]) == 1
    assert "tables.adsl: path \"../elsewhere/adsl.csv\" leaves the trial folder" in capsys.readouterr().out
    assert main(["validate", "--allow-outside", str(folder)]) == 0


def test_appendix_paths_are_relative_with_sha256(tmp_path):
    outside = _outside_copy(tmp_path)
    folder = _with_table_path(tmp_path, "../elsewhere/adsl.csv")
    trial = ts.load_trial(folder, allow_outside=True)
    hashes = input_hashes(trial).set_index("input")
    assert hashes.loc["adsl", "file"] == "../elsewhere/adsl.csv"
    assert hashes.loc["adeff", "file"] == "adeff.csv"
    assert hashes.loc["metadata", "file"] == "trial.toml"
    # independent digest: hashlib over the file's bytes
    assert hashes.loc["adsl", "sha256"] == hashlib.sha256(outside.read_bytes()).hexdigest()
    assert not any(os.path.isabs(f) for f in hashes["file"])


def test_report_of_the_same_data_in_another_folder_is_byte_identical(tmp_path):
    trial = ts.simulate_trial(n_per_arm=6, n_sites=2, seed=2)
    outs = []
    for where in ("a/deep/er", "b"):
        folder = trial.write(tmp_path / where / "trial-x")
        out = tmp_path / where / "out" / "r.html"
        ts.build_report(ts.load_trial(folder.resolve()), out.resolve())
        outs.append(out)
    html = outs[0].read_text(encoding="utf-8")
    assert str(tmp_path) not in html
    assert outs[0].read_bytes() == outs[1].read_bytes()
    inputs = pd.read_csv(outs[0].parent / "r_ard" / "appendix_inputs.csv")
    assert list(inputs["file"]) == ["trial.toml", "adsl.csv", "adeff.csv", "adtte.csv", "adae.csv"]
    for csv in sorted((outs[0].parent / "r_ard").glob("*.csv")):
        assert (outs[1].parent / "r_ard" / csv.name).read_bytes() == csv.read_bytes(), csv.name
