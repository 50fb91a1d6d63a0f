"""Red team (issue 11), resources and simulate's output folder.

Found:
- ``trialstats simulate --n-per-arm 100000000`` (and huge ``treatment_weeks`` / ``followup_weeks``
  / ``n_sites`` / ``trial_id``, through the API and through a design.toml's [simulation] table)
  had no upper bound and ran for minutes eating memory; now a ModelError naming the argument and
  its range, before anything is simulated.
- ``trialstats simulate -o`` an existing trial folder silently replaced that trial's adsl.csv and
  trial.toml; ``-o /dev/null`` ended in "unexpected FileExistsError". Now an OutputError (exit
  2) unless the folder is empty or was written by ``trialstats simulate`` (or ``--force``).
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import trialstats as ts
from trialstats.cli import main
from trialstats.design.spec import DesignError
from trialstats.design.spec import load as load_design
from trialstats.errors import ModelError
from trialstats.simulate import SIMULATE_LIMITS

MINI = Path(__file__).parent / "data" / "mini_trial"


@pytest.mark.parametrize(("key", "value"), [
    ("n_per_arm", 100_000_000), ("treatment_weeks", 10**9), ("followup_weeks", 10**9),
    ("n_sites", 10**9), ("trial_id", "X" * 10_000),
])
def test_simulate_arguments_have_upper_bounds(key, value):
    start = time.perf_counter()
    with pytest.raises(ModelError, match=key) as e:
        ts.simulate_trial(seed=1, **{key: value})
    assert time.perf_counter() - start < 5  # refused before simulating
    if key in SIMULATE_LIMITS:
        assert f"{SIMULATE_LIMITS[key]:,}" in str(e.value) or str(SIMULATE_LIMITS[key]) in str(e.value)


def test_simulate_limits_are_far_above_real_trials():
    # the largest alopecia RCTs randomise a few hundred per arm over 1-2 years
    assert SIMULATE_LIMITS["n_per_arm"] >= 10_000
    assert SIMULATE_LIMITS["followup_weeks"] >= 520


def test_cli_huge_n_per_arm_is_refused_quickly(tmp_path, capsys):
    assert main(["simulate", "--seed", "1", "--n-per-arm", "100000000", "-o",
                 str(tmp_path / "x")]) == 1
    assert "n_per_arm" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_design_grid_above_the_simulator_limit_is_a_design_error(tmp_path):
    doc = {"plan": "p.toml", "seed": 1, "replicates": 2, "n_per_arm": [60, 10**9],
           "scenarios": [{"name": "a"}]}
    (tmp_path / "p.toml").write_text("", encoding="utf-8")
    with pytest.raises(DesignError, match="n_per_arm"):
        load_design(doc, base=tmp_path)


def test_simulate_into_an_existing_trial_folder_is_refused(tmp_path, capsys):
    folder = Path(shutil.copytree(MINI, tmp_path / "real"))
    before = {f.name: f.read_bytes() for f in folder.iterdir()}
    assert main(["simulate", "--seed", "1", "--n-per-arm", "4", "-o", str(folder)]) == 2
    err = capsys.readouterr().err
    assert "not written by trialstats simulate" in err and "--force" in err
    assert {f.name: f.read_bytes() for f in folder.iterdir()} == before


def test_simulate_into_a_file_or_device_is_a_clean_error(tmp_path, capsys):
    plain = tmp_path / "file.txt"
    plain.write_text("keep", encoding="utf-8")
    for target in (plain, Path("/dev/null")):
        assert main(["simulate", "--seed", "1", "--n-per-arm", "4", "-o", str(target)]) == 2
        err = capsys.readouterr().err
        assert "not a folder" in err and "unexpected" not in err
    assert plain.read_text(encoding="utf-8") == "keep"


def test_simulate_again_into_its_own_folder_and_with_force(tmp_path, capsys):
    out = tmp_path / "sim"
    assert main(["simulate", "--seed", "1", "--n-per-arm", "4", "-o", str(out)]) == 0
    assert main(["simulate", "--seed", "2", "--n-per-arm", "4", "-o", str(out)]) == 0
    other = Path(shutil.copytree(MINI, tmp_path / "real"))
    assert main(["simulate", "--seed", "1", "--n-per-arm", "4", "--force", "-o", str(other)]) == 0
    assert ts.load_trial(other).meta.simulated


# ------------------------------------------------------------------ levels explosion (API)
def _survival(n=1200, n_groups=1000):
    rng = np.random.default_rng(5)
    return pd.DataFrame({"AVAL": rng.exponential(100, n) + 1, "CNSR": rng.integers(0, 2, n),
                         "ARM": rng.choice(["A", "B"], n), "EVENTCD": rng.integers(0, 3, n),
                         "ID": [f"S{i:04d}" for i in range(n)],
                         "MANY": rng.choice([f"L{i:04d}" for i in range(n_groups)], n),
                         "TLOWER": 1.0, "TUPPER": 2.0})


SURVIVAL_CALLS = {  # before: each ran for minutes (a group or stratum per subject)
    "kaplan_meier by": lambda d: ts.kaplan_meier(d, censor="CNSR", by="ID"),
    "nelson_aalen by": lambda d: ts.nelson_aalen(d, censor="CNSR", by="ID"),
    "logrank by": lambda d: ts.logrank(d, censor="CNSR", by="ID"),
    "logrank strata": lambda d: ts.logrank(d, censor="CNSR", strata="MANY"),
    "rmst by": lambda d: ts.rmst(d, censor="CNSR", by="ID", tau=1.0),
    "cox strata": lambda d: ts.cox("ARM", d, censor="CNSR", strata="MANY"),
    "cox factor": lambda d: ts.cox("ARM + MANY", d, censor="CNSR"),
    "fine_gray factor": lambda d: ts.fine_gray("ARM + MANY", d),
    "interval_regression factor": lambda d: ts.interval_regression("ARM + MANY", d),
}


@pytest.mark.parametrize("call", sorted(SURVIVAL_CALLS))
def test_grouping_or_factor_with_a_level_per_subject_is_refused_quickly(call):
    d = _survival()
    start = time.perf_counter()
    with pytest.raises(ModelError, match=r"(ID|MANY).*\d+ (distinct values|levels); at most 200"):
        SURVIVAL_CALLS[call](d)
    assert time.perf_counter() - start < 20  # refused before any fitting (generous: shared CPU)


def _long(n_subjects=300, n_sites=300):
    rng = np.random.default_rng(6)
    visits = ["V1", "V2", "V3"]
    d = pd.DataFrame({"USUBJID": np.repeat([f"U{i}" for i in range(n_subjects)], 3),
                      "AVISIT": visits * n_subjects,
                      "ARM": np.repeat(rng.choice(["A", "B"], n_subjects), 3),
                      "SITE": np.repeat([f"T{i % n_sites}" for i in range(n_subjects)], 3),
                      "WEEK": [0.0, 4.0, 8.0] * n_subjects})
    d["CHG"] = rng.normal(size=len(d))
    d["BASE"] = np.repeat(rng.normal(size=n_subjects), 3)
    d["COUNT"] = rng.poisson(3, len(d)).astype(float)
    return d


LONG_CALLS = {
    "mmrm": lambda d: ts.mmrm("CHG ~ ARM * AVISIT + SITE", d, covariance="cs"),
    "lmm": lambda d: ts.lmm("CHG ~ ARM + SITE", d, re_formula="~WEEK"),
    "count_model": lambda d: ts.count_model("COUNT ~ ARM + SITE", d),
    "subgroup_interaction": lambda d: ts.subgroup_interaction(d, "SITE", covariance="cs"),
}


@pytest.mark.parametrize("call", sorted(LONG_CALLS))
def test_longitudinal_factor_with_too_many_levels_is_refused(call):
    with pytest.raises(ModelError, match=r"'SITE'.* 300 levels; at most 200"):
        LONG_CALLS[call](_long())


def test_two_hundred_groups_still_work():
    # the limit is a limit, not a ban on site-level groupings
    d = _survival(n=2000, n_groups=200)
    fit = ts.kaplan_meier(d, censor="CNSR", by="MANY")
    assert fit.table["MANY"].nunique() == 200


# ---------------------------------------------------------------- rbmi / tipping_point sizes
@pytest.fixture(scope="module")
def small_long():
    rng = np.random.default_rng(8)
    rows = [{"PATIENT": f"P{i}", "VISIT": v, "THERAPY": "DRUG" if i % 2 else "PBO",
             "BASVAL": float(rng.normal(10, 2)), "CHANGE": float(rng.normal())}
            for i in range(12) for v in ("V1", "V2")]
    return pd.DataFrame(rows)


def test_rbmi_huge_n_samples_is_refused_before_any_work(small_long):
    # before: SeedSequence.spawn(10**9) and the per-sample lists exhausted memory
    start = time.perf_counter()
    with pytest.raises(ModelError, match="n_samples is 1000000000; at most 100,000"):
        ts.rbmi(small_long, "CHANGE ~ THERAPY + VISIT", subject="PATIENT", visit="VISIT",
                group="THERAPY", method="condmean", inference="bootstrap", n_samples=10**9)
    assert time.perf_counter() - start < 5


def test_tipping_point_grid_and_samples_are_bounded(small_long):
    kw = dict(subject="PATIENT", visit="VISIT", group="THERAPY")
    with pytest.raises(ModelError, match="deltas; at most 1000"):
        ts.tipping_point(small_long, "CHANGE ~ THERAPY + VISIT", deltas=np.arange(10**6), **kw)
    with pytest.raises(ModelError, match="n_samples is"):
        ts.tipping_point(small_long, "CHANGE ~ THERAPY + VISIT", deltas=[0, 1],
                         method="approxbayes", n_samples=10**9, **kw)
