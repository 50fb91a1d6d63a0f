"""The report is written safely (issue 11, part 4).

Checks before the build (-o a folder, an input file, a file that is not a trialstats report),
atomic writes (temporary file + os.replace), a manifest in <stem>_ard/ (only files trialstats
wrote are ever removed), two concurrent builds by two real processes, and CSV cells neutralised
against spreadsheet formula injection (OWASP) while negative numbers stay numbers.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import trialstats as ts
from trialstats.errors import TrialstatsError
from trialstats.report import OutputError
from trialstats.report._output import MANIFEST_NAME, atomic_write_bytes, is_report, write_outputs

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return ts.simulate_trial(n_per_arm=6, n_sites=2, seed=2).write(tmp_path_factory.mktemp("trial") / "t")


@pytest.fixture(scope="module")
def trial(folder):
    return ts.load_trial(folder)


def test_output_naming_a_folder_is_refused_before_the_build(trial, tmp_path):
    lines = []
    with pytest.raises(OutputError, match=rf"-o {tmp_path}: is an existing folder; give the HTML file") as err:
        ts.build_report(trial, tmp_path, progress=lines.append)
    assert isinstance(err.value, TrialstatsError)
    assert lines == []  # nothing was computed
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["adsl.csv", "trial.toml", "sap.toml"])
def test_input_files_are_never_overwritten(trial, folder, name):
    target = folder / name
    created = not target.exists()
    if created:
        target.write_text("seed = 1\n", encoding="utf-8")
    before = target.read_bytes()
    try:
        trial_now = ts.load_trial(folder)
        for force in (False, True):
            with pytest.raises(OutputError, match=rf"{name} is an input file of trial '{trial.meta.id}'"):
                ts.build_report(trial_now, target, force=force)
        assert target.read_bytes() == before
    finally:
        if created:
            target.unlink()


def test_a_file_that_is_not_a_report_needs_force(trial, tmp_path):
    out = tmp_path / "notes.html"
    out.write_text("<html><body>my notes</body></html>", encoding="utf-8")
    with pytest.raises(OutputError, match=r"notes\.html: the file exists and is not a trialstats report.*--force"):
        ts.build_report(trial, out)
    assert "my notes" in out.read_text(encoding="utf-8")
    ts.build_report(trial, out, force=True)
    assert is_report(out)
    # a trialstats report is rebuilt in place without force; no temporary file is left behind
    ts.build_report(trial, out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.html", "notes_ard"]
    manifest = json.loads((tmp_path / "notes_ard" / MANIFEST_NAME).read_text(encoding="utf-8"))
    written = sorted(p.name for p in (tmp_path / "notes_ard").iterdir() if p.suffix in (".csv", ".parquet"))
    assert sorted(manifest["files"]) == written
    assert manifest["report"] == "notes.html"


def _frame(v=1.0):
    return pd.DataFrame({"term": ["a"], "estimate": [v]})


def test_only_files_in_the_manifest_are_removed(tmp_path):
    out = tmp_path / "r.html"
    html = b'<meta name="generator" content="trialstats 0">'
    write_outputs({"one": _frame(), "two": _frame()}, html, out, version="0")
    ard = tmp_path / "r_ard"
    (ard / "mine.csv").write_text("my,data\n", encoding="utf-8")
    (ard / "notes.txt").write_text("keep\n", encoding="utf-8")
    (tmp_path / "victim.csv").write_text("victim\n", encoding="utf-8")
    # a hostile manifest cannot make trialstats delete anything outside its own files
    doc = json.loads((ard / MANIFEST_NAME).read_text(encoding="utf-8"))
    doc["files"]["../victim.csv"] = "x"
    doc["files"]["/etc/passwd"] = "x"
    (ard / MANIFEST_NAME).write_text(json.dumps(doc), encoding="utf-8")
    write_outputs({"one": _frame(2.0)}, html, out, version="0")
    assert sorted(p.name for p in ard.iterdir()) == ["mine.csv", "notes.txt", "one.csv", MANIFEST_NAME]
    assert (tmp_path / "victim.csv").read_text(encoding="utf-8") == "victim\n"
    assert pd.read_csv(ard / "one.csv")["estimate"].tolist() == [2.0]


def test_a_foreign_csv_of_the_same_name_needs_force(tmp_path):
    out = tmp_path / "r.html"
    ard = tmp_path / "r_ard"
    ard.mkdir()
    (ard / "one.csv").write_text("not,ours\n", encoding="utf-8")
    with pytest.raises(OutputError, match=r"r_ard/ holds files trialstats did not write \(one\.csv\).*--force"):
        write_outputs({"one": _frame()}, b"<html>", out, version="0")
    assert (ard / "one.csv").read_text(encoding="utf-8") == "not,ours\n" and not out.exists()
    write_outputs({"one": _frame()}, b"<html>", out, version="0", force=True)
    assert pd.read_csv(ard / "one.csv")["term"].tolist() == ["a"]


def test_a_failed_write_leaves_the_previous_file_intact(tmp_path, monkeypatch):
    out = tmp_path / "r.html"
    out.write_bytes(b"previous complete report")

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)  # fault injection: the disk fills up mid-write
    with pytest.raises(OSError, match="No space left"):
        atomic_write_bytes(out, b"new report, cut short")
    assert out.read_bytes() == b"previous complete report"
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]  # no temporary file left


def test_csv_cells_are_neutralised_but_negative_numbers_are_not(tmp_path):
    frame = pd.DataFrame({
        "label": ["=HYPERLINK(\"http://x\",\"y\")", "@SUM(A1)", "+1+1", "-2+3", "\tTAB", "\rCR", "-1.5",
                  "Placebo - Exosome", "plain"],
        "estimate": [-1.5, -2.0, 3.0, -0.25, 1e-3, -7.0, 0.0, -1.0, 2.0],
        "=cmd|' /C calc'!A0": [1] * 9,
    })
    out = tmp_path / "r.html"
    write_outputs({"t": frame}, b"<html>", out, version="0")
    text = (tmp_path / "r_ard" / "t.csv").read_text(encoding="utf-8")
    back = pd.read_csv(tmp_path / "r_ard" / "t.csv", keep_default_na=False)
    assert list(back["label"]) == ["'=HYPERLINK(\"http://x\",\"y\")", "'@SUM(A1)", "'+1+1", "'-2+3",
                                   "'\tTAB", "'\rCR", "-1.5", "Placebo - Exosome", "plain"]
    assert back["estimate"].tolist() == frame["estimate"].tolist()  # numbers stay numbers
    assert text.splitlines()[0].endswith(",\"'=cmd|' /C calc'!A0\"")


_BUILD = """
import sys, trialstats as ts
ts.build_report(ts.load_trial(sys.argv[1]), sys.argv[2])
"""


def test_two_concurrent_builds_leave_one_complete_report(folder, tmp_path):
    other = ts.simulate_trial(n_per_arm=6, n_sites=2, seed=3).write(tmp_path / "other")
    refs = []
    for k, src in enumerate((folder, other)):  # each report built alone, as the reference
        out = tmp_path / f"ref{k}" / "r.html"
        ts.build_report(ts.load_trial(src), out)
        refs.append(out)
    out = tmp_path / "race" / "r.html"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    procs = [subprocess.Popen([sys.executable, "-c", _BUILD, str(src), str(out)], env=env, cwd=ROOT,
                              stderr=subprocess.PIPE, text=True) for src in (folder, other)]
    errors = [p.communicate(timeout=600)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errors
    assert not any("FileNotFoundError" in e for e in errors)
    winner = [r for r in refs if r.read_bytes() == out.read_bytes()]
    assert len(winner) == 1  # one complete report, never a mix
    ard, ref_ard = out.parent / "r_ard", winner[0].parent / "r_ard"
    assert sorted(p.name for p in ard.iterdir()) == sorted(p.name for p in ref_ard.iterdir())
    for f in ref_ard.iterdir():  # the CSVs are those of the winning report
        assert (ard / f.name).read_bytes() == f.read_bytes(), f.name
    assert sorted(p.name for p in out.parent.iterdir()) == ["r.html", "r_ard"]


def test_ard_folder_that_is_a_symlink_is_refused(trial, folder, tmp_path):
    os.symlink(folder, tmp_path / "r_ard")  # would write the CSVs into the trial folder
    with pytest.raises(OutputError, match=r"r_ard is a symbolic link"):
        ts.build_report(trial, tmp_path / "r.html")
    assert not (tmp_path / "r.html").exists()


def test_a_hostile_manifest_is_ignored(tmp_path):
    ard = tmp_path / "r_ard"
    ard.mkdir()
    (ard / MANIFEST_NAME).write_text('{"files": ' + "[" * 100_000 + "]" * 100_000 + "}", encoding="utf-8")
    (ard / "keep.csv").write_text("x\n", encoding="utf-8")
    write_outputs({"one": _frame()}, b"<html>", tmp_path / "r.html", version="0")
    assert (ard / "keep.csv").read_text(encoding="utf-8") == "x\n"
    assert json.loads((ard / MANIFEST_NAME).read_text(encoding="utf-8"))["files"].keys() == {"one.csv"}


def test_ard_folder_that_is_the_trial_folder_is_refused(tmp_path):
    folder = ts.simulate_trial(n_per_arm=6, n_sites=2, seed=2).write(tmp_path / "t_ard")
    trial = ts.load_trial(folder)
    with pytest.raises(OutputError, match=r"its tables folder t_ard holds input files of trial"):
        ts.build_report(trial, tmp_path / "t.html")
