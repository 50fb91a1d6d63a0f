"""Log-rank tests vs R survdiff (k-sample, stratified, rho) and p.adjust(holm).

Reference: tests/reference/survival_logrank.json, made by tests/reference/make_survival_reference.R.
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from tolerances import ANALYTIC, SAME_ALGORITHM

import trialstats as ts
from trialstats.errors import ModelError

REF = Path(__file__).parent / "reference"
LR = json.loads((REF / "survival_logrank.json").read_text())


def _sim():
    sim = pd.read_csv(REF / "survival_sim_adtte.csv")
    sim["ARM"] = pd.Categorical(sim["ARM"], ["PLACEBO", "EXOSOME", "MINOXIDIL"])
    return sim


def _case(name):
    lung = pd.read_csv(REF / "survival_lung.csv")
    vet = pd.read_csv(REF / "survival_veteran.csv")
    # R's level order of veteran$celltype (not alphabetical)
    vet["celltype"] = pd.Categorical(vet["celltype"], ["squamous", "smallcell", "adeno", "large"])
    sim = _sim()
    return {
        "lung_sex": dict(data=lung, time="time", event="event", by="sex"),
        "lung_sex_rho1": dict(data=lung, time="time", event="event", by="sex", rho=1),
        "veteran_celltype": dict(data=vet, time="time", event="status", by="celltype"),
        "veteran_trt_strata": dict(data=vet, time="time", event="status", by="trt",
                                   strata="celltype"),
        "sim_arm": dict(data=sim, time="AVAL", censor="CNSR", by="ARM"),
        "sim_arm_strata_sex": dict(data=sim, time="AVAL", censor="CNSR", by="ARM", strata="SEX"),
        "sim_arm_rho05": dict(data=sim, time="AVAL", censor="CNSR", by="ARM", rho=0.5),
        "sim_arm_strata_sex_rho1": dict(data=sim, time="AVAL", censor="CNSR", by="ARM",
                                        strata="SEX", rho=1),
    }[name]


CASES = [k for k in LR if k not in ("versions", "sim_pairwise")]


@pytest.mark.parametrize("case", CASES)
def test_logrank_matches_r_survdiff(case):
    # source: tests/reference/survival_logrank.json[case] (R survdiff)
    ref = LR[case]
    res = ts.logrank(**_case(case))
    assert res.df == ref["df"]
    assert_allclose(res.statistic, ref["statistic"], **SAME_ALGORITHM)
    assert_allclose(res.p_value, ref["p_value"], **SAME_ALGORITHM)
    assert_allclose(res.table["n"], ref["n"], **ANALYTIC)
    for col in ("observed", "expected", "variance"):
        assert_allclose(res.table[col], ref[col], **SAME_ALGORITHM)
    assert_allclose(res.table["o_minus_e"], np.subtract(ref["observed"], ref["expected"]),
                    **SAME_ALGORITHM)


def test_logrank_pairwise_vs_reference_with_holm():
    # source: tests/reference/survival_logrank.json["sim_pairwise"] (survdiff on subsets, p.adjust holm)
    ref = LR["sim_pairwise"]
    res = ts.logrank(_sim(), censor="CNSR", by="ARM")
    assert list(res.pairwise["contrast"]) == ref["contrast"]
    assert_allclose(res.pairwise["statistic"], ref["statistic"], **SAME_ALGORITHM)
    assert_allclose(res.pairwise["p_value"], ref["p_value"], **SAME_ALGORITHM)
    assert_allclose(res.pairwise["p_adjusted"], ref["p_adjusted"], **SAME_ALGORITHM)


def test_logrank_gamma_zero_is_rho_only():
    # gamma=0 must reproduce R's rho weights (source: survival_logrank.json["sim_arm_rho05"])
    res = ts.logrank(_sim(), censor="CNSR", rho=0.5, gamma=0.0)
    assert_allclose(res.statistic, LR["sim_arm_rho05"]["statistic"], **SAME_ALGORITHM)
    assert "G(0.5, 0)" in repr(res)


def test_logrank_single_arm_is_an_error():
    sim = _sim()
    one = sim[sim["ARM"] == "PLACEBO"]
    with pytest.raises(ModelError, match="at least 2 groups in column ARM; found 1: PLACEBO"):
        ts.logrank(one, censor="CNSR", by="ARM")
    with pytest.raises(ModelError, match="needs a grouping column"):
        ts.logrank(sim, censor="CNSR", by=None)


def test_logrank_bad_weights_and_strata():
    with pytest.raises(ModelError, match="rho must be a finite number >= 0"):
        ts.logrank(_sim(), censor="CNSR", rho=-1)
    sim = _sim()
    sim.loc[3, "SEX"] = None
    with pytest.raises(ModelError, match=r"column SEX \(strata=\): missing values in row 3 \(SIM-004\)"):
        ts.logrank(sim, censor="CNSR", strata="SEX")


def test_logrank_group_without_expected_events_uses_r_df():
    # analytic: group 2 is censored before the first event, so it is in no risk set; R drops
    # it (df 1) and the statistic is the two-group one; lifelines' statistic (via its
    # pseudo-inverse) is the same number, but its own df would be 2
    from trialstats.survival.compare import _lifelines_statistic, logrank_arrays

    t = np.array([1, 1, 2, 3, 4, 5, 6, 7, 8, 9.0])
    e = np.array([0, 0, 1, 1, 0, 1, 1, 0, 1, 1.0])
    g = np.array([2, 2, 0, 1, 0, 1, 0, 1, 0, 1])
    ours = logrank_arrays(t, e, g, 3)
    two = logrank_arrays(t[g < 2], e[g < 2], g[g < 2], 2)
    assert ours["df"] == 1
    assert_allclose(ours["statistic"], two["statistic"], **ANALYTIC)
    assert_allclose(_lifelines_statistic(t, e, g), two["statistic"], **ANALYTIC)


def test_logrank_rho_with_times_at_zero():
    # lifelines' Fleming-Harrington weights raise ValueError when some times are 0; the rho
    # test is ours and handles them (weight S(0-)^rho = 1 at time 0)
    sim = _sim()
    sim.loc[sim.index[:6], "AVAL"] = 0
    res = ts.logrank(sim, censor="CNSR", rho=1)
    assert np.isfinite(res.statistic) and res.df == 2
