"""Properties of the survival estimators that must hold on any data (hypothesis-generated).

These complement the R comparisons: invariances (row order, group order, time scale) and an
analytic identity (without tied times the Cox score test at beta = 0 is the log-rank test).
"""

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose
from tolerances import ANALYTIC, SAME_ALGORITHM

import trialstats as ts
from trialstats.survival import _cox_engine


@st.composite
def adtte(draw, min_size=12, max_size=40, ties=True):
    n = draw(st.integers(min_size, max_size))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    arm = rng.choice(["PLACEBO", "EXOSOME"], n)
    arm[:2] = ["PLACEBO", "EXOSOME"]
    time = rng.integers(1, 60, n).astype(float) if ties else rng.permutation(n) + 1.0
    cnsr = (rng.random(n) < 0.3).astype(int)
    cnsr[:2] = 0  # an event in each arm
    return pd.DataFrame({"ARM": pd.Categorical(arm, ["PLACEBO", "EXOSOME"]), "AVAL": time,
                         "CNSR": cnsr, "AGE": rng.normal(40, 8, n).round()})


@settings(max_examples=25, deadline=None)
@given(adtte(), st.integers(0, 2**31 - 1))
def test_km_and_logrank_ignore_row_order(d, seed):
    shuffled = d.sample(frac=1.0, random_state=seed % 2**32)
    a, b = ts.kaplan_meier(d, censor="CNSR"), ts.kaplan_meier(shuffled, censor="CNSR")
    assert_allclose(a.table["survival"], b.table["survival"], **ANALYTIC)
    assert_allclose(ts.logrank(d, censor="CNSR").statistic,
                    ts.logrank(shuffled, censor="CNSR").statistic, **ANALYTIC)


@settings(max_examples=25, deadline=None)
@given(adtte())
def test_logrank_and_rmst_under_swapped_reference(d):
    swapped = d.assign(ARM=d["ARM"].cat.reorder_categories(["EXOSOME", "PLACEBO"]))
    assert_allclose(ts.logrank(d, censor="CNSR").statistic,
                    ts.logrank(swapped, censor="CNSR").statistic, **ANALYTIC)
    tau = float(d.groupby("ARM", observed=True)["AVAL"].max().min())
    a = ts.rmst(d, censor="CNSR", tau=tau).difference
    b = ts.rmst(swapped, censor="CNSR", tau=tau).difference
    assert_allclose(a["estimate"], -b["estimate"], atol=1e-12)
    assert_allclose(a["std_error"], b["std_error"], **ANALYTIC)


@settings(max_examples=20, deadline=None)
@given(adtte())
def test_cox_estimates_do_not_depend_on_the_time_scale(d):
    a = ts.cox("ARM + AGE", d, censor="CNSR")
    b = ts.cox("ARM + AGE", d.assign(AVAL=d["AVAL"] / 7.0), censor="CNSR")
    assert_allclose(a.coef["estimate"], b.coef["estimate"], **SAME_ALGORITHM)
    assert_allclose(a.ph_test()["statistic"], b.ph_test()["statistic"], **SAME_ALGORITHM)


@settings(max_examples=25, deadline=None)
@given(adtte(ties=False))
def test_cox_score_test_equals_logrank_without_ties(d):
    # analytic identity: no tied times -> U' I^-1 U at beta = 0 is the log-rank chi-square
    x = (d["ARM"] == "EXOSOME").to_numpy(float)[:, None]
    ev = 1.0 - d["CNSR"].to_numpy(float)
    data = _cox_engine.prepare(d["AVAL"].to_numpy(float), ev, x - x.mean(), None, "breslow")
    _, grad, info = _cox_engine.loglik_grad_info(data, np.zeros(1))
    score = float(grad @ np.linalg.solve(info, grad))
    assert_allclose(score, ts.logrank(d, censor="CNSR").statistic, **ANALYTIC)
