"""Degrees of freedom and adjusted covariances for MMRM contrasts.

All functions take arrays: ``phi`` the model-based covariance of the coefficients
:math:`\\Phi = (X^\\top V^{-1} X)^{-1}`, ``P`` the stack of
:math:`P_h = X^\\top \\partial V^{-1}/\\partial\\theta_h\\, X`, ``theta_vcov`` the covariance of
:math:`\\hat\\theta` (inverse observed Hessian of the negative log-likelihood).

Satterthwaite
    For a contrast :math:`l`, :math:`v = l^\\top \\Phi l` and
    :math:`g_h = \\partial v / \\partial \\theta_h = -l^\\top \\Phi P_h \\Phi l`;
    :math:`\\nu = 2 v^2 / (g^\\top W g)` with :math:`W` = ``theta_vcov``.
Kenward-Roger (1997)
    Adjusted covariance
    :math:`\\Phi_A = \\Phi + 2\\Phi\\{\\sum_{hj} W_{hj}(Q_{hj} - P_h \\Phi P_j - \\tfrac14 R_{hj})\\}\\Phi`.
    ``kenward-roger-linear`` drops :math:`R_{hj}` (the second derivatives of the covariance),
    which equals Kenward-Roger in a parameterisation linear in the covariance elements, i.e. SAS
    ``ddfm=kr`` for an unstructured matrix. For a single contrast the KR degrees of freedom
    reduce exactly to :math:`2/A_2`, the Satterthwaite value computed from the unadjusted
    :math:`\\Phi` (as in R ``mmrm``); the adjusted :math:`\\Phi_A` gives the standard error.
Residual
    :math:`N - p`.
Between-within
    Coefficients of columns constant within every subject get
    :math:`n_{subjects} - p_{between}` (intercept included in :math:`p_{between}`); the intercept
    and within-subject columns get :math:`N - n_{subjects} - p_{within}`; a contrast gets the
    smallest df among the coefficients it involves (SAS ``ddfm=bw``, R ``mmrm``).
"""

from __future__ import annotations

import numpy as np

DF_METHODS = ("satterthwaite", "kenward-roger", "kenward-roger-linear", "residual", "between-within")


def satterthwaite_df(L: np.ndarray, vcov: np.ndarray, jac: np.ndarray, theta_vcov: np.ndarray):
    """Satterthwaite df of each row of ``L``.

    Parameters
    ----------
    L : ndarray (r, p)
    vcov : ndarray (p, p)
        Covariance whose variance is approximated (model-based or empirical).
    jac : ndarray (n_theta, p, p)
        Derivatives of ``vcov`` with respect to theta.
    theta_vcov : ndarray (n_theta, n_theta)

    Returns
    -------
    ndarray (r,)
    """
    L = np.atleast_2d(L)
    v = np.einsum("rk,kl,rl->r", L, vcov, L)
    g = np.einsum("rk,hkl,rl->rh", L, jac, L)
    denom = np.einsum("rh,hj,rj->r", g, theta_vcov, g)
    with np.errstate(divide="ignore", invalid="ignore"):
        df = 2.0 * v**2 / denom
    return np.where(denom > 0, df, np.inf)


def model_vcov_jacobian(phi: np.ndarray, P: np.ndarray) -> np.ndarray:
    """d Phi / d theta_h = -Phi P_h Phi, stacked (n_theta, p, p)."""
    return -(phi @ P @ phi)


def kenward_roger_vcov(phi, P, theta_vcov, Qsum, Rsum, linear: bool) -> np.ndarray:
    """Kenward-Roger adjusted covariance of the coefficients (see module docstring)."""
    # sum_hj W_hj P_h Phi P_j = sum_h (P_h Phi) (sum_j W_hj P_j), by batched products
    PphiP = (P @ phi @ np.tensordot(theta_vcov, P, axes=(1, 0))).sum(axis=0)
    inner = Qsum - PphiP
    if not linear:
        inner = inner - 0.25 * Rsum
    adj = phi + 2.0 * phi @ inner @ phi
    return 0.5 * (adj + adj.T)


def between_within_df(X: np.ndarray, subject: np.ndarray, n_subjects: int) -> np.ndarray:
    """Per-coefficient between-within df (see module docstring).

    Parameters
    ----------
    X : ndarray (N, p)
        Design matrix of the rows used.
    subject : ndarray (N,) of int
    n_subjects : int

    Returns
    -------
    ndarray (p,)
    """
    N, p = X.shape
    order = np.argsort(subject, kind="stable")
    Xs = X[order]
    ss = subject[order]
    first = np.r_[True, ss[1:] != ss[:-1]]
    idx_first = np.maximum.accumulate(np.where(first, np.arange(N), 0))
    varies = np.any(np.abs(Xs - Xs[idx_first]) > 1e-12 * (1 + np.abs(Xs)), axis=0)
    intercept = np.all(X == 1.0, axis=0)
    between = ~varies & ~intercept
    p_between = int(between.sum()) + int(intercept.any())
    p_within = int(varies.sum())
    df_between = n_subjects - p_between
    df_within = N - n_subjects - p_within
    return np.where(between, float(df_between), float(df_within))


def satterthwaite_f_ddf(nu: np.ndarray, tol: float = 1e-8) -> float:
    """Denominator df of an F test from the df of its orthogonal 1-d components.

    As R mmrm and lmerTest: one component, or all equal, gives that df; any df <= 2 gives 2;
    otherwise :math:`2E/(E - c)` with :math:`E = \\sum_k \\nu_k / (\\nu_k - 2)`.
    """
    nu = np.asarray(nu, dtype=float)
    if nu.size == 1 or np.all(np.abs(np.diff(nu)) < tol):
        return float(np.mean(nu))
    if np.any(nu <= 2):
        return 2.0
    E = float(np.sum(nu / (nu - 2.0)))
    return 2.0 * E / (E - nu.size)


def kenward_roger_f(L, beta, phi, phi_adj, P, theta_vcov):
    """Kenward-Roger (1997) F test of :math:`L\\beta = 0` (rows of ``L`` independent).

    Returns
    -------
    (F*, num_df, den_df): the scaled statistic :math:`\\lambda F`, c, and m.
    """
    L = np.atleast_2d(L)
    c = L.shape[0]
    est = L @ beta
    F = float(est @ np.linalg.solve(L @ phi_adj @ L.T, est)) / c
    Theta = L.T @ np.linalg.solve(L @ phi @ L.T, L)
    TPhi = Theta @ phi
    Mh = np.einsum("ab,hbc,cd->had", TPhi, P, phi)  # Theta Phi P_h Phi
    tr = np.einsum("haa->h", Mh)
    A1 = float(tr @ theta_vcov @ tr)
    A2 = float(np.einsum("hj,hab,jba->", theta_vcov, Mh, Mh))
    B = (A1 + 6.0 * A2) / (2.0 * c)
    g = ((c + 1) * A1 - (c + 4) * A2) / ((c + 2) * A2)
    den = 3.0 * c + 2.0 * (1.0 - g)
    c1, c2, c3 = g / den, (c - g) / den, (c + 2 - g) / den
    E_star = 1.0 / (1.0 - A2 / c)
    V_star = (2.0 / c) * (1.0 + c1 * B) / ((1.0 - c2 * B) ** 2 * (1.0 - c3 * B))
    rho = V_star / (2.0 * E_star**2)
    m = 4.0 + (c + 2.0) / (c * rho - 1.0)
    lam = m / (E_star * (m - 2.0))
    return lam * F, c, m
