"""Spatial covariance structures of the MMRM over a numeric time column (R ``mmrm`` ``sp_exp``).

For visits at irregular times :math:`t` (e.g. study day), with :math:`d_{ab} = |t_a - t_b|`, or
at points :math:`t \\in \\mathbb{R}^q` of several coordinate columns (R mmrm
``sp_exp(VISITN, VISITN2 | USUBJID)``) with the Euclidean distance :math:`d_{ab} = \\|t_a - t_b\\|`:

========  ==========  ===============================================================
name      parameters  Sigma
========  ==========  ===============================================================
sp_exp    2           :math:`\\sigma^2\\rho^{d_{ab}}` (R mmrm ``sp_exp``; nlme ``corExp``
                      without nugget, :math:`\\rho = e^{-1/\\mathrm{range}}`; SAS
                      ``type=sp(exp)``)
sp_gau    2           :math:`\\sigma^2\\rho^{d_{ab}^2}` (nlme ``corGaus`` without nugget,
                      :math:`\\rho = e^{-1/\\mathrm{range}^2}`; SAS ``type=sp(gau)``)
========  ==========  ===============================================================

Parameterisation as R mmrm: :math:`\\theta = (\\log\\sigma^2, \\mathrm{logit}\\,\\rho)`. The
structure is defined over the sorted distinct times of the data (its "visits"); a subject's
covariance is the block at its own times, so the engine handles it as any other structure.
With several coordinates the "visits" are the distinct points, sorted lexicographically, and
labelled by :func:`point_labels` (the front end's key column of the points).
With irregular days nearly every subject has its own times, so the engine does not group
subjects by shared visits: :mod:`._spatial_engine` builds each subject's block from its own
times (:meth:`SpatialStructure.batch_power`, :meth:`SpatialStructure.batch_derivatives`), batched
over the subjects with the same number of observations.
First and second derivatives are analytic: with :math:`R = \\rho^{D}` (:math:`D` the distance,
or squared distance for ``sp_gau``), :math:`\\partial R/\\partial\\theta_2 = R D (1-\\rho)` and
:math:`\\partial^2 R/\\partial\\theta_2^2 = R D (1-\\rho)(D(1-\\rho) - \\rho)`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["SPATIAL_TYPES", "SpatialStructure", "point_labels"]

SPATIAL_TYPES = ("sp_exp", "sp_gau")


@dataclass(frozen=True)
class SpatialStructure:
    """A spatial covariance over the distinct times ``coords`` (sorted).

    Parameters
    ----------
    name : {"sp_exp", "sp_gau"}
    coords : tuple of float, or tuple of tuples of float
        The distinct time points (the structure's "visits"): numbers (one coordinate, distance
        :math:`|t_a - t_b|`) or points of equal length (Euclidean distance).
    """

    name: str
    coords: tuple

    heterogeneous = False
    n_sd = 1
    n_corr = 1
    n_theta = 2

    @property
    def n_visits(self) -> int:
        return len(self.coords)

    @property
    def power(self) -> np.ndarray:
        """The exponent D of rho: distance (sp_exp) or squared distance (sp_gau)."""
        t = np.asarray(self.coords, dtype=float)
        if t.ndim == 2:  # points: Euclidean distance
            return self._points_power(t[:, None, q] - t[None, :, q] for q in range(t.shape[1]))
        dist = np.abs(t[:, None] - t[None, :])
        return dist**2 if self.name == "sp_gau" else dist

    def _points_power(self, diffs) -> np.ndarray:
        """D from the differences in each coordinate: squared distance (sp_gau) or distance.

        Summed coordinate by coordinate (no array over all coordinates: the structure's matrix
        over every distinct point is m x m).
        """
        sq = None
        for d in diffs:
            if sq is None:
                sq = d * d
            else:
                sq += d * d
        return sq if self.name == "sp_gau" else np.sqrt(sq, out=sq)

    def start(self, sd: np.ndarray) -> np.ndarray:
        """log of the mean variance; rho with correlation 1/2 at the median nonzero D."""
        D = self.power
        pos = D[D > 0]
        scale = float(np.median(pos)) if len(pos) else 1.0
        rho = 0.5 ** (1.0 / scale)
        var = float(np.mean(np.asarray(sd, dtype=float) ** 2))
        return np.array([np.log(var), np.log(rho / (1.0 - rho))])

    def sigma(self, theta: np.ndarray) -> np.ndarray:
        """The covariance matrix over :attr:`coords`."""
        return self.derivatives(theta, order=0)[0]

    def derivatives(self, theta: np.ndarray, order: int = 1):
        """Sigma (m, m), d1 (2, m, m) and d2 (2, 2, m, m) as :class:`.CovarianceStructure`."""
        theta = np.asarray(theta, dtype=float)
        var = np.exp(theta[0])
        rho = 1.0 / (1.0 + np.exp(-theta[1]))
        D = self.power
        R = np.exp(D * np.log(rho))
        S = var * R
        if order == 0:
            return S, None, None
        m = self.n_visits
        dS1 = S * D * (1.0 - rho)
        d1 = np.stack([S, dS1])
        d2 = None
        if order >= 2:
            d2 = np.zeros((2, 2, m, m))
            d2[0, 0] = S
            d2[0, 1] = d2[1, 0] = dS1
            d2[1, 1] = S * D * (1.0 - rho) * (D * (1.0 - rho) - rho)
        return S, d1, d2

    def batch_power(self, times: np.ndarray) -> np.ndarray:
        """D of each subject's own times: ``times`` (n, k) or points (n, k, q) -> (n, k, k)."""
        times = np.asarray(times, dtype=float)
        if times.ndim == 3:
            return self._points_power(times[:, :, None, q] - times[:, None, :, q]
                                      for q in range(times.shape[2]))
        dist = np.abs(times[:, :, None] - times[:, None, :])
        return dist * dist if self.name == "sp_gau" else dist

    def batch_derivatives(self, theta: np.ndarray, power: np.ndarray, order: int = 1):
        """Sigma_i and its derivatives for a stack of subjects with exponents ``power`` (n, k, k).

        The same formulas as :meth:`derivatives`, at each subject's own times. Derivatives are
        returned as tuples of (n, k, k) arrays (no stacking copies); the first parameter is
        the log variance, so ``d1[0] = d2[0][0] = Sigma`` and ``d2[0][1] = d2[1][0] = d1[1]``,
        which :mod:`._spatial_engine` uses.

        Returns
        -------
        sigma : ndarray (n, k, k)
        d1 : tuple (Sigma, dSigma/dtheta_2) or None
        d2 : tuple of tuples, ((Sigma, d1[1]), (d1[1], d2Sigma/dtheta_2^2)) or None
        """
        theta = np.asarray(theta, dtype=float)
        var = np.exp(theta[0])
        rho = 1.0 / (1.0 + np.exp(-theta[1]))
        S = var * np.exp(power * np.log(rho))
        if order == 0:
            return S, None, None
        scaled = power * (1.0 - rho)
        dS1 = S * scaled
        d2 = None
        if order >= 2:
            d2 = ((S, dS1), (dS1, dS1 * (scaled - rho)))
        return S, (S, dS1), d2


def point_labels(data, columns) -> tuple:
    """Each row's point of the coordinate ``columns`` as a label, and the points by label.

    Parameters
    ----------
    data : pandas.DataFrame
    columns : sequence of str
        Numeric coordinate columns.

    Returns
    -------
    labels : pandas.Series
        Categorical, ``"(x, y)"`` (shortest round-trip float text, so distinct points have
        distinct labels), categories ordered lexicographically by point; missing where any
        coordinate is missing.
    points : dict
        label -> tuple of float.
    """
    values = data.loc[:, list(columns)].to_numpy(dtype=float, na_value=np.nan) + 0.0  # -0.0: 0.0
    complete = ~np.isnan(values).any(axis=1)
    distinct, inverse = np.unique(values[complete], axis=0, return_inverse=True)  # lexicographic
    points = {"(" + ", ".join(repr(float(x)) for x in p) + ")": tuple(float(x) for x in p)
              for p in distinct}
    codes = np.full(len(values), -1, dtype=np.int64)
    codes[complete] = np.ravel(inverse)
    labels = pd.Series(pd.Categorical.from_codes(codes, categories=list(points)),
                       index=data.index)
    return labels, points
