"""The spatial MMRM engine (per-subject blocks batched by number of observations).

Closed-form checks, independent of the engine's own formulas: the batched Cholesky inverse
against numpy.linalg; the analytic gradient against central differences of the REML / ML
objective; the analytic Hessian against central differences (Richardson-extrapolated) of that
gradient; and the batch layout against the rows it was built from. R mmrm references for the
fitted numbers are in tests/test_mmrm_spatial_rmmrm.py.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from tolerances import ANALYTIC

import trialstats as ts
from trialstats.longitudinal.mmrm._batches import cholesky_inverse
from trialstats.longitudinal.mmrm._engine import make_engine
from trialstats.longitudinal.mmrm._fit import make_data
from trialstats.longitudinal.mmrm._spatial_engine import SpatialEngine

# central differences with step 1e-5 * max(1, |theta|) of an objective of size ~1e3: truncation
# ~1e-10 relative, rounding ~1e-16 * 1e3 / 1e-5 = 1e-8 absolute; compared in units of the
# largest gradient entry (asserted >= 1), so 1e-6 bounds both
FINITE_DIFFERENCE = dict(rtol=0, atol=1e-6)
# Richardson-extrapolated differences of the analytic gradient (Engine.hessian_numeric, step
# 1e-3): truncation O(h^4) ~1e-12, rounding ~1e-16 * |g| / 1e-3 ~1e-11; compared on the
# correlation scale H_ij / sqrt(H_ii H_jj) (diagonal asserted >= 1e-2: the data have a real
# correlation in days, so rho is away from its bounds)
RICHARDSON = dict(rtol=0, atol=1e-6)


def _jittered(n: int = 60, seed: int = 3) -> pd.DataFrame:
    """Subjects with 1-6 visits on jittered days; errors correlated as exp(-|d| / 30 days)."""
    rng = np.random.default_rng(seed)
    weeks = np.array([2, 4, 8, 12, 16, 24])
    rows = []
    for i in range(n):
        k = rng.integers(1, 7)  # 1..6 observations: batches of every size
        keep = np.sort(rng.choice(6, size=k, replace=False))
        day = 7 * weeks[keep] + rng.integers(-3, 4, size=k)
        corr = np.exp(-np.abs(day[:, None] - day[None, :]) / 30.0)
        eps = np.linalg.cholesky(25.0 * corr) @ rng.standard_normal(k)
        arm = "TRT" if i % 2 else "PBO"
        base = rng.normal(50, 10)
        for v, t, e in zip(keep, day, eps, strict=True):
            rows.append(dict(USUBJID=f"S{i:03d}", ARM=arm, AVISIT=f"W{weeks[v]}", DAY=t,
                             BASE=base, Y=0.3 * weeks[v] * (arm == "TRT") + e))
    d = pd.DataFrame(rows)
    d["ARM"] = pd.Categorical(d["ARM"], categories=["PBO", "TRT"])
    d["AVISIT"] = pd.Categorical(d["AVISIT"], categories=[f"W{w}" for w in weeks])
    return d


def _engine(cov: str, reml: bool = True, group: str | None = None):
    d = _jittered()
    fit = ts.mmrm("Y ~ ARM + AVISIT + BASE", d, subject="USUBJID", coords="DAY",
                  covariance=cov, group=group, method="reml" if reml else "ml")
    data = make_data(fit.design.X, fit.design.y, fit.arrays, fit.structures, reml=reml)
    return make_engine(data), fit


@pytest.mark.parametrize(("n", "k"), [(300, 6), (5, 3), (100, 1), (3, 11)])
def test_cholesky_inverse_matches_numpy(n, k):
    rng = np.random.default_rng(k)
    A = rng.standard_normal((n, k, k))
    S = A @ np.swapaxes(A, 1, 2) + k * np.eye(k)
    Li, W, logdet = cholesky_inverse(S)
    assert_allclose(W, np.linalg.inv(S), **ANALYTIC)
    assert_allclose(Li, np.linalg.inv(np.linalg.cholesky(S)), **ANALYTIC)
    assert_allclose(logdet, np.linalg.slogdet(S)[1].sum(), **ANALYTIC)


@pytest.mark.parametrize("n", [300, 5])
def test_cholesky_inverse_rejects_a_block_that_is_not_positive_definite(n):
    S = np.broadcast_to(np.eye(4), (n, 4, 4)).copy()
    S[n - 1, 2, 2] = -1.0
    with pytest.raises(np.linalg.LinAlgError):
        cholesky_inverse(S)


@pytest.mark.parametrize(("cov", "reml", "group"), [
    ("sp_exp", True, None), ("sp_gau", True, None), ("sp_exp", False, None),
    ("sp_gau", False, "ARM"), ("sp_exp", True, "ARM"),
])
def test_gradient_and_hessian_match_finite_differences(cov, reml, group):
    eng, fit = _engine(cov, reml, group)
    assert isinstance(eng, SpatialEngine)
    theta = fit.theta + 0.3  # away from the optimum, where the gradient is not zero
    g = eng.gradient_at(eng.state(theta, order=1))
    num = np.empty_like(theta)
    for j in range(len(theta)):
        e = np.zeros_like(theta)
        e[j] = 1e-5 * max(1.0, abs(theta[j]))
        num[j] = (eng.objective(theta + e) - eng.objective(theta - e)) / (2 * e[j])
    scale = np.max(np.abs(num))
    assert scale > 1.0
    assert_allclose(g / scale, num / scale, **FINITE_DIFFERENCE)
    H = eng.hessian(theta)
    d = np.sqrt(np.diag(H))
    assert d.min() > 0.1
    assert_allclose(H / np.outer(d, d), eng.hessian_numeric(theta) / np.outer(d, d), **RICHARDSON)


def test_batches_hold_each_subjects_rows_by_time():
    eng, fit = _engine("sp_exp")
    data = eng.data
    times = np.asarray(fit.structures[0].coords)
    seen = []
    for b in data.batches:
        k = b.rows.shape[1]
        assert (data.subject[b.rows] == b.subjects[:, None]).all()
        t = times[data.visit[b.rows]]
        assert (np.diff(t, axis=1) > 0).all()
        assert_allclose(b.power, np.abs(t[:, :, None] - t[:, None, :]), rtol=0, atol=0)
        assert_allclose(b.X, data.X[b.rows], rtol=0, atol=0)
        assert np.bincount(data.subject, minlength=len(data.group))[b.subjects].tolist() == [k] * len(b.subjects)
        seen.extend(b.subjects.tolist())
    assert sorted(seen) == list(range(len(data.group)))


def test_refit_of_a_spatial_fit_is_a_fresh_fit():
    """The repeated-fit path keeps the batches (MMRMData.with_outcome): bitwise a fresh fit."""
    d = _jittered()
    opts = dict(subject="USUBJID", coords="DAY", covariance="sp_exp", df="kenward-roger")
    fit = ts.mmrm("Y ~ ARM + AVISIT + BASE", d, **opts)
    frame = fit.design.frame.copy()
    y = frame["Y"].to_numpy() * 1.5 + 2.0
    frame["Y"] = y
    fresh = ts.mmrm("Y ~ ARM + AVISIT + BASE", frame, **opts)
    for refit in (fit.refit(y), fit.problem().result(y)):
        assert_allclose(refit.inference.beta, fresh.inference.beta, rtol=0, atol=0)
        assert_allclose(refit.theta, fresh.theta, rtol=0, atol=0)
        assert_allclose(refit.coef["df"], fresh.coef["df"], rtol=0, atol=0)
    est = fit.problem().fit(y)
    assert_allclose(est.theta, fresh.theta, rtol=0, atol=0)
    assert_allclose(est.sigmas[0], fresh.covariance.to_numpy(), rtol=0, atol=0)


def test_bootstrap_refit_of_a_spatial_fit_is_the_fit_of_the_sample():
    """A bootstrap sample of a spatial fit rarely holds every distinct day of the data; the
    spatial covariance depends only on each subject's own distances, so the sample is the same
    model and refits (it raised "the sample has no observation at DAY ..." before). Compared with
    ts.mmrm on the sample's rows, resampled subjects renamed: the start values differ (they use
    the distinct days of the data), so the two Newton paths stop at WARM_START of each other."""
    from tolerances import WARM_START

    d = _jittered()
    opts = dict(subject="USUBJID", coords="DAY", covariance="sp_exp")
    fit = ts.mmrm("Y ~ ARM + AVISIT + BASE", d, **opts)
    prob = fit.problem()
    ids = prob.subject_ids
    rng = np.random.default_rng(11)
    idx = rng.integers(0, len(ids), len(ids))
    boot = pd.concat([d[d["USUBJID"] == ids[i]].assign(USUBJID=f"B{j:03d}")
                      for j, i in enumerate(idx)], ignore_index=True)
    assert boot["DAY"].nunique() < d["DAY"].nunique()  # the case that failed
    fresh = ts.mmrm("Y ~ ARM + AVISIT + BASE", boot, **opts)
    est = prob.fit(subjects=idx)
    assert_allclose(est.theta, fresh.theta, **WARM_START)
    assert_allclose(est.beta, fresh.inference.beta, **WARM_START)
