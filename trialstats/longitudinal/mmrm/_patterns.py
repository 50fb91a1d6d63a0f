"""Missingness patterns: the MMRM data grouped once into per-pattern sufficient statistics.

Subjects that share a covariance group and a set of observed visits share
:math:`\\Sigma_i^{-1}`; :class:`MMRMData` groups the rows into such patterns with NumPy
(``np.unique`` on a bit mask of observed visits per subject) and computes each pattern's
sufficient statistics once (see :mod:`._engine` for how they are used), and, when small enough,
the same statistics stacked in the full visit space (:mod:`._stacked`). Spatial structures
(:mod:`.spatial`) give each subject its own block at its own times, so their data are grouped
instead into batches of subjects with the same number of observations (:mod:`._batches`,
``MMRMData.batches``; ``patterns`` is then empty), fitted by :mod:`._spatial_engine`.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field

import numpy as np

from . import _stacked
from ._batches import build_batches
from .spatial import SpatialStructure

__all__ = ["MMRMData", "Pattern"]


@dataclass
class Pattern:
    """Subjects of one covariance group sharing the same observed visits."""

    group: int
    visits: np.ndarray  # visit indices observed (sorted)
    subjects: np.ndarray  # subject indices
    rows: np.ndarray  # (n_p, m_p) row indices into the data
    M: np.ndarray  # (m_p*m_p, p*p)
    T: np.ndarray  # (m_p*m_p, p)  T[a*m_p+b, k] = sum_i x_iak y_ib
    Y: np.ndarray  # (m_p, m_p)
    Xp: np.ndarray  # (n_p, m_p, p) the subjects' design rows

    def xtax(self, A: np.ndarray) -> np.ndarray:
        """sum_i X_i' A X_i for stacked A (..., m_p, m_p) -> (..., p, p).

        Uses the sufficient statistic M_p or the subjects' rows, whichever is cheaper (many
        subjects per pattern: M_p; patterns of a few subjects: the rows).
        """
        n_p, mp, p = self.Xp.shape
        lead = A.shape[:-2]
        h = int(np.prod(lead)) if lead else 1
        A2 = A.reshape(h, mp, mp)
        if n_p * (mp * p + p * p) < mp * p * p:
            Xf = self.Xp.transpose(1, 0, 2).reshape(mp, n_p * p)
            Y = (A2 @ Xf).reshape(h, mp, n_p, p)  # [h, a, i, l] = sum_b A[a,b] x_ibl
            out = np.tensordot(self.Xp, Y, axes=([0, 1], [2, 1]))  # (k, h, l)
            out = out.transpose(1, 0, 2)
        else:
            out = (A2.reshape(h, mp * mp) @ self.M).reshape(h, p, p)
        return out.reshape(*lead, p, p)


@dataclass
class MMRMData:
    """Arrays describing an MMRM problem, grouped into missingness patterns.

    Parameters
    ----------
    X : ndarray (N, p)
    y : ndarray (N,)
    subject : ndarray (N,) of int, subject index 0..n-1
    visit : ndarray (N,) of int, visit index 0..m-1
    group : ndarray (n,) of int, covariance group of each subject (0..G-1)
    structures : list of CovarianceStructure, one per group
    reml : bool
    """

    X: np.ndarray
    y: np.ndarray
    subject: np.ndarray
    visit: np.ndarray
    group: np.ndarray
    structures: list
    reml: bool = True
    log_weight: float = 0.0  # sum of log observation weights (rows already scaled by sqrt(w))
    patterns: list = field(init=False)
    theta_slices: list = field(init=False)
    stacked: object = field(init=False)  # _stacked.Stacked, or None: per-pattern loops
    batches: list | None = field(init=False)  # spatial: subjects batched by k (._batches)

    def __post_init__(self):
        self.X = np.ascontiguousarray(self.X, dtype=float)
        self.y = np.asarray(self.y, dtype=float)
        self.theta_slices = []
        start = 0
        for st in self.structures:
            self.theta_slices.append(slice(start, start + st.n_theta))
            start += st.n_theta
        self.batches = None
        if isinstance(self.structures[0], SpatialStructure):
            # each subject its own block at its own times: no missingness patterns
            self.patterns, self.stacked = [], None
            self.batches = build_batches(self.X, self.y, self.subject, self.visit, self.group,
                                         self.structures)
            return
        n_sub = int(self.group.shape[0])
        p = self.X.shape[1]
        order = np.lexsort((self.visit, self.subject))  # rows by subject, then visit
        m = self.structures[0].n_visits
        weights = 1 << np.arange(m, dtype=np.int64)  # bit mask of observed visits
        masks = np.bincount(self.subject, weights=weights[self.visit],
                            minlength=n_sub).astype(np.int64)  # exact: sums of distinct 2^v
        counts = np.bincount(self.subject, minlength=n_sub)
        starts = np.cumsum(counts) - counts  # first sorted row of each subject
        # one pattern per (group, mask), in sorted order; subjects by index within a pattern
        keys = self.group.astype(np.int64) * (1 << m) + masks
        uniq, pat_of = np.unique(keys, return_inverse=True)
        by_pattern = np.argsort(pat_of, kind="stable")
        bounds = np.zeros(len(uniq) + 1, dtype=np.int64)
        np.cumsum(np.bincount(pat_of, minlength=len(uniq)), out=bounds[1:])
        self.patterns = []
        for k, key in enumerate(uniq):
            subs = by_pattern[bounds[k]:bounds[k + 1]]
            mp = int(counts[subs[0]])
            rows = order[starts[subs][:, None] + np.arange(mp)]  # (n_p, m_p)
            vis = self.visit[rows[0]]
            Xp = self.X[rows]  # (n_p, m_p, p)
            yp = self.y[rows]  # (n_p, m_p)
            X2 = Xp.reshape(len(rows), mp * p)
            # BLAS products: [a, k, b, l] -> [a, b, k, l] and [a, k, b] -> [a, b, k]
            M = (X2.T @ X2).reshape(mp, p, mp, p).transpose(0, 2, 1, 3).reshape(mp * mp, p * p)
            T = (X2.T @ yp).reshape(mp, p, mp).transpose(0, 2, 1).reshape(mp * mp, p)
            Y = yp.T @ yp
            self.patterns.append(Pattern(int(key >> m), vis, subs, rows, M, T, Y, Xp))
        self.stacked = _stacked.stack_patterns(self.patterns, m, p, len(self.structures))

    def with_outcome(self, y: np.ndarray) -> MMRMData:
        """The same design, subjects and patterns with another outcome (same row order).

        Only the outcome's sufficient statistics (T, Y) are recomputed, by the same products as
        in construction, so the result equals ``MMRMData`` built from scratch with ``y``.
        """
        new = copy.copy(self)
        new.y = np.asarray(y, dtype=float)
        if self.batches is not None:
            new.batches = [dataclasses.replace(b, y=new.y[b.rows]) for b in self.batches]
            return new
        p = self.X.shape[1]
        new.patterns = []
        for pat in self.patterns:
            yp = new.y[pat.rows]
            n_p, mp = yp.shape
            X2 = pat.Xp.reshape(n_p, mp * p)
            T = (X2.T @ yp).reshape(mp, p, mp).transpose(0, 2, 1).reshape(mp * mp, p)
            new.patterns.append(dataclasses.replace(pat, T=T, Y=yp.T @ yp))
        if self.stacked is not None:
            new.stacked = _stacked.restack_outcome(self.stacked, new.patterns)
        return new

    @property
    def n_theta(self) -> int:
        return self.theta_slices[-1].stop

    @property
    def n_obs(self) -> int:
        return self.X.shape[0]

    @property
    def n_beta(self) -> int:
        return self.X.shape[1]
