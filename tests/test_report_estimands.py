"""The report section "Estimands and missing data" (issue 9): driven by the plan, its numbers in
the ARD.

The antidepressant fixture's sap.toml (tests/data/real/antidepressant/sap.toml) declares rbmi's
vignette estimand; its ARD rows must equal R rbmi 1.5.2 (tests/reference/rbmi/ad_jk_us_*.json,
made by tests/reference/rbmi/make_rbmi_reference.R; results.tight, tolerances RBMI_TIGHT_*).
rbmi's ``trt`` is PLACEBO - DRUG; the report's rows are DRUG - PLACEBO (the trial's reference
arm), so estimates and interval bounds change sign.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from rbmi_data import load_case
from tolerances import RBMI_TIGHT_EST, RBMI_TIGHT_P, RBMI_TIGHT_SE

import trialstats as ts
from trialstats.report.build import build

REAL = Path(__file__).parent / "data" / "real"


@pytest.fixture(scope="module")
def ad(tmp_path_factory):
    out = tmp_path_factory.mktemp("ad_est") / "ad.html"
    res = build(ts.load_trial(REAL / "antidepressant"), out)
    ard = pd.read_parquet(out.parent / "ad_ard" / "ard.parquet")
    return res, out.read_text(encoding="utf-8"), ard[ard["section"] == "estimands"]


def _stat(ard, table, group_has, stat, arm="DRUG"):
    rows = ard[(ard["table"] == table) & (ard["arm"] == arm) & (ard["stat_name"] == stat)
               & ard["group"].str.contains(group_has, regex=False)]
    assert len(rows) == 1, (table, group_has, stat, rows)
    return float(rows["stat"].iloc[0])


@pytest.mark.parametrize("method", ["MAR", "JR", "CR", "CIR"])
def test_ard_estimates_equal_rbmi(ad, method):
    _, _, ard = ad
    ref = load_case(f"ad_jk_us_{method}")["results"]["tight"]["by_visit"][3]["trt"]  # visit 7
    key = f"estimator={method}; role=sensitivity"
    assert_allclose(_stat(ard, "estimands_estimates", key, "estimate"), -ref["est"],
                    **RBMI_TIGHT_EST)
    assert_allclose(_stat(ard, "estimands_estimates", key, "conf_low"), -ref["ci"][1],
                    **RBMI_TIGHT_EST)
    assert_allclose(_stat(ard, "estimands_estimates", key, "conf_high"), -ref["ci"][0],
                    **RBMI_TIGHT_EST)
    assert_allclose(_stat(ard, "estimands_estimates", key, "std_error"), ref["se"],
                    **RBMI_TIGHT_SE)
    assert_allclose(_stat(ard, "estimands_estimates", key, "p_value"), ref["pvalue"],
                    **RBMI_TIGHT_P)


def test_tipping_point_at_delta_zero_is_rbmi_mar(ad):
    _, _, ard = ad
    ref = load_case("ad_jk_us_MAR")["results"]["tight"]["by_visit"][3]["trt"]
    t = ard[(ard["table"] == "estimands_tipping_E1") & (ard["arm"] == "DRUG")]
    row0 = t[t["stat_name"] == "delta"]
    zero = int(row0.loc[row0["stat"] == 0.0, "row"].iloc[0])
    at0 = t[t["row"] == zero].set_index("stat_name")["stat"]
    assert_allclose(at0["estimate"], -ref["est"], **RBMI_TIGHT_EST)
    assert_allclose(at0["std_error"], ref["se"], **RBMI_TIGHT_SE)
    # the estimate rises with the delta added to DRUG's imputed values (HAMD: worse)
    est = t[t["stat_name"] == "estimate"].sort_values("row")["stat"].to_numpy()
    assert np.all(np.diff(est) > 0)


def test_section_shows_every_part_and_no_failure(ad):
    res, html, ard = ad
    assert res.failed == ()
    sec = html[html.index('<section class="report" id="sec-estimands">'):]
    sec = sec[:sec.index("</section>")]
    for part in ("Estimands (ICH E9(R1) attributes)", "early discontinuation",
                 "ADSL EOSSTT in (DISCONTINUED)", "hypothetical", "ITTFL = Y",
                 "change from baseline in HAMD-17 total score at WEEK 6",
                 "Main and sensitivity estimates side by side", "MAR MMRM (main)",
                 "JR (sensitivity)", "CIR (sensitivity)", "tipping point of Drug - Placebo",
                 "missing-data pattern by arm", "<svg"):
        assert part in sec, part
    assert set(ard["table"]) >= {"estimands_events", "estimands_estimates",
                                 "estimands_tipping_E1", "estimands_tipping_delta_E1",
                                 "estimands_missing_types_E1", "estimands_missing_patterns_E1"}
    # 43 early discontinuations (the vignette's data_ice): 19 + 24 by arm, counted in the ARD
    n_event = ard[(ard["table"] == "estimands_events") & (ard["stat_name"] == "n_event")]
    assert n_event["stat"].sum() == 43
    methods = html[html.index('id="sec-methods"'):]
    methods = re.sub(r"\s+", " ", methods[:methods.index("</section>")])
    assert "Estimands (ICH E9(R1)): E1 (primary)" in methods
    assert "copy increments in reference (CIR)" in methods


def test_section_is_not_applicable_without_estimands(tmp_path):
    res = build(ts.load_trial(REAL / "antidepressant"), tmp_path / "x.html",
                plan={"sections": {"durability": False}})
    assert "Estimands and missing data" in res.not_applicable
    html = (tmp_path / "x.html").read_text(encoding="utf-8")
    sec = html[html.index('id="sec-estimands"'):]
    assert "Not applicable: the analysis plan declares no estimands" in sec[:sec.index("</section>")]
    assert "Estimands (ICH E9(R1))" not in html[html.index('id="sec-methods"'):]


def test_a_failing_estimand_is_a_visible_failure_not_a_crash(tmp_path):
    plan = {"estimands": [{"id": "E9", "name": "x", "paramcd": "HAMD17", "visit": "WEEK 6",
                           "formula": "CHG ~ ARM * AVISIT + NOSUCHCOL", "sensitivity": ["JR"],
                           "events": [{"name": "d", "strategy": "hypothetical",
                                       "flag": "EOSSTT", "values": ["DISCONTINUED"]}]}]}
    res = build(ts.load_trial(REAL / "antidepressant"), tmp_path / "y.html", plan=plan)
    assert "Estimands and missing data" in res.failed
    html = (tmp_path / "y.html").read_text(encoding="utf-8")
    sec = html[html.index('id="sec-estimands"'):]
    sec = sec[:sec.index("</section>")]
    assert "Estimand E9 failed: ModelError" in sec and "NOSUCHCOL" in sec
    assert "Estimands (ICH E9(R1) attributes)" in sec  # the plan's estimand is still stated


def test_rebuild_is_byte_identical(ad, tmp_path):
    _, html, _ = ad
    out = tmp_path / "ad.html"
    build(ts.load_trial(REAL / "antidepressant"), out)
    assert out.read_text(encoding="utf-8") == html


@pytest.fixture(scope="module")
def exo(tmp_path_factory):
    trial = ts.datasets.load("exo-hair-301")
    out = tmp_path_factory.mktemp("exo_est") / "exo.html"
    res = build(trial, out)
    ard = pd.read_parquet(out.parent / "exo_ard" / "ard.parquet")
    return trial, res, out.read_text(encoding="utf-8"), ard[ard["section"] == "estimands"]


def test_exo_hair_301_report_shows_its_estimands(exo):
    trial, res, html, ard = exo
    assert res.failed == () and "Estimands and missing data" not in res.not_applicable
    sec = html[html.index('<section class="report" id="sec-estimands">'):]
    sec = sec[:sec.index("</section>")]
    for part in ("E1 (primary)", "E2 (supplementary)", "treatment discontinuation",
                 "ADSL COMPLFL in (N), on day TRTDURD", "treatment policy (off-treatment values "
                 "missing: JR)", "JR (sensitivity)", "CIR (sensitivity)",
                 "tipping point of Exosome injections - Placebo at WEEK 24", "<svg"):
        assert part in sec, part
    # the events are the subjects who did not complete treatment (ADSL COMPLFL = "N"), by arm
    n_event = ard[(ard["table"] == "estimands_events") & (ard["stat_name"] == "n_event")
                  & ard["group"].str.contains("estimand=E1", regex=False)]
    want = trial.adsl[trial.adsl["COMPLFL"] == "N"]["ARM"].astype(str).value_counts()
    assert n_event.set_index("arm")["stat"].to_dict() == {a: float(want.get(a, 0))
                                                          for a in trial.arms}
    # every estimate of the section is in the ARD and in a comparisons frame shape
    est = ard[ard["table"] == "estimands_estimates"]
    assert set(est["arm"]) == {"EXOSOME", "MINOXIDIL"}
    assert len(est[est["stat_name"] == "estimate"]) == 8  # E1: MAR, JR, CIR; E2: JR; x 2 arms
    assert {"estimate", "std_error", "statistic", "p_value", "conf_low", "conf_high", "null",
            "level"} <= set(est["stat_name"])
    tip = ard[(ard["table"] == "estimands_tipping_delta_E1") & (ard["stat_name"] == "tipping_delta")]
    assert np.isfinite(tip["stat"]).all() and len(tip) == 1
