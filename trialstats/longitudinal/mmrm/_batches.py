"""Subjects batched by number of observations: the data layout of the spatial covariances.

A spatial covariance (:mod:`.spatial`) gives each subject the block :math:`\\Sigma_i =
\\sigma^2\\rho^{D_i}` at its own times, so with irregular days no two subjects need share a
covariance block and grouping into missingness patterns (:mod:`._patterns`) gives one pattern
per subject. Here subjects are grouped instead by (covariance group, number of observations k):
each batch keeps its subjects' rows as stacked arrays, X (n, k, p), y (n, k) and the exponents
D (n, k, k), so that the engine (:mod:`._spatial_engine`) evaluates all blocks of a batch in a
few batched NumPy calls. Memory is linear in the rows (k^2 per subject for D).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Batch", "build_batches"]


@dataclass(frozen=True)
class Batch:
    """The subjects of one covariance group with ``k`` observations each.

    Attributes
    ----------
    group : int
        Covariance group.
    subjects : ndarray (n,)
        Subject indices.
    rows : ndarray (n, k)
        Row indices into the data, each subject's rows by increasing time.
    power : ndarray (n, k, k)
        Exponent of rho between the subject's times or points (distance or squared distance;
        Euclidean for points of several coordinates).
    X : ndarray (n, k, p)
    y : ndarray (n, k)
    """

    group: int
    subjects: np.ndarray
    rows: np.ndarray
    power: np.ndarray
    X: np.ndarray
    y: np.ndarray


def build_batches(X, y, subject, visit, group, structures) -> list[Batch]:
    """Batches of an MMRM problem with spatial structures (one per group).

    Parameters
    ----------
    X : ndarray (N, p)
    y : ndarray (N,)
    subject, visit : ndarray (N,) of int
        Subject index and index of the row's time (or point) into the structure's ``coords``.
    group : ndarray (n_subjects,) of int
    structures : list of SpatialStructure

    Returns
    -------
    list of Batch
        Sorted by (group, k).
    """
    n_sub = int(group.shape[0])
    order = np.lexsort((visit, subject))  # rows by subject, then time
    counts = np.bincount(subject, minlength=n_sub)
    starts = np.cumsum(counts) - counts
    keys = group.astype(np.int64) * (int(counts.max()) + 1) + counts
    present = counts > 0
    uniq, inv = np.unique(keys[present], return_inverse=True)
    subs_present = np.flatnonzero(present)
    by_key = np.argsort(inv, kind="stable")
    bounds = np.zeros(len(uniq) + 1, dtype=np.int64)
    np.cumsum(np.bincount(inv, minlength=len(uniq)), out=bounds[1:])
    batches = []
    for b in range(len(uniq)):
        subs = subs_present[by_key[bounds[b]:bounds[b + 1]]]
        k = int(counts[subs[0]])
        g = int(group[subs[0]])
        rows = order[starts[subs][:, None] + np.arange(k)]
        st = structures[g]
        times = np.asarray(st.coords, dtype=float)[visit[rows]]
        batches.append(Batch(group=g, subjects=subs, rows=rows, power=st.batch_power(times),
                             X=X[rows], y=y[rows]))
    return batches


# blocks up to this size, in batches of at least MIN_UNROLLED_BATCH subjects, are factorised by
# loops over their entries, each step vectorised over the subjects (numpy.linalg's batched
# routines pay per matrix: for 4,000 blocks of 6 x 6 they take ~3x longer); larger blocks and
# small batches use numpy.linalg
MAX_UNROLLED = 8
MIN_UNROLLED_BATCH = 64


def cholesky_inverse(S: np.ndarray):
    """Inverse Cholesky factors of a stack of positive definite blocks.

    Parameters
    ----------
    S : ndarray (n, k, k)

    Returns
    -------
    Li : ndarray (n, k, k)
        Lower triangular with :math:`S = L L^\\top`, :math:`L_i^{-1}` = ``Li``.
    W : ndarray (n, k, k)
        :math:`S^{-1} = L^{-\\top} L^{-1}`.
    logdet : float
        :math:`\\sum_i \\log|S_i|`.

    Raises
    ------
    numpy.linalg.LinAlgError
        When a block is not positive definite.
    """
    n, k, _ = S.shape
    if k > MAX_UNROLLED or n < MIN_UNROLLED_BATCH:
        L = np.linalg.cholesky(S)
        Li = np.linalg.inv(L)
        logdet = 2.0 * float(np.log(np.diagonal(L, axis1=1, axis2=2)).sum())
        return Li, np.swapaxes(Li, 1, 2) @ Li, logdet
    St = np.ascontiguousarray(S.transpose(1, 2, 0))  # (k, k, n): each entry a vector over subjects
    L = np.zeros_like(St)
    Li = np.zeros_like(St)
    logdet = 0.0
    for j in range(k):  # Cholesky, column by column
        s = St[j, j].copy()
        for c in range(j):
            s -= L[j, c] * L[j, c]
        if not np.all(s > 0):
            raise np.linalg.LinAlgError("a subject's covariance block is not positive definite")
        d = np.sqrt(s)
        L[j, j] = d
        logdet += 2.0 * float(np.log(d).sum())
        inv = 1.0 / d
        for a in range(j + 1, k):
            r = St[a, j].copy()
            for c in range(j):
                r -= L[a, c] * L[j, c]
            L[a, j] = r * inv
    for i in range(k):  # L^-1 by forward substitution
        inv = 1.0 / L[i, i]
        Li[i, i] = inv
        for b in range(i):
            r = L[i, b] * Li[b, b]
            for c in range(b + 1, i):
                r += L[i, c] * Li[c, b]
            Li[i, b] = -r * inv
    W = np.empty_like(St)
    for a in range(k):  # W = Li' Li (symmetric)
        for b in range(a, k):
            c0 = b  # Li[c, a] Li[c, b] is nonzero for c >= max(a, b) = b
            w = Li[c0, a] * Li[c0, b]
            for c in range(c0 + 1, k):
                w += Li[c, a] * Li[c, b]
            W[a, b] = w
            if a != b:
                W[b, a] = w
    return Li.transpose(2, 0, 1), np.ascontiguousarray(W.transpose(2, 0, 1)), logdet


def spatial_start(X, y, batches: list[Batch], structures, theta_slices) -> np.ndarray:
    """Start values of spatial structures from the OLS residuals of consecutive observations.

    Per covariance group: :math:`\\sigma^2` is the mean squared residual, and :math:`\\rho` the
    moment estimate :math:`\\mathrm{mean}_j\\,\\rho^{D_j} = \\bar c` over the pairs j of
    consecutive observations of a subject (:math:`D_j` their exponent: distance, or squared
    distance for ``sp_gau``; :math:`\\bar c` the mean residual product over :math:`\\sigma^2`,
    clipped to [0.05, 0.95]), solved by Newton steps in :math:`s = -\\log\\rho` from
    :math:`\\bar c^{1/\\bar D}` (the left side is convex and decreasing in s, and larger than
    :math:`\\bar c` there by Jensen's inequality, so the steps increase s monotonically to the
    root). A group without two observations of a subject starts as
    :meth:`.spatial.SpatialStructure.start`.
    """
    beta = np.linalg.solve(X.T @ X, X.T @ y)  # OLS, as start_theta
    theta = np.zeros(theta_slices[-1].stop)
    for g, (st, sl) in enumerate(zip(structures, theta_slices, strict=True)):
        ss = n = prod = 0.0
        dist = []
        for b in batches:
            if b.group != g:
                continue
            r = b.y - (b.X.reshape(-1, X.shape[1]) @ beta).reshape(b.y.shape)
            ss += float(np.sum(r * r))
            n += r.size
            if r.shape[1] > 1:
                prod += float(np.sum(r[:, :-1] * r[:, 1:]))
                dist.append(np.diagonal(b.power, offset=1, axis1=1, axis2=2).ravel())
        var = ss / n if n and ss > 0 else 1.0
        x = np.concatenate(dist) if dist else np.zeros(0)
        if x.size == 0 or not np.all(x > 0):
            theta[sl] = st.start(np.array([np.sqrt(var)]))
            continue
        c = min(max(prod / (x.size * var), 0.05), 0.95)
        s = -np.log(c) / float(np.mean(x))
        for _ in range(20):
            e = np.exp(-s * x)
            step = (float(np.mean(e)) - c) / float(np.mean(x * e))
            s += step
            if step <= 1e-8 * s:
                break
        rho = np.exp(-s)
        theta[sl] = [np.log(var), np.log(rho) - np.log1p(-rho)]
    return theta
