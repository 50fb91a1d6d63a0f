"""The grouped data of a sample of subjects, from the grouped data of all of them.

A jackknife or bootstrap refit needs the :class:`._patterns.MMRMData` of the sample: its rows
grouped into missingness patterns with each pattern's sufficient statistics. Building it from
the rows (:class:`MMRMData`'s constructor) repeats work that does not change between samples:
sorting the rows, finding each subject's pattern, and, for a pattern whose subjects are exactly
those of the full data (all patterns but one in a jackknife sample), the products
:math:`M_p, T_p, Y_p` themselves.

:func:`sample_data` builds the same object from the full data's patterns: each sample subject
keeps its pattern, patterns keep their order (by covariance group and bit mask of observed
visits), subjects within a pattern are in sample order, and each pattern's design rows ``Xp`` are
gathered from the full pattern's. The products are then those of the constructor on identical
arrays (the same values, contiguous, in the same order), or the full pattern's own when its
subject sequence is unchanged, so the result is *bitwise* the constructor's; the tests compare
them field by field.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass

import numpy as np

from . import _stacked
from ._patterns import MMRMData, Pattern

__all__ = ["PatternIndex", "sample_data"]


@dataclass(frozen=True)
class PatternIndex:
    """Where each subject of the full data sits in its patterns (built once per problem).

    Attributes
    ----------
    pattern : ndarray (n,) of int
        Pattern index (into ``data.patterns``) of each subject.
    position : ndarray (n,) of int
        Row of the subject in its pattern's ``Xp`` / ``rows``.
    rank : ndarray (N,) of int
        For the rows of the fit taken subject by subject (rows of each subject in their original
        order), the offset within its subject of the row holding the k-th visit, so that a
        subject whose rows start at ``s`` in a sample has its visit-sorted rows at
        ``s + rank[start[subject] + k]``.
    start : ndarray (n,) of int
        First position of each subject in that subject-by-subject row order.
    visits : ndarray (P,) of int
        Visits observed in each pattern.
    """

    pattern: np.ndarray
    position: np.ndarray
    rank: np.ndarray
    start: np.ndarray
    visits: np.ndarray

    @classmethod
    def of(cls, data: MMRMData, order: np.ndarray, starts: np.ndarray) -> PatternIndex:
        """Index of ``data`` (all subjects); ``order``/``starts``: rows subject by subject."""
        n = len(data.group)
        pattern = np.empty(n, dtype=np.int64)
        position = np.empty(n, dtype=np.int64)
        for k, pat in enumerate(data.patterns):
            pattern[pat.subjects] = k
            position[pat.subjects] = np.arange(len(pat.subjects))
        subj = data.subject[order]
        by_visit = np.lexsort((data.visit[order], subj))  # as MMRMData sorts the rows
        rank = by_visit - starts[subj[by_visit]]
        visits = np.array([pat.rows.shape[1] for pat in data.patterns], dtype=np.int64)
        return cls(pattern, position, rank, starts, visits)


def sample_data(data: MMRMData, index: PatternIndex, idx: np.ndarray, counts: np.ndarray,
                X: np.ndarray, y: np.ndarray, group: np.ndarray, subject: np.ndarray,
                visit: np.ndarray, log_weight: float, same_outcome: bool) -> MMRMData:
    """The :class:`MMRMData` of subjects ``idx`` (in order; repeats are distinct subjects).

    Parameters
    ----------
    data : MMRMData
        All subjects (the fit's rows, weights applied).
    index : PatternIndex
        Of ``data``.
    idx : ndarray (n_s,) of int
        Subjects of the sample.
    counts : ndarray (n_s,) of int
        Rows of each sample subject.
    X, y : ndarray
        The sample's rows (weights applied), subject after subject, as the constructor takes
        them; ``y`` is used for the outcome statistics unless ``same_outcome``.
    group, subject, visit : ndarray
        The sample's codes (as :class:`MMRMData`'s constructor takes them).
    log_weight : float
        Sum of the log weights of the sample's rows.
    same_outcome : bool
        ``y`` is the outcome of ``data`` (its T and Y can be reused).

    Returns
    -------
    MMRMData
        Equal, field by field and bitwise, to ``MMRMData(X, y, subject, visit, group, ...)``.
    """
    p = data.X.shape[1]
    pk = index.pattern[idx]
    n_pat = len(data.patterns)
    by_pattern = np.argsort(pk, kind="stable")
    sizes = np.bincount(pk, minlength=n_pat)
    bounds = np.zeros(n_pat + 1, dtype=np.int64)
    np.cumsum(sizes, out=bounds[1:])
    first = np.cumsum(counts) - counts  # first row of each sample subject
    # the visit-sorted rows of every subject, subjects in pattern order, in one pass
    orig_all = idx[by_pattern]
    c = counts[by_pattern]
    at = np.arange(int(c.sum())) - np.repeat(np.cumsum(c) - c, c)  # k-th row of its subject
    rows_all = (np.repeat(first[by_pattern], c)
                + index.rank[np.repeat(index.start[orig_all], c) + at])
    row_bounds = np.zeros(n_pat + 1, dtype=np.int64)
    np.cumsum(sizes * index.visits, out=row_bounds[1:])
    present = np.flatnonzero(sizes)
    patterns, changed = [], []
    for j, k in enumerate(present):
        full = data.patterns[k]
        subs = by_pattern[bounds[k]:bounds[k + 1]]
        orig = orig_all[bounds[k]:bounds[k + 1]]
        mp = int(index.visits[k])
        rows = rows_all[row_bounds[k]:row_bounds[k + 1]].reshape(len(subs), mp)
        if len(orig) == len(full.subjects) and bool((orig == full.subjects).all()):
            Xp, M = full.Xp, full.M  # the same rows in the same order: the same products
            if same_outcome:
                patterns.append(Pattern(full.group, full.visits, subs, rows, M, full.T,
                                        full.Y, Xp))
                continue
        else:
            Xp = full.Xp[index.position[orig]]
            X2 = Xp.reshape(len(orig), mp * p)
            M = (X2.T @ X2).reshape(mp, p, mp, p).transpose(0, 2, 1, 3).reshape(mp * mp, p * p)
        X2 = Xp.reshape(len(orig), mp * p)
        yp = y[rows]
        T = (X2.T @ yp).reshape(mp, p, mp).transpose(0, 2, 1).reshape(mp * mp, p)
        patterns.append(Pattern(full.group, full.visits, subs, rows, M, T, yp.T @ yp, Xp))
        changed.append(j)
    new = copy.copy(data)
    new.X = np.ascontiguousarray(X, dtype=float)
    new.y = np.asarray(y, dtype=float)
    new.subject, new.visit, new.group = subject, visit, group
    new.log_weight = log_weight
    new.patterns = patterns
    m = data.structures[0].n_visits
    if data.stacked is not None and len(present) == len(data.patterns):
        new.stacked = _restack(data.stacked, patterns, changed, sizes, m)
    else:
        new.stacked = _stacked.stack_patterns(patterns, m, p, len(data.structures))
    return new


def _restack(s, patterns, changed, sizes, m: int):
    """The stacked statistics of a sample with every pattern of the full data: the full data's,
    with the patterns in ``changed`` embedded anew (what :func:`._stacked.stack_patterns` does,
    without redoing the unchanged ones)."""
    if changed:
        if len(changed) == len(patterns):  # nothing to keep (e.g. a bootstrap sample)
            M, T, Y = np.zeros_like(s.M), np.zeros_like(s.T), np.zeros((len(patterns), m * m))
        else:
            M, T, Y = s.M.copy(), s.T.copy(), s.Y.reshape(len(patterns), m * m).copy()
        for j in changed:
            pat = patterns[j]
            v = pat.visits
            flat = (v[:, None] * m + v[None, :]).ravel()
            M[j, flat] = pat.M
            T[j, flat] = pat.T
            Y[j, flat] = pat.Y.ravel()
        s = dataclasses.replace(s, M=M, T=T, Y=Y.reshape(len(patterns), m, m))
    return dataclasses.replace(s, n=sizes.astype(float))
