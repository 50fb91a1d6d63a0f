"""The sandwich variance of cmprsk ``crr`` (Fine and Gray 1999, section 3), on arrays.

``crr`` estimates :math:`\\beta` from the weighted score with censoring weights
:math:`w_j(t) = 1` for :math:`T_j \\ge t` and :math:`\\hat G(t-) / \\hat G(T_j-)` for a
competing event before :math:`t`, Breslow ties. Its variance is :math:`\\Omega^{-1} \\Sigma
\\Omega^{-1}` with :math:`\\Omega` the information and :math:`\\Sigma = \\sum_i (\\eta_i +
\\psi_i)^{\\otimes 2}`: :math:`\\eta_i` the subject's weighted score residual and

.. math::

    \\psi_i = \\int \\frac{q(u)}{\\pi(u)} dM^c_i(u), \\quad
    q(u) = \\sum_{k: t_k \\ge u} \\frac{d_k}{S_0(t_k)} \\sum_{j: \\epsilon_j = 2, T_j < u}
           w_j(t_k) e^{\\eta_j} (x_j - \\bar x(t_k)),

the term for the estimated censoring distribution (:math:`\\pi(u)` subjects with
:math:`T \\ge u`, :math:`M^c_i` the censoring martingale of subject i). The sums follow
cmprsk's ``crrvv`` (Fortran, double loops over subjects) as cumulative sums over sorted times:
O(n p^2) after sorting. Only cause ``1`` vs "any other" (code 2 here) matters; ``code`` is
0 = censored, 1 = the cause of interest, 2 = competing.
"""

from __future__ import annotations

import numpy as np

__all__ = ["crr_variance"]


def _left_censoring_km(time, code):
    """G(t-) at each subject's time: Kaplan-Meier of censoring, R survfit convention."""
    utime, inv = np.unique(time, return_inverse=True)
    m = len(utime)
    cens = np.bincount(inv, weights=(code == 0).astype(float), minlength=m)
    n = np.cumsum(np.bincount(inv, minlength=m)[::-1])[::-1].astype(float)
    surv = np.cumprod(1.0 - cens / n)
    return utime, inv, np.concatenate([[1.0], surv[:-1]]), n, cens


def crr_variance(time, code, x, beta) -> tuple[np.ndarray, np.ndarray]:
    """Information matrix and crr's sandwich covariance at ``beta``.

    Parameters
    ----------
    time : ndarray
        Subject times.
    code : ndarray of int
        0 censored, 1 cause of interest, 2 competing.
    x : ndarray
        n x p covariates (centring does not matter).
    beta : ndarray
        The estimate.

    Returns
    -------
    (information, covariance)
    """
    utime, inv, g_left, n_at, n_cens = _left_censoring_km(time, code)
    m = len(utime)
    p = x.shape[1]
    r = np.exp(x @ beta)
    comp = code == 2
    gj = g_left[inv]  # G(T_j-)
    # risk-set sums at every distinct time t: T_j >= t (weight 1) + competing T_j < t
    # (weight G(t-)/G(T_j-))
    def by_time(v):
        return np.bincount(inv, weights=v, minlength=m) if v.ndim == 1 else np.column_stack(
            [np.bincount(inv, weights=v[:, k], minlength=m) for k in range(v.shape[1])])

    def at_or_after(a):
        return np.cumsum(a[::-1], axis=0)[::-1]

    def before(a):
        c = np.cumsum(a, axis=0)
        return np.concatenate([np.zeros((1,) + a.shape[1:]), c[:-1]], axis=0)

    iu = np.triu_indices(p)
    xx = x[:, iu[0]] * x[:, iu[1]]
    cw = np.where(comp, r / gj, 0.0)
    s0 = at_or_after(by_time(r)) + g_left * before(by_time(cw))
    s1 = at_or_after(by_time(r[:, None] * x)) + g_left[:, None] * before(by_time(cw[:, None] * x))
    s2u = at_or_after(by_time(r[:, None] * xx)) + g_left[:, None] * before(
        by_time(cw[:, None] * xx))
    d = by_time((code == 1).astype(float))
    ev = d > 0
    xbar = np.zeros((m, p))
    xbar[ev] = s1[ev] / s0[ev, None]
    # information (Breslow): sum_k d_k (S2/S0 - xbar xbar')
    s2 = np.zeros((m, p, p))
    s2[:, iu[0], iu[1]] = s2u
    s2[:, iu[1], iu[0]] = s2u
    info = np.einsum("k,kij->ij", d[ev] / s0[ev], s2[ev]) - np.einsum(
        "k,ki,kj->ij", d[ev], xbar[ev], xbar[ev])
    # eta_i: dN part, minus the hazard part while at risk with weight 1 and, for competing
    # subjects, after T_i with weight G(t-)/G(T_i-)
    haz = np.where(ev, d / np.where(ev, s0, 1.0), 0.0)
    a_upto = np.cumsum(haz)[inv]
    b_upto = np.cumsum(haz[:, None] * xbar, axis=0)[inv]
    gh = g_left * haz
    a_after = gh.sum() - np.cumsum(gh)[inv]
    gbx = gh[:, None] * xbar
    b_after = gbx.sum(axis=0) - np.cumsum(gbx, axis=0)[inv]
    eta = -r[:, None] * (x * a_upto[:, None] - b_upto)
    w_after = np.where(comp, r / gj, 0.0)
    eta -= w_after[:, None] * (x * a_after[:, None] - b_after)
    is1 = code == 1
    eta[is1] += x[is1] - xbar[inv[is1]]
    # psi_i: q(u) at every distinct time u
    c0 = before(by_time(cw))  # sum over competing with T_j < u of r_j / G(T_j-)
    c1 = before(by_time(cw[:, None] * x))
    f0 = at_or_after(gh)  # sum over failure times t_k >= u of d_k G(t_k-) / S0_k
    f1 = at_or_after(gbx)
    q = c1 * f0[:, None] - c0[:, None] * f1
    dlam_c = np.where(n_cens > 0, n_cens / n_at**2, 0.0)
    cum = np.cumsum(q * dlam_c[:, None], axis=0)
    psi = -cum[inv]
    cens = code == 0
    psi[cens] += q[inv[cens]] / n_at[inv[cens], None]
    u = eta + psi
    inv_info = np.linalg.inv(info)
    return info, inv_info @ (u.T @ u) @ inv_info
