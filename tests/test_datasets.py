"""Tests of trialstats.datasets and of the bundled trials in datasets/."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import trialstats as ts
from trialstats.errors import TrialstatsError

REPO = Path(__file__).resolve().parents[1]
BUNDLED = ["exo-hair-202", "exo-hair-301"]
TABLE_FILES = ["adae.csv", "adeff.csv", "adsl.csv", "adtte.csv", "trial.toml"]


def _make_datasets():
    """datasets/make_datasets.py as a module (without leaving a __pycache__ in datasets/)."""
    spec = importlib.util.spec_from_file_location("make_datasets", REPO / "datasets" /
                                                  "make_datasets.py")
    module = importlib.util.module_from_spec(spec)
    before, sys.dont_write_bytecode = sys.dont_write_bytecode, True
    try:
        spec.loader.exec_module(module)
    finally:
        sys.dont_write_bytecode = before
    return module


@pytest.fixture(scope="module")
def trial301():
    return ts.datasets.load("exo-hair-301")


@pytest.fixture(scope="module")
def trial202():
    return ts.datasets.load("exo-hair-202")


def test_names():
    assert ts.datasets.names() == BUNDLED


def test_unknown_name_lists_the_valid_names():
    with pytest.raises(TrialstatsError,
                       match=r"unknown bundled trial 'exo-hair-999'; valid: exo-hair-202, "
                             r"exo-hair-301"):
        ts.datasets.load("exo-hair-999")
    with pytest.raises(TrialstatsError, match="unknown bundled trial"):
        ts.datasets.load(301)


def test_exo_hair_301_metadata(trial301):
    meta = trial301.meta
    assert meta.id == "EXO-HAIR-301"
    assert meta.title
    assert meta.simulated is True
    assert meta.reference == "PLACEBO"
    assert trial301.arms == ["PLACEBO", "EXOSOME", "MINOXIDIL"]
    assert meta.arms == {"PLACEBO": "Placebo", "EXOSOME": "Exosome injections",
                         "MINOXIDIL": "Minoxidil 5% topical"}
    assert meta.tables == {"adsl": "adsl.csv", "adeff": "adeff.csv", "adtte": "adtte.csv",
                           "adae": "adae.csv"}
    assert meta.endpoints == {"primary": {"paramcd": "TAHC", "visit": "WEEK 24"},
                              "relapse": {"paramcd": "RELAPSE"}}
    # the generator record is the exact call in datasets/make_datasets.py
    generator = meta.extra["generator"]
    spec = _make_datasets().TRIALS["exo-hair-301"]
    assert generator["function"] == "trialstats.simulate.simulate_trial"
    assert generator["seed"] == spec["seed"] == 301
    for key in ("n_per_arm", "treatment_weeks", "followup_weeks", "dropout", "missed_visit",
                "n_sites", "trial_id"):
        assert generator["parameters"][key] == spec[key], key


def test_exo_hair_301_shape(trial301):
    adsl = trial301.adsl
    assert len(adsl) == 3 * 150
    # permuted blocks within 6 sites: each arm within 2 per site of 150
    assert (adsl["ARM"].value_counts() - 150).abs().max() < 2 * 6
    assert set(trial301.adeff["AVISITN"]) == {0, 4, 12, 24, *range(32, 105, 8)}
    assert (trial301.adeff["AVISIT"].astype(str) == "WEEK 24").sum() > 0.8 * len(adsl)
    assert set(trial301.adtte["PARAMCD"]) == {"RELAPSE"}
    # every arm has observed relapses and subjects whose relapse is never observed
    adtte = trial301.analysis_frame("adtte")
    events = adtte.groupby("ARM", observed=True)["CNSR"].agg(["size", "sum"])
    assert ((events["size"] - events["sum"]) > 0).all()      # relapses
    assert (events["sum"] > 0).all()                         # censored
    assert set(adtte["EVENTCD"]) == {0, 1, 2}
    assert set(trial301.adae["AEDECOD"]) == {"Injection site pain", "Injection site erythema",
                                             "Injection site swelling", "Headache", "Pruritus"}


def test_exo_hair_202_is_small_two_arm_with_heavier_dropout(trial202, trial301):
    assert trial202.meta.id == "EXO-HAIR-202"
    assert trial202.meta.simulated is True
    assert trial202.arms == ["PLACEBO", "EXOSOME"]
    assert len(trial202.adsl) == 2 * 40
    assert trial202.meta.extra["generator"]["parameters"]["dropout"] > \
        trial301.meta.extra["generator"]["parameters"]["dropout"]

    def discontinued(t):
        return (t.adsl["EOSSTT"] == "DISCONTINUED").mean()

    assert discontinued(trial202) > discontinued(trial301)
    assert (trial202.adtte["CNSR"] == 0).any() and (trial202.adtte["CNSR"] == 1).any()


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_files_are_small_and_complete(name):
    folder = REPO / "datasets" / name
    # exo-hair-301 also carries its analysis plan (sap.toml, hand-written, not generated)
    expected = sorted([*TABLE_FILES, "sap.toml"]) if name == "exo-hair-301" else TABLE_FILES
    assert sorted(p.name for p in folder.iterdir()) == expected
    for file in folder.iterdir():
        assert file.stat().st_size < 500_000, file


def test_committed_files_equal_a_fresh_regeneration():
    """Same seed, same bytes: regenerating with datasets/make_datasets.py changes nothing."""
    assert _make_datasets().check() == []


def test_installed_wheel_ships_and_loads_the_datasets(tmp_path):
    """Build a wheel (no isolation, no network), check the trial files are inside, and load a
    bundled trial from the unpacked wheel in a fresh interpreter that cannot see the source
    tree."""
    src = tmp_path / "src"
    src.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copy2(REPO / "pyproject.toml", src)
    if (REPO / "README.md").is_file():
        shutil.copy2(REPO / "README.md", src)
    shutil.copytree(REPO / "trialstats", src / "trialstats", symlinks=True, ignore=ignore)
    shutil.copytree(REPO / "datasets", src / "datasets", ignore=ignore)
    out = tmp_path / "wheel"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(out), str(src)],
        capture_output=True, text=True, timeout=240, cwd=tmp_path)
    assert build.returncode == 0, build.stdout + build.stderr
    (wheel,) = out.glob("trialstats-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        members = set(zf.namelist())
        for name in BUNDLED:
            for file in TABLE_FILES:
                assert f"trialstats/_datasets/{name}/{file}" in members
        assert not any(m.endswith("make_datasets.py") for m in members)
        site = tmp_path / "site"
        zf.extractall(site)

    code = f"""
import json, sys
site = {str(site)!r}
repo = {str(REPO)!r}
sys.path[:] = [site] + [p for p in sys.path if p not in ("", repo)]  # venv may sit in repo
sys.meta_path[:] = [f for f in sys.meta_path
                    if not getattr(f, "__module__", "").startswith("__editable__")]
import trialstats as ts
trial = ts.datasets.load("exo-hair-301")
print(json.dumps({{"module": ts.__file__, "names": ts.datasets.names(),
                  "path": str(trial.meta.path), "id": trial.meta.id,
                  "n": len(trial.adsl)}}))
"""
    run = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True,
                         timeout=120, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    got = json.loads(run.stdout.strip().splitlines()[-1])
    assert got["module"].startswith(str(site))
    assert got["path"].startswith(str(site))
    assert got["names"] == BUNDLED
    assert got["id"] == "EXO-HAIR-301" and got["n"] == 450
