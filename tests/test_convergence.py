"""Non-converged means no inference; optimisers cannot spin (issue 11, parts 3 and 5).

A fit whose ``converged`` is False keeps its estimates but reports no statistic, p-value or
interval unless ``allow_nonconverged=True``. The non-converged fits here are natural ones: an
outcome that is an exact linear function of the covariates (no residual variance), zero counts
separated by a covariate, and Cox covariates that perfectly order the events.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from tolerances import ANALYTIC

import trialstats as ts
from trialstats.errors import ConvergenceWarning, ModelError

INFERENCE = ["statistic", "p_value", "conf_low", "conf_high"]
ROOT = Path(__file__).parents[1]


def _exact(seed=1):
    """CHG = 1 + 2*visit + 0.5*BASE + 3*(ARM A): an exact linear function, no residual."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(40):
        base, arm = rng.normal(50, 5), ("A" if i % 2 else "B")
        for v in range(3):
            rows.append({"USUBJID": f"S{i:02d}", "ARM": arm, "AVISIT": f"V{v}", "WEEK": 4.0 * v,
                         "BASE": base, "CHG": 1 + 2 * v + 0.5 * base + (3.0 if arm == "A" else 0)})
    return pd.DataFrame(rows)


def _blank(frame):
    return frame[[c for c in INFERENCE if c in frame.columns]].isna().all().all()


# ------------------------------------------------------------------------------ mmrm
def test_mmrm_not_converged_keeps_estimates_blanks_inference():
    d = _exact()
    with pytest.warns(ConvergenceWarning, match="MMRM did not converge"):
        fit = ts.mmrm("CHG ~ ARM + AVISIT + BASE", d, covariance="cs")
    assert not fit.converged
    assert np.isfinite(fit.coef["estimate"]).all()  # returned, though not to be trusted
    assert _blank(fit.coef)
    assert _blank(fit.contrast("ARM"))
    assert _blank(fit.lsmeans("ARM"))
    assert np.isnan(fit.f_test(np.eye(5)[[1]])["p_value"]).all()
    assert fit.coef["std_error"].notna().all()


def test_mmrm_allow_nonconverged_reports_inference():
    with pytest.warns(ConvergenceWarning):
        fit = ts.mmrm("CHG ~ ARM + AVISIT + BASE", _exact(), covariance="cs",
                      allow_nonconverged=True)
    assert not fit.converged
    assert fit.coef["p_value"].notna().all() and fit.coef["conf_low"].notna().all()


def test_report_fallback_reports_every_nonconverged_structure():
    from trialstats.report.plan import MMRMSpec
    from trialstats.report.sections._base import fit_mmrm_with_fallback

    spec = MMRMSpec(formula="CHG ~ ARM + AVISIT + BASE", covariance=("us", "cs"))
    with pytest.raises(ModelError, match=r"no covariance structure of the plan converged: "
                                         r"us: .*; cs: did not converge"):
        fit_mmrm_with_fallback(_exact(), spec)


# ------------------------------------------------------------------------------ lmm
def test_lmm_exact_fit_is_not_converged_and_has_no_inference():
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        fit = ts.lmm("CHG ~ ARM + WEEK + BASE", _exact(), re_formula="~1")
    assert not fit.converged
    assert np.isfinite(fit.coef["estimate"]).all()
    assert _blank(fit.coef)
    with pytest.warns(ConvergenceWarning):
        allowed = ts.lmm("CHG ~ ARM + WEEK + BASE", _exact(), re_formula="~1",
                         allow_nonconverged=True)
    assert allowed.coef["p_value"].notna().all()


# ------------------------------------------------------------------------------ count_model
def _separated():
    """Z = -1 only on rows with zero counts: the Poisson MLE of Z is +infinity."""
    rng = np.random.default_rng(1)
    rows = []
    for i in range(40):
        for v in range(3):
            y = float(rng.poisson(3))
            z = -1.0 if i % 5 == 0 else 0.0
            rows.append({"USUBJID": f"S{i:02d}", "ARM": "A" if i % 2 else "B", "WEEK": 4.0 * v,
                         "Z": z, "COUNT": 0.0 if z < 0 else y})
    return pd.DataFrame(rows)


def test_count_model_separation_is_not_converged():
    with pytest.warns(ConvergenceWarning, match="separated by a covariate"):
        fit = ts.count_model("COUNT ~ ARM + Z", _separated())
    assert not fit.converged
    assert _blank(fit.coef)
    assert fit.rate_ratios[["conf_low", "conf_high"]].isna().all().all()
    with pytest.warns(ConvergenceWarning):
        allowed = ts.count_model("COUNT ~ ARM + Z", _separated(), allow_nonconverged=True)
    assert allowed.coef["p_value"].notna().all()
    assert_allclose(allowed.coef["estimate"], fit.coef["estimate"], **ANALYTIC)


def test_count_model_level_with_only_zero_counts():
    d = _separated().assign(COUNT=lambda f: np.where(f["ARM"] == "B", 0.0, f["COUNT"] + 1))
    with pytest.raises(ModelError, match=r"every count of 'COUNT' is 0 where ARM is B"):
        ts.count_model("COUNT ~ ARM", d)


# ------------------------------------------------------------------------------ constant outcome
@pytest.mark.parametrize("call", [
    lambda d: ts.mmrm("CHG ~ ARM * AVISIT + BASE", d),
    lambda d: ts.lmm("CHG ~ ARM * WEEK + BASE", d, re_formula="~WEEK"),
    lambda d: ts.count_model("CHG ~ ARM * WEEK", d),
])
def test_constant_outcome_is_a_model_error(call):
    # before: p = 1.9e-22 with df = inf
    d = _exact().assign(CHG=5.0)
    with pytest.raises(ModelError, match=r"outcome 'CHG' is constant \(5\) in all 120 rows"):
        call(d)


# ------------------------------------------------------------------------------ cox
def _ordered(n=60, seed=3):
    rng = np.random.default_rng(seed)
    t = rng.permutation(np.arange(1.0, n + 1))
    return pd.DataFrame({"T": t, "CNSR": (rng.uniform(size=n) < 0.3).astype(int),
                         "X": -t, "AGE": rng.normal(50, 5, n),
                         "SEX": np.where(rng.uniform(size=n) < 0.5, "F", "M")})


def _assert_monotone(call, pattern):
    """Either a non-converged fit without inference, warned with ``pattern``, or a ModelError
    matching it; never a converged fit or a bare numpy error."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            fit = call()
        except ModelError as e:
            assert re.search(pattern, str(e)), str(e)
            return None
    assert any(issubclass(w.category, ConvergenceWarning) and re.search(pattern, str(w.message))
               for w in caught), [str(w.message) for w in caught]
    assert not fit.converged
    assert _blank(fit.coef)
    assert np.isnan(fit.lr_test["p_value"])
    return fit


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_cox_covariate_ordering_events_is_not_converged(ties):
    # X is larger the earlier the time: every subject with an event has the largest X at risk
    _assert_monotone(lambda: ts.cox("AGE + X", _ordered(), time="T", censor="CNSR", ties=ties),
                     r"monotone likelihood: X \(term X\)")


@pytest.mark.parametrize("ties", ["efron", "breslow"])
@pytest.mark.parametrize("formula", ["GRP", "C(GRP, contr.sum)", "C(GRP, levels=['late', "
                                     "'early'])", "GRPNUM"])
def test_cox_factor_ordering_events_any_coding(formula, ties):
    # every "early" subject fails before any "late" one: both levels have events, yet the
    # hazard ratio is infinite
    n = 20
    d = pd.DataFrame({"T": np.arange(1.0, n + 1), "CNSR": [0, 1] * (n // 2),
                      "GRP": ["early"] * (n // 2) + ["late"] * (n // 2)})
    d["GRPNUM"] = np.where(d["GRP"] == "early", 2.0, 1.0)
    _assert_monotone(lambda: ts.cox(formula, d, time="T", censor="CNSR", ties=ties),
                     r"monotone likelihood: .*GRP")


def test_cox_monotone_within_strata():
    _assert_monotone(lambda: ts.cox("X", _ordered(), time="T", censor="CNSR", strata="SEX"),
                     r"monotone likelihood: X \(term X\)")


def test_cox_allow_nonconverged_keeps_inference():
    with pytest.warns(ConvergenceWarning):
        fit = ts.cox("AGE + X", _ordered(), time="T", censor="CNSR", allow_nonconverged=True)
    assert not fit.converged
    assert fit.coef["p_value"].notna().all()


def test_cox_level_without_events_in_sum_coding():
    d = _ordered().assign(G=lambda f: np.where(f["CNSR"] == 1, "c", np.where(f["T"] % 2, "a", "b")))
    with pytest.raises(ModelError, match=r"level of C\(G, contr.sum\) coded \(-1, -1\) has no "
                                         r"events \(0 of \d+ subjects\)"):
        ts.cox("C(G, contr.sum)", d, time="T", censor="CNSR")


def test_cox_no_monotone_false_alarm_on_ordinary_data():
    rng = np.random.default_rng(7)
    d = pd.DataFrame({"T": rng.exponential(10, 200), "CNSR": rng.integers(0, 2, 200),
                      "X": rng.normal(size=200)})
    fit = ts.cox("X", d, time="T", censor="CNSR")
    assert fit.converged and fit.coef["p_value"].notna().all()


# ------------------------------------------------------------------------------ no spinning
def test_huge_value_in_durability_lmm_finishes_with_a_clean_error():
    # issue 11: one AVAL = 1e300 kept MixedLM's Powell optimiser busy for over 10 minutes; the
    # subprocess timeout is only a hang guard, not a speed assertion
    code = textwrap.dedent("""
        import pandas as pd, trialstats as ts
        d = pd.read_csv("tests/reference/hair_counts.csv")
        d.loc[5, "AVAL"] = 1e300
        try:
            ts.lmm("AVAL ~ ARM * WEEK_OFF + BASE", d, groups="USUBJID", re_formula="~WEEK_OFF")
        except ts.ModelError as e:
            print("ModelError:", e)
    """)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=120, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    assert "ModelError: lmm: column 'AVAL' has values of magnitude 1e+100 or more in rows 5" \
        in out.stdout


@pytest.mark.parametrize("call", [
    lambda d: ts.mmrm("CHG ~ ARM + AVISIT + BASE", d, covariance="cs"),
    lambda d: ts.count_model("CHG ~ ARM + BASE", d.assign(CHG=d["CHG"].round())),
])
def test_huge_values_are_model_errors_naming_rows(call):
    d = _exact().assign(BASE=lambda f: f["BASE"].where(f.index != 7, 1e300))
    with pytest.raises(ModelError, match=r"column 'BASE' has values of magnitude 1e\+100 or "
                                         r"more in rows 7 \(S02\)"):
        call(d)


def _orders_brute_force(x, time, event, strata):
    """The definition, one event and one risk set at a time (O(n^2))."""
    out = np.zeros((2, x.shape[1]), dtype=bool)
    for j in range(x.shape[1]):
        for row, s in ((0, 1.0), (1, -1.0)):
            v, ok, strict = s * x[:, j], True, False
            for i in np.flatnonzero(event == 1):
                risk = (time >= time[i]) & (strata == strata[i])
                ok &= v[i] >= v[risk].max()
                strict |= v[i] > v[risk].min()
            out[row, j] = ok and strict
    return out


@pytest.mark.parametrize("seed", range(40))
def test_monotone_check_matches_its_definition(seed):
    from trialstats.survival._cox_checks import _orders_events

    rng = np.random.default_rng(seed)
    n = 25
    time = rng.integers(1, 8, n).astype(float)  # many ties
    event = (rng.uniform(size=n) < 0.6).astype(float)
    strata = rng.integers(0, 2, n) if seed % 2 else np.zeros(n, dtype=int)
    # one column built to order the events half of the time, one random, one binary
    ordering = -time + (0 if seed % 4 < 2 else rng.integers(0, 2, n) * 3)
    x = np.column_stack([ordering, rng.normal(size=n), rng.integers(0, 2, n)]).astype(float)
    got = _orders_events(x, time, event, strata if seed % 2 else None)
    assert np.array_equal(got, _orders_brute_force(x, time, event, strata))


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_cox_combination_ordering_events_is_not_converged(ties):
    # X1 + X2 = -T orders the events though neither column does alone: the per-column check
    # cannot see it, the iteration cap does (converged False, no inference)
    rng = np.random.default_rng(5)
    n = 60
    t = rng.permutation(np.arange(1.0, n + 1))
    u = rng.normal(0, 30, n)
    d = pd.DataFrame({"T": t, "CNSR": (rng.uniform(size=n) < 0.3).astype(int), "X1": -t + u,
                      "X2": -u})
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        fit = ts.cox("X1 + X2", d, time="T", censor="CNSR", ties=ties)
    assert not fit.converged
    assert _blank(fit.coef)


def test_linalg_failure_inside_an_mmrm_fit_is_a_model_error_and_the_fallback_moves_on(monkeypatch):
    # Fault injection: numpy's "SVD did not converge" cannot be provoked on purpose with real
    # data, so the engine is made to raise it for the first structure only. ts.mmrm must turn it
    # into a ModelError (never a bare LinAlgError), and the report's covariance fallback must
    # record the failure and use the next structure of the plan.
    from trialstats.longitudinal.mmrm import _fit
    from trialstats.report.plan import MMRMSpec as PlanMMRM
    from trialstats.report.sections._base import fit_mmrm_with_fallback

    real = _fit.fit_engine

    def failing_for_us(data, theta0, **kw):
        if data.structures[0].name == "us":
            raise np.linalg.LinAlgError("SVD did not converge")
        return real(data, theta0, **kw)

    monkeypatch.setattr(_fit, "fit_engine", failing_for_us)
    trial = ts.datasets.load("exo-hair-202")
    eff = trial.analysis_frame("adeff", paramcd="TAHC")
    eff = eff[eff["AVISITN"].between(4, 24)]
    with pytest.raises(ModelError, match=r"us fit failed in linear algebra \(SVD did not converge\)"):
        ts.mmrm("CHG ~ ARM * AVISIT + BASE", eff, covariance="us")
    spec = PlanMMRM(formula="CHG ~ ARM * AVISIT + BASE", covariance=("us", "cs"))
    fit, used, attempts = fit_mmrm_with_fallback(eff, spec)
    assert used == "cs" and fit.converged
    assert attempts[0].startswith("us: failed (") and "SVD did not converge" in attempts[0]
