"""Every missingness pattern at once: the engine's core quantities as stacked NumPy arrays.

Each pattern's sufficient statistics (:class:`._engine.Pattern`) are embedded in the full visit
space, with zeros at its unobserved visits, and stacked along a leading pattern axis. The inverse
of a pattern's covariance block is obtained, for all patterns in one batched call, from the full
matrix with its unobserved rows and columns replaced by those of the identity (its inverse is the
block's inverse at the observed visits and the identity elsewhere, which is then masked to zero).
With the zero-padded inverses :math:`W_p`, every quantity of the likelihood, its gradient and its
Hessian is a sum over patterns of traces in which each covariance derivative is flanked by
:math:`W_p`, so the padding contributes exactly zero and the per-pattern loops of the engine
become a few batched products. The result is the same mathematics as the per-pattern loop of
:class:`._engine.Engine` (which remains the route for problems too large to stack).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# stack only when the padded sufficient statistics stay small (floats; 4e6 = 32 MB)
MAX_STACKED_FLOATS = 4_000_000


@dataclass
class Stacked:
    """Patterns embedded in the full visit space and stacked (P patterns, m visits, p terms)."""

    M: np.ndarray  # (P, m*m, p*p)
    T: np.ndarray  # (P, m*m, p)
    Y: np.ndarray  # (P, m, m)
    n: np.ndarray  # (P,) subjects per pattern
    group: np.ndarray  # (P,) covariance group
    mask: np.ndarray  # (P, m, m) 1 where both visits are observed
    pad: np.ndarray  # (P, m, m) identity at unobserved visits
    by_group: list  # pattern indices of each group


def stack_patterns(patterns, m: int, p: int, n_groups: int) -> Stacked | None:
    """Stack the patterns, or None when the padded arrays would exceed the size limit."""
    P = len(patterns)
    if P * m * m * (p * p + p + 1) > MAX_STACKED_FLOATS:
        return None
    M = np.zeros((P, m, m, p * p))
    T = np.zeros((P, m, m, p))
    Y = np.zeros((P, m, m))
    obs = np.zeros((P, m), dtype=bool)
    for k, pat in enumerate(patterns):
        v = pat.visits
        mp = len(v)
        ix = np.ix_(v, v)
        M[k][ix] = pat.M.reshape(mp, mp, p * p)
        T[k][ix] = pat.T.reshape(mp, mp, p)
        Y[k][ix] = pat.Y
        obs[k, v] = True
    mask = (obs[:, :, None] & obs[:, None, :]).astype(float)
    pad = np.zeros((P, m, m))
    ii = np.arange(m)
    pad[:, ii, ii] = (~obs).astype(float)
    group = np.array([pat.group for pat in patterns], dtype=np.int64)
    return Stacked(
        M=M.reshape(P, m * m, p * p), T=T.reshape(P, m * m, p), Y=Y,
        n=np.array([pat.rows.shape[0] for pat in patterns], dtype=float), group=group,
        mask=mask, pad=pad, by_group=[np.flatnonzero(group == g) for g in range(n_groups)],
    )


def inverses(s: Stacked, sigma_by_group: list):
    """Zero-padded inverses W (P, m, m) of every pattern's block and sum_i log|Sigma_i|."""
    S = np.stack(sigma_by_group)[s.group] * s.mask + s.pad
    L = np.linalg.cholesky(S)  # LinAlgError when a block is not positive definite
    Li = np.linalg.inv(L)
    W = (np.swapaxes(Li, 1, 2) @ Li) * s.mask
    logdet = 2.0 * float(s.n @ np.log(np.diagonal(L, axis1=1, axis2=2)).sum(axis=1))
    return W, logdet


def normal_equations(s: Stacked, W: np.ndarray):
    """X'V^-1X, X'V^-1y and y'V^-1y from the stacked statistics."""
    P, m, _ = W.shape
    w = W.reshape(P * m * m)
    p = s.T.shape[2]
    XtWX = (w @ s.M.reshape(P * m * m, p * p)).reshape(p, p)
    XtWy = w @ s.T.reshape(P * m * m, p)
    yWy = float(w @ s.Y.reshape(-1))
    return XtWX, XtWy, yWy


def residual_crossprods(s: Stacked, beta: np.ndarray) -> np.ndarray:
    """C_p = sum_i r_i r_i' per pattern (P, m, m), zero at unobserved visits."""
    P, m, _ = s.Y.shape
    Tb = (s.T @ beta).reshape(P, m, m)
    bMb = (s.M @ np.outer(beta, beta).ravel()).reshape(P, m, m)
    return s.Y - Tb - np.swapaxes(Tb, 1, 2) + bMb


def psi(s: Stacked, phi: np.ndarray) -> np.ndarray:
    """Psi_p[a, b] = tr(Phi M_p[a, b]) (P, m, m)."""
    P, m, _ = s.Y.shape
    return (s.M @ phi.T.ravel()).reshape(P, m, m)


def trace_weights(s: Stacked, W, C, Psi):
    """E_p = n_p W_p - W_p (C_p [+ Psi_p]) W_p: d(-2 loglik)/d theta_h = sum_p tr(V_h E_p)."""
    K = C if Psi is None else C + Psi
    return s.n[:, None, None] * W - W @ K @ W, K


def gradient(s: Stacked, d1_by_group, slices, n_theta, W, C, Psi) -> np.ndarray:
    """Gradient of the negative log-likelihood (see :meth:`._engine.Engine.gradient_at`)."""
    E, _ = trace_weights(s, W, C, Psi)
    grad = np.zeros(n_theta)
    for g, sl in enumerate(slices):
        Eg = E[s.by_group[g]].sum(axis=0)
        d1 = d1_by_group[g]
        grad[sl] = 0.5 * (d1.reshape(d1.shape[0], -1) @ Eg.T.ravel())
    return grad


def hessian_parts(s: Stacked, d1_by_group, slices, n_theta, W, C, Psi, beta):
    """Per-pattern sums of :meth:`._engine.Engine.hessian_at`, for all patterns at once.

    Returns
    -------
    H : (n_theta, n_theta)
        The terms quadratic in the first derivatives of Sigma, -tr(W V_h W V_j) n_p +
        2 tr(W V_h W V_j W (C + Psi)).
    E, G, Gb : lists per group
        Accumulators in the full visit space contracted with d2 Sigma, X'WV_hWX and X'WV_hWr.
    """
    P, m, _ = W.shape
    p = s.T.shape[2]
    Ep, K = trace_weights(s, W, C, Psi)
    B = 2.0 * (K @ W) - s.n[:, None, None] * np.eye(m)
    H = np.zeros((n_theta, n_theta))
    # sum_i (W X_i)_a' (W X_i)_b and (W X_i)_a' (W r_i)_b, both sides by batched matmuls
    Mw = W[:, None] @ (W @ s.M.reshape(P, m, m * p * p)).reshape(P, m, m, p * p)
    R = (s.T - (s.M.reshape(P, m * m, p, p) @ beta)).reshape(P, m, m * p)
    Rw = W[:, None] @ (W @ R).reshape(P, m, m, p)
    E, G, Gb = [], [], []
    for g, sl in enumerate(slices):
        idx = s.by_group[g]
        d1 = d1_by_group[g]
        nt = d1.shape[0]
        Z = d1[None] @ W[idx][:, None]  # (P_g, nt, m, m) = V_h W
        ZB = Z @ B[idx][:, None]
        Zr = np.swapaxes(Z, 0, 1).reshape(nt, -1)
        ZBt = np.swapaxes(np.swapaxes(ZB, 2, 3), 0, 1).reshape(nt, -1)
        H[sl, sl] += Zr @ ZBt.T
        E.append(np.swapaxes(Ep[idx], 1, 2).sum(axis=0))
        G.append(Mw[idx].sum(axis=0))
        Gb.append(Rw[idx].sum(axis=0))
    return H, E, G, Gb
