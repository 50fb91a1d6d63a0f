"""The repeated-fit path (fit.refit, MMRMProblem): identical to a fresh ts.mmrm fit.

Expected values are fresh ``ts.mmrm`` fits on the equivalent data frames (outcome replaced,
jackknife samples, bootstrap samples with duplicated subjects renamed), so these tests check the
contract of docs/CONTRACTS.md: the same numbers, exactly (the refit and the fresh fit take the
same arithmetic steps on the same rows in the same order). Tolerance: exact equality.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from pandas.testing import assert_frame_equal

import trialstats as ts
from trialstats.longitudinal.mmrm import MMRMEstimates, MMRMProblem

FORMULA = "CHG ~ ARM * AVISIT + BASE"


@pytest.fixture(scope="module")
def exo():
    d = ts.datasets.load("exo-hair-301").efficacy("TAHC")
    d = d[d["AVISIT"].isin(["WEEK 4", "WEEK 12", "WEEK 24"])].copy()
    d["AVISIT"] = d["AVISIT"].cat.remove_unused_categories()
    return d


@pytest.fixture(scope="module", params=[
    dict(covariance="us", df="satterthwaite"),
    dict(covariance="toeph", df="kenward-roger", group="ARM"),
])
def fitted(request, exo):
    opts = request.param
    return opts, ts.mmrm(FORMULA, exo, subject="USUBJID", visit="AVISIT", **opts)


def _fresh(frame: pd.DataFrame, opts) -> ts.longitudinal.mmrm.MMRMResult:
    return ts.mmrm(FORMULA, frame, subject="USUBJID", visit="AVISIT", **opts)


def _sample_frame(fit, subjects) -> pd.DataFrame:
    """The data frame a refit on ``subjects`` stands for; repeated subjects get new IDs."""
    frame = fit.design.frame
    sub_of_row = fit.problem().subject_index
    parts, seen = [], {}
    for k in subjects:
        part = frame[sub_of_row == k].copy()
        copy = seen.get(k, 0)
        seen[k] = copy + 1
        part["USUBJID"] = f"{fit.problem().subject_ids[k]}#{copy}"
        parts.append(part)
    return pd.concat(parts)


def _assert_same(refit, fresh):
    assert_array_equal(refit.inference.beta, fresh.inference.beta)
    assert_array_equal(refit.theta, fresh.theta)
    assert_array_equal(refit.theta_vcov, fresh.theta_vcov)
    assert refit.loglik == fresh.loglik
    assert (refit.n_obs, refit.n_subjects) == (fresh.n_obs, fresh.n_subjects)
    assert_frame_equal(refit.coef, fresh.coef)
    assert_frame_equal(refit.covariance, fresh.covariance)
    assert_frame_equal(refit.lsmeans("ARM", by="AVISIT"), fresh.lsmeans("ARM", by="AVISIT"))
    assert_frame_equal(refit.contrast("ARM", by="AVISIT"), fresh.contrast("ARM", by="AVISIT"))


def _assert_estimates(est: MMRMEstimates, fresh):
    assert_array_equal(est.beta, fresh.inference.beta)
    assert_array_equal(est.theta, fresh.theta)
    for s, f in zip(est.sigmas, fresh.inference.sigmas, strict=True):
        assert_array_equal(s, f)
    assert est.m2loglik == -2 * fresh.loglik
    assert est.converged == fresh.converged
    assert (est.n_obs, est.n_subjects) == (fresh.n_obs, fresh.n_subjects)


def test_refit_same_data_is_the_fit(fitted):
    opts, fit = fitted
    _assert_same(fit.refit(), fit)


def test_refit_new_outcome(fitted):
    opts, fit = fitted
    y = fit.design.y + np.random.default_rng(1).normal(0, 5, fit.n_obs)
    frame = fit.design.frame.copy()
    frame["CHG"] = y
    fresh = _fresh(frame, opts)
    _assert_same(fit.refit(y), fresh)
    _assert_estimates(fit.problem().fit(y), fresh)
    _assert_estimates(fit.problem().fit(pd.Series(y, index=frame.index)), fresh)


def test_refit_jackknife_samples(fitted):
    opts, fit = fitted
    prob = fit.problem()
    for i in (0, 17, prob.n_subjects - 1):
        subjects = np.delete(np.arange(prob.n_subjects), i)
        fresh = _fresh(_sample_frame(fit, subjects), opts)
        _assert_same(fit.refit(subjects=subjects), fresh)
        _assert_estimates(prob.fit(subjects=subjects), fresh)


def test_refit_bootstrap_duplicates_are_distinct_subjects(fitted):
    opts, fit = fitted
    prob = fit.problem()
    rng = np.random.default_rng(20261130)
    subjects = rng.integers(0, prob.n_subjects, prob.n_subjects)
    assert len(np.unique(subjects)) < len(subjects)  # the sample repeats subjects
    frame = _sample_frame(fit, subjects)
    fresh = _fresh(frame, opts)
    assert fresh.n_subjects == prob.n_subjects  # copies counted as subjects
    refit = fit.refit(subjects=subjects)
    _assert_same(refit, fresh)
    _assert_estimates(prob.fit(subjects=subjects), fresh)
    # new outcome and a sample together: y indexes the ORIGINAL rows
    y_all = np.random.default_rng(4).normal(0, 5, fit.n_obs)
    refit_y = fit.refit(y_all)
    assert_array_equal(refit_y.design.frame["CHG"].to_numpy(), y_all)
    frame2 = _sample_frame(refit_y, subjects)
    _assert_same(fit.refit(y_all, subjects=subjects), _fresh(frame2, opts))


def test_problem_description(fitted):
    _, fit = fitted
    prob = fit.problem()
    assert isinstance(prob, MMRMProblem) and prob is fit.problem()
    assert prob.terms == fit.terms and prob.n_obs == fit.n_obs
    assert prob.n_subjects == fit.n_subjects == len(prob.subject_ids)
    assert prob.visit_levels == ("WEEK 4", "WEEK 12", "WEEK 24")
    assert ts.MMRMProblem is MMRMProblem


def test_refit_errors(exo):
    fit = ts.mmrm(FORMULA, exo, subject="USUBJID", visit="AVISIT")
    prob = fit.problem()
    with pytest.raises(ts.ModelError, match=r"y has shape \(3,\)"):
        prob.fit(np.ones(3))
    y = fit.design.y.copy()
    y[5] = np.nan
    with pytest.raises(ts.ModelError, match=r"missing or infinite at positions \[5\]"):
        prob.fit(y)
    with pytest.raises(ts.ModelError, match="must lie in 0.."):
        prob.fit(subjects=[0, prob.n_subjects])
    with pytest.raises(ts.ModelError, match="integer subject indices"):
        prob.fit(subjects=[0.5, 1.0])
    # a sample with the placebo arm only: ts.mmrm would drop the ARM terms
    arm = fit.design.frame["ARM"].to_numpy()
    sub_arm = pd.Series(arm).groupby(prob.subject_index).first().to_numpy()
    placebo = np.flatnonzero(sub_arm == "PLACEBO")
    with pytest.raises(ts.ModelError, match="not estimable in the sample"):
        prob.fit(subjects=placebo)
    # a sample without any WEEK 24 observation
    visits = fit.design.frame["AVISIT"].to_numpy()
    no24 = np.setdiff1d(np.arange(prob.n_subjects),
                        prob.subject_index[visits == "WEEK 24"])
    with pytest.raises(ts.ModelError, match="no observation at AVISIT WEEK 24"):
        prob.fit(subjects=no24)
    with pytest.raises(ts.ModelError, match="too few"):
        prob.fit(subjects=[0, 1, 2])


def test_refit_warm_start_from_full_theta(fitted):
    """start="full": the same optimum as the fresh fit (not bitwise; tolerance WARM_START)."""
    from tolerances import WARM_START

    opts, fit = fitted
    prob = fit.problem()
    rng = np.random.default_rng(7)
    y = fit.design.y + rng.normal(0, 5, fit.n_obs)
    cases = [dict(subjects=np.delete(np.arange(prob.n_subjects), 5)),
             dict(subjects=rng.integers(0, prob.n_subjects, prob.n_subjects)), dict(y=y)]
    for kw in cases:
        fresh = prob.fit(**kw)  # bitwise ts.mmrm (tests above)
        warm = prob.fit(**kw, start="full")
        assert warm.converged
        assert_allclose(warm.theta, fresh.theta, **WARM_START)
        assert_allclose(warm.beta, fresh.beta, **WARM_START)
        assert_allclose(warm.m2loglik, fresh.m2loglik, rtol=1e-12)
        res = prob.result(**kw, start="full")
        assert_allclose(res.inference.beta, fresh.beta, **WARM_START)
    with pytest.raises(ts.ModelError, match="start must be 'fresh' or 'full'"):
        prob.fit(start="warm")


def test_fits_run_with_one_blas_thread_and_restore_it():
    """ts.mmrm's BLAS limit (read with threadpoolctl's own threadpool_info) holds inside a fit,
    nested calls included, and the previous thread counts come back afterwards."""
    from threadpoolctl import threadpool_info, threadpool_limits

    from trialstats.longitudinal.mmrm._fit import one_blas_thread

    def blas_threads():
        return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]

    @one_blas_thread
    def inner():
        return blas_threads()

    @one_blas_thread
    def outer():
        return inner(), blas_threads()

    with threadpool_limits(limits=2, user_api="blas"):
        before = blas_threads()
        nested, after_nested = outer()
        assert set(nested) == {1} and set(after_nested) == {1}
        assert blas_threads() == before


def test_refits_start_and_optimise_as_the_fit(exo):
    """A fit with start= and optimizer=: its refits use them, bitwise as fresh ts.mmrm fits
    given the same start= and optimizer= (they were ignored before: refits used the defaults)."""
    base = ts.mmrm(FORMULA, exo, subject="USUBJID", visit="AVISIT")
    start = base.theta * 0.9  # a start the default (OLS residuals) would not give
    opts = dict(covariance="us", start=start, optimizer="bfgs")
    fit = ts.mmrm(FORMULA, exo, subject="USUBJID", visit="AVISIT", **opts)
    assert fit.spec.optimizer == "bfgs" and fit.spec.start == tuple(start)
    prob = fit.problem()
    subjects = np.delete(np.arange(prob.n_subjects), 11)
    fresh = _fresh(_sample_frame(fit, subjects), opts)
    _assert_estimates(prob.fit(subjects=subjects), fresh)
    _assert_same(fit.refit(subjects=subjects), fresh)
    default = _fresh(_sample_frame(fit, subjects), dict(covariance="us"))
    assert not np.array_equal(fresh.theta, default.theta)  # the options do change the bits


def test_refit_start_vector_and_optimizer_arguments(exo):
    fit = ts.mmrm(FORMULA, exo, subject="USUBJID", visit="AVISIT")
    prob = fit.problem()
    subjects = np.delete(np.arange(prob.n_subjects), 3)
    frame = _sample_frame(fit, subjects)
    start = fit.theta + 0.05
    for kw in (dict(start=start), dict(optimizer="l-bfgs-b"), dict(start=start, optimizer="cg")):
        fresh = _fresh(frame, dict(covariance="us", **kw))
        _assert_estimates(prob.fit(subjects=subjects, **kw), fresh)
    _assert_same(fit.refit(subjects=subjects, optimizer="l-bfgs-b"),
                 _fresh(frame, dict(covariance="us", optimizer="l-bfgs-b")))
    with pytest.raises(ts.ModelError, match="unknown optimizer 'nelder-mead'; valid: newton"):
        prob.fit(optimizer="nelder-mead")
    with pytest.raises(ts.ModelError, match=r"start must be 6 finite numbers"):
        prob.fit(start=[1.0, 2.0])


def test_problem_from_arrays_fits_but_has_no_result(fitted):
    _, fit = fitted
    a = fit.arrays
    prob = MMRMProblem.from_arrays(fit.design.X, fit.design.y, a, fit.structures,
                                   reml=fit.spec.method == "reml", terms=fit.terms)
    subjects = np.delete(np.arange(prob.n_subjects), 2)
    _assert_estimates(prob.fit(subjects=subjects),
                      fit.problem().result(subjects=subjects))
    with pytest.raises(ts.ModelError, match="made from arrays: use .fit"):
        prob.result()
    with pytest.raises(ts.ModelError, match="start='full' needs a problem made from a ts.mmrm"):
        prob.fit(start="full")
    with pytest.raises(ts.ModelError, match="every subject needs at least one row"):
        MMRMProblem.from_arrays(fit.design.X, fit.design.y,  # one more subject, no rows
                                replace(a, group=np.r_[a.group, 0]), fit.structures)
