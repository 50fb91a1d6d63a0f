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
        Exponent of rho between the subject's times (distance or squared distance).
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
        Subject index and index of the row's time into the structure's ``coords``.
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
