"""Rank-deficient MMRM designs: aliased columns dropped as R does (``rank_deficient="drop"``).

A column of the design that is a linear combination of the columns before it (R's pivoting in
``lm``/``mmrm``: the later column goes) is removed before the fit; its coefficient is reported
as NA in :attr:`MMRMResult.coef` (as R's ``coef(fit, complete = TRUE)``) and listed in
``fit.aliased``. A linear function :math:`l^\\top\\beta` of the full coefficient vector is
estimable when :math:`l` is orthogonal to the null space of the full design, spanned by one
vector per aliased column :math:`j`: :math:`e_j - c_j` with :math:`X_{\\cdot j} = X_K c_j`
(:math:`K` the kept columns); LS means and contrasts that are not estimable are NA, as in
emmeans.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

__all__ = ["Aliasing", "drop_aliased"]

_ESTIMABLE_TOL = 1e-8


@dataclass(frozen=True)
class Aliasing:
    """Which columns of the full design were kept, and the full design's null space.

    Attributes
    ----------
    full_terms : tuple of str
        Column names of the full design (R order).
    kept : tuple of int
        Positions (in ``full_terms``) of the columns fitted.
    dropped : tuple of str
        Names of the aliased columns.
    null : ndarray (p_full, n_aliased)
        Basis of the null space of the full design.
    """

    full_terms: tuple
    kept: tuple
    dropped: tuple
    null: np.ndarray

    def reduce(self, L: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rows of ``L`` (full width) on the kept columns, and whether each is estimable."""
        L = np.atleast_2d(np.asarray(L, dtype=float))
        scale = np.maximum(np.abs(L).sum(axis=1), 1.0)
        estimable = np.all(np.abs(L @ self.null) <= _ESTIMABLE_TOL * scale[:, None], axis=1)
        return L[:, list(self.kept)], estimable


def drop_aliased(design):
    """(design without its aliased columns, Aliasing), or (design, None) if none is aliased."""
    if not design.aliased:
        return design, None
    X = design.X
    p = X.shape[1]
    aliased = list(design.aliased)
    kept = [j for j in range(p) if j not in set(aliased)]
    coef, *_ = np.linalg.lstsq(X[:, kept], X[:, aliased], rcond=None)
    null = np.zeros((p, len(aliased)))
    for a, j in enumerate(aliased):
        null[j, a] = 1.0
        null[kept, a] = -coef[:, a]
    info = Aliasing(full_terms=tuple(design.terms), kept=tuple(kept),
                    dropped=tuple(design.terms[j] for j in aliased), null=null)
    reduced = replace(design, X=np.ascontiguousarray(X[:, kept]),
                      terms=tuple(design.terms[j] for j in kept))
    return reduced, info
