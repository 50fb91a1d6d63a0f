"""The MMRM engine for spatial covariances: per-subject blocks, batched over subjects.

Same likelihood, gradient, observed Hessian and inference pieces as :class:`._engine.Engine`
(see its formulas), for :class:`._batches.Batch` data: each subject has its own block
:math:`\\Sigma_i(\\theta)` (its own times), so nothing is shared between subjects and every
per-subject quantity is computed for a whole batch of subjects with ``k`` observations as
``(n, k, k)`` arrays (batched Cholesky factors, products and traces), then summed. With
:math:`W_i = \\Sigma_i^{-1}`, :math:`u_i = W_i r_i` and
:math:`G_i = u_i u_i^\\top + W_iX_i\\Phi X_i^\\top W_i` (ML: :math:`u_iu_i^\\top` only), the
derivative of :math:`-2\\ell` is :math:`\\sum_i \\mathrm{tr}(V_{ih}(W_i - G_i))` and its second
derivative

.. math::

    \\sum_i \\left[\\mathrm{tr}(V_{ih} W_i V_{ij} (2G_i - W_i)) + \\mathrm{tr}(V_{ihj}(W_i - G_i))
    \\right] - [\\mathrm{tr}(\\Phi A_h \\Phi A_j)]_{REML} - 2 b_h^\\top \\Phi b_j,

with :math:`A_h = \\sum_i X_i^\\top W_i V_{ih} W_i X_i` and
:math:`b_h = \\sum_i X_i^\\top W_i V_{ih} u_i`: the per-pattern sums of the generic engine with
one "pattern" per subject. Cost and memory are linear in the rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.linalg import lapack as _lapack

from ._engine import Engine, _State

__all__ = ["SpatialEngine"]


class _Sigmas(Sequence):
    """Per group (Sigma, None, None) over the structure's distinct times, computed on access.

    The fit itself never needs the full matrix over every distinct day (which grows as the
    square of the number of days); results read it once for ``fit.covariance``.
    """

    def __init__(self, structures, theta, slices):
        self._args = (structures, theta, slices)
        self._cache = {}

    def __len__(self):
        return len(self._args[0])

    def __getitem__(self, g):
        if g not in self._cache:
            structures, theta, slices = self._args
            self._cache[g] = structures[g].derivatives(theta[slices[g]], order=0)
        return self._cache[g]


@dataclass
class _BatchState:
    """One batch at one theta: Li (inverse Cholesky factor), W = Li' Li, W X and W y."""

    Li: np.ndarray  # (n, k, k)
    W: np.ndarray  # (n, k, k)
    WX: np.ndarray  # (n, k, p)
    Wy: np.ndarray  # (n, k)


class SpatialEngine(Engine):
    """:class:`._engine.Engine` for data with ``batches`` (spatial covariances)."""

    def state(self, theta: np.ndarray, order: int = 0) -> _State:
        """GLS quantities at theta (derivatives of Sigma_i are computed where needed)."""
        theta = np.asarray(theta, dtype=float)
        last = self._last
        if (last is not None and last.theta.shape == theta.shape
                and bool((last.theta == theta).all())):
            last.order = max(last.order, order)
            return last
        d = self.data
        p = d.n_beta
        XtWX = np.zeros((p, p))
        XtWy = np.zeros(p)
        yWy = 0.0
        logdet = 0.0
        parts = []
        for b in d.batches:
            sl = d.theta_slices[b.group]
            S = d.structures[b.group].batch_derivatives(theta[sl], b.power, order=0)[0]
            L = np.linalg.cholesky(S)  # LinAlgError when a block is not positive definite
            logdet += 2.0 * float(np.log(np.diagonal(L, axis1=1, axis2=2)).sum())
            Li = np.linalg.inv(L)
            W = np.swapaxes(Li, 1, 2) @ Li
            WX = W @ b.X
            Wy = np.einsum("nab,nb->na", W, b.y)
            Xf = b.X.reshape(-1, p)
            XtWX += Xf.T @ WX.reshape(-1, p)
            XtWy += Xf.T @ Wy.ravel()
            yWy += float(b.y.ravel() @ Wy.ravel())
            parts.append(_BatchState(Li, W, WX, Wy))
        XtWX = 0.5 * (XtWX + XtWX.T)
        Lx, info = _lapack.dpotrf(XtWX, lower=1)
        if info != 0:
            raise np.linalg.LinAlgError("X' V^-1 X is not positive definite")
        Lxi, info = _lapack.dtrtri(Lx, lower=1)
        if info != 0:
            raise np.linalg.LinAlgError("X' V^-1 X is singular")
        phi = Lxi.T @ Lxi
        beta = Lxi.T @ (Lxi @ XtWy)
        quad = yWy - float(XtWy @ beta)
        st = _State(theta, beta, XtWX, (Lx, True), phi, None, logdet, quad,
                    _Sigmas(d.structures, theta, d.theta_slices), order=order, yWy=float(yWy))
        st.cache["batches"] = parts
        self._last = st
        return st

    # ---------------------------------------------------------------- per-batch pieces
    def _derivs(self, st: _State, i: int, order: int):
        """(d1, d2) of batch i's blocks, (nt, n, k, k) and (nt, nt, n, k, k), cached."""
        if ("d", i, 2) in st.cache:  # second order holds the first
            return st.cache[("d", i, 2)]
        key = ("d", i, order)
        if key not in st.cache:
            b = self.data.batches[i]
            sl = self.data.theta_slices[b.group]
            _, d1, d2 = self.data.structures[b.group].batch_derivatives(
                st.theta[sl], b.power, order=order)
            st.cache[key] = (d1, d2)
        return st.cache[key]

    def _uG(self, st: _State, i: int):
        """u = W r (n, k) and G = u u' [+ W X Phi X' W] (n, k, k) of batch i, cached."""
        key = ("uG", i)
        if key not in st.cache:
            bs = st.cache["batches"][i]
            u = bs.Wy - bs.WX @ st.beta
            G = u[:, :, None] * u[:, None, :]
            if self.data.reml:
                G = G + (bs.WX @ st.phi) @ np.swapaxes(bs.WX, 1, 2)
            st.cache[key] = (u, G)
        return st.cache[key]

    def _ab(self, st: _State):
        """A_h = sum_i X_i' W_i V_ih W_i X_i (n_theta, p, p) and b_h = sum_i X_i' W_i V_ih u_i."""
        if "AB" not in st.cache:
            d = self.data
            p = d.n_beta
            A = np.zeros((d.n_theta, p, p))
            bv = np.zeros((d.n_theta, p))
            for i, b in enumerate(d.batches):
                bs = st.cache["batches"][i]
                d1, _ = self._derivs(st, i, 1)
                u, _ = self._uG(st, i)
                nt = d1.shape[0]
                sl = d.theta_slices[b.group]
                WXf = bs.WX.reshape(-1, p)
                A[sl] += WXf.T @ (d1 @ bs.WX).reshape(nt, -1, p)
                bv[sl] += np.einsum("hnab,nb->hna", d1, u).reshape(nt, -1) @ WXf
            st.cache["AB"] = (A, bv)
        return st.cache["AB"]

    # ---------------------------------------------------------------- likelihood derivatives
    def gradient_at(self, st: _State) -> np.ndarray:
        """Gradient of the negative log-likelihood: 0.5 sum_i tr(V_ih (W_i - G_i))."""
        if "grad" in st.cache:
            return st.cache["grad"]
        d = self.data
        grad = np.zeros(d.n_theta)
        for i, b in enumerate(d.batches):
            bs = st.cache["batches"][i]
            d1, _ = self._derivs(st, i, 1)
            _, G = self._uG(st, i)
            grad[d.theta_slices[b.group]] += 0.5 * (d1.reshape(d1.shape[0], -1)
                                                    @ (bs.W - G).ravel())
        st.cache["grad"] = grad
        return grad

    def hessian_at(self, st: _State) -> np.ndarray:
        """Analytic observed Hessian of the negative log-likelihood (module formula)."""
        if "hess" in st.cache:
            return st.cache["hess"]
        d = self.data
        n = d.n_theta
        p = d.n_beta
        H = np.zeros((n, n))
        for i, b in enumerate(d.batches):
            bs = st.cache["batches"][i]
            d1, d2 = self._derivs(st, i, 2)
            _, G = self._uG(st, i)
            nt = d1.shape[0]
            sl = d.theta_slices[b.group]
            VW = (d1 @ bs.W).reshape(nt, -1)
            R = np.swapaxes(d1 @ (2.0 * G - bs.W), -1, -2).reshape(nt, -1)
            H[sl, sl] += VW @ R.T + d2.reshape(nt, nt, -1) @ (bs.W - G).ravel()
        A, bv = self._ab(st)
        PA = st.phi @ A
        if d.reml:
            H -= PA.reshape(n, p * p) @ np.swapaxes(PA, 1, 2).reshape(n, p * p).T
        H -= 2.0 * (bv @ st.phi) @ bv.T
        H = 0.5 * H
        st.cache["hess"] = 0.5 * (H + H.T)
        return st.cache["hess"]

    # ---------------------------------------------------------------- inference pieces
    def p_matrices(self, st: _State) -> np.ndarray:
        """P_h = -X' V^-1 V_h V^-1 X (n_theta, p, p)."""
        return -self._ab(st)[0]

    def kr_sums(self, st: _State, theta_vcov: np.ndarray, linear: bool):
        """sum_hj W_hj Q_hj and sum_hj W_hj R_hj (R omitted when ``linear``)."""
        d = self.data
        p = d.n_beta
        Qs = np.zeros((p, p))
        Rs = np.zeros((p, p))
        for i, b in enumerate(d.batches):
            bs = st.cache["batches"][i]
            d1, d2 = self._derivs(st, i, 1 if linear else 2)
            sl = d.theta_slices[b.group]
            Wg = theta_vcov[sl, sl]
            T = np.tensordot(Wg, d1, axes=(1, 0))  # T_h = sum_j Wg_hj V_j
            inner = ((d1 @ bs.W) @ T).sum(axis=0)  # sum_hj Wg_hj V_h W V_j
            WXf = bs.WX.reshape(-1, p)
            Qs += WXf.T @ (inner @ bs.WX).reshape(-1, p)
            if not linear:
                inner2 = np.tensordot(Wg, d2, axes=([0, 1], [0, 1]))
                Rs += WXf.T @ (inner2 @ bs.WX).reshape(-1, p)
        return Qs, Rs

    def subject_scores(self, st: _State) -> np.ndarray:
        """X_i' Sigma_i^-1 r_i for every subject (n_subjects, p), for the sandwich."""
        d = self.data
        out = np.zeros((d.group.shape[0], d.n_beta))
        for i, b in enumerate(d.batches):
            u, _ = self._uG(st, i)
            out[b.subjects] = np.einsum("nak,na->nk", b.X, u)
        return out

    def whitened_blocks(self, st: _State):
        """Per batch: whitened X (n, k, p), whitened residuals (n, k) and H = Xt Phi Xt'.

        Whitened by :math:`L_i^{-1}` (:math:`\\Sigma_i = L_iL_i^\\top`); any square root of
        :math:`W_i` gives the same sandwich (they differ by an orthogonal factor).
        """
        for i, b in enumerate(self.data.batches):
            Li = st.cache["batches"][i].Li
            Xt = Li @ b.X
            et = np.einsum("nab,nb->na", Li, b.y - b.X @ st.beta)
            H = (Xt @ st.phi) @ np.swapaxes(Xt, 1, 2)
            yield b, Xt, et, H

    def empirical_df(self, theta: np.ndarray, L: np.ndarray) -> np.ndarray:
        """Bell-McCaffrey df of the sandwich, as :meth:`._engine.Engine.empirical_df`."""
        st = self.state(theta, order=0)
        p = self.data.n_beta
        d_all = np.atleast_2d(L) @ st.phi
        out = np.empty(d_all.shape[0])
        for r, dvec in enumerate(d_all):
            trG = sum_b2 = cross = 0.0
            S = np.zeros((p, p))
            for i, b in enumerate(self.data.batches):
                WX = st.cache["batches"][i].WX
                w = np.einsum("nak,na->nk", WX, b.X @ dvec)  # X_i' W_i X_i d
                bb = w @ dvec
                wPw = np.einsum("ik,kl,il->i", w, st.phi, w)
                trG += float(np.sum(bb - wPw))
                sum_b2 += float(np.sum(bb * bb))
                cross += float(np.sum(bb * wPw))
                S += w.T @ w
            PS = st.phi @ S
            sumG2 = sum_b2 - 2.0 * cross + float(np.sum(PS * PS.T))
            out[r] = trG**2 / sumG2 if sumG2 > 0 else np.inf
        return out
