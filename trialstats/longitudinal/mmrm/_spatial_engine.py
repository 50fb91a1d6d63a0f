"""The MMRM engine for spatial covariances: per-subject blocks, batched over subjects.

Same likelihood, gradient, observed Hessian and inference pieces as :class:`._engine.Engine`
(see its formulas), for :class:`._batches.Batch` data: each subject has its own block
:math:`\\Sigma_i = \\sigma^2 R_i(\\theta_2)` at its own times, so nothing is shared between
subjects, and every per-subject quantity is computed for a whole batch of subjects with ``k``
observations as ``(n, k, k)`` arrays, then summed. Memory and time are linear in the rows.

Notation per subject: :math:`W = \\Sigma^{-1}`, :math:`r = y - X\\hat\\beta`, :math:`u = Wr`,
:math:`G = uu^\\top + WX\\Phi X^\\top W` (ML: :math:`uu^\\top`), :math:`T = \\partial\\Sigma/
\\partial\\theta_2`, :math:`U = \\partial^2\\Sigma/\\partial\\theta_2^2`, :math:`Z = TWX`. The
derivatives of :math:`-2\\ell` are those of the generic engine,

.. math::

    \\partial_h = \\sum_i \\mathrm{tr}(V_h(W - G)), \\quad
    \\partial_{hj} = \\sum_i [\\mathrm{tr}(V_hWV_j(2G - W)) + \\mathrm{tr}(V_{hj}(W - G))]
    - [\\mathrm{tr}(\\Phi A_h\\Phi A_j)]_{REML} - 2b_h^\\top\\Phi b_j,

:math:`A_h = \\sum_i X^\\top WV_hWX`, :math:`b_h = \\sum_i X^\\top WV_hu`, simplified with the
log-variance parameter's :math:`V_0 = V_{00} = \\Sigma` (so :math:`V_0W = I`) and
:math:`V_{01} = T`: :math:`\\partial_0 = \\sum_i (k_i - c_i)` with
:math:`c_i = \\mathrm{tr}(\\Sigma G) = r^\\top u + [\\mathrm{tr}(\\Phi X^\\top WX)]`,
:math:`\\partial_1 = \\sum_i \\mathrm{tr}(TW) - \\mathrm{tr}(TG)`, the first sums of the
Hessian :math:`\\sum_i c_i`, :math:`\\sum_i \\mathrm{tr}(TG)` and
:math:`\\sum_i 2\\mathrm{tr}(TWTG) - \\mathrm{tr}(TWTW) + \\mathrm{tr}(U(W - G))`, and
:math:`A_0 = X^\\top V^{-1}X`, :math:`A_1 = \\sum_i X^\\top W Z`, :math:`b_0 = \\sum_i X^\\top u`,
:math:`b_1 = \\sum_i Z^\\top u`. Five batched products per Newton step, and a Cholesky
factorisation vectorised over subjects (:func:`._batches.cholesky_inverse`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.linalg import lapack as _lapack

from ._batches import cholesky_inverse
from ._engine import Engine, _State

__all__ = ["SpatialEngine"]


class _Sigmas(Sequence):
    """Per group (Sigma, None, None) over the structure's distinct times, computed on access.

    The fit never needs the matrix over every distinct day (its size is the square of the
    number of days); results read it once, for ``fit.covariance``.
    """

    def __init__(self, structures, theta, slices):
        self._args = (structures, theta, slices)
        self._cache = {}

    def __len__(self):
        return len(self._args[0])

    def __getitem__(self, g):
        if not -len(self) <= g < len(self):
            raise IndexError(g)
        g = g % len(self)
        if g not in self._cache:
            structures, theta, slices = self._args
            self._cache[g] = structures[g].derivatives(theta[slices[g]], order=0)
        return self._cache[g]


@dataclass
class _BatchState:
    """One batch at one theta (arrays (n, k, k), (n, k, p), (n, k); XtWX (p, p))."""

    S: np.ndarray
    Li: np.ndarray  # inverse Cholesky factor: W = Li' Li
    W: np.ndarray
    WX: np.ndarray
    Wy: np.ndarray
    XtWX: np.ndarray


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
            Li, W, ld = cholesky_inverse(S)  # LinAlgError when a block is not positive definite
            logdet += ld
            WX = W @ b.X
            Wy = (W @ b.y[:, :, None])[:, :, 0]
            Xf = b.X.reshape(-1, p)
            XtWX_b = Xf.T @ WX.reshape(-1, p)
            XtWX += XtWX_b
            XtWy += Xf.T @ Wy.ravel()
            yWy += float(b.y.ravel() @ Wy.ravel())
            parts.append(_BatchState(S, Li, W, WX, Wy, XtWX_b))
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
    def _terms(self, st: _State, i: int) -> dict:
        """First-order pieces of batch i at st (cached): u, r, T, Z = T W X, c, tr(TW), tr(TG)."""
        key = ("terms", i)
        if key in st.cache:
            return st.cache[key]
        d = self.data
        b = d.batches[i]
        bs = st.cache["batches"][i]
        p = d.n_beta
        sl = d.theta_slices[b.group]
        T = d.structures[b.group].batch_derivatives(st.theta[sl], b.power, order=1)[1][1]
        r = b.y - b.X @ st.beta
        u = bs.Wy - bs.WX @ st.beta
        Z = T @ bs.WX
        Tu = (T @ u[:, :, None])[:, :, 0]
        c = float(np.sum(u * r))  # sum_i tr(Sigma u u') = r' W r
        trTG = float(np.sum(u * Tu))
        WXphi = None
        if d.reml:
            WXphi = (bs.WX.reshape(-1, p) @ st.phi).reshape(bs.WX.shape)
            c += float(np.sum(st.phi * bs.XtWX))
            trTG += float(np.sum(Z * WXphi))
        out = dict(T=T, r=r, u=u, Z=Z, Tu=Tu, c=c, trTG=trTG, trTW=float(np.sum(T * bs.W)),
                   WXphi=WXphi)
        st.cache[key] = out
        return out

    def _ab(self, st: _State):
        """A_h = sum_i X' W V_h W X (n_theta, p, p) and b_h = sum_i X' W V_h u (n_theta, p)."""
        if "AB" not in st.cache:
            d = self.data
            p = d.n_beta
            A = np.zeros((d.n_theta, p, p))
            bv = np.zeros((d.n_theta, p))
            for i, b in enumerate(d.batches):
                bs = st.cache["batches"][i]
                t = self._terms(st, i)
                h0 = d.theta_slices[b.group].start
                uf = t["u"].ravel()
                A[h0] += bs.XtWX
                A[h0 + 1] += bs.WX.reshape(-1, p).T @ t["Z"].reshape(-1, p)
                bv[h0] += b.X.reshape(-1, p).T @ uf
                bv[h0 + 1] += t["Z"].reshape(-1, p).T @ uf
            st.cache["AB"] = (A, bv)
        return st.cache["AB"]

    # ---------------------------------------------------------------- likelihood derivatives
    def gradient_at(self, st: _State) -> np.ndarray:
        """Gradient of the negative log-likelihood (module formula)."""
        if "grad" in st.cache:
            return st.cache["grad"]
        d = self.data
        grad = np.zeros(d.n_theta)
        for i, b in enumerate(d.batches):
            t = self._terms(st, i)
            h0 = d.theta_slices[b.group].start
            grad[h0] += 0.5 * (b.y.size - t["c"])
            grad[h0 + 1] += 0.5 * (t["trTW"] - t["trTG"])
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
            t = self._terms(st, i)
            sl = d.theta_slices[b.group]
            U = d.structures[b.group].batch_derivatives(st.theta[sl], b.power, order=2)[2][1][1]
            TW = t["T"] @ bs.W
            trTWTW = float(np.sum(TW * np.swapaxes(TW, 1, 2)))
            WTu = (bs.W @ t["Tu"][:, :, None])[:, :, 0]
            trTWTG = float(np.sum(t["Tu"] * WTu))  # u' T W T u
            trUG = float(np.einsum("na,nab,nb->", t["u"], U, t["u"]))
            if d.reml:  # + tr(Phi Z' W Z) and tr(U W X Phi X' W)
                trTWTG += float(np.sum((bs.W @ t["Z"]) * t["Z"].reshape(-1, p)
                                       .dot(st.phi).reshape(t["Z"].shape)))
                trUG += float(np.sum((U @ bs.WX) * t["WXphi"]))
            h0 = sl.start
            H[h0, h0] += t["c"]
            H[h0, h0 + 1] += t["trTG"]
            H[h0 + 1, h0] += t["trTG"]
            H[h0 + 1, h0 + 1] += (2.0 * trTWTG - trTWTW + float(np.sum(U * bs.W)) - trUG)
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
        """sum_hj W_hj Q_hj and sum_hj W_hj R_hj (R omitted when ``linear``).

        With :math:`V_0 = \\Sigma`: :math:`Q_{00} = R_{00} = A_0`, :math:`Q_{01} = R_{01} = A_1`,
        :math:`Q_{11} = \\sum_i Z^\\top WZ` and :math:`R_{11} = \\sum_i X^\\top WUWX`.
        """
        d = self.data
        p = d.n_beta
        Qs = np.zeros((p, p))
        Rs = np.zeros((p, p))
        A, _ = self._ab(st)
        for g, sl in enumerate(d.theta_slices):
            Wg = theta_vcov[sl, sl]
            h0 = sl.start
            both = Wg[0, 0] * A[h0] + (Wg[0, 1] + Wg[1, 0]) * A[h0 + 1]
            Qs += both
            if not linear:
                Rs += both
            for i, b in enumerate(d.batches):
                if b.group != g:
                    continue
                bs = st.cache["batches"][i]
                Z = self._terms(st, i)["Z"]
                Qs += Wg[1, 1] * (Z.reshape(-1, p).T @ (bs.W @ Z).reshape(-1, p))
                if not linear:
                    U = d.structures[g].batch_derivatives(st.theta[sl], b.power, order=2)[2][1][1]
                    Rs += Wg[1, 1] * (bs.WX.reshape(-1, p).T @ (U @ bs.WX).reshape(-1, p))
        return Qs, Rs

    def subject_scores(self, st: _State) -> np.ndarray:
        """X_i' Sigma_i^-1 r_i for every subject (n_subjects, p), for the sandwich."""
        d = self.data
        out = np.zeros((d.group.shape[0], d.n_beta))
        for i, b in enumerate(d.batches):
            out[b.subjects] = np.einsum("nak,na->nk", b.X, self._terms(st, i)["u"])
        return out

    def whitened_blocks(self, st: _State):
        """Per batch: the batch, whitened X (n, k, p), whitened residuals (n, k), Xt Phi Xt'.

        Whitened by :math:`L_i^{-1}` (:math:`\\Sigma_i = L_iL_i^\\top`); any square root of
        :math:`W_i` gives the same sandwich (they differ by an orthogonal factor).
        """
        for i, b in enumerate(self.data.batches):
            Li = st.cache["batches"][i].Li
            Xt = Li @ b.X
            et = (Li @ (b.y - b.X @ st.beta)[:, :, None])[:, :, 0]
            H = (Xt @ st.phi) @ np.swapaxes(Xt, 1, 2)
            yield b, Xt, et, H

    def _empirical_w(self, st, d: np.ndarray):
        """:math:`w_i = X_i^\\top W_i X_i d` of the subjects of each batch (for
        :meth:`._engine.Engine.empirical_df`)."""
        for i, b in enumerate(self.data.batches):
            yield np.einsum("nak,na->nk", st.cache["batches"][i].WX, b.X @ d)
