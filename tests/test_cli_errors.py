"""Clean errors from the command line (issue 11, part 6): exit 2 for bad input, 1 for a failed
analysis, never a traceback (unless --debug); sections without data are "not applicable", not
failures; progress lines come in build order and name the trial (issue 13)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import trialstats as ts
import trialstats.data
from trialstats.cli import main

ROOT = Path(__file__).resolve().parent.parent
MINI = Path(__file__).parent / "data" / "mini_trial"


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    # six subjects per arm are too few for the subgroup interaction fits: no subgroups planned
    t = ts.simulate_trial(n_per_arm=6, n_sites=2, seed=2, relapse="half-gain").write(tmp_path_factory.mktemp("cli") / "t")
    (t / "sap.toml").write_text("[subgroups]\n", encoding="utf-8")
    return t


def _copy(folder, tmp_path) -> Path:
    return Path(shutil.copytree(folder, tmp_path / "t"))


def test_invalid_data_exits_2_in_a_real_process(tmp_path):
    bad = _copy(MINI, tmp_path)
    text = (bad / "adsl.csv").read_text(encoding="utf-8").replace("MINI-0002,S01,MINOXIDIL,41,", "MINI-0002,S01,MINOXIDIL,1e308,")
    (bad / "adsl.csv").write_text(text, encoding="utf-8")
    run = subprocess.run([sys.executable, "-m", "trialstats", "report", str(bad), "-o", str(tmp_path / "r.html")],
                         capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert run.returncode == 2
    assert "adsl.csv, column AGE: impossible values 1e+308 in row 2 (MINI-0002)" in run.stderr
    assert "Traceback" not in run.stderr and not (tmp_path / "r.html").exists()


def test_misspelled_strata_in_sap_toml_exits_2(folder, tmp_path, capsys):
    t = _copy(folder, tmp_path)
    (t / "sap.toml").write_text('[relapse]\nstrata = ["STAGEGRP"]\n', encoding="utf-8")
    assert main(["report", str(t), "-o", str(tmp_path / "r.html")]) == 2
    err = capsys.readouterr().err
    assert "error: relapse.strata: column 'STAGEGRP' is not in the ADTTE or ADSL data" in err
    assert not (tmp_path / "r.html").exists()


def test_latin1_sap_toml_exits_2(folder, tmp_path, capsys):
    t = _copy(folder, tmp_path)
    (t / "sap.toml").write_bytes('[subgroups]\nSEX = "Geschlecht \xe4"\n'.encode("latin-1"))
    assert main(["report", str(t), "-o", str(tmp_path / "r.html")]) == 2
    assert "sap.toml: not UTF-8 text" in capsys.readouterr().err


def test_output_folder_input_file_and_foreign_file(folder, tmp_path, capsys):
    assert main(["report", str(folder), "-o", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"error: -o {tmp_path}: is an existing folder" in err
    assert "[ 1/" not in err  # refused before the build: no section ran
    assert main(["report", str(folder), "-o", str(folder / "adsl.csv")]) == 2
    assert "adsl.csv is an input file of trial" in capsys.readouterr().err
    mine = tmp_path / "mine.html"
    mine.write_text("mine", encoding="utf-8")
    assert main(["report", str(folder), "-o", str(mine)]) == 2
    assert "is not a trialstats report" in capsys.readouterr().err
    assert main(["report", str(folder), "-o", str(mine), "--force"]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == str(mine)
    # progress: build order, numbered 1..13, each line naming the trial
    lines = [x for x in captured.err.splitlines() if x.startswith("[")]
    assert [int(re.match(r"\[\s*(\d+)/13\]", x).group(1)) for x in lines] == list(range(1, 14))
    assert all(" SIM-HAIR: " in x for x in lines)


def test_unexpected_error_is_one_line_and_debug_shows_the_traceback(monkeypatch, capsys):
    def broken(path, allow_outside=False):
        raise KeyError("internal")

    monkeypatch.setattr(trialstats.data, "validate_folder", broken)  # fault injection
    assert main(["validate", str(MINI)]) == 1
    err = capsys.readouterr().err
    assert err.strip() == ("error: unexpected KeyError: 'internal' (this is a bug in trialstats; rerun "
                           "with --debug for the traceback)")
    assert main(["validate", str(MINI), "--debug"]) == 1
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "rerun with --debug" in err
    assert main(["--debug", "validate", str(MINI)]) == 1
    assert "Traceback" in capsys.readouterr().err


def test_failed_section_exits_1_unless_keep_going(folder, tmp_path, capsys):
    trial = ts.load_trial(folder)
    adeff = trial.adeff.copy()
    adeff.loc[adeff["AVISIT"] == "WEEK 24", ["AVAL", "CHG"]] = np.nan  # primary visit all missing
    t = ts.Trial(trial.meta, trial.adsl, adeff, trial.adtte, trial.adae).write(tmp_path / "t")
    shutil.copy(folder / "sap.toml", t / "sap.toml")
    out = tmp_path / "r.html"
    assert main(["report", str(t), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "FAILED: ModelError: primary visit 'WEEK 24' of PARAMCD TAHC: CHG is missing in all" in err
    assert re.search(r"error: .*r\.html: \d+ section\(s\) failed: Primary endpoint", err)
    assert out.is_file()
    assert main(["report", str(t), "-o", str(out), "--keep-going"]) == 0


def test_absent_tables_are_not_applicable_not_failures(folder, tmp_path, capsys):
    trial = ts.load_trial(folder)
    t = ts.Trial(trial.meta, trial.adsl, trial.adeff).write(tmp_path / "t")
    shutil.copy(folder / "sap.toml", t / "sap.toml")
    out = tmp_path / "r.html"
    assert main(["report", str(t), "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "Relapse (section 7): not applicable: the trial has no ADTTE table" in err
    assert "Safety (section 10): not applicable: the trial has no ADAE table" in err
    assert "FAILED" not in err
    html = out.read_text(encoding="utf-8")
    assert "Not applicable: the trial has no ADTTE table" in html
    assert "could not be completed" not in html


def test_control_characters_from_the_data_never_reach_the_terminal(tmp_path, capsys):
    bad = _copy(MINI, tmp_path)
    toml = bad / "trial.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace('adsl = "adsl.csv"', 'adsl = "\\u001b[31mred.csv"'),
                    encoding="utf-8")
    assert main(["validate", str(bad)]) == 1
    out = capsys.readouterr().out
    assert "\x1b" not in out and "?[31mred.csv" in out
