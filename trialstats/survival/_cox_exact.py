"""R's exact partial likelihood for tied event times (``coxph(ties="exact")``).

At an event time with :math:`d` tied events among the risk set :math:`R`, the contribution is
that of the discrete (conditional logistic) model,

.. math::

    L_t = \\frac{\\exp(\\sum_{i \\in D} \\eta_i)}{\\sum_{S \\subset R, |S| = d}
          \\exp(\\sum_{j \\in S} \\eta_j)},

whose denominator is the elementary symmetric polynomial :math:`e_d(r)` of the risks
:math:`r_j = e^{\\eta_j}`. It and its first two derivatives in :math:`\\beta` come from the
recursion of Gail, Lubin and Rubinstein (1981), :math:`e_k(r_1..r_m) = e_k(r_1..r_{m-1}) +
r_m e_{k-1}(r_1..r_{m-1})`, as R ``coxexact.c`` / ``agexact.c``. Risks are scaled by the
largest in the risk set (the log adds back :math:`d \\max \\eta`).

Neither lifelines nor statsmodels (``PHReg``: Breslow and Efron only) fits this model. The cost
is O(n d p^2) per event time in a Python loop over the risk set: meant for the small, heavily
tied data sets where the exact method matters. Case weights are refused, as R does not define
them for this method.
"""

from __future__ import annotations

import numpy as np

from . import _cox_engine as engine

__all__ = ["fit", "loglik_grad_info"]


def _risk_sets(data: engine.CoxData):
    """Row indices at risk and of the events, per cell with events."""
    cells = np.flatnonzero(data.d > 0)
    exit_cell = data.exit_cell
    for c in cells:
        lo, hi = data.cell_stratum_start[c], data.cell_stratum_end[c]
        at_risk = (data.cell >= c) & (data.cell < hi)
        if exit_cell is not None:
            at_risk &= ~((exit_cell >= c) & (exit_cell < hi))
        at_risk &= data.cell >= lo
        yield np.flatnonzero(at_risk), data.death_rows[data.death_cell == c]


def _log_esp(x: np.ndarray, eta: np.ndarray, d: int):
    """log e_d(exp(eta)) with its gradient and Hessian in beta (x: rows of the risk set)."""
    p = x.shape[1]
    top = eta.max()
    r = np.exp(eta - top)
    f = np.zeros(d + 1)
    g = np.zeros((d + 1, p))
    h = np.zeros((d + 1, p, p))
    f[0] = 1.0
    for m in range(len(r)):
        xm, rm = x[m], r[m]
        # k descending so that the right-hand side is the previous m's values
        h[1:] += rm * (np.outer(xm, xm)[None] * f[:-1, None, None]
                       + xm[None, :, None] * g[:-1, None, :]
                       + g[:-1, :, None] * xm[None, None, :] + h[:-1])
        g[1:] += rm * (xm[None, :] * f[:-1, None] + g[:-1])
        f[1:] += rm * f[:-1]
    fd, gd, hd = f[d], g[d], h[d]
    return np.log(fd) + d * top, gd / fd, hd / fd - np.outer(gd, gd) / fd**2


def loglik_grad_info(data: engine.CoxData, beta):
    """Exact log partial likelihood, score and information at ``beta``."""
    eta = data.x @ beta
    p = data.x.shape[1]
    ll, grad, info = 0.0, np.zeros(p), np.zeros((p, p))
    for rows, deaths in _risk_sets(data):
        lse, dlse, d2lse = _log_esp(data.x[rows], eta[rows], len(deaths))
        ll += eta[deaths].sum() - lse
        grad += data.x[deaths].sum(axis=0) - dlse
        info += d2lse
    return float(ll), grad, info


def fit(data: engine.CoxData) -> dict:
    """Newton-Raphson on the exact partial likelihood (see :func:`._cox_engine.fit`)."""
    return engine.fit(data, objective=loglik_grad_info)
