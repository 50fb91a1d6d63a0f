"""Report section helpers on tiny data with hand-worked answers: multiplicity, Table 1, disposition,
adverse-event counts and risk differences, the covariance fallback, the methods text."""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from statsmodels.stats.multitest import multipletests
from tolerances import ANALYTIC

import trialstats as ts
from trialstats.errors import ModelError
from trialstats.report.plan import AnalysisPlan, MMRMSpec
from trialstats.report.sections import _base, disposition, hypotheses, safety
from trialstats.report.sections.baseline import display_table_one, table_one
from trialstats.report.sections.methods import methods_text
from trialstats.report.sections.relapse import strata_column, term_arm


# -- multiplicity ----------------------------------------------------------------------------------
def test_fixed_sequence_adjusted_p_is_the_running_maximum():
    assert_allclose(hypotheses.adjust_fixed_sequence([0.01, 0.03, 0.02, 0.2, 0.001]),
                    [0.01, 0.03, 0.03, 0.2, 0.2], **ANALYTIC)


def test_fixed_sequence_missing_p_stops_the_sequence():
    out = hypotheses.adjust_fixed_sequence([0.01, np.nan, 0.001])
    assert out[0] == 0.01 and np.isnan(out[1]) and np.isnan(out[2])


@pytest.mark.parametrize("p", [[0.01, 0.04, 0.03, 0.005], [0.5, 0.01, 0.02], [0.2]])
def test_holm_matches_statsmodels(p):
    assert_allclose(hypotheses.adjust_holm(p), multipletests(p, method="holm")[1], **ANALYTIC)


def test_holm_ignores_missing():
    out = hypotheses.adjust_holm([0.01, np.nan, 0.04])
    assert_allclose(out[[0, 2]], [0.02, 0.04], **ANALYTIC)
    assert np.isnan(out[1])


def test_conclusions_fixed_sequence_and_holm():
    p = np.array([0.01, 0.2, 0.001])
    fs = hypotheses.conclusions(p, hypotheses.adjust_fixed_sequence(p), "fixed-sequence", 0.05)
    assert fs == ["rejected at two-sided alpha = 0.05", "not rejected",
                  "not tested (an earlier hypothesis was not rejected)"]
    holm = hypotheses.conclusions(p, hypotheses.adjust_holm(p), "holm", 0.05)
    assert holm == ["rejected at two-sided alpha = 0.05", "not rejected", "rejected at two-sided alpha = 0.05"]
    missing = hypotheses.conclusions(np.array([np.nan, 0.01]), np.array([np.nan, np.nan]), "fixed-sequence", 0.05)
    assert missing == ["not available (its analysis failed)", "not tested (an earlier hypothesis was not rejected)"]


# -- Table 1 and disposition ---------------------------------------------------------------------
@pytest.fixture
def adsl():
    return pd.DataFrame({
        "USUBJID": [f"S{i}" for i in range(6)],
        "ARM": pd.Categorical(["P", "P", "P", "E", "E", "E"], categories=["P", "E"]),
        "AGE": [30, 40, np.nan, 20, 22, 24],
        "SEX": ["F", "M", "F", "M", "", "M"],
        "SAFFL": ["Y", "Y", "N", "Y", "Y", "Y"],
        "EOSSTT": ["COMPLETED", "DISCONTINUED", "DISCONTINUED", "COMPLETED", "COMPLETED", "DISCONTINUED"],
        "DCSREAS": ["", "ADVERSE EVENT", "LOST", "", "", "LOST"],
    })


def test_table_one_by_hand(adsl):
    t1 = table_one(adsl, ["P", "E"], variables=(("AGE", "Age"), ("SEX", "Sex")))
    age_p = t1[(t1["variable"] == "AGE") & (t1["ARM"] == "P")].iloc[0]
    assert (age_p["n"], age_p["n_missing"], age_p["mean"], age_p["median"]) == (2, 1, 35.0, 35.0)
    assert_allclose(age_p["sd"], np.sqrt(50.0), **ANALYTIC)
    assert_allclose([age_p["q1"], age_p["q3"]], [32.5, 37.5], **ANALYTIC)  # type 7 quantiles
    age_all = t1[(t1["variable"] == "AGE") & (t1["ARM"] == "Total")].iloc[0]
    assert (age_all["n"], age_all["mean"], age_all["min"], age_all["max"]) == (5, 27.2, 20.0, 40.0)
    sex_e = t1[(t1["variable"] == "SEX") & (t1["ARM"] == "E")].set_index("level")
    assert sex_e.loc["M", "n"] == 2 and sex_e.loc["M", "pct"] == 100.0 and sex_e.loc["M", "n_missing"] == 1
    assert "F" in sex_e.index and sex_e.loc["F", "n"] == 0
    disp = display_table_one(t1, [("P", "P"), ("E", "E"), ("Total", "Total")])
    rows = disp.set_index("Characteristic")
    assert rows.loc["\u2003Mean (SD)", "P"] == "35.0 (7.1)"
    assert rows.loc["\u2003Median [Q1, Q3]", "P"] == "35.0 [32.5, 37.5]"
    assert rows.loc["\u2003M", "E"] == "2 (100.0%)"
    assert list(rows.loc["\u2003Missing", "Total"]) == ["1", "1"]  # AGE, then SEX


def test_disposition_flow_by_hand(adsl):
    flow = disposition.flow_frame(adsl, ["P", "E"])
    got = {(r.stage, r.reason, r.ARM): r.n for r in flow.itertuples()}
    assert got[("Randomised", "", "P")] == 3 and got[("Randomised", "", "Total")] == 6
    assert got[("Treated (safety population)", "", "P")] == 2
    assert got[("Completed", "", "E")] == 2 and got[("Discontinued", "", "E")] == 1
    assert got[("Discontinued", "LOST", "Total")] == 2 and got[("Discontinued", "ADVERSE EVENT", "E")] == 0
    # reasons by decreasing count
    reasons = [r for r in dict.fromkeys(flow["reason"]) if r]
    assert reasons == ["LOST", "ADVERSE EVENT"]


# -- adverse events ------------------------------------------------------------------------------
def test_teae_counts_subjects_once_per_term(adsl):
    adae = pd.DataFrame({
        "USUBJID": ["S0", "S0", "S1", "S3", "S3", "S2", "S4"],
        "AEBODSYS": ["SKIN", "SKIN", "NERV", "SKIN", "SKIN", "SKIN", "NERV"],
        "AEDECOD": ["Itch", "Itch", "Headache", "Itch", "Rash", "Itch", "Headache"],
        "AESEV": ["MILD", "MILD", "SEVERE", "MILD", "MILD", "MILD", "MILD"],
        "AESER": ["N", "N", "Y", "N", "N", "N", "N"],
        "TRTEMFL": ["Y", "Y", "Y", "Y", "Y", "Y", "N"],
    })
    c = safety.teae_counts(adsl, adae, ["P", "E"])
    got = {(r.category, r.AEBODSYS, r.AEDECOD, r.ARM): (r.n, r.N) for r in c.itertuples()}
    # S2 is not in the safety population; S4's event is not treatment-emergent
    assert got[("Any TEAE", "", "", "P")] == (2, 2)
    assert got[("Any TEAE", "", "", "E")] == (1, 3)
    assert got[("Serious TEAE", "", "", "P")] == (1, 2)
    assert got[("Severe TEAE", "", "", "E")] == (0, 3)
    assert got[("Preferred term", "SKIN", "Itch", "P")] == (1, 2)  # S0 twice = once
    assert got[("Preferred term", "SKIN", "Itch", "E")] == (1, 3)
    assert ("Preferred term", "NERV", "Headache", "E") in got and got[("Preferred term", "NERV", "Headache", "E")] == (0, 3)
    socs = [s for s in dict.fromkeys(c.loc[c["category"] == "System organ class", "AEBODSYS"])]
    assert socs == ["SKIN", "NERV"]  # by decreasing subject count


def test_risk_difference_wald_by_hand():
    counts = pd.DataFrame({"category": ["Any TEAE"] * 2, "AEBODSYS": [""] * 2, "AEDECOD": [""] * 2,
                           "ARM": ["P", "E"], "n": [2, 6], "N": [10, 10]})
    rd = safety.risk_differences(counts, ["P", "E"], "P", "wald", 0.95).iloc[0]
    se = np.sqrt(0.6 * 0.4 / 10 + 0.2 * 0.8 / 10)
    assert_allclose(rd["estimate"], 0.4, **ANALYTIC)
    assert_allclose([rd["conf_low"], rd["conf_high"]], [0.4 - 1.959963984540054 * se, 0.4 + 1.959963984540054 * se], rtol=1e-9)
    nc = safety.risk_differences(counts, ["P", "E"], "P", "newcombe", 0.95).iloc[0]
    # Newcombe (1998) method 10 for 6/10 vs 2/10, from the Wilson score limits of each proportion
    z = 1.959963984540054

    def wilson(x, n):
        p = x / n
        centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
        return centre - half, centre + half

    (l1, u1), (l2, u2) = wilson(6, 10), wilson(2, 10)
    low = 0.4 - np.sqrt((0.6 - l1) ** 2 + (u2 - 0.2) ** 2)
    high = 0.4 + np.sqrt((u1 - 0.6) ** 2 + (0.2 - l2) ** 2)
    assert_allclose([nc["conf_low"], nc["conf_high"]], [low, high], rtol=1e-9)


# -- covariance fallback -------------------------------------------------------------------------
def test_fallback_uses_the_next_covariance_and_reports_attempts(monkeypatch):
    trial = ts.simulate_trial(n_per_arm=8, n_sites=2, seed=5)
    from trialstats.report.sections.primary import mmrm_frame

    data = mmrm_frame(trial, "TAHC", "WEEK 24")
    real = ts.mmrm

    def fake(formula, data, **kw):
        if kw["covariance"] == "us":
            return SimpleNamespace(converged=False)
        if kw["covariance"] == "toeph":
            raise ModelError("toeph: singular")
        return real(formula, data, **kw)

    monkeypatch.setattr(ts, "mmrm", fake)
    fit, used, attempts = _base.fit_mmrm_with_fallback(data, MMRMSpec())
    assert used == "ar1h" and fit.converged
    assert attempts == ["us: did not converge", "toeph: failed (toeph: singular)", "ar1h: converged"]
    monkeypatch.setattr(ts, "mmrm", lambda *a, **k: SimpleNamespace(converged=False))
    with pytest.raises(ModelError, match="no covariance structure of the plan converged: us: did not converge; toeph"):
        _base.fit_mmrm_with_fallback(data, MMRMSpec())


# -- small helpers -----------------------------------------------------------------------------------
def test_term_arm_and_strata():
    assert term_arm("ARM[T.EXOSOME]", ["PLACEBO", "EXOSOME"]) == "EXOSOME"
    assert term_arm("ARMEXOSOME_HIGH", ["EXOSOME", "EXOSOME_HIGH"]) == "EXOSOME_HIGH"
    assert term_arm("AGE", ["PLACEBO", "EXOSOME"]) is None
    d = pd.DataFrame({"SEX": ["F", "M"], "STAGEGR": ["mild", "moderate"]})
    assert strata_column(d, ("SEX",))[1] == "SEX"
    two, col, used = strata_column(d, ("SEX", "STAGEGR", "NOPE"))
    assert col == "STRATUM" and used == ["SEX", "STAGEGR"] and list(two["STRATUM"]) == ["F/mild", "M/moderate"]
    assert strata_column(d, ("NOPE",))[1] is None


def test_pct_level():
    assert _base.pct_level(0.95) == "95%" and _base.pct_level(0.975) == "97.5%"


def test_methods_text_follows_the_plan():
    plan = AnalysisPlan(mmrm=MMRMSpec(covariance=("toeph", "cs"), df="kenward-roger"), strategy="holm",
                        sensitivity=()).resolve(ts.simulate_trial(n_per_arm=6, n_sites=2, seed=2))
    text = " ".join(methods_text(plan, {"primary_covariance": "cs"}, "Placebo"))
    assert "tried in the order toeph → cs" in text and "the structure used was cs" in text
    assert "kenward-roger degrees of freedom" in text
    assert "Holm's step-down procedure" in text
    assert "Sensitivity analyses" not in text
    assert "Extrapolation is not evidence." in text


def test_consort_flow_boxes_by_hand(adsl):
    flow = disposition.flow_frame(adsl, ["P", "E"])
    cols = disposition.flow_boxes(flow, ["P", "E"], {"P": "Placebo", "E": "Exo"})
    assert [c["arm"] for c in cols] == ["Placebo", "Exo"]
    assert cols[0]["boxes"] == [("Randomised", "3"), ("Treated (safety population)", "2 (66.7%)")]
    assert cols[0]["outcome"] == [("Completed", "1 (33.3%)"), ("Discontinued", "2 (66.7%)")]
    assert cols[0]["exits"] == [("LOST", "1 (33.3%)"), ("ADVERSE EVENT", "1 (33.3%)")]
    assert cols[1]["exits"] == [("LOST", "1 (33.3%)")]  # reasons with no subject are left out


@pytest.mark.parametrize(("p", "text"), [(0.0001, "p < 0.001"), (0.0123, "p = 0.012"), (0.9999, "p > 0.999"), (None, "p not available")])
def test_p_text(p, text):
    from trialstats.report.sections.primary import p_text

    assert p_text(p) == text
