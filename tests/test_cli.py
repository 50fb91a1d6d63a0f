"""The trialstats command line, run in-process: main(argv) -> exit status, output captured.

validate runs on the hand-made fixture tests/data/mini_trial (and a broken copy in tmp_path);
simulate and datasets run the real simulator / bundled-data modules; report runs against a stub
``build_report`` installed in sys.modules, so these tests check the command's wiring (folder
discovery, output names, progress lines on stderr, exit status), not the report itself.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import types
from pathlib import Path

import pytest

import trialstats as ts
from trialstats.cli import main

MINI = Path(__file__).parent / "data" / "mini_trial"


def broken_copy(tmp_path: Path) -> Path:
    folder = Path(shutil.copytree(MINI, tmp_path / "broken"))
    text = (folder / "adsl.csv").read_text(encoding="utf-8").replace(
        "MINI-0006,S02,PLACEBO", "MINI-0006,S02,PLACEBOX")
    (folder / "adsl.csv").write_text(text, encoding="utf-8")
    text = (folder / "adtte.csv").read_text(encoding="utf-8").replace(
        "MINI-0003,RELAPSE,56,0", "MINI-0003,RELAPSE,56,2")
    (folder / "adtte.csv").write_text(text, encoding="utf-8")
    return folder


def test_validate_good_trial(capsys):
    assert main(["validate", str(MINI)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Trial 'MINI-001': OK (0 errors, 1 warning)\nRows per table:\n")
    assert "adsl.csv         6  (PLACEBO 2, EXOSOME 2, MINOXIDIL 2)" in out
    assert "adeff.csv       18  (PLACEBO 6, EXOSOME 6, MINOXIDIL 6)" in out
    assert "adeff.csv, column AVAL: missing values in row 9 (MINI-0003)" in out


def test_validate_bad_trial_lists_every_problem_and_exits_1(tmp_path, capsys):
    assert main(["validate", str(broken_copy(tmp_path))]) == 1
    out = capsys.readouterr().out
    assert out.startswith("Trial 'MINI-001': INVALID (2 errors, 1 warning)")
    assert ("adsl.csv, column ARM: value 'PLACEBOX' in row 6 (MINI-0006): not an arm of trial.toml; "
            "valid: PLACEBO, EXOSOME, MINOXIDIL") in out
    assert "adtte.csv, column CNSR: value 2 in row 3 (MINI-0003): valid: 0, 1" in out
    assert "adsl.csv         6  (PLACEBO 1, EXOSOME 2, MINOXIDIL 2, PLACEBOX 1)" in out


def test_validate_missing_toml_exits_1(tmp_path, capsys):
    assert main(["validate", str(tmp_path)]) == 1
    assert "no trial.toml in" in capsys.readouterr().out


def test_usage_error_exits_2(capsys):
    with pytest.raises(SystemExit) as info:
        main(["validate"])
    assert info.value.code == 2
    with pytest.raises(SystemExit) as info:
        main(["frobnicate"])
    assert info.value.code == 2
    assert "invalid choice: 'frobnicate'" in capsys.readouterr().err


def test_python_m_trialstats(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "trialstats", "validate", str(broken_copy(tmp_path))],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert "adtte.csv, column CNSR" in proc.stdout


def test_simulate_writes_a_valid_trial_folder(tmp_path, capsys):
    out = tmp_path / "sim"
    assert main(["simulate", "--seed", "11", "--n-per-arm", "20", "--arms", "EXOSOME", "PLACEBO",
                 "--trial-id", "CLI-SIM", "-o", str(out)]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    trial = ts.load_trial(out)
    assert trial.meta.id == "CLI-SIM" and trial.meta.simulated
    assert trial.arms == ["PLACEBO", "EXOSOME"] and len(trial.adsl) == 40
    again = tmp_path / "again"
    main(["simulate", "--seed", "11", "--n-per-arm", "20", "--arms", "EXOSOME", "PLACEBO",
          "--trial-id", "CLI-SIM", "-o", str(again)])
    for f in out.iterdir():
        assert f.read_bytes() == (again / f.name).read_bytes()


def test_simulate_bad_argument_exits_1(tmp_path, capsys):
    assert main(["simulate", "--seed", "1", "--n-per-arm", "1", "-o", str(tmp_path / "x")]) == 1
    assert "error: simulate_trial: n_per_arm must be an integer >= 2" in capsys.readouterr().err


def test_datasets_lists_bundled_trials(capsys):
    assert main(["datasets"]) == 0
    assert capsys.readouterr().out.split() == ts.datasets.names()


@pytest.fixture
def stub_report(monkeypatch):
    """Replace trialstats.report.build with a stub that records its calls."""
    calls = []

    def build(trial, out_path, *, plan=None, progress=None, force=False):
        progress(f"building {trial.meta.id}")
        Path(out_path).write_text(f"<html>{trial.meta.id}</html>", encoding="utf-8")
        calls.append((trial.meta.id, Path(out_path)))
        return types.SimpleNamespace(path=Path(out_path), failed=(), not_applicable=())

    module = types.ModuleType("trialstats.report.build")
    module.build = build
    monkeypatch.setitem(sys.modules, "trialstats.report.build", module)
    return calls


def test_report_one_trial(tmp_path, capsys, stub_report):
    out = tmp_path / "r" / "mini.html"
    assert main(["report", str(MINI), "-o", str(out)]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == str(out)
    assert captured.err == "building MINI-001\n"
    assert stub_report == [("MINI-001", out)]


def test_report_all(tmp_path, capsys, stub_report):
    root = tmp_path / "datasets"
    shutil.copytree(MINI, root / "b-trial")
    shutil.copytree(MINI, root / "a-trial")
    (root / "not-a-trial").mkdir()
    assert main(["report", "--all", str(root), "-o", str(tmp_path / "reports")]) == 0
    lines = capsys.readouterr().out.split()
    assert lines == [str(tmp_path / "reports" / "a-trial.html"), str(tmp_path / "reports" / "b-trial.html")]
    assert all(Path(p).is_file() for p in lines)


def test_report_all_continues_after_an_invalid_trial(tmp_path, capsys, stub_report):
    root = tmp_path / "datasets"
    shutil.copytree(broken_copy(tmp_path), root / "a-broken")
    shutil.copytree(MINI, root / "b-good")
    # issue 11: invalid data is bad input, exit status 2 (was 1)
    assert main(["report", "--all", str(root), "-o", str(tmp_path / "reports")]) == 2
    captured = capsys.readouterr()
    assert captured.out.split() == [str(tmp_path / "reports" / "b-good.html")]
    assert "a-broken: 2 problems in trial 'MINI-001'" in captured.err


def test_report_usage_errors(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(["report", str(MINI), "--all", str(tmp_path)])
    assert info.value.code == 2
    with pytest.raises(SystemExit) as info:
        main(["report", "--all", str(tmp_path)])
    assert info.value.code == 2
    assert "report --all: give the output folder with -o OUTDIR" in capsys.readouterr().err
    assert main(["report", "--all", str(tmp_path), "-o", str(tmp_path / "out")]) == 2  # bad input (issue 11)
    assert "no trial folders (folders holding trial.toml) in" in capsys.readouterr().err


def test_report_all_needs_a_folder(tmp_path, capsys):
    assert main(["report", "--all", str(tmp_path / "missing"), "-o", str(tmp_path / "out")]) == 2
    assert "error: --all " in capsys.readouterr().err


def test_real_build_report_accepts_the_cli_call():
    """The stub above mirrors the real signature: build(trial, out_path, progress=..., force=...)."""
    import inspect

    from trialstats.report.build import build, build_report

    for fn in (build, build_report):
        params = inspect.signature(fn).parameters
        assert list(params)[:2] == ["trial", "out_path"]
        assert {"plan", "progress", "force"} <= set(params)


def test_report_default_output_is_folder_name_html(tmp_path, monkeypatch, capsys, stub_report):
    monkeypatch.chdir(tmp_path)
    assert main(["report", str(MINI)]) == 0
    assert capsys.readouterr().out.strip() == "mini_trial.html"
    assert (tmp_path / "mini_trial.html").is_file()


def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"trialstats {ts.__version__}"
