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

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
from scipy import linalg
from scipy.linalg import lapack as _lapack

from ...errors import ConvergenceWarning, ModelError
from . import _stacked
from ._patterns import MMRMData, Pattern

__all__ = ["Engine", "MMRMData", "Pattern", "fit_engine", "make_engine"]

LOG_2PI = np.log(2.0 * np.pi)


def _eigh(H: np.ndarray):
    """Eigenvalues (ascending) and eigenvectors of a symmetric matrix, by LAPACK syevd directly
    (the routine numpy.linalg.eigh calls, without its ~10 us of Python wrapping)."""
    w, v, info = _lapack.dsyevd(H, compute_v=1, lower=1)
    if info != 0:
        raise np.linalg.LinAlgError("eigenvalue decomposition of the Hessian did not converge")
    return w, v


def _two_sided(W: np.ndarray, T: np.ndarray) -> np.ndarray:
    """out[a, b, k] = sum_cd W[a, c] T[c, d, k] W[b, d] for symmetric W, by two matmuls."""
    mp, _, K = T.shape
    first = (W @ T.reshape(mp, mp * K)).reshape(mp, mp, K)  # [a, d, k]
    return W @ first  # [a, b, k] = sum_d W[b, d] first[a, d, k]


@dataclass
class _State:
    """Quantities at one theta, shared by the likelihood, gradient and inference."""

    theta: np.ndarray
    beta: np.ndarray
    XtWX: np.ndarray
    XtWX_chol: tuple
    phi: np.ndarray  # (X' V^-1 X)^-1
    winv_list: list | None  # per pattern Sigma_p^-1 (None: taken from W)
    logdet: float  # sum_i log|Sigma_i|
    quad: float  # r' V^-1 r
    sigmas: list  # per group (Sigma, d1, d2)
    order: int = 0
    W: np.ndarray | None = None  # stacked zero-padded inverses (P, m, m)
    visits: list | None = None  # per pattern visit indices (to cut winv from W)
    cache: dict = field(default_factory=dict)  # gradient / Hessian at this state
    yWy: float = np.nan  # y' V^-1 y, the scale of quad (a rounding check, see Engine._value)

    @property
    def winv(self) -> list:
        """Per pattern Sigma_p^-1 on its observed visits."""
        if self.winv_list is None:
            self.winv_list = [Wk[np.ix_(v, v)] for Wk, v in zip(self.W, self.visits, strict=True)]
        return self.winv_list


class Engine:
    """Likelihood, gradient, optimiser and inference quantities for :class:`MMRMData`."""

    def __init__(self, data: MMRMData):
        self.data = data
        self._last = None  # the last state evaluated (deterministic, so reused at equal theta)

    # ---------------------------------------------------------------- core
    def state(self, theta: np.ndarray, order: int = 0) -> _State:
        """Evaluate GLS quantities at theta (order = derivatives of Sigma to keep)."""
        theta = np.asarray(theta, dtype=float)
        last = self._last
        if (last is not None and last.order >= order and last.theta.shape == theta.shape
                and bool((last.theta == theta).all())):
            return last
        d = self.data
        sigmas = [
            st.derivatives(theta[sl], order=order)
            for st, sl in zip(d.structures, d.theta_slices, strict=True)
        ]
        if d.stacked is not None:
            st = self._state_stacked(theta, sigmas)
        else:
            st = self._state_loop(theta, sigmas)
        st.order = order
        self._last = st
        return st

    def _state_stacked(self, theta, sigmas) -> _State:
        d = self.data
        W, logdet = _stacked.inverses(d.stacked, [sg[0] for sg in sigmas])
        XtWX, XtWy, yWy = _stacked.normal_equations(d.stacked, W)
        XtWX = 0.5 * (XtWX + XtWX.T)
        # LAPACK directly: a p x p factorisation costs ~1 us, numpy.linalg's wrappers ~10 us
        L, info = _lapack.dpotrf(XtWX, lower=1)  # the upper triangle is zeroed (clean=1)
        if info != 0:
            raise np.linalg.LinAlgError("X' V^-1 X is not positive definite")
        Li, info = _lapack.dtrtri(L, lower=1)
        if info != 0:
            raise np.linalg.LinAlgError("X' V^-1 X is singular")
        phi = Li.T @ Li
        beta = Li.T @ (Li @ XtWy)
        quad = yWy - float(XtWy @ beta)
        return _State(theta, beta, XtWX, (L, True), phi, None, logdet, quad, sigmas, W=W,
                      visits=[pat.visits for pat in d.patterns], yWy=float(yWy))

    def _state_loop(self, theta, sigmas) -> _State:
        d = self.data
        p = d.n_beta
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
            XtWX += pat.xtax(W)
            XtWy += w @ pat.T
            yWy += float(np.sum(W * pat.Y))
        XtWX = 0.5 * (XtWX + XtWX.T)
        chol = linalg.cho_factor(XtWX, lower=True, check_finite=False)
        beta = linalg.cho_solve(chol, XtWy, check_finite=False)
        phi = linalg.cho_solve(chol, np.eye(p), check_finite=False)
        quad = yWy - float(XtWy @ beta)
        return _State(theta, beta, XtWX, chol, phi, winv, logdet, quad, sigmas, yWy=float(yWy))

    def m2loglik(self, st: _State) -> float:
        """-2 log-likelihood (REML or ML) with all constants."""
        d = self.data
        # observation weights: log|W^-1/2 Sigma_i W^-1/2| = log|Sigma_i| - sum log w
        logdet = st.logdet - d.log_weight
        if d.reml:
            logdet_x = 2.0 * np.log(st.XtWX_chol[0].diagonal()).sum()  # methods: no wrappers
            return (d.n_obs - d.n_beta) * LOG_2PI + logdet + logdet_x + st.quad
        return d.n_obs * LOG_2PI + logdet + st.quad

    def residual_crossprod(self, pat: Pattern, beta: np.ndarray) -> np.ndarray:
        """sum_i r_i r_i' for the pattern's subjects, from its sufficient statistics."""
        mp = len(pat.visits)
        Tb = (pat.T @ beta).reshape(mp, mp)  # [a, b] = sum_i (x_ia' beta) y_ib
        bMb = (pat.M @ np.outer(beta, beta).ravel()).reshape(mp, mp)
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
        return self._value(theta, order=0)[0]

    def _value(self, theta: np.ndarray, order: int):
        """(objective, state) at theta; (inf, None) where it cannot be evaluated."""
        try:
            st = self.state(theta, order=order)
        except (linalg.LinAlgError, ValueError):
            return np.inf, None
        # r'V^-1 r is never negative: far below zero (relative to y'V^-1 y, of which it is the
        # remainder) it is the cancellation of a near-singular Sigma, not a better optimum; a
        # few ulps below zero it is an (almost) exact fit and stays a candidate
        if st.quad < -1e-8 * abs(st.yWy):
            return np.inf, None
        val = 0.5 * self.m2loglik(st)
        return (val, st) if math.isfinite(val) else (np.inf, None)

    def _psi(self, pat: Pattern, phi: np.ndarray) -> np.ndarray:
        """Psi[a, b] = tr(Phi M_p[a, b]), so that tr(Phi X'BX) = sum_ab B_ab Psi_ab."""
        mp = len(pat.visits)
        return (pat.M @ phi.T.ravel()).reshape(mp, mp)

    def gradient_at(self, st: _State) -> np.ndarray:
        """Gradient of the negative log-likelihood at a state computed with order >= 1.

        With :math:`P = V^{-1} - V^{-1}X\\Phi X^\\top V^{-1}` (REML; :math:`V^{-1}` for the trace
        under ML), :math:`\\partial(-2\\ell)/\\partial\\theta_h = \\mathrm{tr}(P V_h) - y^\\top P V_h P y`.
        """
        d = self.data
        if "grad" in st.cache:
            return st.cache["grad"]
        if d.stacked is not None:
            _, EK = self._crossprods(st)
            grad = _stacked.gradient(d.stacked, [sg[1] for sg in st.sigmas], d.theta_slices,
                                     d.n_theta, EK)
            st.cache["grad"] = grad
            return grad
        grad = np.zeros(d.n_theta)
        for k, pat in enumerate(d.patterns):
            W = st.winv[k]
            D1, _ = self._pattern_derivs(st, k)
            n_p = pat.rows.shape[0]
            A = W @ D1 @ W  # (nt, m, m): W dSigma W
            C = self.residual_crossprod(pat, st.beta)
            g = n_p * np.einsum("ab,hba->h", W, D1) - np.einsum("hab,ab->h", A, C)
            if d.reml:
                g = g - np.einsum("hab,ab->h", A, self._psi(pat, st.phi))
            grad[d.theta_slices[pat.group]] += 0.5 * g
        st.cache["grad"] = grad
        return grad

    def hessian_at(self, st: _State) -> np.ndarray:
        """Analytic observed Hessian of the negative log-likelihood (state with order 2).

        .. math::

            \\frac{\\partial^2(-2\\ell)}{\\partial\\theta_h\\partial\\theta_j} =
            \\mathrm{tr}(P V_{hj}) - \\mathrm{tr}(P V_h P V_j)
            + 2 y^\\top P V_h P V_j P y - y^\\top P V_{hj} P y

        (ML: :math:`V^{-1}` in place of :math:`P` inside the two traces), each term accumulated
        per missingness pattern from the sufficient statistics.
        """
        d = self.data
        if "hess" in st.cache:
            return st.cache["hess"]
        p = d.n_beta
        n = d.n_theta
        m = d.structures[0].n_visits
        if d.stacked is not None:
            _, EK = self._crossprods(st)
            st.cache["hess"] = _stacked.hessian(d.stacked, st.sigmas, d.theta_slices, n, st.W,
                                                EK, st.beta, st.phi, d.reml)
            return st.cache["hess"]
        H = np.zeros((n, n))
        # accumulators over patterns, embedded in the full visit space of each group:
        E = [np.zeros((m, m)) for _ in d.structures]  # matrices contracted with d2 Sigma
        G = [np.zeros((m, m, p * p)) for _ in d.structures]  # sum_i (W X_i)_a' (W X_i)_b
        Gb = [np.zeros((m, m, p)) for _ in d.structures]  # sum_i (W X_i)_a' (W r_i)_b
        for k, pat in enumerate(d.patterns):
            W = st.winv[k]
            D1, _ = self._pattern_derivs(st, k, order=1)
            sl = d.theta_slices[pat.group]
            n_p = pat.rows.shape[0]
            mp = len(pat.visits)
            ix = np.ix_(pat.visits, pat.visits)
            C = self.residual_crossprod(pat, st.beta)
            Z = D1 @ W  # (nt, m_p, m_p) = V_h W
            nt = D1.shape[0]
            Zr = Z.reshape(nt, mp * mp)
            # tr(W V_hj) - tr(W V_hj W C) [- tr(W V_hj W Psi) for REML]: linear in V_hj
            Ep = n_p * W - W @ C @ W
            # - tr(W V_h W V_j) + 2 tr(W V_h W V_j W C) [+ 2 tr(W V_h W V_j W Psi) for REML]
            B = 2.0 * (C @ W) - n_p * np.eye(mp)
            if d.reml:
                Psi = self._psi(pat, st.phi)
                Ep = Ep - W @ Psi @ W
                B = B + 2.0 * (Psi @ W)
            E[pat.group][ix] += Ep.T
            H[sl, sl] += Zr @ (Z @ B).transpose(0, 2, 1).reshape(nt, mp * mp).T
            G[pat.group][ix] += _two_sided(W, pat.M.reshape(mp, mp, p * p))
            Rp = (pat.T - (pat.M.reshape(mp * mp, p, p) @ st.beta)).reshape(mp, mp, p)
            Gb[pat.group][ix] += _two_sided(W, Rp)
        st.cache["hess"] = self._hessian_tail(st, H, E, G, Gb)
        return st.cache["hess"]

    def _crossprods(self, st: _State):
        """Stacked residual cross-products, (REML) Psi and trace weights, computed once."""
        if "C" not in st.cache:
            d = self.data
            C = _stacked.residual_crossprods(d.stacked, st.beta)
            Psi = _stacked.psi(d.stacked, st.phi) if d.reml else None
            st.cache["C"] = C
            st.cache["EK"] = _stacked.trace_weights(d.stacked, st.W, C, Psi)
        return st.cache["C"], st.cache["EK"]

    def _hessian_tail(self, st: _State, H, E, G, Gb) -> np.ndarray:
        """Second-derivative and beta terms of the Hessian from the pattern sums."""
        d = self.data
        p = d.n_beta
        n = d.n_theta
        m = d.structures[0].n_visits
        A_all = np.zeros((n, p, p))  # X' V^-1 V_h V^-1 X
        b_all = np.zeros((n, p))  # X' V^-1 V_h V^-1 r
        for g, sl in enumerate(d.theta_slices):
            _, d1, d2 = st.sigmas[g]
            nt = d1.shape[0]
            H[sl, sl] += d2.reshape(nt, nt, m * m) @ E[g].ravel()
            d1r = d1.reshape(nt, m * m)
            A_all[sl] = (d1r @ G[g].reshape(m * m, p * p)).reshape(nt, p, p)
            b_all[sl] = d1r @ Gb[g].reshape(m * m, p)
        PA = st.phi @ A_all  # Phi A_h
        if d.reml:  # - tr(Phi A_h Phi A_j)
            H -= PA.reshape(n, p * p) @ np.swapaxes(PA, 1, 2).reshape(n, p * p).T
        H -= 2.0 * (b_all @ st.phi) @ b_all.T
        H = 0.5 * H  # -loglik = (-2 loglik) / 2
        return 0.5 * (H + H.T)

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
        """Observed (analytic) Hessian of the negative log-likelihood at theta."""
        return self.hessian_at(self.state(theta, order=2))

    def hessian_numeric(self, theta: np.ndarray) -> np.ndarray:
        """Observed Hessian of the negative log-likelihood, numerically (for checking).

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
    def _newton(self, theta: np.ndarray, max_iter: int = 100):
        """Damped Newton with the analytic Hessian (made positive definite where needed).

        Stops when the Newton decrement :math:`g^\\top H^{-1} g` (the predicted decrease of the
        objective, twice) is below 1e-24 or no longer falls (rounding), or no step decreases the
        objective. Once a full step is taken in the quadratic region (decrement < 1e-8, Hessian
        positive definite), the remaining steps reuse that Hessian (its change over steps of
        size ~1e-4 and below is far smaller than the tolerance of the polishing steps), so the
        last steps cost a gradient, not a Hessian.

        Returns
        -------
        theta, value, decrement, eigenvalues of the last Hessian used (None if none)
        """
        f = self._value(theta, 2)[0]  # order 2: an accepted point's state is reused
        dec = np.inf
        prev = np.inf
        chord = None  # (evals, evecs) of the Hessian reused by the polishing steps
        evals = None
        for _ in range(max_iter):
            order = 2 if chord is None else 1
            try:
                st = self.state(theta, order=order)
            except (linalg.LinAlgError, ValueError):
                break
            g = self.gradient_at(st)
            if chord is None:
                evals, evecs = _eigh(self.hessian_at(st))
            else:
                evals, evecs = chord
            floor = 1e-8 * max(1.0, float(np.abs(evals).max()))
            inv_evals = 1.0 / np.maximum(np.abs(evals), floor)
            step = -(evecs * inv_evals) @ (evecs.T @ g)
            dec = float(-(g @ step))
            # exact to rounding, or rounding noise no longer lets the decrement fall
            if dec < 1e-24 or (dec < 1e-16 and dec > 0.25 * prev):
                break
            prev = dec
            if dec < 1e-8 and evals.min() > 0:
                # quadratic region: the full Newton step; the objective may no longer
                # resolve the decrease, so accept it unless it clearly increases
                chord = (evals, evecs)
                cand = theta + step
                f_new = self._value(cand, 1)[0]
                if np.isfinite(f_new) and f_new <= f + 1e-12 * max(1.0, abs(f)):
                    theta, f = cand, min(f, f_new)
                    continue
            t = 1.0
            moved = False
            for _ in range(40):
                cand = theta + t * step
                f_new = self._value(cand, 2 if chord is None else 1)[0]
                if np.isfinite(f_new) and f_new <= f - 1e-4 * t * dec:
                    moved = True
                    break
                t *= 0.5
            if not moved:
                break
            theta, f = cand, f_new
        return theta, f, dec, evals

    def fit(self, theta0: np.ndarray, *, max_iter: int = 200):
        """Minimise the negative log-likelihood from theta0.

        Damped Newton with the analytic Hessian; if that does not reach a stationary point,
        L-BFGS-B with the analytic gradient from the best point, then Newton again.

        Returns
        -------
        theta : ndarray
        converged : bool
            True when the Newton decrement is below 1e-8 at a positive definite Hessian.
        message : str
        """
        theta, f, dec, evals = self._newton(np.asarray(theta0, dtype=float), max_iter=max_iter)
        if not (np.isfinite(f) and dec < 1e-8):
            from scipy import optimize  # imported here: rarely needed, slow to import

            res = optimize.minimize(
                self.value_and_gradient, theta, jac=True, method="L-BFGS-B",
                options={"maxiter": 10 * max_iter, "gtol": 1e-10, "ftol": 1e-15},
            )
            start = np.asarray(res.x, dtype=float)
            theta, f, dec, evals = self._newton(start, max_iter=max_iter)
        converged = False
        message = "converged"
        if np.isfinite(f):
            if evals is None:  # eigenvalues of the Hessian of the last Newton step, else here
                evals = np.linalg.eigvalsh(self.hessian(theta))
            pd_ok = bool(evals.min() > 0)
            converged = bool(dec < 1e-8 and pd_ok)
            if not converged:
                g = self.gradient(theta)
                message = (
                    f"no stationary point with a positive definite Hessian was reached "
                    f"(largest |gradient| {np.max(np.abs(g)):.3g}, Newton decrement {dec:.3g}"
                    f"{'' if pd_ok else ', Hessian not positive definite'})"
                )
        else:
            message = "the likelihood could not be evaluated"
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
            P[d.theta_slices[pat.group]] -= pat.xtax(W @ D1 @ W)
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
            inner = np.tensordot(DW, np.tensordot(Wg, D1, axes=(1, 0)), axes=([0, 2], [0, 1]))
            Qs += pat.xtax(W @ inner @ W)
            if not linear:
                inner2 = np.tensordot(Wg, D2, axes=([0, 1], [0, 1]))
                Rs += pat.xtax(W @ inner2 @ W)
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
            for w in self._empirical_w(st, d):
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

    def _empirical_w(self, st, d: np.ndarray):
        """:math:`w_i = X_i^\\top\\Sigma_i^{-1}X_i d` of the subjects of each pattern, (n_p, p)."""
        for k, pat in enumerate(self.data.patterns):
            Xp = self.data.X[pat.rows]  # (n_p, m_p, p)
            yield np.einsum("iak,ab,ib->ik", Xp, st.winv[k], Xp @ d)


def fit_engine(data: MMRMData, theta0: np.ndarray, *, stacklevel: int = 3):
    """Fit and return (engine, theta, converged, message), warning when not converged.

    ``stacklevel`` points the :class:`ConvergenceWarning` at the user's call.
    """
    eng = make_engine(data)
    if not np.isfinite(eng._value(theta0, 2)[0]):  # order 2: Newton's first state
        raise ModelError("the covariance model cannot be evaluated at its starting values")
    theta, converged, message = eng.fit(theta0)
    if not converged:
        warnings.warn(
            f"MMRM did not converge: {message}. Try a simpler covariance structure "
            "(e.g. toeph, ar1h or cs instead of us), check for visits with very few "
            "observations, or rescale the outcome.",
            ConvergenceWarning,
            stacklevel=stacklevel,
        )
    return eng, theta, converged, message


def make_engine(data: MMRMData) -> Engine:
    """The engine of ``data``: :class:`._spatial_engine.SpatialEngine` for spatial batches."""
    if data.batches is not None:
        from ._spatial_engine import SpatialEngine

        return SpatialEngine(data)
    return Engine(data)
