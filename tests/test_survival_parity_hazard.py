"""Nelson-Aalen / Fleming-Harrington cumulative hazard, the Cox score test and cox.zph's
transforms, vs R survival (issue 12, part 2).

Reference: tests/reference/survival_parity.json ("part2"), made by
tests/reference/make_survival_parity_reference.R. Cumulative hazards and their SEs are closed
forms of counts (ANALYTIC, rtol 1e-10). The score test and cox.zph are evaluated at R's
estimate vs ours, both converged to ~1e-10 (R eps = 1e-12): SAME_ALGORITHM (rtol 1e-6); the
score test is at beta = 0 and does not depend on the estimate at all.
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

REF = json.loads((Path(__file__).parent / "reference" / "survival_parity.json").read_text())
P2 = REF["part2"]


def _data(name):
    return pd.DataFrame(REF["data"][name]).rename(columns={"ecog.ps": "ecog_ps"})


@pytest.mark.parametrize("name, method", [
    ("na_aml", "nelson-aalen"), ("na_aml_fh", "fleming-harrington"),
    ("na_lung_sex", "nelson-aalen"), ("na_lung_sex_fh", "fleming-harrington"),
])
def test_nelson_aalen_matches_survfit(name, method):
    # source: survival_parity.json part2.<name>: R survfit(..., ctype = 1 or 2) cumhaz, std.chaz
    ref = P2[name]
    if name.startswith("na_aml"):
        res = ts.nelson_aalen(_data("aml"), time="time", event="status", by=None, method=method)
    else:
        res = ts.nelson_aalen(_data("lung"), time="time", event="event", by="sex", method=method)
    tab = res.table
    assert [str(g) for g in tab[res.group]] == [str(g) for g in ref["group"]]
    for col, key in (("time", "time"), ("n_risk", "n_risk"), ("n_event", "n_event"),
                     ("cumhaz", "cumhaz"), ("std_error", "std_error")):
        assert_allclose(tab[col], ref[key], **ANALYTIC)


def test_nelson_aalen_hand_worked():
    # closed form: times 1, 2, 2, 3 (all events), n = 4, 3, 1: H = 1/4, 1/4 + 2/3, + 1/1;
    # Fleming-Harrington: 1/4, 1/4 + 1/3 + 1/2, + 1
    d = pd.DataFrame({"t": [1, 2, 2, 3], "e": [1, 1, 1, 1]})
    na = ts.nelson_aalen(d, time="t", event="e", by=None).table
    assert_allclose(na["cumhaz"], [1 / 4, 1 / 4 + 2 / 3, 1 / 4 + 2 / 3 + 1], **ANALYTIC)
    assert_allclose(na["std_error"] ** 2, [1 / 16, 1 / 16 + 2 / 9, 1 / 16 + 2 / 9 + 1],
                    **ANALYTIC)
    fh = ts.nelson_aalen(d, time="t", event="e", by=None, method="fleming-harrington").table
    assert_allclose(fh["cumhaz"], [1 / 4, 1 / 4 + 1 / 3 + 1 / 2, 1 / 4 + 1 / 3 + 1 / 2 + 1],
                    **ANALYTIC)
    assert_allclose(fh["std_error"] ** 2, [1 / 16, 1 / 16 + 1 / 9 + 1 / 4,
                                           1 / 16 + 1 / 9 + 1 / 4 + 1], **ANALYTIC)


def test_nelson_aalen_bad_method():
    with pytest.raises(ModelError, match="method='kaplan' is not valid; choose one of: "
                                         "nelson-aalen, fleming-harrington"):
        ts.nelson_aalen(_data("aml"), time="time", event="status", by=None, method="kaplan")


def _fit(name):
    lung = _data("lung")
    lung5 = lung.dropna(subset=["ph.ecog"])
    return {
        "lung_efron": lambda: ts.cox("age + C(sex) + C(ph_ecog)",
                                     lung5[lung5["ph.ecog"] < 3].rename(
                                         columns={"ph.ecog": "ph_ecog"}),
                                     time="time", event="event"),
        "lung_breslow": lambda: ts.cox("age + C(sex)", lung, time="time", event="event",
                                       ties="breslow"),
        "lung_strata": lambda: ts.cox("age + C(sex)", lung5, time="time", event="event",
                                      strata="ph.ecog"),
        "ovarian": lambda: ts.cox("age + C(rx) + ecog_ps", _data("ovarian"), time="futime",
                                  event="fustat"),
    }[name]()


CASES = ["lung_efron", "lung_breslow", "lung_strata", "ovarian"]


@pytest.fixture(scope="module", params=CASES)
def case(request):
    return request.param, _fit(request.param), P2[request.param]


def test_fit_matches_r(case):
    _, fit, ref = case
    assert_allclose(fit.coef["estimate"], ref["estimate"], **SAME_ALGORITHM)


def test_score_test(case):
    # source: survival_parity.json part2.<case>.score (R fit$score, summary(fit)$sctest)
    _, fit, ref = case
    assert_allclose(fit.score_test["statistic"], ref["score"], **SAME_ALGORITHM)
    assert fit.score_test["df"] == len(ref["term"])
    assert_allclose(fit.score_test["p_value"], ref["score_p"], **SAME_ALGORITHM)


@pytest.mark.parametrize("transform", ["identity", "log", "km", "rank"])
def test_ph_test_transforms(case, transform):
    # source: survival_parity.json part2.<case>.zph.<transform> (R cox.zph(fit, transform=))
    _, fit, ref = case
    ref = ref["zph"][transform]
    res = fit.ph_test(transform=transform)
    assert len(res) == len(ref["term"])
    assert_allclose(res["statistic"], ref["statistic"], **SAME_ALGORITHM)
    assert_allclose(res["df"], ref["df"], **ANALYTIC)
    assert_allclose(res["p_value"], ref["p_value"], **SAME_ALGORITHM)


def test_ph_test_bad_transform():
    fit = _fit("lung_breslow")
    with pytest.raises(ModelError, match="transform='sqrt' is not valid; choose one of: km, "
                                         "identity, log, rank"):
        fit.ph_test(transform="sqrt")


def test_score_test_is_logrank_for_one_binary_covariate_breslow_no_ties():
    # closed form: without tied times the Cox score test of one 0/1 covariate is the log-rank
    rng = np.random.default_rng(1)
    d = pd.DataFrame({"t": rng.permutation(40) + 1.0, "e": rng.integers(0, 2, 40),
                      "g": np.repeat([0, 1], 20)})
    fit = ts.cox("g", d, time="t", event="e", ties="breslow")
    lr = ts.logrank(d, time="t", event="e", by="g")
    assert_allclose(fit.score_test["statistic"], lr.statistic, **ANALYTIC)


def test_ph_test_errors():
    aml = _data("aml")
    fit = ts.cox("x", aml, time="time", event="status", ties="exact")
    with pytest.raises(ModelError, match="ph_test is not available with ties=\"exact\""):
        fit.ph_test()
    zero = aml.assign(time=np.where(aml.index == 0, 0.0, aml["time"]))
    fit = ts.cox("x", zero, time="time", event="status")
    with pytest.raises(ModelError, match="transform=\"log\" needs times > 0"):
        fit.ph_test("log")
