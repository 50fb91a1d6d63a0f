"""Residual covariance structures of the MMRM and their derivatives.

Each structure maps an unconstrained parameter vector ``theta`` to an ``m x m`` covariance matrix
over the visits, using exactly the parameterisation of R ``mmrm`` (so that ``theta``, its
covariance and the Kenward-Roger adjustment, which is not invariant to the parameterisation,
agree with it):

======  ==================  ================================================================
name    parameters          Sigma
======  ==================  ================================================================
us      m + m(m-1)/2        :math:`\\Sigma = LL^\\top`, :math:`L = \\mathrm{diag}(e^{\\theta_{1:m}}) U`,
                            U unit lower-triangular filled row by row from the remaining theta
toep    1 + (m-1)           common SD; correlation at lag k is :math:`\\phi_k/\\sqrt{1+\\phi_k^2}`
toeph   m + (m-1)           one SD per visit; lag correlations as toep
ar1     2                   common SD; :math:`\\rho^{|i-j|}`, :math:`\\rho = \\theta/\\sqrt{1+\\theta^2}`
ar1h    m + 1               one SD per visit; as ar1
cs      2                   common SD; :math:`\\rho = \\mathrm{plogis}(\\theta)(1 + 1/(m-1)) - 1/(m-1)`
csh     m + 1               one SD per visit; as cs
ad      1 + (m-1)           common SD; corr(i, j) = :math:`\\rho_i \\cdots \\rho_{j-1}`,
                            :math:`\\rho_k = \\phi_k/\\sqrt{1+\\phi_k^2}`
adh     m + (m-1)           one SD per visit; as ad
======  ==================  ================================================================

The standard deviations are :math:`e^{\\theta}`. First and second derivatives of ``Sigma`` with
respect to ``theta`` are analytic; the engine uses them for the REML gradient, Satterthwaite
degrees of freedom and the Kenward-Roger adjustment.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

COVARIANCE_TYPES = ("us", "toep", "toeph", "ar1", "ar1h", "cs", "csh", "ad", "adh")


def _sqrt_link(phi):
    """rho = phi / sqrt(1 + phi^2) and its first two derivatives."""
    q = 1.0 + phi * phi
    rho = phi / np.sqrt(q)
    d1 = q**-1.5
    d2 = -3.0 * phi * q**-2.5
    return rho, d1, d2


@dataclass(frozen=True)
class CovarianceStructure:
    """A residual covariance structure over ``n_visits`` ordered visits.

    Parameters
    ----------
    name : str
        One of :data:`COVARIANCE_TYPES`.
    n_visits : int
        Number of distinct visits (``m``).
    """

    name: str
    n_visits: int

    @property
    def heterogeneous(self) -> bool:
        """Whether each visit has its own standard deviation."""
        return self.name in ("us", "toeph", "ar1h", "csh", "adh")

    @property
    def n_sd(self) -> int:
        """Number of (log) standard-deviation parameters."""
        return self.n_visits if self.heterogeneous else 1

    @property
    def n_corr(self) -> int:
        """Number of correlation parameters."""
        m = self.n_visits
        if self.name == "us":
            return m * (m - 1) // 2
        if self.name in ("ar1", "ar1h", "cs", "csh"):
            return 1 if m > 1 else 0
        return m - 1  # toep, toeph, ad, adh

    @property
    def n_theta(self) -> int:
        """Number of covariance parameters."""
        return self.n_sd + self.n_corr

    def start(self, sd: np.ndarray) -> np.ndarray:
        """Starting values: the given per-visit SDs and zero correlations (rho = 0 for cs)."""
        sd = np.asarray(sd, dtype=float)
        log_sd = np.log(sd) if self.heterogeneous else np.array([np.log(np.sqrt(np.mean(sd**2)))])
        corr = np.zeros(self.n_corr)
        if self.name in ("cs", "csh") and self.n_corr:
            m = self.n_visits
            # plogis(theta) = (1/(m-1)) / (1 + 1/(m-1)) gives rho = 0
            p = 1.0 / m
            corr[:] = np.log(p / (1.0 - p))
        return np.concatenate([log_sd, corr])

    # ------------------------------------------------------------------ correlation
    def _correlation(self, phi: np.ndarray, second: bool):
        """Correlation matrix R(phi), dR (n_corr, m, m) and optionally d2R (n_corr, n_corr, m, m)."""
        m = self.n_visits
        k = self.n_corr
        R = np.eye(m)
        dR = np.zeros((k, m, m))
        d2R = np.zeros((k, k, m, m)) if second else None
        if k == 0:
            return R, dR, d2R
        i, j = np.indices((m, m))
        lag = np.abs(i - j)
        off = lag > 0
        name = self.name
        if name in ("ar1", "ar1h"):
            rho, r1, r2 = _sqrt_link(phi[0])
            R = np.where(off, rho ** lag.astype(float), 1.0)
            lagf = lag.astype(float)
            pow1 = np.where(lag >= 1, rho ** np.maximum(lagf - 1, 0), 0.0)
            dR[0] = np.where(off, lagf * pow1 * r1, 0.0)
            if second:
                pow2 = np.where(lag >= 2, rho ** np.maximum(lagf - 2, 0), 0.0)
                d2R[0, 0] = np.where(off, lagf * (lagf - 1) * pow2 * r1**2 + lagf * pow1 * r2, 0.0)
        elif name in ("cs", "csh"):
            c = 1.0 + 1.0 / (m - 1)
            p = 1.0 / (1.0 + np.exp(-phi[0]))
            rho = p * c - 1.0 / (m - 1)
            R = np.where(off, rho, 1.0)
            dR[0] = np.where(off, p * (1 - p) * c, 0.0)
            if second:
                d2R[0, 0] = np.where(off, p * (1 - p) * (1 - 2 * p) * c, 0.0)
        elif name in ("toep", "toeph"):
            rho, r1, r2 = _sqrt_link(phi)
            for h in range(k):
                mask = lag == h + 1
                R = np.where(mask, rho[h], R)
                dR[h] = np.where(mask, r1[h], 0.0)
                if second:
                    d2R[h, h] = np.where(mask, r2[h], 0.0)
        elif name in ("ad", "adh"):
            rho, r1, r2 = _sqrt_link(phi)
            for a in range(m):
                for b in range(a + 1, m):
                    seg = list(range(a, b))  # correlation parameters spanning a..b
                    R[a, b] = R[b, a] = np.prod(rho[seg])
                    for h in seg:
                        others = np.prod([rho[t] for t in seg if t != h])
                        dR[h, a, b] = dR[h, b, a] = r1[h] * others
                        if second:
                            d2R[h, h, a, b] = d2R[h, h, b, a] = r2[h] * others
                            for g in seg:
                                if g != h:
                                    rest = np.prod([rho[t] for t in seg if t not in (g, h)])
                                    d2R[h, g, a, b] = d2R[h, g, b, a] = r1[h] * r1[g] * rest
        else:  # pragma: no cover - guarded by the api
            raise ValueError(name)
        return R, dR, d2R

    # ------------------------------------------------------------------ Sigma
    def sigma(self, theta: np.ndarray) -> np.ndarray:
        """The ``m x m`` covariance matrix for ``theta``."""
        return self.derivatives(theta, order=0)[0]

    def derivatives(self, theta: np.ndarray, order: int = 1):
        """Sigma and its derivatives with respect to theta.

        Parameters
        ----------
        theta : ndarray
            Parameter vector of length :attr:`n_theta`.
        order : {0, 1, 2}
            Highest derivative order returned.

        Returns
        -------
        sigma : ndarray (m, m)
        d1 : ndarray (n_theta, m, m) or None
        d2 : ndarray (n_theta, n_theta, m, m) or None
        """
        theta = np.asarray(theta, dtype=float)
        if self.name == "us":
            return self._us(theta, order)
        m = self.n_visits
        ns = self.n_sd
        sd = np.exp(theta[:ns]) if self.heterogeneous else np.full(m, np.exp(theta[0]))
        R, dR, d2R = self._correlation(theta[ns:], second=order >= 2)
        ss = np.outer(sd, sd)
        S = ss * R
        if order == 0:
            return S, None, None
        n = self.n_theta
        d1 = np.zeros((n, m, m))
        # d Sigma_ij / d log s_k = (delta_ik + delta_jk) Sigma_ij
        if self.heterogeneous:
            eye = np.eye(m)
            A = eye[:, :, None] + eye[:, None, :]  # A[k, i, j] = delta_ik + delta_jk
        else:
            A = np.full((1, m, m), 2.0)
        d1[:ns] = A * S
        d1[ns:] = ss * dR
        d2 = None
        if order >= 2:
            d2 = np.zeros((n, n, m, m))
            d2[:ns, :ns] = A[:, None] * A[None, :] * S
            cross = A[:, None] * (ss * dR)[None, :]  # (ns, nc, m, m)
            d2[:ns, ns:] = cross
            d2[ns:, :ns] = np.swapaxes(cross, 0, 1)
            d2[ns:, ns:] = ss * d2R
        return S, d1, d2

    def _us(self, theta, order):
        m = self.n_visits
        rows, cols, ii, h = _us_index(m)
        s = np.exp(theta[:m])
        U = np.eye(m)
        U[rows, cols] = theta[m:]
        L = s[:, None] * U
        S = L @ L.T
        if order == 0:
            return S, None, None
        n = self.n_theta
        dL = np.zeros((n, m, m))
        dL[ii, ii, :] = L  # d L[k, :] / d log s_k = L[k, :]
        s_rows = s[rows]
        dL[m + h, rows, cols] = s_rows
        LdLt = dL @ L.T  # [h, i, k] = sum_j dL[h, i, j] L[k, j]
        d1 = LdLt + np.swapaxes(LdLt, 1, 2)
        d2 = None
        if order >= 2:
            d2L = np.zeros((n, n, m, m))
            d2L[ii, ii, ii, :] = L
            d2L[rows, m + h, rows, cols] = s_rows
            d2L[m + h, rows, rows, cols] = s_rows
            t = d2L @ L.T
            d2 = t + np.swapaxes(t, 2, 3)
            flat = dL.reshape(n * m, m)  # cross[a, b, i, k] = sum_j dL[a, i, j] dL[b, k, j]
            cross = (flat @ flat.T).reshape(n, m, n, m).transpose(0, 2, 1, 3)
            d2 += cross + np.swapaxes(cross, 2, 3)
        return S, d1, d2


@functools.lru_cache(maxsize=64)
def _us_index(m: int):
    """Row and column of each correlation parameter of ``us`` (U filled row by row), and the
    index ranges ``arange(m)`` and ``arange(m(m-1)/2)`` (read-only, shared)."""
    rows, cols = np.tril_indices(m, -1)
    out = (rows, cols, np.arange(m), np.arange(len(rows)))
    for a in out:
        a.setflags(write=False)
    return out
