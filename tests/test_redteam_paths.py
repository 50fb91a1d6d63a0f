"""Red team (issue 11), paths: table paths the earlier path tests had not tried.

Found: a ``[tables]`` file name longer than the file system allows made ``load_trial`` and
``validate_folder`` raise a bare ``OSError`` (errno 36) instead of a TrialDataError naming the key.
The other variants here (a FIFO, a directory named like a table, ``/dev/zero`` directly or via a
symlink, a symlink loop, ``~``, ``\\\\?\\``, a NUL byte) were already refused cleanly; they are kept
as tests so that they stay refused.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import trialstats as ts
from trialstats.cli import main
from trialstats.data import validate_folder
from trialstats.errors import TrialDataError

MINI = Path(__file__).parent / "data" / "mini_trial"


def _folder(tmp_path: Path, value: str) -> Path:
    folder = Path(shutil.copytree(MINI, tmp_path / "trial"))
    toml = folder / "trial.toml"
    text = toml.read_text(encoding="utf-8").replace('adsl = "adsl.csv"', f'adsl = {value}')
    toml.write_text(text, encoding="utf-8")
    return folder


def _setup(folder: Path, kind: str) -> None:
    if kind == "fifo":
        os.mkfifo(folder / "fifo.csv")
    elif kind == "dir":
        (folder / "dir.csv").mkdir()
    elif kind == "symdev":
        os.symlink("/dev/zero", folder / "z.csv")
    elif kind == "loop":
        os.symlink("loop.csv", folder / "loop.csv")


CASES = [  # (kind, TOML value of tables.adsl, part of the message)
    ("long", '"' + "a" * 5000 + '.csv"', "tables] adsl"),
    ("fifo", '"fifo.csv"', "not a file but a FIFO"),
    ("dir", '"dir.csv"', "not a file but a directory"),
    ("devzero", '"/dev/zero"', "leaves the trial folder"),
    ("symdev", '"z.csv"', "leaves the trial folder"),
    ("loop", '"loop.csv"', "leaves the trial folder"),
    ("tilde", '"~/adsl.csv"', "missing"),
    ("unc", '"\\\\\\\\?\\\\C:\\\\adsl.csv"', "missing"),
    ("nul", '"adsl\\u0000.csv"', "tables.adsl"),
]


@pytest.mark.parametrize(("kind", "value", "message"), CASES, ids=[c[0] for c in CASES])
def test_odd_table_paths_are_clean_errors(tmp_path, kind, value, message):
    folder = _folder(tmp_path, value)
    _setup(folder, kind)
    with pytest.raises(TrialDataError, match="adsl") as e:
        ts.load_trial(folder)
    assert message in str(e.value)
    report = validate_folder(folder)
    assert not report.ok
    assert any(message in str(p) for p in report.errors)


def test_long_table_name_through_the_cli(tmp_path, capsys):
    folder = _folder(tmp_path, CASES[0][1])
    assert main(["validate", str(folder)]) == 1  # validation failed, as for any bad folder
    err = capsys.readouterr().err
    assert "Traceback" not in err and "OSError" not in err


def _linked_folder(tmp_path: Path, which: str) -> Path:
    folder = tmp_path / "trial"
    folder.mkdir()
    for f in MINI.iterdir():
        shutil.copy(f, folder / f.name)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    if which == "trial.toml":
        (folder / "trial.toml").rename(outside / "trial.toml")
    else:
        (outside / "sap.toml").write_text("[relapse]\ntau = 30\n", encoding="utf-8")
    os.symlink(outside / which, folder / which)
    return folder


def test_trial_toml_symlink_leaving_the_folder_is_refused(tmp_path):
    # before: read silently (the metadata of another folder)
    folder = _linked_folder(tmp_path, "trial.toml")
    with pytest.raises(TrialDataError, match="trial.toml .* symbolic link leaving"):
        ts.load_trial(folder)
    assert not validate_folder(folder).ok
    assert ts.load_trial(folder, allow_outside=True).meta.id == "MINI-001"


def test_sap_toml_symlink_leaving_the_folder_is_refused(tmp_path):
    # before: the plan of another folder was executed silently
    from trialstats.report.plan import PlanError, plan_for_trial

    folder = _linked_folder(tmp_path, "sap.toml")
    with pytest.raises(PlanError, match="sap.toml .* symbolic link leaving"):
        plan_for_trial(ts.load_trial(folder))
    plan = plan_for_trial(ts.load_trial(folder, allow_outside=True))
    assert plan.relapse.tau == 30
