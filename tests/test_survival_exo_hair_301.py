"""The bundled trial EXO-HAIR-301 (relapse): every survival analysis vs R on the same data.

Reference: tests/reference/survival_exo_hair_301.json, made by
tests/reference/make_survival_reference.R from a snapshot of datasets/exo-hair-301
(survival_exo_hair_301.csv: ADTTE RELAPSE rows merged with ADSL's ARM, AGE, SEX).
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from tolerances import ANALYTIC, R_TURNBULL_STOPPING, SAME_ALGORITHM, SAME_ALGORITHM_SE

import trialstats as ts

REF = Path(__file__).parent / "reference"
EXO = json.loads((REF / "survival_exo_hair_301.json").read_text())


def _arr(values):
    return np.array([np.nan if v is None else v for v in values], dtype=float)


@pytest.fixture(scope="module")
def adtte():
    d = pd.read_csv(REF / "survival_exo_hair_301.csv")
    d["ARM"] = pd.Categorical(d["ARM"], ["PLACEBO", "EXOSOME", "MINOXIDIL"])
    return d


def test_exo_km(adtte):
    # source: survival_exo_hair_301.json["km"] (survfit, log-log)
    ref = EXO["km"]
    km = ts.kaplan_meier(adtte, censor="CNSR", paramcd="RELAPSE")
    assert_allclose(km.table["survival"], ref["table"]["survival"], **SAME_ALGORITHM)
    assert_allclose(km.table["conf_low"], _arr(ref["table"]["conf_low"]), equal_nan=True,
                    **SAME_ALGORITHM_SE)
    med = km.median()
    assert_allclose(med["median"], _arr(ref["median"]["median"]), equal_nan=True, **ANALYTIC)
    assert_allclose(med["conf_low"], _arr(ref["median"]["conf_low"]), equal_nan=True, **ANALYTIC)
    assert_allclose(med["conf_high"], _arr(ref["median"]["conf_high"]), equal_nan=True, **ANALYTIC)
    at = km.survival_at(ref["times"])
    assert_allclose(at["survival"], ref["survival_at"]["survival"], **SAME_ALGORITHM)


def test_exo_logrank_and_cox(adtte):
    # source: survival_exo_hair_301.json["logrank"], ["cox"]
    lr = ts.logrank(adtte, censor="CNSR")
    assert_allclose(lr.statistic, EXO["logrank"]["statistic"], **SAME_ALGORITHM)
    fit = ts.cox("ARM + AGE", adtte, censor="CNSR")
    ref = EXO["cox"]
    assert list(fit.coef["term"]) == ref["term"]
    assert_allclose(fit.coef["estimate"], ref["estimate"], **SAME_ALGORITHM)
    assert_allclose(fit.coef["std_error"], ref["std_error"], **SAME_ALGORITHM_SE)
    assert_allclose(fit.ph_test()["statistic"], ref["zph"]["statistic"], **SAME_ALGORITHM_SE)
    assert_allclose(fit.concordance, ref["concordance"], **SAME_ALGORITHM)


def test_exo_rmst(adtte):
    # source: survival_exo_hair_301.json["rmst"]
    ref = EXO["rmst"]
    res = ts.rmst(adtte, censor="CNSR")
    assert_allclose(res.tau, ref["tau"], **ANALYTIC)
    assert_allclose(res.per_arm["rmst"], ref["r_rmean"], **SAME_ALGORITHM)
    assert_allclose(res.per_arm["std_error"], ref["r_se_rmean"], **SAME_ALGORITHM_SE)
    diff = [ref["difference"][a]["estimate"] for a in ref["arm"][1:]]
    assert_allclose(res.difference["estimate"], diff, **SAME_ALGORITHM)


def test_exo_competing_and_gray(adtte):
    # source: survival_exo_hair_301.json["competing"]
    ref = EXO["competing"]
    at = ts.cumulative_incidence(adtte, cause=1).at(sorted(set(ref["time"])))
    assert_allclose(at["estimate"], ref["estimate"], **SAME_ALGORITHM)
    assert_allclose(at["std_error"], ref["std_error"], **SAME_ALGORITHM_SE)
    gray = ts.gray_test(adtte)
    assert_allclose(gray.table["statistic"], ref["gray"]["statistic"], **SAME_ALGORITHM)


def _interval_loglik(lower, upper, positions, masses):
    """Log-likelihood of point masses at ``positions`` (interior points) for (lower, upper]."""
    inside = (positions[None, :] > lower[:, None]) & (positions[None, :] <= upper[:, None])
    return float(np.sum(np.log(inside @ masses)))


def test_exo_turnbull(adtte):
    # source: survival_exo_hair_301.json["turnbull"]. R's survfit stops early (see
    # tolerances.R_TURNBULL_STOPPING): our NPMLE must be at least as likely as R's solution and
    # close to it.
    ref = EXO["turnbull"]
    tb = ts.turnbull(adtte)
    for arm in ("PLACEBO", "EXOSOME", "MINOXIDIL"):
        times = np.array([t for g, t in zip(ref["group"], ref["time"]) if g == arm])
        surv = np.array([s for g, s in zip(ref["group"], ref["survival"]) if g == arm])
        at = tb.survival_at(times)
        assert_allclose(at.loc[at["ARM"] == arm, "survival"], surv, **R_TURNBULL_STOPPING)
        assert tb.intervals.loc[tb.intervals["ARM"] == arm, "probability"].sum() > 0.999
        sub = adtte[adtte["ARM"] == arm]
        lower = sub["TLOWER"].fillna(0).to_numpy(float)
        upper = sub["TUPPER"].fillna(np.inf).to_numpy(float)
        # R's drops at its reported times, plus the mass it leaves beyond the last time
        r_mass = np.append(-np.diff(np.concatenate([[1.0], surv])), surv[-1])
        times = np.append(times, np.inf)
        ours = tb.intervals[tb.intervals["ARM"] == arm]
        mid = (ours["lower"] + ours["upper"]).to_numpy() / 2
        ll_r = _interval_loglik(lower, upper, times[r_mass > 0], r_mass[r_mass > 0])
        ll_ours = _interval_loglik(lower, upper, mid, ours["probability"].to_numpy())
        assert ll_ours >= ll_r - 1e-9
