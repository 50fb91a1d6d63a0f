"""Internal errors of issue 11 become clear messages; arm labels (issue 11, part 6).

Each case was reproduced first on the code before the fix: Safety with one arm raised
``KeyError: "['method'] not found in axis"``, Primary with the primary visit all missing raised
``KeyError: 'analysis'``, Relapse with AVAL = 1e308 raised ``ValueError: Maximum allowed size
exceeded`` (now refused at load), and an arm label starting with ``_`` vanished from legends.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import trialstats as ts
from trialstats.errors import TrialDataError
from trialstats.report.build import render_report
from trialstats.report.sections import primary, relapse, safety

MINI = Path(__file__).parent / "data" / "mini_trial"


@pytest.fixture(scope="module")
def base():
    return ts.simulate_trial(n_per_arm=8, n_sites=2, seed=5)


def _subset(base, arms, labels=None):
    meta = replace(base.meta, arms={a: (labels or base.meta.arms)[a] for a in arms}, reference=arms[0])
    keep = set(base.adsl.loc[base.adsl["ARM"].isin(arms), "USUBJID"])

    def f(d):
        d = d[d["USUBJID"].isin(keep)].reset_index(drop=True)
        return d.assign(ARM=d["ARM"].astype(str)) if "ARM" in d.columns else d

    return ts.Trial(meta, f(base.adsl), f(base.adeff), f(base.adtte), f(base.adae))


def test_safety_with_one_arm_shows_counts_without_risk_differences(base, tmp_path):
    trial = _subset(base, ["PLACEBO"])
    _, ctx, _ = render_report(trial, tmp_path / "r.html", sections=(safety,))
    sec = ctx.sections["safety"]
    assert sec.error is None and not sec.failures
    assert any("The trial has one arm, so there are no risk differences." in p for p in sec.paragraphs)
    assert sec.tables[0].data["rd"].isna().all()


def test_primary_visit_all_missing_is_a_clear_model_error(base, tmp_path):
    adeff = base.adeff.copy()
    adeff.loc[adeff["AVISIT"] == "WEEK 24", ["AVAL", "CHG"]] = np.nan
    trial = ts.Trial(base.meta, base.adsl, adeff, base.adtte, base.adae)
    _, ctx, _ = render_report(trial, tmp_path / "r.html", sections=(primary,))
    err = ctx.sections["primary"].error
    n = int(((adeff["AVISIT"] == "WEEK 24") & (adeff["PARAMCD"] == "TAHC")).sum())
    assert err.startswith(f"ModelError: primary visit 'WEEK 24' of PARAMCD TAHC: CHG is missing in all {n} rows")
    assert "visits with CHG data: WEEK 4, WEEK 12" in err


def test_relapse_time_1e308_is_refused_at_load(tmp_path):
    folder = Path(shutil.copytree(MINI, tmp_path / "t"))
    text = (folder / "adtte.csv").read_text(encoding="utf-8").replace("MINI-0005,RELAPSE,112,", "MINI-0005,RELAPSE,1e308,")
    (folder / "adtte.csv").write_text(text, encoding="utf-8")
    with pytest.raises(TrialDataError, match=r"adtte\.csv, column AVAL: impossible values 1e\+308 in row 5 "
                       r"\(MINI-0005\); possible values are in \[0, 100000\] \(time in days\)"):
        ts.load_trial(folder)


def test_arm_label_starting_with_underscore_shows_in_legends(base, tmp_path):
    labels = {"PLACEBO": "_Placebo", "EXOSOME": "_Exo", "MINOXIDIL": "Minoxidil"}
    trial = _subset(base, ["PLACEBO", "EXOSOME", "MINOXIDIL"], labels)
    _, ctx, _ = render_report(trial, tmp_path / "r.html", sections=(relapse,))
    fig = next(f.figure for f in ctx.sections["relapse"].figures if f.name == "relapse_km")
    legend = fig.axes[0].get_legend()
    shown = {t.get_text().lstrip("\u200b") for t in legend.get_texts()}
    assert {"_Placebo", "_Exo", "Minoxidil"} <= shown


@pytest.mark.parametrize(
    ("codes", "match"),
    [
        ('{ EXOSOME = "Placebo", MINOXIDIL = "Minoxidil", PLACEBO = "Placebo" }',
         r"trial\.toml, column arms\.codes: arms EXOSOME, PLACEBO have the same label 'Placebo'"),
        ('{ EXOSOME = "Exosome", MINOXIDIL = " ", PLACEBO = "Placebo" }',
         r"trial\.toml, column arms\.codes: empty label for arm MINOXIDIL"),
    ],
)
def test_duplicate_or_empty_arm_labels_are_data_errors(tmp_path, codes, match):
    folder = Path(shutil.copytree(MINI, tmp_path / "t"))
    toml = folder / "trial.toml"
    old = 'codes = { EXOSOME = "Exosome injections", MINOXIDIL = "Minoxidil 5% topical", PLACEBO = "Placebo" }'
    toml.write_text(toml.read_text(encoding="utf-8").replace(old, f"codes = {codes}"), encoding="utf-8")
    with pytest.raises(TrialDataError, match=match):
        ts.load_trial(folder)


def test_duplicate_labels_in_memory(base):
    meta = replace(base.meta, arms={"PLACEBO": "Same", "EXOSOME": "same", "MINOXIDIL": "Minoxidil"})
    with pytest.raises(TrialDataError, match=r"TrialMeta, column arms\.codes: arms PLACEBO, EXOSOME have the same label"):
        ts.Trial(meta, base.adsl, base.adeff, base.adtte, base.adae)


def test_too_many_arms_is_a_data_error(base):
    meta = replace(base.meta, arms={f"A{i}": f"Arm {i}" for i in range(21)}, reference="A0")
    with pytest.raises(TrialDataError, match=r"TrialMeta, column arms\.codes: 21 arms; at most 20 are allowed"):
        ts.Trial(meta, base.adsl, base.adeff)


def test_longterm_with_one_subject_per_arm_is_a_clear_model_error(base, tmp_path):
    # reproduced: lifelines raised "TypeError: len() of unsized object" on a single subject
    from trialstats.report.sections import longterm

    keep = set(base.adtte.merge(base.adsl[["USUBJID", "ARM"]], on="USUBJID")
               .groupby("ARM", observed=True)["USUBJID"].first())
    adtte = base.adtte[base.adtte["USUBJID"].isin(keep)].reset_index(drop=True)
    trial = ts.Trial(base.meta, base.adsl, base.adeff, adtte, base.adae)
    _, ctx, _ = render_report(trial, tmp_path / "r.html", sections=(longterm,))
    err = ctx.sections["longterm"].error
    assert err.startswith("ModelError: parametric curves need at least 2 subjects per arm in the "
                          "relapse data; subjects per arm: Placebo (1)")


def test_relapse_text_says_when_adtte_covers_only_some_subjects(tmp_path):
    # the default simulator defines relapse among responders: ADTTE holds a subset of ADSL, and
    # the text must not read as if every randomised subject entered the relapse analysis
    trial = ts.simulate_trial(n_per_arm=40, seed=2)
    n_tte = trial.adtte.loc[trial.adtte["PARAMCD"] == "RELAPSE", "USUBJID"].nunique()
    assert 0 < n_tte < len(trial.adsl)
    _, ctx, _ = render_report(trial, tmp_path / "r.html", sections=(relapse,))
    text = " ".join(ctx.sections["relapse"].paragraphs)
    param = trial.adtte["PARAM"].iloc[0]
    assert f'ADTTE holds this endpoint ("{param}") for {n_tte} of the {len(trial.adsl)} randomised subjects' in text
