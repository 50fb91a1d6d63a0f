"""The plan-driven report (issue 8): hypotheses of any pair of arms (superiority or
non-inferiority), estimates only from sections that completed, methods only for what ran, the
time grid, and the plan keys that drive them. Expected values are closed forms (the t and normal
tails of the test statistic), not the code's own output."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from scipy import stats

import trialstats as ts
from tests.tolerances import ANALYTIC
from trialstats.report.plan import AnalysisPlan, Hypothesis, PlanError, load_plan
from trialstats.report.sections import hypotheses, summary
from trialstats.report.sections._base import Context, EventWords, Section, time_grid
from trialstats.report.sections.methods import methods_text


@pytest.fixture(scope="module")
def trial():
    return ts.simulate_trial(n_per_arm=8, n_sites=2, seed=5)


def _row(arm, reference, estimate, se, df, measure="difference in LS means", scale="difference"):
    null = 1.0 if scale == "ratio" else 0.0
    g = np.log(estimate) if scale == "ratio" else estimate
    t = (g - np.log(null) if scale == "ratio" else g - null) / se
    p = 2 * (stats.t.sf(abs(t), df) if np.isfinite(df) else stats.norm.sf(abs(t)))
    q = stats.t.ppf(0.975, df) if np.isfinite(df) else stats.norm.ppf(0.975)
    lo, hi = g - q * se, g + q * se
    if scale == "ratio":
        lo, hi = np.exp(lo), np.exp(hi)
    return {"analysis": "", "endpoint": "X", "param": "", "visit": "WEEK 24", "arm": arm,
            "reference": reference, "measure": measure, "scale": scale, "null": null,
            "estimate": estimate, "std_error": se, "df": df, "statistic": t, "p_value": p,
            "conf_low": lo, "conf_high": hi, "level": 0.95, "method": "test"}


def _ctx(trial, hyps, rows_by_key, sections_ok=("primary", "relapse")):
    plan = AnalysisPlan(hypotheses=tuple(hyps), strategy="fixed-sequence").resolve(trial)
    ctx = Context(trial=trial, plan=plan)
    for key, rows in rows_by_key.items():
        ctx.estimates.add(key, pd.DataFrame(rows), key, {"cox": "relapse"}.get(key, "primary"))
    for k in ("primary", "relapse"):
        ctx.sections[k] = Section(key=k, title=k, failures=() if k in sections_ok else ("x failed",))
    return ctx


def test_head_to_head_non_inferiority_then_superiority(trial):
    # EXOSOME - MINOXIDIL = -0.45 (SE 2.6, 300 df); margin -5, higher is better
    rows = {"primary": [_row("EXOSOME", "PLACEBO", 10.8, 2.6, 300.0),
                        _row("EXOSOME", "MINOXIDIL", -0.45, 2.6, 300.0)]}
    hyps = [Hypothesis("primary", "EXOSOME"),
            Hypothesis("primary", "EXOSOME", reference="MINOXIDIL", test="non-inferiority", margin=-5.0),
            Hypothesis("primary", "EXOSOME", reference="MINOXIDIL")]
    ctx = _ctx(trial, hyps, rows)
    t = hypotheses.compute(ctx) and ctx.results["hypotheses"]
    assert t["reference"].tolist() == ["PLACEBO", "MINOXIDIL", "MINOXIDIL"]
    # non-inferiority: one-sided t test of (estimate - margin) / SE, doubled (two-sided alpha scale)
    one_sided = stats.t.sf((-0.45 + 5.0) / 2.6, 300.0)
    assert_allclose(t["p_value"].iloc[1], 2 * one_sided, **ANALYTIC)
    assert_allclose(t["conf_low"].iloc[1], -0.45 - stats.t.ppf(0.975, 300.0) * 2.6, **ANALYTIC)
    assert t["conf_high"].iloc[1] == np.inf
    # superiority of the same pair: the two-sided p of the row
    assert_allclose(t["p_value"].iloc[2], 2 * stats.t.sf(0.45 / 2.6, 300.0), **ANALYTIC)
    # fixed sequence: H2 (p = 0.085) is not rejected, so H3 is not tested
    assert t["conclusion"].tolist()[1:] == ["not rejected",
                                           "not tested (an earlier hypothesis was not rejected)"]


def test_a_pair_stored_the_other_way_round_is_turned(trial):
    # only MINOXIDIL vs EXOSOME is stored: HR 2.0 -> EXOSOME vs MINOXIDIL HR 0.5, same z
    rows = {"cox": [_row("MINOXIDIL", "EXOSOME", 2.0, 0.25, np.inf, "hazard ratio", "ratio")]}
    ctx = _ctx(trial, [Hypothesis("cox", "EXOSOME", reference="MINOXIDIL")], rows)
    hypotheses.compute(ctx)
    t = ctx.results["hypotheses"]
    assert_allclose(t["estimate"].iloc[0], 0.5, **ANALYTIC)
    assert_allclose(t["p_value"].iloc[0], 2 * stats.norm.sf(np.log(2.0) / 0.25), **ANALYTIC)


def test_estimates_of_a_failed_section_reach_neither_summary_nor_hypotheses(trial):
    rows = {"primary": [_row("EXOSOME", "PLACEBO", 10.8, 2.6, 300.0)],
            "cox": [_row("EXOSOME", "PLACEBO", 0.5, 0.2, np.inf, "hazard ratio", "ratio")]}
    ctx = _ctx(trial, [Hypothesis("primary", "EXOSOME"), Hypothesis("cox", "EXOSOME")], rows,
               sections_ok=("primary",))  # the time-to-event section failed in part
    kr = summary.key_results(ctx)
    assert kr["endpoint"].tolist() == ["primary"]
    hypotheses.compute(ctx)
    t = ctx.results["hypotheses"]
    assert np.isnan(t["p_value"].iloc[1])
    assert t["conclusion"].iloc[1] == "not available (its analysis failed)"


def test_methods_describe_only_what_ran(trial):
    plan = AnalysisPlan().resolve(trial)
    ran = {"primary": "ok", "durability": "not applicable", "relapse": "failed",
           "longterm": "not applicable", "subgroups": "ok", "safety": "not applicable"}
    text = " ".join(methods_text(plan, {"primary_covariance": "us"}, "Placebo", ran=ran))
    for absent in ("Durability:", "Kaplan-Meier", "Long-term:", "Safety:", "Turnbull"):
        assert absent not in text, absent
    assert "Planned analyses that did not complete (see their sections): relapse." in text


def test_time_grid_round_steps_and_column_count():
    assert time_grid(563) == [0.0, 91.0, 182.0, 273.0, 364.0, 455.0, 546.0]   # 1.5 years: quarters
    assert time_grid(3329) == [365.0 * k for k in range(10)]                  # 9 years: years
    assert time_grid(100) == [0.0, 14.0, 28.0, 42.0, 56.0, 70.0, 84.0, 98.0]  # 14 weeks: fortnights
    for h in (30, 200, 700, 1500, 5000, 20000):
        assert 6 <= len(time_grid(h)) <= 10, h


def test_event_words():
    w = EventWords("recurrence", "randomisation")
    assert (w.title, w.free, w.since, w.after) == ("Time to recurrence", "recurrence-free",
                                                   "since randomisation", "from randomisation")
    d = EventWords("death", "randomisation")
    assert (d.title, d.free, d.free_pct, d.free_time) == ("Time to death", "overall", "Alive %",
                                                           "survival time")
    r = EventWords("relapse", "end of treatment")
    assert (r.title, r.after, r.from_origin) == ("Relapse", "after treatment stops",
                                                  "from the end of treatment")


def test_plan_keys_of_head_to_head_hypotheses_round_trip(tmp_path):
    plan = load_plan({"hypotheses": [
        {"endpoint": "primary", "arm": "EXOSOME", "reference": "MINOXIDIL",
         "test": "non-inferiority", "margin": -5.0},
        {"endpoint": "ae", "arm": "EXOSOME", "reference": "MINOXIDIL", "better": "lower"}]})
    (tmp_path / "sap.toml").write_text(plan.to_toml())
    again = load_plan(tmp_path / "sap.toml")
    assert again.hypotheses == plan.hypotheses
    with pytest.raises(PlanError, match=r"hypotheses\[0\]\.margin: required for a non-inferiority"):
        load_plan({"hypotheses": [{"endpoint": "primary", "arm": "E", "test": "non-inferiority"}]})
    with pytest.raises(PlanError, match=r"hypotheses\[0\]\.test: unknown test 'equivalence'"):
        load_plan({"hypotheses": [{"endpoint": "primary", "arm": "E", "test": "equivalence"}]})
    with pytest.raises(PlanError, match=r"sections\.nope"):
        load_plan({"sections": {"nope": False}})
    with pytest.raises(PlanError, match=r"primary\.flag: 'SAFFL' is not an ADaM analysis flag"):
        load_plan({"primary": {"paramcd": "X", "visit": "W", "flag": "SAFFL"}})


def test_head_to_head_reference_must_be_an_arm(trial):
    plan = load_plan({"hypotheses": [{"endpoint": "primary", "arm": "EXOSOME", "reference": "SALINE"}]})
    with pytest.raises(PlanError, match=r"hypotheses\[0\]\.reference: 'SALINE' is not an arm"):
        plan.resolve(trial)


def test_subject_keyword_and_its_deprecated_alias():
    from trialstats.errors import ModelError

    trial = ts.simulate_trial(n_per_arm=10, n_sites=2, seed=8)
    d = trial.efficacy("TAHC")
    d = d[d["ABLFL"] != "Y"].reset_index(drop=True)
    d["WEEK"] = d["AVISITN"].astype(float)
    new = ts.lmm("AVAL ~ ARM + WEEK", d, subject="USUBJID", re_formula="~1")
    with pytest.warns(FutureWarning, match=r"lmm: groups= is deprecated.*subject="):
        old = ts.lmm("AVAL ~ ARM + WEEK", d, groups="USUBJID", re_formula="~1")
    assert_allclose(old.coef["estimate"], new.coef["estimate"], rtol=0, atol=0)  # same fit
    with pytest.raises(ModelError, match=r"subject='SITEID' and groups='USUBJID'"):
        ts.lmm("AVAL ~ ARM + WEEK", d, groups="USUBJID", subject="SITEID", re_formula="~1")
    with pytest.warns(FutureWarning, match=r"count_model: groups= is deprecated"):
        ts.count_model("AVAL ~ ARM + WEEK", d, groups="USUBJID")


def test_registry_orders_sections_by_their_needs():
    from types import SimpleNamespace as S

    from trialstats.report.build import COMPUTE_ORDER, SECTIONS
    from trialstats.report.registry import compute_order

    order = [m.KEY for m in COMPUTE_ORDER]
    for m in SECTIONS:  # every section after what it reads
        assert all(order.index(k) < order.index(m.KEY) for k in m.NEEDS), m.KEY
    a, b, c = S(KEY="a", NEEDS=("c",)), S(KEY="b", NEEDS=()), S(KEY="c", NEEDS=("b",))
    assert [m.KEY for m in compute_order([a, b, c])] == ["b", "c", "a"]
    with pytest.raises(ValueError, match="cycle"):
        compute_order([S(KEY="a", NEEDS=("b",)), S(KEY="b", NEEDS=("a",))])
    with pytest.raises(ValueError, match="unknown sections z"):
        compute_order([S(KEY="a", NEEDS=("z",))])


def test_mean_ci_equals_r_t_test():
    # tests/reference/make_mean_ci_reference.R: R t.test on the real antidepressant trial
    import json
    from pathlib import Path

    ref = pd.DataFrame(json.loads((Path(__file__).parent / "reference" / "mean_ci.json").read_text())["rows"])
    trial = ts.load_trial(Path(__file__).parent / "data" / "real" / "antidepressant")
    d = trial.efficacy("HAMD17")
    d = d[d["ABLFL"] != "Y"]
    for level in (0.95, 0.9):
        got = ts.mean_ci(d, "CHG", ("ARM", "AVISIT"), level=level)
        got = got.assign(ARM=got["ARM"].astype(str), AVISIT=got["AVISIT"].astype(str))
        want = ref[ref["level"] == level]
        m = want.merge(got, on=["ARM", "AVISIT"], suffixes=("_r", ""), validate="1:1")
        assert len(m) == 8 and (m["n_r"] == m["n"]).all()
        for col in ("mean", "sd", "std_error", "conf_low", "conf_high"):
            # same formulas, t quantile by scipy vs R's qt: agree to rounding (ANALYTIC, 1e-10)
            assert_allclose(m[col], m[col + "_r"], **ANALYTIC)


def test_defaults_without_endpoints_in_trial_toml(tmp_path):
    # the antidepressant folder without [endpoints] and without SEX: the primary endpoint is its
    # only PARAMCD at its last visit; no subgroup column -> the section is not applicable
    from pathlib import Path

    from trialstats.report.plan import plan_for_trial

    src = Path(__file__).parent / "data" / "real" / "antidepressant"
    (tmp_path / "trial.toml").write_text((src / "trial.toml").read_text().split("[endpoints]")[0])
    (tmp_path / "adeff.csv").write_text((src / "adeff.csv").read_text())
    pd.read_csv(src / "adsl.csv", dtype=str).drop(columns=["SEX"]).to_csv(tmp_path / "adsl.csv", index=False)
    plan = plan_for_trial(ts.load_trial(tmp_path))
    assert (plan.primary.paramcd, plan.primary.visit) == ("HAMD17", "WEEK 6")
    assert plan.skipped("subgroups").startswith("no subgroup column of the plan is in ADSL")
    assert [(h.endpoint, h.arm) for h in plan.hypotheses] == [("primary", "DRUG")]
