"""From coded arrays to a fitted engine: shared by :func:`.api.mmrm` and :mod:`.problem`.

Both the formula front end and the repeated-fit path call :func:`fit_arrays` with the same
arrays in the same row order, so a refit and a fresh fit of the same data take the same steps
(same start, same Newton iterations) and give identical numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import lapack as _lapack

from ..._blas import one_blas_thread
from ...errors import ModelError
from . import _stacked
from ._batches import spatial_start
from ._engine import fit_engine
from ._patterns import MMRMData
from .covariance import _us_index

__all__ = ["SubjectArrays", "fit_arrays", "one_blas_thread", "start_theta"]



@dataclass(frozen=True)
class SubjectArrays:
    """Codes of the rows used by a fit (row order of ``design.X``).

    Attributes
    ----------
    subject : ndarray (N,) of int
        Subject index 0..n-1, in order of first appearance.
    visit : ndarray (N,) of int
        Visit index 0..m-1 into ``visit_levels``.
    group : ndarray (n,) of int
        Covariance group of each subject (all 0 without ``group=``).
    subject_ids : ndarray (n,)
        Subject identifier of each subject index.
    visit_levels, group_levels : tuple
        Visit levels (covariance time points) and covariance groups (empty when ungrouped).
    weights : ndarray (N,) or None
        Observation weights (SAS ``WEIGHT``): subject i's residual covariance is
        :math:`W_i^{-1/2}\\Sigma W_i^{-1/2}`.
    """

    subject: np.ndarray
    visit: np.ndarray
    group: np.ndarray
    subject_ids: np.ndarray
    visit_levels: tuple
    group_levels: tuple
    weights: np.ndarray | None = None


def start_theta(X, y, arrays: SubjectArrays, structures) -> np.ndarray:
    """Start values from the residuals of an OLS fit, per covariance group.

    Unstructured: the pairwise (available-case) residual covariance when it is positive
    definite, in ``mmrm``'s parameterisation (fewer Newton steps than from zero correlations);
    otherwise, and for the other structures, the per-visit residual SD and zero correlations.
    """
    beta_ols = np.linalg.solve(X.T @ X, X.T @ y)
    resid = y - X @ beta_ols
    sd_all = np.std(resid)
    m = len(arrays.visit_levels)
    g_row = arrays.group[arrays.subject]
    theta0 = []
    for g, st in enumerate(structures):
        key = arrays.visit[g_row == g]
        r2 = resid[g_row == g] ** 2
        n = np.bincount(key, minlength=m)
        with np.errstate(invalid="ignore", divide="ignore"):
            sd = np.sqrt(np.bincount(key, weights=r2, minlength=m) / n)
        sd = np.where(n > 0, sd, sd_all)
        sd = np.where(sd > 0, sd, max(sd_all, 1e-8))
        start = _us_start(resid, arrays, g_row == g, m) if st.name == "us" else None
        theta0.append(start if start is not None else st.start(sd))
    return np.concatenate(theta0)


def start_theta_stacked(data: MMRMData) -> np.ndarray:
    """:func:`start_theta` from the stacked sufficient statistics (no pass over the rows).

    The same estimator: OLS from :math:`X^\\top X = \\sum_p \\sum_a M_p[a, a]`; per visit and group
    residual sums of squares and the pairwise residual cross-products :math:`\\sum_i r_i r_i^\\top`
    are the pattern sums of :func:`._stacked.residual_crossprods` at the OLS estimate; the
    observation counts are :math:`\\sum_p n_p` over the patterns observing both visits. Equal to
    :func:`start_theta` up to rounding (sums in another order).
    """
    s = data.stacked
    P, m, _ = s.Y.shape
    p = data.n_beta
    diag = np.arange(m) * (m + 1)  # the (a, a) cells of the m x m grid
    XtX = s.M[:, diag].sum(axis=(0, 1)).reshape(p, p)
    # LAPACK's Cholesky solve directly (X'X is positive definite once aliasing is ruled out):
    # numpy.linalg's wrappers cost more than the p x p arithmetic in a refit
    _, beta_ols, info = _lapack.dposv(XtX, s.T[:, diag].sum(axis=(0, 1)), lower=1)
    if info != 0:
        raise np.linalg.LinAlgError("X'X is not positive definite")
    C = _stacked.residual_crossprods(s, beta_ols)  # (P, m, m)
    N = s.n[:, None, None] * s.mask  # observations of each visit pair, per pattern
    ii = np.arange(m)
    sd_all = None
    theta0 = []
    for g, st in enumerate(data.structures):
        idx = s.by_group[g]
        Cg = C[idx].sum(axis=0)
        Ng = N[idx].sum(axis=0)
        n = Ng[ii, ii]
        start = None
        if st.name == "us" and not np.any(Ng < 2):
            start = _us_theta(Cg / Ng, m)
        if start is None:
            with np.errstate(invalid="ignore", divide="ignore"):
                sd = np.sqrt(Cg[ii, ii] / n)
            if np.any(n == 0) or not np.all(sd > 0):
                if sd_all is None:
                    sd_all = float(np.std(data.y - data.X @ beta_ols))
                sd = np.where(n > 0, sd, sd_all)
                sd = np.where(sd > 0, sd, max(sd_all, 1e-8))
            start = st.start(sd)
        theta0.append(start)
    return np.concatenate(theta0)


def _us_theta(S: np.ndarray, m: int):
    """theta (us parameterisation) of the covariance matrix S, or None if not PD."""
    L, info = _lapack.dpotrf(S, lower=1, clean=1)  # lower factor, upper triangle zeroed
    if info != 0:
        return None
    s = np.diag(L)
    if not np.all(np.isfinite(L)) or np.any(s <= 0):
        return None
    rows, cols = _us_index(m)[:2]  # row by row, as covariance._us fills U
    return np.concatenate([np.log(s), (L / s[:, None])[rows, cols]])


def _us_start(resid, arrays: SubjectArrays, in_group, m: int):
    """theta of the pairwise residual covariance (us parameterisation), or None if not PD."""
    n_sub = len(arrays.group)
    R = np.zeros((n_sub, m))
    seen = np.zeros((n_sub, m))
    R[arrays.subject[in_group], arrays.visit[in_group]] = resid[in_group]
    seen[arrays.subject[in_group], arrays.visit[in_group]] = 1.0
    N = seen.T @ seen
    if np.any(N < 2):
        return None
    try:
        L = np.linalg.cholesky((R.T @ R) / N)
    except np.linalg.LinAlgError:
        return None
    s = np.diag(L)
    if not np.all(np.isfinite(L)) or np.any(s <= 0):
        return None
    rows, cols = _us_index(m)[:2]  # row by row, as covariance._us fills U
    return np.concatenate([np.log(s), (L / s[:, None])[rows, cols]])


def weighted(X, y, arrays: SubjectArrays):
    """Rows scaled by sqrt(weight) (an unweighted MMRM in Sigma) and sum of log weights."""
    if arrays.weights is None:
        return X, y, 0.0
    sw = np.sqrt(arrays.weights)
    return X * sw[:, None], (None if y is None else y * sw), float(np.sum(np.log(arrays.weights)))


def scaled_outcome(y, arrays: SubjectArrays):
    """The outcome scaled as :func:`weighted` scales it."""
    return y if arrays.weights is None else y * np.sqrt(arrays.weights)


def make_data(X, y, arrays: SubjectArrays, structures, *, reml: bool) -> MMRMData:
    """The :class:`MMRMData` of coded rows (weights applied)."""
    Xw, yw, log_weight = weighted(X, y, arrays)
    return MMRMData(X=Xw, y=yw, subject=arrays.subject, visit=arrays.visit, group=arrays.group,
                    structures=list(structures), reml=reml, log_weight=log_weight)


@one_blas_thread
def fit_arrays(X, y, arrays: SubjectArrays, structures, *, reml: bool, stacklevel: int = 5,
               data: MMRMData | None = None, start=None, optimizer: str = "newton",
               theta0: np.ndarray | None = None):
    """Group into missingness patterns, start, and fit.

    ``data``, when given, must be the :class:`MMRMData` of exactly these arrays. ``start``
    (theta; ``theta0`` is the same, the name the refit path uses for its warm start) replaces
    the OLS-residual start values; ``optimizer`` other than "newton" is a scipy method (see
    :mod:`.optim`).

    Returns
    -------
    (engine, theta, converged, message) as :func:`._engine.fit_engine`.
    """
    if data is None:  # else: the caller's MMRMData of these arrays (see MMRMData.with_outcome)
        data = make_data(X, y, arrays, structures, reml=reml)
    try:
        if start is None:
            start = theta0
        if start is not None:
            theta0 = np.array(start, dtype=float)
        elif data.stacked is not None:
            theta0 = start_theta_stacked(data)
        elif data.batches is not None:  # spatial: per-subject blocks (._batches)
            theta0 = spatial_start(data.X, data.y, data.batches, structures, data.theta_slices)
        else:
            theta0 = start_theta(data.X, data.y, arrays, structures)
        if optimizer != "newton":
            from ._engine import make_engine
            from .optim import scipy_fit

            eng = make_engine(data)
            return (eng, *scipy_fit(eng, theta0, optimizer, stacklevel=stacklevel + 1))
        return fit_engine(data, theta0, stacklevel=stacklevel)
    except np.linalg.LinAlgError as e:  # e.g. "SVD did not converge" on extreme values
        raise ModelError(f"mmrm: the {structures[0].name} fit failed in linear algebra ({e}); "
                         "check the outcome and covariates for extreme values, or use a simpler "
                         "covariance structure") from e
