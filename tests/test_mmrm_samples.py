"""The grouped data of a refit sample (``_samples.sample_data``) are those of MMRMData's constructor.

A refit builds the missingness patterns of a sample from the full data's patterns instead of
from the rows (reusing an unchanged pattern's products). The contract of the refit path (bitwise
the numbers of a fresh ``ts.mmrm``) rests on the two giving the same object, so every field is
compared here with exact equality, for jackknife samples, bootstrap samples (repeated subjects,
patterns in another subject order), a new outcome, observation weights, a per-arm covariance and
a sample missing a whole pattern. Tolerance: exact equality.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_array_equal

import trialstats as ts
from trialstats.longitudinal.mmrm._fit import make_data

FORMULA = "CHG ~ ARM * AVISIT + BASE"


@pytest.fixture(scope="module")
def exo():
    d = ts.datasets.load("exo-hair-301").efficacy("TAHC")
    d = d[d["AVISIT"].isin(["WEEK 4", "WEEK 12", "WEEK 24"])].copy()
    d["AVISIT"] = d["AVISIT"].cat.remove_unused_categories()
    d["W"] = 0.5 + (np.arange(len(d)) % 7) / 4.0  # positive observation weights
    return d.sample(frac=1.0, random_state=3)  # rows not in subject/visit order


@pytest.fixture(scope="module", params=[dict(covariance="us"),
                                        dict(covariance="toeph", group="ARM"),
                                        dict(covariance="us", weights="W")])
def fit(request, exo):
    return ts.mmrm(FORMULA, exo, subject="USUBJID", visit="AVISIT", **request.param)


def _assert_same_data(a, b):
    for name in ("X", "y", "subject", "visit", "group"):
        assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert a.log_weight == b.log_weight and a.reml == b.reml
    assert a.theta_slices == b.theta_slices
    assert len(a.patterns) == len(b.patterns)
    for pa, pb in zip(a.patterns, b.patterns, strict=True):
        assert pa.group == pb.group
        for name in ("visits", "subjects", "rows", "M", "T", "Y", "Xp"):
            assert_array_equal(getattr(pa, name), getattr(pb, name), err_msg=name)
    assert (a.stacked is None) == (b.stacked is None)
    if a.stacked is not None:
        for name in ("M", "T", "Y", "n", "group", "mask", "pad"):
            assert_array_equal(getattr(a.stacked, name), getattr(b.stacked, name), err_msg=name)
        for ga, gb in zip(a.stacked.by_group, b.stacked.by_group, strict=True):
            assert_array_equal(ga, gb)
        assert (a.stacked.block is None) == (b.stacked.block is None)
        if a.stacked.block is not None:
            for ra, rb in zip(a.stacked.block, b.stacked.block, strict=True):
                assert_array_equal(ra, rb)


def _check(fit, y=None, subjects=None):
    prob = fit.problem()
    X, yy, arrays, data = prob._select(y, subjects)
    fresh = make_data(X, yy, arrays, fit.structures, reml=fit.spec.method == "reml")
    _assert_same_data(data, fresh)


def test_jackknife_samples(fit):
    n = fit.problem().n_subjects
    for i in (0, 1, 200, n - 1):
        _check(fit, subjects=np.delete(np.arange(n), i))


def test_bootstrap_samples_and_new_outcome(fit):
    n = fit.problem().n_subjects
    rng = np.random.default_rng(11)
    for _ in range(3):
        _check(fit, subjects=rng.integers(0, n, n))
    y = fit.design.y + rng.normal(0, 3, fit.n_obs)
    _check(fit, y=y, subjects=rng.integers(0, n, n))
    _check(fit, y=y, subjects=np.delete(np.arange(n), 7))
    _check(fit, subjects=np.arange(n)[::-1])  # every pattern in reverse subject order


def test_sample_without_a_pattern(fit):
    """Leaving out every subject of one missingness pattern: fewer patterns, restacked."""
    prob = fit.problem()
    prob._select(None, np.arange(prob.n_subjects))
    data = prob._data
    smallest = min(data.patterns, key=lambda p: len(p.subjects))
    keep = np.setdiff1d(np.arange(prob.n_subjects), smallest.subjects)
    _check(fit, subjects=keep)
