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


CODES = 'codes = { EXOSOME = "Exosome injections", MINOXIDIL = "Minoxidil 5% topical", PLACEBO = "Placebo" }'


@pytest.mark.parametrize(("old", "new", "key"), [
    ('"Exosome injections"', '"' + "E" * 100_000 + '"', "arms.codes"),
    ('"Exosome injections"', '"Exo\\u001b[2J"', "arms.codes"),
    (CODES, "codes = { " + ", ".join(f'A{i} = "x{i}"' for i in range(5000))
     + ', PLACEBO = "Placebo" }', "arms.codes"),
    ('id = "MINI-001"', 'id = "' + "I" * 200_000 + '"', "id"),
    ('title = "Six-subject fixture trial"', 'title = "' + "T" * 100_000 + '"', "title"),
])
def test_huge_or_control_text_in_trial_toml_is_refused(tmp_path, old, new, key):
    # before: accepted; a 100,000-character arm label went into every figure legend
    folder = Path(shutil.copytree(MINI, tmp_path / "trial"))
    toml = folder / "trial.toml"
    text = toml.read_text(encoding="utf-8")
    assert old in text
    toml.write_text(text.replace(old, new), encoding="utf-8")
    with pytest.raises(TrialDataError, match=rf"column {key}: .*at most"):
        ts.load_trial(folder)
