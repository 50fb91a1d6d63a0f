"""MMRM numerical engine: arrays in, arrays out.

The model for subject :math:`i` with observed visits :math:`t_{i1}, \\dots, t_{im_i}` is

.. math::

    y_i = X_i \\beta + \\varepsilon_i, \\qquad
    \\varepsilon_i \\sim N(0, \\Sigma_i), \\qquad \\Sigma_i = S_i^\\top \\Sigma_{g(i)}(\\theta) S_i,

independent across subjects, where :math:`S_i` selects the observed visits and :math:`g(i)` is the
subject's covariance group. The REML criterion (with every constant, as SAS and R ``mmrm`` print
it) is

.. math::

    -2\\ell_R(\\theta) = (N - p)\\log 2\\pi + \\sum_i \\log|\\Sigma_i|
        + \\log|X^\\top V^{-1} X| + r^\\top V^{-1} r,
    \\qquad r = y - X\\hat\\beta(\\theta),

and ML drops :math:`\\log|X^\\top V^{-1}X|` and uses :math:`N \\log 2\\pi`.

Subjects that share a covariance group and a set of observed visits (a *missingness pattern*)
share :math:`\\Sigma_i^{-1}`, so every quantity is accumulated per pattern from sufficient
statistics computed once, before optimisation:

.. math::

    M_p[a, b] = \\sum_{i \\in p} x_{ia} x_{ib}^\\top, \\quad
    T_p[a, b] = \\sum_{i \\in p} x_{ia} y_{ib}, \\quad
    Y_p[a, b] = \\sum_{i \\in p} y_{ia} y_{ib},

so that, for example, :math:`X^\\top V^{-1} X = \\sum_p \\sum_{ab} (\\Sigma_p^{-1})_{ab} M_p[a, b]`.
One evaluation of the likelihood, its gradient or the Kenward-Roger terms therefore costs
nothing per subject; the number of subjects enters only once, through the sufficient statistics.

The gradient is analytic; the observed Hessian (the inverse of which is the covariance of
:math:`\\hat\\theta`, as in ``mmrm``) is a Richardson-extrapolated central difference of it.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
from scipy import linalg, optimize

from ...errors import ConvergenceWarning, ModelError
from .covariance import CovarianceStructure

LOG_2PI = np.log(2.0 * np.pi)


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
    patterns: list = field(init=False)
    theta_slices: list = field(init=False)

    def __post_init__(self):
        self.X = np.ascontiguousarray(self.X, dtype=float)
        self.y = np.asarray(self.y, dtype=float)
        n_sub = int(self.group.shape[0])
        p = self.X.shape[1]
        order = np.lexsort((self.visit, self.subject))
        subj_sorted = self.subject[order]
        starts = np.flatnonzero(np.r_[True, subj_sorted[1:] != subj_sorted[:-1]])
        ends = np.r_[starts[1:], len(order)]
        m = self.structures[0].n_visits
        weights = 1 << np.arange(m, dtype=np.int64)  # bit mask of observed visits
        masks = np.zeros(n_sub, dtype=np.int64)
        np.add.at(masks, self.subject, weights[self.visit])
        keys = {}
        for s0, s1 in zip(starts, ends, strict=True):
            sid = subj_sorted[s0]
            keys.setdefault((int(self.group[sid]), int(masks[sid])), []).append(order[s0:s1])
        self.patterns = []
        for (g, mask), row_lists in sorted(keys.items()):
            rows = np.vstack(row_lists)
            vis = self.visit[rows[0]]
            Xp = self.X[rows]  # (n_p, m_p, p)
            yp = self.y[rows]  # (n_p, m_p)
            mp = rows.shape[1]
            M = np.einsum("iak,ibl->abkl", Xp, Xp).reshape(mp * mp, p * p)
            T = np.einsum("iak,ib->abk", Xp, yp).reshape(mp * mp, p)
            Y = yp.T @ yp
            self.patterns.append(
                Pattern(g, vis, self.subject[rows[:, 0]], rows, M, T, Y)
            )
        self.theta_slices = []
        start = 0
        for st in self.structures:
            self.theta_slices.append(slice(start, start + st.n_theta))
            start += st.n_theta

    @property
    def n_theta(self) -> int:
        return self.theta_slices[-1].stop

    @property
    def n_obs(self) -> int:
        return self.X.shape[0]

    @property
    def n_beta(self) -> int:
        return self.X.shape[1]


def _contract(A: np.ndarray, M: np.ndarray, p: int) -> np.ndarray:
    """sum_ab A[..., a, b] M[a, b] for stacked A (..., m, m) -> (..., p, p)."""
    lead = A.shape[:-2]
    out = A.reshape(-1, A.shape[-1] * A.shape[-1]) @ M
    return out.reshape(*lead, p, p)


@dataclass
class _State:
    """Quantities at one theta, shared by the likelihood, gradient and inference."""

    theta: np.ndarray
    beta: np.ndarray
    XtWX: np.ndarray
    XtWX_chol: tuple
    phi: np.ndarray  # (X' V^-1 X)^-1
    winv: list  # per pattern Sigma_p^-1
    logdet: float  # sum_i log|Sigma_i|
    quad: float  # r' V^-1 r
    sigmas: list  # per group (Sigma, d1, d2)


class Engine:
    """Likelihood, gradient, optimiser and inference quantities for :class:`MMRMData`."""

    def __init__(self, data: MMRMData):
        self.data = data

    # ---------------------------------------------------------------- core
    def state(self, theta: np.ndarray, order: int = 0) -> _State:
        """Evaluate GLS quantities at theta (order = derivatives of Sigma to keep)."""
        d = self.data
        p = d.n_beta
        sigmas = [
            st.derivatives(theta[sl], order=order)
            for st, sl in zip(d.structures, d.theta_slices, strict=True)
        ]
        XtWX = np.zeros((p, p))
        XtWy = np.zeros(p)
        yWy = 0.0
        logdet = 0.0
        winv = []
        for pat in d.patterns:
            S = sigmas[pat.group][0][np.ix_(pat.visits, pat.visits)]
            c, low = linalg.cho_factor(S, lower=True, check_finite=False)
            W = linalg.cho_solve((c, low), np.eye(len(pat.visits)), check_finite=False)
            winv.append(W)
            n_p = pat.rows.shape[0]
            logdet += n_p * 2.0 * np.sum(np.log(np.diag(c)))
            w = W.ravel()
            XtWX += (w @ pat.M).reshape(p, p)
            XtWy += w @ pat.T
            yWy += float(np.sum(W * pat.Y))
        XtWX = 0.5 * (XtWX + XtWX.T)
        chol = linalg.cho_factor(XtWX, lower=True, check_finite=False)
        beta = linalg.cho_solve(chol, XtWy, check_finite=False)
        phi = linalg.cho_solve(chol, np.eye(p), check_finite=False)
        quad = yWy - float(XtWy @ beta)
        return _State(theta, beta, XtWX, chol, phi, winv, logdet, quad, sigmas)

    def m2loglik(self, st: _State) -> float:
        """-2 log-likelihood (REML or ML) with all constants."""
        d = self.data
        if d.reml:
            logdet_x = 2.0 * np.sum(np.log(np.diag(st.XtWX_chol[0])))
            return (d.n_obs - d.n_beta) * LOG_2PI + st.logdet + logdet_x + st.quad
        return d.n_obs * LOG_2PI + st.logdet + st.quad

    def residual_crossprod(self, pat: Pattern, beta: np.ndarray) -> np.ndarray:
        """sum_i r_i r_i' for the pattern's subjects, from its sufficient statistics."""
        mp = len(pat.visits)
        p = self.data.n_beta
        Tb = (pat.T @ beta).reshape(mp, mp)  # [a, b] = sum_i (x_ia' beta) y_ib
        bMb = (pat.M @ np.outer(beta, beta).ravel()).reshape(mp, mp)
        del p
        return pat.Y - Tb - Tb.T + bMb

    def _pattern_derivs(self, st: _State, k: int, order: int = 1):
        """Sub-matrices of dSigma (and d2Sigma) for pattern k, in its group's theta block."""
        pat = self.data.patterns[k]
        _, d1, d2 = st.sigmas[pat.group]
        ix = np.ix_(np.arange(d1.shape[0]), pat.visits, pat.visits)
        D1 = d1[ix]
        D2 = None
        if order >= 2:
            D2 = d2[:, :, pat.visits][:, :, :, pat.visits]
        return D1, D2

    def objective(self, theta: np.ndarray) -> float:
        """Negative log-likelihood (REML or ML): the function minimised."""
        try:
            st = self.state(theta, order=0)
        except (linalg.LinAlgError, ValueError):
            return np.inf
        val = 0.5 * self.m2loglik(st)
        return val if np.isfinite(val) else np.inf

    def gradient_at(self, st: _State) -> np.ndarray:
        """Gradient of the negative log-likelihood at a state computed with order >= 1."""
        d = self.data
        p = d.n_beta
        grad = np.zeros(d.n_theta)
        for k, pat in enumerate(d.patterns):
            W = st.winv[k]
            D1, _ = self._pattern_derivs(st, k)
            n_p = pat.rows.shape[0]
            A = W @ D1 @ W  # (nt, m, m): W dSigma W
            t1 = n_p * np.einsum("ab,hba->h", W, D1)
            C = self.residual_crossprod(pat, st.beta)
            t3 = np.einsum("hab,ab->h", A, C)
            g = t1 - t3
            if d.reml:
                XAX = _contract(A, pat.M, p)
                g = g - np.einsum("kl,hlk->h", st.phi, XAX)
            grad[d.theta_slices[pat.group]] += 0.5 * g
        return grad

    def value_and_gradient(self, theta: np.ndarray):
        try:
            st = self.state(theta, order=1)
        except (linalg.LinAlgError, ValueError):
            return np.inf, np.zeros_like(theta)
        val = 0.5 * self.m2loglik(st)
        if not np.isfinite(val):
            return np.inf, np.zeros_like(theta)
        return val, self.gradient_at(st)

    def gradient(self, theta: np.ndarray) -> np.ndarray:
        return self.value_and_gradient(theta)[1]

    def hessian(self, theta: np.ndarray) -> np.ndarray:
        """Observed Hessian of the negative log-likelihood.

        Central differences of the analytic gradient with Richardson extrapolation (steps h and
        h/2), which removes the O(h^2) error term; the result is symmetrised.
        """
        n = len(theta)
        H = np.zeros((n, n))
        for j in range(n):
            h = 1e-3 * max(1.0, abs(theta[j]))
            cols = []
            for step in (h, h / 2):
                e = np.zeros(n)
                e[j] = step
                cols.append((self.gradient(theta + e) - self.gradient(theta - e)) / (2 * step))
            H[:, j] = (4.0 * cols[1] - cols[0]) / 3.0
        return 0.5 * (H + H.T)

    # ---------------------------------------------------------------- fitting
    def fit(self, theta0: np.ndarray, *, tol: float = 1e-9, max_iter: int = 500):
        """Minimise the negative log-likelihood from theta0.

        L-BFGS-B with the analytic gradient, then Newton steps with the observed Hessian and a
        backtracking line search until the largest absolute gradient is below ``tol``.

        Returns
        -------
        theta : ndarray
        converged : bool
        message : str
        """
        res = optimize.minimize(
            self.value_and_gradient,
            theta0,
            jac=True,
            method="L-BFGS-B",
            options={"maxiter": max_iter, "gtol": 1e-10, "ftol": 1e-15},
        )
        theta = np.asarray(res.x, dtype=float)
        if not np.isfinite(res.fun):
            return theta, False, f"the likelihood could not be evaluated: {res.message}"
        f, g = self.value_and_gradient(theta)
        message = "converged"
        for _ in range(50):
            if np.max(np.abs(g)) < tol:
                break
            H = self.hessian(theta)
            try:
                evals = np.linalg.eigvalsh(H)
                if evals.min() <= 0:
                    H = H + (abs(evals.min()) + 1e-6 * max(1.0, evals.max())) * np.eye(len(theta))
                step = -np.linalg.solve(H, g)
            except np.linalg.LinAlgError:
                break
            t = 1.0
            improved = False
            for _ in range(30):
                f_new, g_new = self.value_and_gradient(theta + t * step)
                if f_new <= f + 1e-4 * t * float(g @ step) or (
                    np.isfinite(f_new) and abs(f_new - f) < 1e-12 * max(1.0, abs(f))
                    and np.max(np.abs(g_new)) < np.max(np.abs(g))
                ):
                    improved = True
                    break
                t /= 2
            if not improved:
                break
            theta, f, g = theta + t * step, f_new, g_new
        max_grad = float(np.max(np.abs(g))) if len(g) else 0.0
        # converged: tiny gradient relative to the scale of the objective
        converged = bool(np.isfinite(f) and max_grad < max(1e-5, 1e-8 * abs(f)))
        if not converged:
            message = (
                f"the optimiser stopped with largest |gradient| {max_grad:.3g} "
                f"(L-BFGS-B: {res.message})"
            )
        return theta, converged, message

    # ---------------------------------------------------------------- inference pieces
    def p_matrices(self, st: _State) -> np.ndarray:
        """P_h = X' dV^{-1}/dtheta_h X = -X' V^-1 dV V^-1 X, stacked (n_theta, p, p)."""
        d = self.data
        p = d.n_beta
        P = np.zeros((d.n_theta, p, p))
        for k, pat in enumerate(d.patterns):
            W = st.winv[k]
            D1, _ = self._pattern_derivs(st, k)
            P[d.theta_slices[pat.group]] -= _contract(W @ D1 @ W, pat.M, p)
        return P

    def kr_sums(self, st: _State, theta_vcov: np.ndarray, linear: bool):
        """sum_hj W_hj Q_hj and sum_hj W_hj R_hj (R omitted when ``linear``)."""
        d = self.data
        p = d.n_beta
        Qs = np.zeros((p, p))
        Rs = np.zeros((p, p))
        for k, pat in enumerate(d.patterns):
            W = st.winv[k]
            D1, D2 = self._pattern_derivs(st, k, order=1 if linear else 2)
            sl = d.theta_slices[pat.group]
            Wg = theta_vcov[sl, sl]
            DW = D1 @ W  # (nt, m, m)
            inner = np.einsum("hj,hab,jbc->ac", Wg, DW, D1)
            Qs += _contract(W @ inner @ W, pat.M, p)
            if not linear:
                inner2 = np.einsum("hj,hjab->ab", Wg, D2)
                Rs += _contract(W @ inner2 @ W, pat.M, p)
        return Qs, Rs

    def subject_scores(self, st: _State) -> np.ndarray:
        """X_i' Sigma_i^-1 r_i for every subject (n_subjects, p), for the sandwich."""
        d = self.data
        n_sub = d.group.shape[0]
        out = np.zeros((n_sub, d.n_beta))
        for k, pat in enumerate(d.patterns):
            Xp = d.X[pat.rows]
            rp = d.y[pat.rows] - Xp @ st.beta
            out[pat.subjects] = np.einsum("iak,ab,ib->ik", Xp, st.winv[k], rp)
        return out

    def empirical_vcov(self, theta: np.ndarray) -> np.ndarray:
        """Sandwich covariance Phi (sum_i X_i' W_i r_i r_i' W_i X_i) Phi, as mmrm 'Empirical'."""
        st = self.state(theta, order=0)
        U = self.subject_scores(st)
        return st.phi @ (U.T @ U) @ st.phi

    def empirical_df(self, theta: np.ndarray, L: np.ndarray) -> np.ndarray:
        """Bell-McCaffrey (2002) Satterthwaite df for the sandwich covariance, as mmrm.

        In the space whitened by each subject's :math:`\\Sigma_i^{-1/2}`, with
        :math:`d = \\Phi l`, :math:`K_i = X_i^\\top\\Sigma_i^{-1}X_i`, :math:`w_i = K_i d` and
        :math:`b_i = d^\\top w_i`, the matrix :math:`G_{ij} = \\delta_{ij} b_i - w_i^\\top\\Phi w_j`
        has :math:`\\nu = \\mathrm{tr}(G)^2 / \\sum_{ij} G_{ij}^2`, computed without forming the
        n-by-n matrix: :math:`\\sum_{ij} G_{ij}^2 = \\sum_i b_i^2 - 2\\sum_i b_i w_i^\\top\\Phi w_i
        + \\mathrm{tr}(\\Phi S \\Phi S)`, :math:`S = \\sum_i w_i w_i^\\top`.
        """
        st = self.state(theta, order=0)
        d_all = np.atleast_2d(L) @ st.phi  # (r, p)
        out = np.empty(d_all.shape[0])
        for r, d in enumerate(d_all):
            trG = 0.0
            sum_b2 = 0.0
            cross = 0.0
            S = np.zeros((self.data.n_beta, self.data.n_beta))
            for k, pat in enumerate(self.data.patterns):
                Xp = self.data.X[pat.rows]  # (n_p, m_p, p)
                Xd = Xp @ d  # (n_p, m_p)
                w = np.einsum("iak,ab,ib->ik", Xp, st.winv[k], Xd)  # (n_p, p)
                b = w @ d
                wPw = np.einsum("ik,kl,il->i", w, st.phi, w)
                trG += float(np.sum(b - wPw))
                sum_b2 += float(np.sum(b * b))
                cross += float(np.sum(b * wPw))
                S += w.T @ w
            PS = st.phi @ S
            sumG2 = sum_b2 - 2.0 * cross + float(np.sum(PS * PS.T))
            out[r] = trG**2 / sumG2 if sumG2 > 0 else np.inf
        return out


def fit_engine(data: MMRMData, theta0: np.ndarray):
    """Fit and return (engine, theta, converged, message), warning when not converged."""
    eng = Engine(data)
    if not np.isfinite(eng.objective(theta0)):
        raise ModelError("the covariance model cannot be evaluated at its starting values")
    theta, converged, message = eng.fit(theta0)
    if not converged:
        warnings.warn(
            f"MMRM did not converge: {message}. Try a simpler covariance structure "
            "(e.g. toeph, ar1h or cs instead of us), check for visits with very few "
            "observations, or rescale the outcome.",
            ConvergenceWarning,
            stacklevel=3,
        )
    return eng, theta, converged, message
