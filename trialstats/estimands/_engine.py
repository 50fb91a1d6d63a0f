"""Array engine of reference-based imputation: fit the imputation MMRM, impute, run one sample.

Everything here takes NumPy arrays (a :class:`Problem` built once by :mod:`.api`) and never
touches pandas, so that the hundreds of refits of a jackknife or bootstrap cost only the MMRM
engine itself: the design rows of every subject are built once, and a sample is a vector of
subject indices into them.

The imputation model is ``ts.mmrm``'s engine (:mod:`trialstats.longitudinal.mmrm._engine`), fitted
by REML/ML to the observed outcomes that are not after an ICE with a non-MAR strategy. Given its
:math:`\\hat\\beta` and :math:`\\hat\\Sigma` (per arm when ``same_cov=False``), a subject's own-arm and
reference-arm mean vectors are :math:`X_i^{(a)}\\hat\\beta` with the arm column of the design set to
arm :math:`a`; the strategy (:mod:`.strategies`) turns them into a joint :math:`(\\mu, \\Sigma)`,
and the missing values are imputed from the conditional distribution given the observed ones:

.. math::

    E[y_m \\mid y_o] = \\mu_m + \\Sigma_{mo}\\Sigma_{oo}^{-1}(y_o - \\mu_o), \\qquad
    \\mathrm{Var}[y_m \\mid y_o] = \\Sigma_{mm} - \\Sigma_{mo}\\Sigma_{oo}^{-1}\\Sigma_{om}.

Conditional mean imputation (``method="condmean"``) uses the mean; approximate Bayesian MI
(``"approxbayes"``) draws from the conditional normal with the parameters of an MMRM fitted to a
bootstrap sample of subjects (stratified by arm), as rbmi's ``method_approxbayes``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import linalg

from ..longitudinal.mmrm._engine import Engine, MMRMData

__all__ = ["Problem", "ImputationGroup", "fit_imputation_model", "impute", "run_sample"]


@dataclass(frozen=True)
class ImputationGroup:
    """Subjects sharing arm, reference, strategy, ICE visit and missing visits."""

    arm: int
    ref: int
    strategy: int  # index into Problem.strategies
    ice: int  # first post-ICE visit index (m = no ICE)
    missing: np.ndarray  # bool (m,)
    subjects: np.ndarray  # int indices


@dataclass(frozen=True)
class Problem:
    """Everything a sample needs, as arrays (picklable; built once per call).

    Attributes
    ----------
    y : ndarray (n, m)
        Outcomes on the full subject x visit grid, NaN where missing.
    X : ndarray (A, n, m, p)
        Imputation-model design rows of every subject and visit with the arm set to each arm.
    arm : ndarray (n,) of int
        Each subject's arm index.
    fit_mask : ndarray (n, m) of bool
        Outcomes used to fit the imputation model (observed, not after a non-MAR ICE).
    cov_group : ndarray (A,) of int
        Covariance group of each arm (all 0 when ``same_cov``).
    structures : tuple
        One ``CovarianceStructure`` per covariance group.
    reml : bool
    groups : tuple of ImputationGroup
        The subjects with missing values, grouped.
    strategies : tuple of callables
        Strategy functions indexed by ``ImputationGroup.strategy``.
    builtin : tuple of bool
        Whether each strategy accepts stacked (k, m) means (the built-in ones do).
    strata : ndarray (n,) of int or None
        Bootstrap strata of the subjects (rbmi's ``vars$strata``); None = the arm.
    """

    y: np.ndarray
    X: np.ndarray
    arm: np.ndarray
    fit_mask: np.ndarray
    cov_group: np.ndarray
    structures: tuple
    reml: bool
    groups: tuple
    strategies: tuple
    builtin: tuple
    strata: np.ndarray | None = None

    @property
    def n_subjects(self) -> int:
        return self.y.shape[0]

    @property
    def missing(self) -> np.ndarray:
        return np.isnan(self.y)


@dataclass(frozen=True)
class ModelFit:
    """One fit of the imputation model."""

    beta: np.ndarray
    sigmas: tuple  # per covariance group (m, m)
    theta: np.ndarray
    converged: bool
    message: str


def start_theta(problem: Problem, data: MMRMData) -> np.ndarray:
    """Starting values as ``ts.mmrm``: per-visit residual SD of an OLS fit, no correlation."""
    beta = np.linalg.lstsq(data.X, data.y, rcond=None)[0]
    resid = data.y - data.X @ beta
    out = []
    m = problem.y.shape[1]
    g_row = data.group[data.subject]
    for g, st in enumerate(problem.structures):
        sd = np.array([
            np.sqrt(np.mean(resid[(g_row == g) & (data.visit == v)] ** 2))
            if np.any((g_row == g) & (data.visit == v)) else np.std(resid) for v in range(m)
        ])
        sd = np.where(sd > 0, sd, max(np.std(resid), 1e-8))
        out.append(st.start(sd))
    return np.concatenate(out)


def fit_imputation_model(problem: Problem, idx: np.ndarray, theta0=None) -> ModelFit:
    """Fit the imputation MMRM to the subjects ``idx`` (repeats allowed: bootstrap).

    This is the one place where the imputation model is fitted. A repeated subject enters as a
    separate subject. ``theta0`` (e.g. the full-data estimate) starts the optimiser; the optimum
    it converges to does not depend on it when the likelihood has a single maximum.
    """
    idx = np.asarray(idx, dtype=np.int64)
    arm = problem.arm[idx]
    sel = problem.fit_mask[idx]
    rows_sub, rows_vis = np.nonzero(sel)
    X = problem.X[arm[rows_sub], idx[rows_sub], rows_vis]
    y = problem.y[idx[rows_sub], rows_vis]
    data = MMRMData(
        X=X, y=y, subject=rows_sub.astype(np.int64), visit=rows_vis.astype(np.int64),
        group=problem.cov_group[arm].astype(np.int64), structures=list(problem.structures),
        reml=problem.reml,
    )
    eng = Engine(data)
    st = None
    if theta0 is not None:
        theta, st = _newton_from(eng, np.asarray(theta0, dtype=float))
        converged, message = st is not None, "converged"
    if st is None:
        if theta0 is None or not np.isfinite(eng.objective(theta0)):
            theta0 = start_theta(problem, data)
        theta, converged, message = eng.fit(np.asarray(theta0, dtype=float))
        st = eng.state(theta)
    sigmas = tuple(s.sigma(theta[sl]) for s, sl in zip(problem.structures, data.theta_slices,
                                                       strict=True))
    return ModelFit(st.beta, sigmas, theta, bool(converged), message)


def _newton_from(eng: Engine, theta: np.ndarray, max_iter: int = 30):
    """Newton's method from a nearby start (a refit): (theta, state) or (theta, None).

    Each step solves with the analytic Hessian, backtracking while the Newton decrement is
    large; it stops once the decrement :math:`g^\top H^{-1} g` is below 1e-20 (or stops falling
    below 1e-16), i.e. at the optimum to rounding. It gives up (None) at a Hessian that is not
    positive definite or after ``max_iter`` steps; the caller then runs the engine's full fit.
    """
    prev = np.inf
    f = None
    for _ in range(max_iter):
        try:
            st = eng.state(theta, order=2)
            g = eng.gradient_at(st)
            c = linalg.cho_factor(eng.hessian_at(st), lower=True, check_finite=False)
        except (linalg.LinAlgError, ValueError):
            return theta, None
        step = -linalg.cho_solve(c, g, check_finite=False)
        dec = float(-(g @ step))
        if not np.isfinite(dec):
            return theta, None
        if dec < 1e-20 or (dec < 1e-16 and dec > 0.25 * prev):
            return theta, st
        if dec < 1e-12:  # quadratic convergence: the step leaves an error of order dec
            theta = theta + step
            try:
                return theta, eng.state(theta, order=0)
            except (linalg.LinAlgError, ValueError):
                return theta, None
        prev = dec
        if dec < 1e-4:
            theta, f = theta + step, None
            continue
        f = eng.objective(theta) if f is None else f
        t = 1.0
        for _ in range(30):
            f_new = eng.objective(theta + t * step)
            if np.isfinite(f_new) and f_new <= f - 1e-4 * t * dec:
                break
            t *= 0.5
        else:
            return theta, None
        theta, f = theta + t * step, f_new
    return theta, None


def _conditional(mu, S, y_obs, obs, miss, rng):
    """Conditional mean (and a draw when ``rng``) of the missing visits, stacked over subjects."""
    if obs.any():
        Soo = S[np.ix_(obs, obs)]
        Smo = S[np.ix_(miss, obs)]
        c = linalg.cho_factor(Soo, lower=True, check_finite=False)
        K = linalg.cho_solve(c, Smo.T, check_finite=False).T  # Smo Soo^-1
        out = mu[:, miss] + (y_obs - mu[:, obs]) @ K.T
        cov = S[np.ix_(miss, miss)] - K @ Smo.T
    else:
        out = mu[:, miss].copy()
        cov = S[np.ix_(miss, miss)]
    if rng is not None:
        L = np.linalg.cholesky(0.5 * (cov + cov.T))
        out = out + rng.standard_normal(out.shape) @ L.T
    return out


def impute(problem: Problem, fit: ModelFit, rng=None) -> np.ndarray:
    """Impute every missing value of the full data: conditional means, or draws when ``rng``.

    Returns
    -------
    ndarray (n_missing,)
        Imputed values in the row-major order of ``np.nonzero(problem.missing)``.
    """
    Y = problem.y.copy()
    m = Y.shape[1]
    visits = np.arange(m)
    mu_all = problem.X @ fit.beta  # (A, n, m)
    for grp in problem.groups:
        s = grp.subjects
        own = {"mu": mu_all[grp.arm, s], "sigma": fit.sigmas[problem.cov_group[grp.arm]]}
        ref = {"mu": mu_all[grp.ref, s], "sigma": fit.sigmas[problem.cov_group[grp.ref]]}
        index_mar = visits < grp.ice
        fn = problem.strategies[grp.strategy]
        miss = grp.missing
        obs = ~miss
        y_obs = Y[np.ix_(s, obs)]
        if problem.builtin[grp.strategy]:
            pars = fn(own, ref, index_mar)
            values = _conditional(np.asarray(pars["mu"]), np.asarray(pars["sigma"]), y_obs,
                                  obs, miss, rng)
        else:
            values = np.empty((len(s), int(miss.sum())))
            for j in range(len(s)):
                pars = fn({"mu": own["mu"][j], "sigma": own["sigma"]},
                          {"mu": ref["mu"][j], "sigma": ref["sigma"]}, index_mar.copy())
                values[j] = _conditional(np.atleast_2d(pars["mu"]), np.asarray(pars["sigma"]),
                                         y_obs[j:j + 1], obs, miss, rng)[0]
        Y[np.ix_(s, miss)] = values
    return Y[problem.missing]


def bootstrap_indices(arm: np.ndarray, rng) -> np.ndarray:
    """A bootstrap sample of subjects, stratified by ``arm`` (the arm, or rbmi's ``strata``:
    each stratum keeps its size, as rbmi's ``sample_ids``), in stratum order."""
    parts = []
    for a in np.unique(arm):
        members = np.flatnonzero(arm == a)
        parts.append(members[rng.integers(0, len(members), size=len(members))])
    return np.concatenate(parts)


def sample_indices(problem: Problem, kind: str, i: int, seed) -> tuple[np.ndarray, object]:
    """Subjects of sample ``i`` and its random generator (None for the jackknife).

    Each sample's stream is ``SeedSequence(seed).spawn(n)[i]`` (spawn key ``(i,)``), so a sample
    is the same whichever worker runs it and however many samples run beside it.
    """
    n = problem.n_subjects
    if kind == "jackknife":
        return np.delete(np.arange(n), i), None
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(i,)))
    strata = problem.arm if problem.strata is None else problem.strata
    return bootstrap_indices(strata, rng), rng


def impute_sample(problem: Problem, fit: ModelFit, idx: np.ndarray, rng) -> np.ndarray:
    """Completed outcomes (len(idx), m) of a bootstrap sample, by random draws in which every
    copy of a subject drawn more than once gets its own independent draw (as rbmi imputes each
    sampled id of ``method_bmlmi``): the k-th copy of each subject takes the k-th of
    independent full-data draws."""
    occurrence = np.zeros(len(idx), dtype=np.int64)
    seen: dict = {}
    for j, s in enumerate(idx):
        occurrence[j] = seen.get(int(s), 0)
        seen[int(s)] = occurrence[j] + 1
    out = problem.y[idx].copy()
    for k in range(int(occurrence.max()) + 1):
        Y = problem.y.copy()
        Y[problem.missing] = impute(problem, fit, rng)
        rows = occurrence == k
        out[rows] = Y[idx[rows]]
    return out


def run_sample(problem: Problem, kind: str, i: int, seed, theta0, n_imputations: int = 1):
    """Fit and impute one sample.

    Parameters
    ----------
    kind : {"jackknife", "bootstrap", "approxbayes", "bmlmi"}
        Jackknife sample ``i`` leaves subject ``i`` out; bootstrap samples are stratified by arm.
        ``"approxbayes"`` imputes the original data by draws from the bootstrap fit;
        ``"bmlmi"`` imputes the bootstrap sample itself ``n_imputations`` times by draws
        (rbmi's ``method_bmlmi``, D = ``n_imputations``).

    A tuple of problems whose data and imputation model are the same (only the subjects'
    strategies differ) is fitted once and imputed under each, for the deterministic schemes
    (jackknife, condmean bootstrap): ``imputed`` is then a tuple, one per problem.

    Returns
    -------
    (idx, imputed, converged, message)
        The sample's subjects (analysed rows; all subjects for approxbayes), the imputed values
        of the full data (see :func:`impute`), and the fit's convergence. For ``"bmlmi"``,
        ``imputed`` is a tuple of ``n_imputations`` completed outcome matrices of the sample's
        rows (:func:`impute_sample`).
    """
    if isinstance(problem, tuple):  # problems that differ only in their strategies
        idx, rng = sample_indices(problem[0], kind, i, seed)
        fit = fit_imputation_model(problem[0], idx, theta0)
        return idx, tuple(impute(p, fit) for p in problem), fit.converged, fit.message
    idx, rng = sample_indices(problem, kind, i, seed)
    fit = fit_imputation_model(problem, idx, theta0)
    if kind == "bmlmi":
        values = tuple(impute_sample(problem, fit, idx, rng) for _ in range(n_imputations))
    elif kind == "approxbayes":
        values = impute(problem, fit, rng)
        idx = np.arange(problem.n_subjects)
    else:
        values = impute(problem, fit)
    return idx, values, fit.converged, fit.message
