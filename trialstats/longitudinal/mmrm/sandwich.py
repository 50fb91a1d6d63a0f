"""Leverage-adjusted sandwich covariances of an MMRM: jackknife (CR3) and bias-reduced (CR2).

R ``mmrm``'s ``vcov = "Empirical-Jackknife"`` and ``"Empirical-Bias-Reduced"`` (McCaffrey and
Bell 2003), in closed form (no refits). In the space whitened by each subject's covariance,
:math:`\\tilde X_i = L_i^\\top X_i`, :math:`\\tilde e_i = L_i^\\top r_i` with
:math:`L_iL_i^\\top = \\Sigma_i^{-1}` (observation weights folded in as in the fit), and
:math:`H_{ii} = \\tilde X_i\\Phi\\tilde X_i^\\top`, :math:`\\Phi = (X^\\top V^{-1}X)^{-1}`:

.. math::

    \\widehat{\\mathrm{cov}}(\\hat\\beta) = \\Phi \\Big(\\sum_i z_i z_i^\\top\\Big) \\Phi,
    \\qquad z_i = \\tilde X_i^\\top A_i \\tilde e_i,

with :math:`A_i = (I - H_{ii})^{-1}` (jackknife; R mmrm omits the :math:`(n-1)/n` factor, and
so does this) or :math:`(I - H_{ii})^{-1/2}` (bias-reduced, the symmetric pseudo-inverse square
root). :math:`A_i = I` is the plain sandwich (CR0). The result does not depend on which square
root of :math:`\\Sigma_i^{-1}` whitens (any two differ by an orthogonal matrix).

Degrees of freedom (Bell and McCaffrey 2002, as R mmrm): for a contrast :math:`l`,
:math:`d = \\Phi l`, :math:`c_i = A_i\\tilde X_i d`, :math:`w_i = \\tilde X_i^\\top c_i`,
:math:`b_i = c_i^\\top c_i`; :math:`G_{ij} = \\delta_{ij}b_i - w_i^\\top\\Phi w_j` and
:math:`\\nu = \\mathrm{tr}(G)^2/\\sum_{ij}G_{ij}^2`.
"""

from __future__ import annotations

import numpy as np

__all__ = ["ADJUSTED_SANDWICH", "adjusted_sandwich"]

ADJUSTED_SANDWICH = {"empirical-jackknife": "jackknife", "empirical-bias-reduced": "bias-reduced"}


def _adjustment(H: np.ndarray, kind: str) -> np.ndarray:
    """A = (I - H)^-1 or its symmetric pseudo-inverse square root, for a stack (n, m, m)."""
    m = H.shape[-1]
    M = np.eye(m) - H
    M = 0.5 * (M + np.swapaxes(M, -1, -2))
    vals, vecs = np.linalg.eigh(M)
    tol = m * np.finfo(float).eps * np.max(np.abs(vals), axis=-1, keepdims=True)
    keep = vals > tol
    if kind == "jackknife":
        inv = np.where(keep, 1.0 / np.where(keep, vals, 1.0), 0.0)
    else:
        inv = np.where(keep, 1.0 / np.sqrt(np.where(keep, vals, 1.0)), 0.0)
    return np.einsum("nab,nb,ncb->nac", vecs, inv, vecs)


def _whitened(engine, st):
    """Per pattern: whitened X (n, m, p), whitened residuals (n, m), adjustment input H."""
    d = engine.data
    if d.batches is not None:  # spatial: one block per subject (SpatialEngine)
        yield from engine.whitened_blocks(st)
        return
    for k, pat in enumerate(d.patterns):
        Lk = np.linalg.cholesky(st.winv[k])  # winv = L L'
        Xp = d.X[pat.rows]  # (n, m, p)
        rp = d.y[pat.rows] - Xp @ st.beta
        Xt = np.einsum("ab,nak->nbk", Lk, Xp)
        et = np.einsum("ab,na->nb", Lk, rp)
        H = np.einsum("nak,kl,nbl->nab", Xt, st.phi, Xt)
        yield pat, Xt, et, H


def adjusted_sandwich(engine, theta, kind: str):
    """Covariance of the estimates and a df function ``L -> df`` for ``kind``.

    Parameters
    ----------
    engine : Engine
        The fitted engine (its data carry the weighted rows).
    theta : ndarray
        Covariance parameters at the optimum.
    kind : {"jackknife", "bias-reduced", "empirical"}

    Returns
    -------
    (ndarray (p, p), callable)
    """
    st = engine.state(np.asarray(theta, dtype=float), order=0)
    parts = []
    p = st.phi.shape[0]
    meat = np.zeros((p, p))
    for _, Xt, et, H in _whitened(engine, st):
        A = (np.broadcast_to(np.eye(H.shape[-1]), H.shape) if kind == "empirical"
             else _adjustment(H, kind))
        z = np.einsum("nak,nab,nb->nk", Xt, A, et)
        meat += z.T @ z
        parts.append((Xt, A))
    phi = st.phi
    vcov = phi @ meat @ phi

    def df(L, _parts=parts, _phi=phi):
        out = []
        for d in np.atleast_2d(L) @ _phi:
            tr_g = sum_b2 = cross = 0.0
            S = np.zeros((p, p))
            for Xt, A in _parts:
                c = np.einsum("nab,nbk,k->na", A, Xt, d)
                w = np.einsum("nak,na->nk", Xt, c)
                b = np.einsum("na,na->n", c, c)
                wpw = np.einsum("nk,kl,nl->n", w, _phi, w)
                tr_g += float(np.sum(b - wpw))
                sum_b2 += float(np.sum(b * b))
                cross += float(np.sum(b * wpw))
                S += w.T @ w
            PS = _phi @ S
            sum_g2 = sum_b2 - 2.0 * cross + float(np.sum(PS * PS.T))
            out.append(tr_g**2 / sum_g2 if sum_g2 > 0 else np.inf)
        return np.array(out)

    return vcov, df
