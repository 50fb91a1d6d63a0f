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

import dataclasses
from dataclasses import dataclass

import numpy as np
from scipy.linalg import lapack as _lapack

# stack only when the padded sufficient statistics stay small (floats; 4e6 = 32 MB)
MAX_STACKED_FLOATS = 4_000_000
# factorise all pattern blocks as one block-diagonal matrix by LAPACK when it has at most this
# many rows (a few microseconds of arithmetic, against ~20 us of numpy.linalg's batched wrappers)
MAX_BLOCK_DIAGONAL = 40


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
    block: tuple | None = None  # (rows, cols) (P, m, m) of each block in the block diagonal


def stack_patterns(patterns, m: int, p: int, n_groups: int) -> Stacked | None:
    """Stack the patterns, or None when the padded arrays would exceed the size limit."""
    P = len(patterns)
    if P * m * m * (p * p + p + 1) > MAX_STACKED_FLOATS:
        return None
    M = np.zeros((P, m * m, p * p))
    T = np.zeros((P, m * m, p))
    Y = np.zeros((P, m * m))
    obs = np.zeros((P, m), dtype=bool)
    for k, pat in enumerate(patterns):
        v = pat.visits
        flat = (v[:, None] * m + v[None, :]).ravel()  # the pattern's cells in the m x m grid
        M[k, flat] = pat.M
        T[k, flat] = pat.T
        Y[k, flat] = pat.Y.ravel()
        obs[k, v] = True
    mask = (obs[:, :, None] & obs[:, None, :]).astype(float)
    pad = np.zeros((P, m, m))
    ii = np.arange(m)
    pad[:, ii, ii] = (~obs).astype(float)
    group = np.array([pat.group for pat in patterns], dtype=np.int64)
    block = None
    if P * m <= MAX_BLOCK_DIAGONAL:
        first = (np.arange(P) * m)[:, None, None]
        block = (first + ii[None, :, None] + 0 * ii[None, None, :],
                 first + ii[None, None, :] + 0 * ii[None, :, None])
    return Stacked(
        M=M, T=T, Y=Y.reshape(P, m, m),
        n=np.array([pat.rows.shape[0] for pat in patterns], dtype=float), group=group,
        mask=mask, pad=pad, by_group=[np.flatnonzero(group == g) for g in range(n_groups)],
        block=block,
    )


def restack_outcome(s: Stacked, patterns) -> Stacked:
    """``s`` with T and Y taken from ``patterns`` (same patterns, another outcome)."""
    P, mm, p = s.T.shape
    m = s.Y.shape[1]
    T = np.zeros((P, mm, p))
    Y = np.zeros((P, mm))
    for k, pat in enumerate(patterns):
        v = pat.visits
        flat = (v[:, None] * m + v[None, :]).ravel()
        T[k, flat] = pat.T
        Y[k, flat] = pat.Y.ravel()
    return dataclasses.replace(s, T=T, Y=Y.reshape(P, m, m))


def inverses(s: Stacked, sigma_by_group: list):
    """Zero-padded inverses W (P, m, m) of every pattern's block and sum_i log|Sigma_i|."""
    if len(sigma_by_group) == 1:
        S = sigma_by_group[0] * s.mask + s.pad
    else:
        S = np.stack(sigma_by_group)[s.group] * s.mask + s.pad
    if s.block is None:
        L = np.linalg.cholesky(S)  # LinAlgError when a block is not positive definite
        Li = np.linalg.inv(L)
        diag = np.diagonal(L, axis1=1, axis2=2)
    else:  # one block-diagonal factorisation (its off-block entries stay exactly zero)
        P, m, _ = S.shape
        rows, cols = s.block
        A = np.zeros((P * m, P * m))
        A[rows, cols] = S
        L, info = _lapack.dpotrf(A, lower=1)
        if info != 0:
            raise np.linalg.LinAlgError("a pattern's covariance block is not positive definite")
        Lf, info = _lapack.dtrtri(L, lower=1)
        if info != 0:
            raise np.linalg.LinAlgError("a pattern's covariance block is singular")
        Li = Lf[rows, cols]
        diag = np.diagonal(L).reshape(P, m)
    W = (np.swapaxes(Li, 1, 2) @ Li) * s.mask
    logdet = 2.0 * float(s.n @ np.log(diag).sum(axis=1))
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


def gradient(s: Stacked, d1_by_group, slices, n_theta, EK) -> np.ndarray:
    """Gradient of the negative log-likelihood (see :meth:`._engine.Engine.gradient_at`).

    ``EK`` is the output of :func:`trace_weights`.
    """
    E, _ = EK
    grad = np.zeros(n_theta)
    for g, sl in enumerate(slices):
        Eg = E[s.by_group[g]].sum(axis=0)
        d1 = d1_by_group[g]
        grad[sl] = 0.5 * (d1.reshape(d1.shape[0], -1) @ Eg.T.ravel())
    return grad


def hessian(s: Stacked, sigmas, slices, n_theta, W, EK, beta, phi, reml: bool) -> np.ndarray:
    """Observed Hessian of the negative log-likelihood (see :meth:`._engine.Engine.hessian_at`).

    The same sums as the per-pattern loop of the engine, with a few batched products: with :math:`F_p = W_p B_p = n_p W_p - 2 E_p` (symmetric),
    :math:`\\sum_p \\mathrm{tr}(V_h W_p V_j F_p) = \\sum_{abcd} (V_h)_{ab} (V_j)_{cd}
    \\Omega_{bcda}` with :math:`\\Omega = \\sum_p W_p \\otimes F_p` (one product over patterns),
    and the beta terms :math:`\\sum_p X^\\top W_p V_h W_p [X, r]` from one batched product of
    :math:`W_p` on both sides of the stacked :math:`[M_p, T_p - M_p\\beta]`.
    ``sigmas`` holds (Sigma, d1, d2) per group; ``EK`` is the output of :func:`trace_weights`.
    """
    P, m, _ = W.shape
    mm = m * m
    p = s.T.shape[2]
    pp = p * p
    Ep, _ = EK
    F = s.n[:, None, None] * W - 2.0 * Ep
    R = s.T - s.M.reshape(P, mm, p, p) @ beta  # (P, mm, p): sum_i x_ia r_ib
    MR = np.concatenate([s.M, R], axis=2).reshape(P, m, m * (pp + p))
    WMRW = (W[:, None] @ (W @ MR).reshape(P, m, m, pp + p))  # (P, m, m, pp + p)
    H = np.zeros((n_theta, n_theta))
    AB = np.empty((n_theta, pp + p))
    one = len(slices) == 1
    for g, sl in enumerate(slices):
        idx = slice(None) if one else s.by_group[g]
        _, d1, d2 = sigmas[g]
        nt = d1.shape[0]
        d1r = d1.reshape(nt, mm)
        Omega = W[idx].reshape(-1, mm).T @ F[idx].reshape(-1, mm)  # [(b, c), (d, a)]
        T4 = Omega.reshape(m, m, m, m).transpose(3, 0, 1, 2).reshape(mm, mm)  # [(a, b), (c, d)]
        E = Ep[idx].sum(axis=0)
        H[sl, sl] = d1r @ T4 @ d1r.T + d2.reshape(nt, nt, mm) @ E.T.ravel()
        AB[sl] = d1r @ WMRW[idx].sum(axis=0).reshape(mm, pp + p)
    PA = phi @ AB[:, :pp].reshape(n_theta, p, p)  # Phi A_h
    b_all = AB[:, pp:]
    if reml:  # - tr(Phi A_h Phi A_j)
        H -= PA.reshape(n_theta, pp) @ np.swapaxes(PA, 1, 2).reshape(n_theta, pp).T
    H -= 2.0 * (b_all @ phi) @ b_all.T
    H = 0.5 * H  # -loglik = (-2 loglik) / 2
    return 0.5 * (H + H.T)
