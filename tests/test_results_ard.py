"""The comparisons frame, each result's comparisons(), and compare().

Numbers against R are in tests/test_real_trials.py (Cox any pair, MMRM) and
tests/test_results_reference.py; here: the schema, that each ``comparisons()`` row is the model's
own contrast (same arm, same numbers, no label parsing), the any-pair algebra, and the closed
forms of the one-sided tests.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from scipy import stats

import trialstats as ts
from tests.tolerances import ANALYTIC
from trialstats.results.ard import COLUMNS

HERE = Path(__file__).parent
REF = HERE / "reference"


def _row(**kw):
    row = {"analysis": "a", "endpoint": "E", "param": "", "visit": "", "arm": "B",
           "reference": "A", "measure": "difference in means", "scale": "difference",
           "null": 0.0, "estimate": 1.0, "std_error": 0.5, "df": np.inf, "statistic": 2.0,
           "p_value": 0.0455, "conf_low": 0.02, "conf_high": 1.98, "level": 0.95,
           "method": "test"}
    row.update(kw)
    return row


# ------------------------------------------------------------------ schema
def test_comparisons_frame_orders_columns_and_blanks_text():
    row = _row(param=None)
    out = ts.comparisons_frame(pd.DataFrame([row])[list(reversed(COLUMNS))])
    assert tuple(out.columns) == COLUMNS
    assert out.at[0, "param"] == "" and out["estimate"].dtype == float


@pytest.mark.parametrize(("change", "message"), [
    ({"scale": "log"}, "column scale: valid values are difference, ratio: rows 0"),
    ({"arm": "A"}, "an arm compared with itself: rows 0"),
    ({"scale": "ratio", "null": 1.0, "estimate": -0.2}, "column estimate: a ratio must be > 0"),
    ({"conf_low": 3.0}, "conf_low > conf_high: rows 0"),
    ({"p_value": 1.5}, r"column p_value: outside \[0, 1\]"),
    ({"level": 95}, "column level: must be strictly between 0 and 1"),
    ({"df": 0.0}, "column df: must be > 0"),
    ({"estimate": "big"}, "column estimate: numbers expected"),
    ({"arm": 3}, "column arm: text expected"),
])
def test_comparisons_frame_rejects_bad_rows(change, message):
    with pytest.raises(ts.ModelError, match=message):
        ts.comparisons_frame([_row(), _row(**change)][1:])


def test_comparisons_frame_rejects_missing_and_extra_columns():
    frame = pd.DataFrame([_row()]).drop(columns=["null"]).assign(contrast="B - A")
    with pytest.raises(ts.ModelError, match="missing null; unexpected contrast; the columns are"):
        ts.comparisons_frame(frame)


# ------------------------------------------------------------------ compare(): closed forms
def test_compare_non_inferiority_on_a_difference():
    out = ts.compare([_row()], "B", "A", margin=-0.5, alternative="greater", level=0.975).iloc[0]
    z = (1.0 + 0.5) / 0.5
    assert_allclose(out["p_value"], stats.norm.sf(z), **ANALYTIC)
    assert_allclose(out["conf_low"], 1.0 - stats.norm.ppf(0.975) * 0.5, **ANALYTIC)
    assert out["conf_high"] == np.inf and out["null"] == -0.5
    assert out["rejected"] and out["conclusion"] == "B non-inferior to A"


def test_compare_superiority_with_t_and_turned_round():
    row = _row(arm="A", reference="B", estimate=-1.0, conf_low=-2.0, conf_high=0.0, df=20.0)
    out = ts.compare([row], "B", "A", alternative="greater").iloc[0]
    assert (out["arm"], out["reference"], out["estimate"]) == ("B", "A", 1.0)
    assert_allclose(out["p_value"], stats.t.sf(2.0, 20.0), **ANALYTIC)
    assert_allclose(out["conf_low"], 1.0 - stats.t.ppf(0.95, 20.0) * 0.5, **ANALYTIC)
    assert out["conclusion"] == "B superior to A"
    weak = ts.compare([row], "B", "A", margin=0.5, alternative="greater").iloc[0]
    assert_allclose(weak["p_value"], stats.t.sf(1.0, 20.0), **ANALYTIC)
    assert weak["conclusion"] == "superiority not shown"


def test_compare_hazard_ratio_non_inferiority_and_two_sided():
    row = _row(scale="ratio", measure="hazard ratio", null=1.0, estimate=0.8, std_error=0.1,
               conf_low=0.6, conf_high=0.97, statistic=np.log(0.8) / 0.1)
    ni = ts.compare([row], "B", "A", margin=1.3, alternative="less").iloc[0]
    z = (np.log(0.8) - np.log(1.3)) / 0.1
    assert_allclose(ni["p_value"], stats.norm.cdf(z), **ANALYTIC)
    assert_allclose(ni["conf_high"], np.exp(np.log(0.8) + stats.norm.ppf(0.95) * 0.1), **ANALYTIC)
    assert ni["conf_low"] == 0.0 and ni["conclusion"] == "B non-inferior to A"
    two = ts.compare([row], "A", "B").iloc[0]  # turned round: HR 1 / 0.8
    assert_allclose(two["estimate"], 1.25, **ANALYTIC)
    assert_allclose(two["p_value"], 2 * stats.norm.sf(abs(np.log(0.8)) / 0.1), **ANALYTIC)
    assert two["conclusion"] == "A differs from B"


def test_compare_errors():
    with pytest.raises(ts.ModelError, match="no row of 'C' against 'A'.*pairs present: B vs A"):
        ts.compare([_row()], "C", "A")
    with pytest.raises(ts.ModelError, match="alternative must be one of two-sided, greater, less"):
        ts.compare([_row()], "B", "A", alternative="bigger")
    with pytest.raises(ts.ModelError, match="margin on a ratio scale must be > 0"):
        ts.compare([_row(scale="ratio", null=1.0, estimate=0.8, conf_low=0.5, conf_high=1.2)],
                   "B", "A", margin=-0.1)


# ------------------------------------------------------------------ comparisons() of results
@pytest.fixture(scope="module")
def exo():
    trial = ts.datasets.load("exo-hair-301")
    d = trial.efficacy("TAHC")
    d = d[(d["ABLFL"] != "Y") & d["AVISIT"].isin(["WEEK 4", "WEEK 12", "WEEK 24"])].copy()
    d["AVISIT"] = d["AVISIT"].cat.remove_unused_categories()
    return trial, d.reset_index(drop=True)


@pytest.fixture(scope="module")
def exo_mmrm(exo):
    return ts.mmrm("CHG ~ ARM * AVISIT + BASE", exo[1])


def test_mmrm_comparisons_are_the_contrasts_with_explicit_arms(exo_mmrm):
    c = exo_mmrm.comparisons(analysis="primary", endpoint="TAHC", param="Total hair count")
    ref = exo_mmrm.contrast("ARM", by="AVISIT")
    assert c["arm"].tolist() == ["EXOSOME", "MINOXIDIL"] * 3
    assert set(c["reference"]) == {"PLACEBO"} and c["visit"].tolist()[::2] == [
        "WEEK 4", "WEEK 12", "WEEK 24"]
    for col in ("estimate", "std_error", "df", "statistic", "p_value", "conf_low", "conf_high"):
        assert_allclose(c[col], ref[col], **ANALYTIC)
    assert set(c["analysis"]) == {"primary"} and set(c["param"]) == {"Total hair count"}


def test_mmrm_any_pair_is_the_difference_of_contrasts(exo_mmrm):
    c = exo_mmrm.comparisons(pairs=[("MINOXIDIL", "EXOSOME")]).set_index("visit")
    base = exo_mmrm.comparisons().pivot(index="visit", columns="arm", values="estimate")
    assert_allclose(c["estimate"], (base["MINOXIDIL"] - base["EXOSOME"])[c.index], rtol=1e-9)
    terms = list(exo_mmrm.terms)
    L = np.zeros(len(terms))
    L[terms.index("ARMMINOXIDIL")], L[terms.index("ARMEXOSOME")] = 1.0, -1.0  # at WEEK 4
    direct = exo_mmrm.linear_contrast(L[None, :]).iloc[0]
    for col in ("estimate", "std_error", "df", "p_value"):
        assert_allclose(c.at["WEEK 4", col], direct[col], rtol=1e-9)


def test_mmrm_comparisons_reject_unknown_arms(exo_mmrm):
    with pytest.raises(ts.ModelError, match="'PLACEBOX' not an arm; valid: PLACEBO, EXOSOME"):
        exo_mmrm.comparisons(pairs=[("PLACEBOX", "EXOSOME")])


def test_rmst_and_logrank_comparisons_match_their_tables(exo):
    tte = exo[0].analysis_frame("adtte")
    r = ts.rmst(tte, censor="CNSR", tau=300)
    c = r.comparisons()
    diff, ratio = c[c["scale"] == "difference"], c[c["scale"] == "ratio"]
    assert diff["arm"].tolist() == ["EXOSOME", "MINOXIDIL"] and set(c["reference"]) == {"PLACEBO"}
    for col in ("estimate", "std_error", "conf_low", "conf_high", "statistic", "p_value"):
        assert_allclose(diff[col], r.difference[col], **ANALYTIC)
        assert_allclose(ratio[col], r.ratio[col], **ANALYTIC)
    lr = ts.logrank(tte, censor="CNSR")
    lc = lr.comparisons(endpoint="RELAPSE")
    assert lc["arm"].tolist() == ["EXOSOME", "MINOXIDIL"] and lc["estimate"].isna().all()
    assert_allclose(lc["statistic"], lr.pairwise["statistic"], **ANALYTIC)
    assert_allclose(lc["p_value"], lr.pairwise["p_value"], **ANALYTIC)


@pytest.fixture(scope="module")
def hair_counts():
    d = pd.read_csv(REF / "hair_counts.csv")
    d["ARM"] = pd.Categorical(d["ARM"], categories=["PLACEBO", "EXOSOME", "MINOXIDIL"])
    return d


def test_count_model_rate_ratios(hair_counts):
    fit = ts.count_model("AVAL ~ ARM + WEEK_OFF + LOGBASE", hair_counts)
    c = fit.comparisons(reference="PLACEBO", pairs="all")
    rr = fit.rate_ratios.set_index("term")
    assert c[["arm", "reference"]].apply(tuple, axis=1).tolist() == [
        ("EXOSOME", "PLACEBO"), ("MINOXIDIL", "PLACEBO"), ("MINOXIDIL", "EXOSOME")]
    assert_allclose(c["estimate"][:2], rr.loc[["ARMEXOSOME", "ARMMINOXIDIL"], "rate_ratio"],
                    rtol=1e-12)
    assert_allclose(c["conf_low"][:2], rr.loc[["ARMEXOSOME", "ARMMINOXIDIL"], "conf_low"],
                    rtol=1e-12)
    assert_allclose(c["estimate"][2], c["estimate"][1] / c["estimate"][0], rtol=1e-12)
    with pytest.raises(ts.ModelError, match="give reference="):
        fit.comparisons()
    inter = ts.count_model("AVAL ~ ARM * WEEK_OFF + LOGBASE", hair_counts)
    with pytest.raises(ts.ModelError, match="interacts with other terms"):
        inter.comparisons(reference="PLACEBO")


def test_lmm_slope_differences(hair_counts):
    fit = ts.lmm("AVAL ~ ARM * WEEK_OFF + BASE", hair_counts, groups="USUBJID",
                 re_formula="~WEEK_OFF")
    c = fit.comparisons(time="WEEK_OFF", pairs="all")
    diff = fit.slopes(time="WEEK_OFF").difference
    for col in ("estimate", "std_error", "p_value", "conf_low", "conf_high"):
        assert_allclose(c[col][:2], diff[col], rtol=1e-12)
    assert_allclose(c["estimate"][2], c["estimate"][1] - c["estimate"][0], rtol=1e-9)
    assert c["measure"].iloc[0] == "slope difference (per unit of WEEK_OFF)"


def test_risk_difference_errors():
    with pytest.raises(ts.ModelError, match="method must be one of newcombe, wald"):
        ts.risk_difference({"A": 1}, {"A": 10, "B": 10}, method="exact")
    with pytest.raises(ts.ModelError, match=r"events <= subjects.*A \(11 of 10\)"):
        ts.risk_difference({"A": 11}, {"A": 10, "B": 10})
    with pytest.raises(ts.ModelError, match="events for arms not in totals: C"):
        ts.risk_difference({"C": 1}, {"A": 10, "B": 10})
    with pytest.raises(ts.ModelError, match=r"totals\['A'\] must be a whole number"):
        ts.risk_difference({}, {"A": 10.5, "B": 10})
    res = ts.risk_difference({"B": 3}, {"A": 10, "B": 10}, method="wald")
    row = res.comparisons().iloc[0]
    assert (row["arm"], row["reference"]) == ("B", "A")
    assert_allclose(row["conf_high"], 0.3 + stats.norm.ppf(0.975) * np.sqrt(0.21 / 10), **ANALYTIC)


def test_adjust_p_errors():
    with pytest.raises(ts.ModelError, match="unknown method 'sidak'"):
        ts.adjust_p([0.1], "sidak")
    with pytest.raises(ts.ModelError, match=r"must lie in \[0, 1\]"):
        ts.adjust_p([0.1, 1.2])
    with pytest.raises(ts.ModelError, match="needs families="):
        ts.adjust_p([0.1, 0.2], "gatekeeping")
    with pytest.raises(ts.ModelError, match="no p_value column"):
        ts.multiplicity(pd.DataFrame({"p": [0.1]}))


def test_cox_comparisons_do_not_mistake_a_covariate_named_like_the_arm(exo):
    tte = exo[0].analysis_frame("adtte")
    tte["ARMGRP"] = np.where(np.arange(len(tte)) % 2, "A", "B")
    fit = ts.cox("ARM + ARMGRP", tte, censor="CNSR")
    c = fit.comparisons(reference="PLACEBO")
    assert c["arm"].tolist() == ["EXOSOME", "MINOXIDIL"]
    assert_allclose(c["estimate"], fit.coef["hazard_ratio"][:2], rtol=1e-12)


@pytest.mark.parametrize("vcov, words", [("model", None), ("empirical", "empirical (sandwich)"),
                                         ("empirical-jackknife", "jackknife"),
                                         ("empirical-bias-reduced", "bias-reduced (CR2)")])
def test_mmrm_comparisons_name_the_covariance_of_the_estimates(exo, vcov, words):
    method = ts.mmrm("CHG ~ ARM * AVISIT + BASE", exo[1], vcov=vcov).comparisons()["method"]
    assert method.nunique() == 1
    assert ("sandwich" not in method[0]) if words is None else (words in method[0])
