"""Array engine of reference-based imputation: fit the imputation MMRM, impute, run one sample.

Everything here takes NumPy arrays (a :class:`Problem` built once by :mod:`.api`) and never
touches pandas, so that the hundreds of refits of a jackknife or bootstrap cost only the MMRM
engine itself: the design rows of every subject are built once, and a sample is a vector of
subject indices into them.

The imputation model is ``ts.mmrm``'s, fitted through its refit path (one
:class:`~trialstats.MMRMProblem` per call: the full data, each jackknife or bootstrap sample and
each approximate-Bayes draw are refits of it), by REML/ML to the observed outcomes that are not after an ICE with a non-MAR strategy. Given its
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

import warnings
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy import linalg
from scipy.linalg import lapack as _lapack

from ..errors import ConvergenceWarning, ModelError
from ..longitudinal.mmrm._fit import SubjectArrays
from ..longitudinal.mmrm.problem import MMRMProblem

__all__ = ["Problem", "ImputationGroup", "fit_imputation_model", "impute", "refit_problem",
           "run_sample"]


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

    @cached_property
    def refit(self):
        """``(MMRMProblem, subject index)`` of the imputation model (:func:`refit_problem`),
        built once (before local workers fork, so they inherit it)."""
        return refit_problem(self)


@dataclass(frozen=True)
class ModelFit:
    """One fit of the imputation model."""

    beta: np.ndarray
    sigmas: tuple  # per covariance group (m, m)
    theta: np.ndarray
    converged: bool
    message: str


def refit_problem(problem: Problem):
    """The imputation model as an :class:`~trialstats.MMRMProblem` (the refit path of ts.mmrm).

    Its rows are the outcomes used by the model (``fit_mask``), subject by subject and visit by
    visit, with each subject's own-arm design row; its subjects are those with at least one such
    row, in the order of ``problem`` (a subject without any adds nothing to the likelihood).

    Returns
    -------
    (MMRMProblem, ndarray (n,) of int)
        The problem, and the problem's subject index of each subject of ``problem`` (-1: no
        rows).
    """
    n, m = problem.y.shape
    rows_sub, rows_vis = np.nonzero(problem.fit_mask)
    has = problem.fit_mask.any(axis=1)
    index = np.full(n, -1, dtype=np.int64)
    index[has] = np.arange(int(has.sum()))
    n_groups = len(problem.structures)
    arrays = SubjectArrays(
        subject=index[rows_sub], visit=rows_vis.astype(np.int64),
        group=problem.cov_group[problem.arm[has]].astype(np.int64),
        subject_ids=np.flatnonzero(has), visit_levels=tuple(range(m)),
        group_levels=tuple(range(n_groups)) if n_groups > 1 else ())
    X = problem.X[problem.arm[rows_sub], rows_sub, rows_vis]
    y = problem.y[rows_sub, rows_vis]
    return MMRMProblem.from_arrays(X, y, arrays, problem.structures, reml=problem.reml), index


def fit_imputation_model(problem: Problem, idx: np.ndarray, theta0=None) -> ModelFit:
    """Fit the imputation MMRM to the subjects ``idx`` (repeats allowed: bootstrap).

    This is the one place where the imputation model is fitted, by ``ts.mmrm``'s refit path
    (:func:`refit_problem`, :meth:`~trialstats.MMRMProblem.fit`): a repeated subject enters as a
    separate subject. Without ``theta0`` the fit starts as ``ts.mmrm`` does; ``theta0`` (e.g. the
    full-data estimate) starts it from there (a warm start; the optimum does not depend on it
    when the likelihood has a single maximum). Non-convergence is reported in the result, not
    warned here (the caller counts it over samples).
    """
    mmrm, index = problem.refit
    idx = np.asarray(idx, dtype=np.int64)
    sub = index[idx]
    sub = sub[sub >= 0]
    every = len(sub) == mmrm.n_subjects and bool(np.all(sub == np.arange(len(sub))))
    subjects = None if every else sub
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        try:
            est = mmrm.fit(subjects=subjects, start="fresh" if theta0 is None else theta0)
        except ModelError:
            if theta0 is None:
                raise
            est = mmrm.fit(subjects=subjects)  # the warm start could not be evaluated
    return ModelFit(est.beta, est.sigmas, est.theta, est.converged, est.message)


def _conditional(mu, S, y_obs, obs, miss, rng):
    """Conditional mean (and a draw when ``rng``) of the missing visits, stacked over subjects.

    ``obs`` and ``miss`` are visit indices. The Cholesky factor and solve are LAPACK's potrf
    and potrs, called directly (what ``scipy.linalg.cho_factor`` / ``cho_solve`` call, without
    their ~10 us of checks per call: this runs once per imputation group and sample).
    """
    Smm = S[miss][:, miss]
    if len(obs):
        Soo = S[obs][:, obs]
        Smo = S[miss][:, obs]
        c, info = _lapack.dpotrf(Soo, lower=1, clean=0)
        if info != 0:
            raise linalg.LinAlgError(f"{info}-th leading minor not positive definite")
        Kt, info = _lapack.dpotrs(c, Smo.T, lower=1)  # Soo^-1 Smo'
        K = Kt.T  # Smo Soo^-1
        out = mu[:, miss] + (y_obs - mu[:, obs]) @ K.T
        cov = Smm - K @ Smo.T
    else:
        out = mu[:, miss].copy()
        cov = Smm
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
        miss = np.flatnonzero(grp.missing)
        obs = np.flatnonzero(~grp.missing)
        y_obs = Y[s[:, None], obs]
        if problem.builtin[grp.strategy]:
            pars = fn(own, ref, index_mar)
            values = _conditional(np.asarray(pars["mu"]), np.asarray(pars["sigma"]), y_obs,
                                  obs, miss, rng)
        else:
            values = np.empty((len(s), len(miss)))
            for j in range(len(s)):
                pars = fn({"mu": own["mu"][j], "sigma": own["sigma"]},
                          {"mu": ref["mu"][j], "sigma": ref["sigma"]}, index_mar.copy())
                values[j] = _conditional(np.atleast_2d(pars["mu"]), np.asarray(pars["sigma"]),
                                         y_obs[j:j + 1], obs, miss, rng)[0]
        Y[s[:, None], miss] = values
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
    try:
        fit = fit_imputation_model(problem, idx, theta0)
    except ModelError as e:  # e.g. a bootstrap sample without any subject at a visit
        raise ModelError(f"rbmi: {kind} sample {i}: {e}") from e
    if kind == "bmlmi":
        values = tuple(impute_sample(problem, fit, idx, rng) for _ in range(n_imputations))
    elif kind == "approxbayes":
        values = impute(problem, fit, rng)
        idx = np.arange(problem.n_subjects)
    else:
        values = impute(problem, fit)
    return idx, values, fit.converged, fit.message
