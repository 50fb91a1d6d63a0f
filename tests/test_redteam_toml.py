"""Red team (issue 11), trial.toml values of the wrong type.

Found: ``[endpoints] primary = { visit = ["WEEK 24"] }`` (a list, or any unhashable value)
made ``load_trial`` and ``validate_folder`` raise a bare ``TypeError: unhashable type: 'list'``;
a date or a number was accepted as a visit or PARAMCD. Endpoint entries must now be strings,
reported as a TrialDataError naming ``endpoints.<name>.<key>``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import trialstats as ts
from trialstats.cli import main
from trialstats.data import validate_folder
from trialstats.errors import TrialDataError

MINI = Path(__file__).parent / "data" / "mini_trial"
LINE = 'primary = { paramcd = "TAHC", visit = "WEEK 24" }'


@pytest.mark.parametrize("value", [
    'primary = { paramcd = "TAHC", visit = ["WEEK 24"] }',
    'primary = { paramcd = "TAHC", visit = { a = 1 } }',
    'primary = { paramcd = 5, visit = "WEEK 24" }',
    'primary = { paramcd = "TAHC", visit = 2024-01-01 }',
    'primary = { paramcd = "TAHC", visit = nan }',
])
def test_endpoint_values_must_be_strings(tmp_path, capsys, value):
    folder = Path(shutil.copytree(MINI, tmp_path / "trial"))
    toml = folder / "trial.toml"
    text = toml.read_text(encoding="utf-8")
    assert LINE in text
    toml.write_text(text.replace(LINE, value), encoding="utf-8")
    with pytest.raises(TrialDataError, match=r"endpoints\.primary\.(visit|paramcd)"):
        ts.load_trial(folder)
    assert not validate_folder(folder).ok
    assert main(["validate", str(folder)]) == 1
    assert "Traceback" not in capsys.readouterr().err
