"""MMRM engine: the stacked (all patterns at once) route equals the per-pattern loop.

Both routes implement the same sums over missingness patterns (docstring of
``trialstats.longitudinal.mmrm._stacked``); the loop is the original implementation, whose
results were checked against R (test_mmrm_reference.py) before the stacked route existed, and
the stacked route is itself checked against finite differences in test_mmrm.py. Here they must
agree to rounding (ANALYTIC) on intermittent missingness, both likelihoods and grouped covariance.
The design cache of ``_design.build_design`` is checked against formulaic's own matrix.
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
from formulaic import model_matrix
from numpy.testing import assert_allclose, assert_array_equal
from tolerances import ANALYTIC

from trialstats.longitudinal import _design
from trialstats.longitudinal.mmrm._engine import Engine, MMRMData
from trialstats.longitudinal.mmrm.covariance import CovarianceStructure


def _close(actual, desired):
    """ANALYTIC, plus rounding floor for entries that are zero in exact arithmetic (e.g. the
    inverse of an AR(1) matrix is tridiagonal): 1e-12 of the largest entry."""
    desired = np.asarray(desired)
    assert_allclose(actual, desired, atol=1e-12 * np.max(np.abs(desired)), **ANALYTIC)


def _problem(name: str, reml: bool, grouped: bool, seed: int = 3):
    rng = np.random.default_rng(seed)
    n, m, p = 60, 4, 5
    X_sub = rng.normal(size=(n, m, p))
    X_sub[:, :, 0] = 1.0
    y_sub = X_sub @ rng.normal(size=p) + rng.normal(size=(n, m)) @ np.tril(
        rng.uniform(0.2, 0.9, (m, m)))
    keep = rng.uniform(size=(n, m)) > 0.25  # intermittent missingness
    keep[:, 0] = True
    sub, vis = np.nonzero(keep)
    group = (np.arange(n) % 2).astype(np.int64) if grouped else np.zeros(n, dtype=np.int64)
    structures = [CovarianceStructure(name, m) for _ in range(2 if grouped else 1)]
    data = MMRMData(X_sub[sub, vis], y_sub[sub, vis], sub.astype(np.int64),
                    vis.astype(np.int64), group, structures, reml=reml)
    loop = copy.copy(data)
    loop.stacked = None
    theta = np.concatenate([st.start(np.linspace(0.8, 1.4, m)) + 0.1 for st in structures])
    return Engine(data), Engine(loop), theta


@pytest.mark.parametrize("grouped", [False, True])
@pytest.mark.parametrize("reml", [True, False])
@pytest.mark.parametrize("name", ["us", "toeph", "ar1", "csh", "adh"])
def test_stacked_equals_pattern_loop(name, reml, grouped):
    stacked, loop, theta = _problem(name, reml, grouped)
    assert stacked.data.stacked is not None and len(stacked.data.patterns) > 4
    s1, s2 = stacked.state(theta, order=2), loop.state(theta, order=2)
    _close(stacked.m2loglik(s1), loop.m2loglik(s2))
    _close(s1.beta, s2.beta)
    for w1, w2 in zip(s1.winv, s2.winv, strict=True):
        _close(w1, w2)
    _close(stacked.gradient_at(s1), loop.gradient_at(s2))
    _close(stacked.hessian_at(s1), loop.hessian_at(s2))
    th1, conv1, _ = stacked.fit(theta)
    th2, conv2, _ = loop.fit(theta)
    assert conv1 and conv2
    assert_allclose(stacked.objective(th1), loop.objective(th2), rtol=1e-12)


def test_design_cache_rebuilds_formulaics_matrix():
    rng = np.random.default_rng(5)

    def frame(n):
        return pd.DataFrame({
            "y": rng.normal(size=n),
            "A": pd.Categorical(rng.choice(["p", "q", "r"], n), categories=["p", "q", "r"]),
            "V": pd.Categorical(rng.choice(["v1", "v2"], n), categories=["v1", "v2"]),
            "x": rng.normal(size=n), "z": rng.normal(size=n),
        })

    formula = "y ~ A * V + x + x:V + z:A"
    _design._SPEC_CACHE.clear()
    first = _design.build_design(formula, frame(50))
    assert len(_design._SPEC_CACHE) == 1  # plain factors and covariates: cached
    d2 = frame(80)
    second = _design.build_design(formula, d2)  # built with NumPy from the cached products
    mm = model_matrix(formula, d2)
    assert second.terms == first.terms
    assert_array_equal(second.X, np.asarray(mm.rhs, dtype=float)[:, list(second.column_order)])
    assert_array_equal(second.y, np.asarray(mm.lhs, dtype=float).ravel())
    # same memory layout as formulaic's route (BLAS rounding, hence iterative fits, depend on it)
    _design._SPEC_CACHE.clear()
    fresh = _design.build_design(formula, d2)
    assert fresh.X.flags.f_contiguous == second.X.flags.f_contiguous
    assert fresh.X.flags.c_contiguous == second.X.flags.c_contiguous
    assert_array_equal(fresh.X, second.X)
    # a transform is not a product of plain columns: not cached
    n_cached = len(_design._SPEC_CACHE)
    _design.build_design("y ~ A + exp(x)", d2)
    assert len(_design._SPEC_CACHE) == n_cached


@pytest.mark.parametrize("grouped", [False, True])
@pytest.mark.parametrize("name", ["us", "toeph", "cs"])
def test_start_from_stacked_statistics_equals_start_from_rows(name, grouped):
    """The start values from the pattern sums are the row-wise estimator (OLS residual SDs,
    pairwise residual covariance for us), to rounding."""
    from trialstats.longitudinal.mmrm._fit import SubjectArrays, start_theta, start_theta_stacked

    stacked, _, _ = _problem(name, True, grouped)
    d = stacked.data
    arrays = SubjectArrays(subject=d.subject, visit=d.visit, group=d.group,
                           subject_ids=np.arange(len(d.group)), visit_levels=tuple(range(4)),
                           group_levels=())
    _close(start_theta_stacked(d), start_theta(d.X, d.y, arrays, d.structures))


def test_start_from_stacked_statistics_without_pairs():
    """Two visits never observed together: us falls back to per-visit SDs in both routes."""
    rng = np.random.default_rng(5)
    n, m = 40, 3
    vis = np.where(np.arange(n) % 2 == 0, 0, 1)  # each subject one visit: 0 or 1, never both
    sub = np.arange(n)
    extra = np.arange(0, n, 4)  # some subjects also at visit 2
    sub, vis = np.r_[sub, extra], np.r_[vis, np.full(len(extra), 2)]
    order = np.lexsort((vis, sub))
    sub, vis = sub[order], vis[order]
    X = np.column_stack([np.ones(len(sub)), rng.normal(size=len(sub))])
    y = X @ [1.0, 2.0] + rng.normal(size=len(sub)) * (1 + vis)
    from trialstats.longitudinal.mmrm._fit import SubjectArrays, start_theta, start_theta_stacked

    structures = [CovarianceStructure("us", m)]
    data = MMRMData(X, y, sub.astype(np.int64), vis.astype(np.int64),
                    np.zeros(n, dtype=np.int64), structures)
    arrays = SubjectArrays(subject=data.subject, visit=data.visit, group=data.group,
                           subject_ids=np.arange(n), visit_levels=(0, 1, 2), group_levels=())
    expected = start_theta(X, y, arrays, structures)
    assert_array_equal(expected[m:], 0.0)  # zero correlations: the fallback
    _close(start_theta_stacked(data), expected)
