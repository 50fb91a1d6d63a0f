"""Limits on the analysis plan and robust TOML reading (issue 11, part 3).

Every numeric sap.toml key has a range and every list a maximum length; a PlanError names the
key and the allowed range. trial.toml and sap.toml alike: latin-1 text gives a clean error
naming the file and saying it must be UTF-8, a byte-order mark is accepted, and 5,000-deep
nesting gives a clean error instead of RecursionError. Columns named by the plan that the data
lacks are a PlanError naming the key and the column, never silently dropped.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import trialstats as ts
from trialstats.cli import main
from trialstats.data import validate_folder
from trialstats.errors import TrialDataError, TrialstatsError
from trialstats.report.plan import PlanError, load_plan, plan_for_trial

MINI = Path(__file__).parent / "data" / "mini_trial"
DEEP_ARRAY = "x = " + "[" * 5000 + "]" * 5000 + "\n"
DEEP_TABLE = "[" + ".".join(["a"] * 5000) + "]\nb = 1\n"


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"longterm": {"horizon_years": 1e6}}, r"longterm\.horizon_years: 1000000\.0 is outside the allowed range \(0, 50\] years"),
        ({"longterm": {"horizon_years": 50.5}}, r"longterm\.horizon_years: 50\.5 is outside the allowed range \(0, 50\] years"),
        ({"relapse": {"tau": 1e9}}, r"relapse\.tau: 1000000000\.0 is outside the allowed range \(0, 100000\] days"),
        ({"relapse": {"landmarks": [91, 1e7]}}, r"relapse\.landmarks\[1\]: 10000000\.0 is outside the allowed range \(0, 100000\] days"),
        ({"relapse": {"landmarks": list(range(1, 1002))}}, r"relapse\.landmarks: 1001 entries; at most 200 are allowed"),
        ({"relapse": {"strata": ["S"] * 11}}, r"relapse\.strata: 11 entries; at most 10 are allowed"),
        ({"subgroups": {f"C{i}": "x" for i in range(500)}}, r"subgroups: 500 entries; at most 200 are allowed"),
        ({"hypotheses": [{"endpoint": "primary", "arm": "A"}] * 201}, r"hypotheses: 201 entries; at most 200"),
        ({"secondary": [{"name": f"s{i}", "paramcd": "T", "visit": "V"} for i in range(101)]}, r"secondary: 101 entries; at most 100"),
        ({"seed": -1}, r"seed: -1 is outside the allowed range \[0, 9\.22337e\+18\]"),
        ({"seed": 2**63}, r"seed: 9223372036854775808 is outside the allowed range"),
        ({"multiplicity": {"alpha": 0.0}}, r"multiplicity\.alpha: must be strictly between 0 and 1"),
        ({"level": 1.0}, r"level: must be strictly between 0 and 1"),
    ],
)
def test_out_of_range_plan_key_names_key_and_range(data, match):
    with pytest.raises(PlanError, match=match) as err:
        load_plan(data)
    assert isinstance(err.value, TrialstatsError)


def test_limits_accept_their_bounds():
    plan = load_plan({"longterm": {"horizon_years": 50}, "relapse": {"tau": 1e5, "landmarks": list(range(1, 201))},
                      "seed": 0})
    assert plan.longterm.horizon_years == 50.0 and len(plan.relapse.landmarks) == 200


@pytest.fixture(scope="module")
def trial():
    return ts.load_trial(MINI)


def test_tau_beyond_follow_up_names_the_range(trial):
    follow = trial.adtte.merge(trial.adsl[["USUBJID", "ARM"]], on="USUBJID", suffixes=("_x", ""))
    last = float(follow.groupby("ARM", observed=True)["AVAL"].max().min())
    plan_for_trial(trial, {"relapse": {"tau": last}})  # at the bound: accepted
    with pytest.raises(PlanError, match=rf"relapse\.tau: {last + 1:g} days is beyond follow-up; the allowed "
                       rf"range is \(0, {last:g}\] days"):
        plan_for_trial(trial, {"relapse": {"tau": last + 1}})


def test_misspelled_strata_column_is_a_plan_error(trial, tmp_path):
    with pytest.raises(PlanError, match=r"relapse\.strata: column 'STAGEGRP' is not in the ADTTE or ADSL "
                       r"data; available: .*SEX"):
        plan_for_trial(trial, {"relapse": {"strata": ["SEX", "STAGEGRP"]}})
    with pytest.raises(PlanError, match=r"relapse\.strata: column 'STAGEGRP'"):
        ts.build_report(trial, tmp_path / "r.html", plan={"relapse": {"strata": ["STAGEGRP"]}})
    assert not (tmp_path / "r.html").exists()


def test_misspelled_subgroup_column_is_a_plan_error(trial):
    with pytest.raises(PlanError, match=r"subgroups\.SEKS: column 'SEKS' is not in the ADEFF or ADSL data"):
        plan_for_trial(trial, {"subgroups": {"SEKS": "Sex"}})


def test_columns_named_by_the_plan_are_kept_and_absent_defaults_dropped(trial):
    plan = plan_for_trial(trial, {"relapse": {"strata": ["SEX"]}, "subgroups": {"SEX": "Sex"}})
    assert plan.relapse.strata == ("SEX",) and plan.subgroups == (("SEX", "Sex"),)
    # default strata STAGEGR / subgroups AGEGR1, STAGEGR are not in the mini trial: the resolved
    # plan (which Methods prints) does not claim them
    default = plan_for_trial(trial)
    assert default.relapse.strata == ()
    assert default.subgroups == (("SEX", "Sex"),)


# --- TOML robustness, trial.toml and sap.toml alike --------------------------------------------

def _folder(tmp_path) -> Path:
    return Path(shutil.copytree(MINI, tmp_path / "t"))


def test_latin1_sap_toml_says_utf8(tmp_path):
    path = tmp_path / "sap.toml"
    path.write_bytes('[subgroups]\nSEX = "Géschlecht"\n'.encode("latin-1"))
    with pytest.raises(PlanError, match=r"sap\.toml: not UTF-8 text \(byte 0xe9 at offset \d+\); the file "
                       r"must be saved as UTF-8"):
        load_plan(path)


def test_latin1_trial_toml_says_utf8(tmp_path):
    folder = _folder(tmp_path)
    toml = folder / "trial.toml"
    toml.write_bytes(toml.read_text(encoding="utf-8").replace("fixture", "fixturé").encode("latin-1"))
    with pytest.raises(TrialDataError, match=r"trial\.toml: not UTF-8 text .*must be saved as UTF-8"):
        ts.load_trial(folder)


def test_bom_is_accepted_in_both(tmp_path):
    folder = _folder(tmp_path)
    toml = folder / "trial.toml"
    toml.write_bytes(b"\xef\xbb\xbf" + toml.read_bytes())
    (folder / "sap.toml").write_bytes(b"\xef\xbb\xbf" + b'seed = 5\n[relapse]\nstrata = ["SEX"]\n')
    trial = ts.load_trial(folder)
    assert trial.meta.id == "MINI-001"
    assert load_plan(folder).seed == 5
    assert plan_for_trial(trial).relapse.strata == ("SEX",)


@pytest.mark.parametrize("text", [DEEP_ARRAY, DEEP_TABLE], ids=["array", "table"])
def test_deep_nesting_is_a_clean_error(tmp_path, text, capsys):
    (tmp_path / "sap.toml").write_text(text, encoding="utf-8")
    with pytest.raises(PlanError, match=r"sap\.toml: nested .*at most 32 levels"):
        load_plan(tmp_path / "sap.toml")
    folder = _folder(tmp_path)
    (folder / "trial.toml").write_text((folder / "trial.toml").read_text(encoding="utf-8") + text,
                                       encoding="utf-8")
    with pytest.raises(TrialDataError, match=r"trial\.toml: nested .*at most 32 levels"):
        ts.load_trial(folder)
    assert not validate_folder(folder).ok
    assert main(["validate", str(folder)]) == 1
    out = capsys.readouterr()
    assert "trial.toml: nested" in out.out and "Traceback" not in out.out + out.err


def test_subgroup_or_strata_column_with_too_many_levels():
    # USUBJID has one level per subject: a subgroup of it would fit one MMRM per subject
    big = ts.simulate_trial(n_per_arm=40, n_sites=2, seed=4, relapse="half-gain")   # ADTTE: all
    n_tte = big.adtte["USUBJID"].nunique()
    assert n_tte > 100
    with pytest.raises(PlanError, match=r"subgroups\.USUBJID: USUBJID has 120 levels; at most 20 are allowed"):
        plan_for_trial(big, {"subgroups": {"USUBJID": "Subject"}})
    with pytest.raises(PlanError, match=rf"relapse\.strata: USUBJID, SEX has {n_tte} level combinations; at most 100"):
        plan_for_trial(big, {"relapse": {"strata": ["USUBJID", "SEX"]}})
    assert plan_for_trial(big, {"relapse": {"strata": ["SEX"]}, "subgroups": {"SEX": "Sex"}}).relapse.strata == ("SEX",)
