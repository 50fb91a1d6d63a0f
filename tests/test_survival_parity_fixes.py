"""Issue 12's three R survival failures: a log-rank group with no expected events, Efron fits
converged to the root, and times tied up to rounding (R ``aeqSurv``).

Reference: tests/reference/survival_parity.json ("fixes"), made by
tests/reference/make_survival_parity_reference.R (R survival; data sets in its "data").
R's Efron fits there are run with ``eps = 1e-12`` (relative log-likelihood change), so they are
at the root to ~3e-12: the Efron estimates use COX_AT_ROOT (rtol 1e-9; before the fix they were
up to 8.5e-7 off, inside SAME_ALGORITHM), SEs SAME_ALGORITHM_SE (rtol 1e-5). The log-rank and KM numbers are rational functions of counts, so they use ANALYTIC
(rtol 1e-10), well above the 15 significant digits the JSON keeps.
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from tolerances import ANALYTIC, COX_AT_ROOT, SAME_ALGORITHM, SAME_ALGORITHM_SE

import trialstats as ts
from trialstats.survival._input import TIE_TOLERANCE, tie_times

REF = json.loads((Path(__file__).parent / "reference" / "survival_parity.json").read_text())
FIX = REF["fixes"]


def _data(name):
    return pd.DataFrame(REF["data"][name])


def _fpties():
    """The "fpties" data with its times rebuilt by the same floating-point operations as R."""
    d = _data("fpties")
    d["time"] = [2, np.sqrt(2) ** 2, 1, 3, 0.1 * 3, 0.3, 4, 5, 2, 1.5]
    assert d["time"][1] != 2 and d["time"][4] != 0.3  # the ties are only up to rounding
    return d


def test_logrank_drops_group_without_expected_events():
    # source: survival_parity.json fixes.lr_nogroup (R survdiff: 3.5714 on 1 df)
    ref = FIX["lr_nogroup"]
    res = ts.logrank(_data("lr_nogroup"), time="time", event="status", by="arm")
    assert_allclose(res.statistic, ref["statistic"], **ANALYTIC)
    assert res.df == ref["df"] == 1
    assert_allclose(res.table["observed"], ref["observed"], **ANALYTIC)
    assert_allclose(res.table["expected"], ref["expected"], **ANALYTIC)
    assert_allclose(res.table["variance"], ref["variance"], **ANALYTIC)
    # the pair with a test matches R's survdiff on those two groups; the other has none
    pw = res.pairwise.set_index("contrast")
    assert_allclose(pw.loc["B vs A", "statistic"], FIX["lr_nogroup_AB"]["statistic"], **ANALYTIC)
    assert np.isnan(pw.loc["C vs A", "statistic"]) and np.isnan(pw.loc["C vs A", "p_adjusted"])
    # Holm over the one available p-value leaves it unadjusted (R p.adjust ignores NA)
    assert pw.loc["B vs A", "p_adjusted"] == pw.loc["B vs A", "p_value"]


def test_holm_ignores_nan_as_r():
    # R: p.adjust(c(0.01, NA, 0.04, 0.03), "holm") = 0.03 NA 0.06 0.06
    from trialstats.survival.compare import holm

    assert_allclose(holm([0.01, np.nan, 0.04, 0.03]), [0.03, np.nan, 0.06, 0.06], **ANALYTIC)


@pytest.mark.parametrize("name, formula, data, kw", [
    ("efron_one_event", "x", "one_event", dict(time="time", event="status")),
    ("efron_aml", "x", "aml", dict(time="time", event="status")),
    ("efron_test1", "x", "test1", dict(time="time", event="status")),
    ("efron_ovarian", "age + C(rx) + ecog_ps", "ovarian", dict(time="futime", event="fustat")),
])
def test_efron_reaches_the_root(name, formula, data, kw):
    # source: survival_parity.json fixes.<name>, R coxph(..., control = eps 1e-12)
    ref = FIX[name]
    d = _data(data).rename(columns={"ecog.ps": "ecog_ps"})
    fit = ts.cox(formula, d, **kw)
    assert_allclose(fit.coef["estimate"], ref["estimate"], **COX_AT_ROOT)
    assert_allclose(fit.coef["std_error"], ref["std_error"], **SAME_ALGORITHM_SE)
    assert_allclose(fit.loglik, ref["loglik"], **SAME_ALGORITHM)


def test_efron_score_is_zero_at_the_estimate():
    # closed form: the estimate is the root of the score (lifelines alone stopped 3.5e-6 short)
    from trialstats.survival import _cox_engine as engine

    d = _data("one_event")
    fit = ts.cox("x", d, time="time", event="status")
    x = (d[["x"]] - d[["x"]].mean()).to_numpy()
    data = engine.prepare(d["time"].to_numpy(), d["status"].to_numpy(float), x, None, "efron")
    _, grad, info = engine.loglik_grad_info(data, fit.coef["estimate"].to_numpy())
    assert abs(grad[0] / np.sqrt(info[0, 0])) < 1e-12


def test_tie_times_rule():
    # R aeqSurv: 2 and sqrt(2)^2 tie; values 1e-8 relative apart tie; 1e-7 apart do not
    t, = tie_times(np.array([np.sqrt(2) ** 2, 2.0, 1.0, 1.0 + 1e-7]))
    assert t[0] == t[1] == 2.0 and t[3] != t[2]
    t, = tie_times(np.array([100.0, 100.0 * (1 + 0.5 * TIE_TOLERANCE), 50.0]))
    assert t[0] == t[1] == 100.0
    start, stop = tie_times(np.array([0.0, 0.1 * 3]), np.array([0.3, 1.0]))
    assert start[1] == stop[0] == 0.3
    same = np.array([1.0, 2.0])
    assert np.array_equal(tie_times(same)[0], same)


def test_fp_ties_kaplan_meier():
    # source: survival_parity.json fixes.fp_km (R survfit; std_err is R's SE of the cumulative
    # hazard, our std_error is that of S: std_error = S * std_err)
    ref = FIX["fp_km"]
    tab = ts.kaplan_meier(_fpties(), time="time", event="status", by=None).table
    assert_allclose(tab["time"], ref["time"], **ANALYTIC)
    assert_allclose(tab["n_risk"], ref["n_risk"], **ANALYTIC)
    assert_allclose(tab["n_event"], ref["n_event"], **ANALYTIC)
    assert_allclose(tab["survival"], ref["survival"], **ANALYTIC)
    se = np.array([np.nan if v is None else v for v in ref["std_err"]])
    ok = ~np.isnan(se)
    assert_allclose(tab["std_error"][ok], (se * np.array(ref["survival"]))[ok], **ANALYTIC)


def test_fp_ties_logrank():
    # source: survival_parity.json fixes.fp_logrank (R survdiff)
    ref = FIX["fp_logrank"]
    res = ts.logrank(_fpties(), time="time", event="status", by="arm")
    assert_allclose(res.statistic, ref["statistic"], **ANALYTIC)
    assert_allclose(res.table["expected"], ref["expected"], **ANALYTIC)


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_fp_ties_cox(ties):
    # source: survival_parity.json fixes.fp_cox / fp_cox_breslow (R coxph)
    ref = FIX["fp_cox" if ties == "efron" else "fp_cox_breslow"]
    fit = ts.cox("x", _fpties(), time="time", event="status", ties=ties)
    assert_allclose(fit.coef["estimate"], ref["estimate"], **SAME_ALGORITHM)
    assert_allclose(fit.coef["std_error"], ref["std_error"], **SAME_ALGORITHM_SE)
    assert_allclose(fit.loglik, ref["loglik"], **SAME_ALGORITHM)
