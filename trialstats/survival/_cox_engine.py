"""Cox partial likelihood on arrays: Efron or Breslow ties, strata, score residuals, cox.zph.

Everything here takes NumPy arrays and returns arrays; :mod:`trialstats.survival.cox` is the
formula front end. Efron fits themselves are lifelines' (``CoxPHFitter``, see ``cox.py``); this
engine fits Breslow ties (lifelines has none) and gives what lifelines lacks or computes
differently from R: Efron-adjusted score residuals and the robust sandwich, ``cox.zph`` and the
stratified concordance. The algorithms follow R ``survival`` (``coxph.fit``, ``coxscore2``,
``cox.zph``) and are checked against it in ``tests/test_survival_cox.py``.

At a distinct event time :math:`t` (within a stratum) with :math:`d` tied events, Efron's
approximation has sub-steps :math:`l = 0..d-1` with weight :math:`f_l = l/d` (Breslow:
:math:`f_l = 0`) and denominator :math:`D_l = S_0 - f_l E_0`, where :math:`S_k` sums
:math:`e^{\\eta} x^{\\otimes k}` over the risk set and :math:`E_k` over the tied events. Then

.. math::

    \\ell = \\sum_{\\text{events}} \\eta_i - \\sum_l \\log D_l, \\quad
    U = \\sum_{\\text{events}} x_i - \\bigl(S_1 A - E_1 B\\bigr), \\quad
    I = S_2 A - E_2 B - \\bigl(S_1 S_1^T C - (S_1 E_1^T + E_1 S_1^T) G + E_1 E_1^T F\\bigr)

summed over event times, with the scalars :math:`A = \\sum_l D_l^{-1}`,
:math:`B = \\sum_l f_l D_l^{-1}`, :math:`C = \\sum_l D_l^{-2}`, :math:`G = \\sum_l f_l D_l^{-2}`,
:math:`F = \\sum_l f_l^2 D_l^{-2}`. Rows are aggregated by (stratum, distinct time) once per
iteration, so the cost is O(n p^2) in bincounts plus O(m p^2) for m distinct times.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from ..errors import ConvergenceWarning, ModelError


@dataclass(frozen=True)
class CoxData:
    """Rows indexed by (stratum, distinct time) cells, in increasing order within strata."""

    x: np.ndarray  # n x p
    event: np.ndarray  # n, 0/1 float
    cell: np.ndarray  # n, cell index of each row (its stop time)
    n_cells: int
    cell_stratum_end: np.ndarray  # for each cell: index one past the last cell of its stratum
    cell_stratum_start: np.ndarray  # for each cell: index of the first cell of its stratum
    death_rows: np.ndarray  # row indices of the events, grouped by cell
    death_cell: np.ndarray  # cell of each event
    frac: np.ndarray  # f_l of each event (Efron l/d, Breslow 0)
    d: np.ndarray  # events per cell (float)
    weight: np.ndarray | None = None  # case weights (None = all 1)
    exit_cell: np.ndarray | None = None  # (start, stop] data: last cell at or before the start
    mean_weight: np.ndarray | None = None  # per event: mean case weight of its tie group

    @property
    def w(self) -> np.ndarray:
        """Case weights of the rows (ones without weights)."""
        return np.ones(len(self.event)) if self.weight is None else self.weight


def prepare(time, event, x, strata, ties: str, weights=None, start=None) -> CoxData:
    """Index rows by (stratum, time) cells and precompute the Efron fractions.

    ``time`` is the stop time; with ``start`` (counting-process data) a row is at risk at the
    event times ``t`` with ``start < t <= time``. ``weights`` are R's case weights.
    """
    n = len(time)
    s = np.zeros(n, dtype=np.int64) if strata is None else np.asarray(strata, dtype=np.int64)
    utime, trank = np.unique(time, return_inverse=True)
    big = len(utime)
    key = s * big + trank
    ukey, cell = np.unique(key, return_inverse=True)
    m = len(ukey)
    cs = ukey // big
    bounds = np.flatnonzero(np.diff(cs)) + 1
    starts = np.concatenate([[0], bounds])
    ends = np.concatenate([bounds, [m]])
    which = np.searchsorted(starts, np.arange(m), side="right") - 1
    ev = np.asarray(event, dtype=float)
    deaths = np.flatnonzero(ev > 0)
    order = np.argsort(cell[deaths], kind="stable")
    deaths = deaths[order]
    dcell = cell[deaths]
    d = np.bincount(dcell, minlength=m).astype(float)
    first = np.searchsorted(dcell, dcell, side="left")
    pos = np.arange(len(deaths)) - first
    frac = pos / d[dcell] if ties == "efron" else np.zeros(len(deaths))
    exit_cell = None
    if start is not None:
        # the last cell of the row's stratum whose time is <= start (m = none: never subtracted)
        r = np.searchsorted(utime, np.asarray(start, dtype=float), side="right") - 1
        pos_key = np.searchsorted(ukey, s * big + np.maximum(r, 0), side="right") - 1
        valid = (r >= 0) & (pos_key >= 0)
        valid &= cs[np.maximum(pos_key, 0)] == s
        exit_cell = np.where(valid, pos_key, m)
    w = None if weights is None else np.asarray(weights, dtype=float)
    mean_w = None
    if w is not None:
        mean_w = (np.bincount(dcell, weights=w[deaths], minlength=m) / np.maximum(d, 1))[dcell]
    return CoxData(np.asarray(x, dtype=float), ev, cell, m, ends[which], starts[which], deaths,
                   dcell, frac, d, w, exit_cell, mean_w)


def risk_sums(a, data: CoxData):
    """Sums of the per-row values ``a`` over the risk set of each cell (n or n x k -> m or m x k)."""
    a = np.asarray(a, dtype=float)
    m = data.n_cells
    if a.ndim == 1:
        tot = np.bincount(data.cell, weights=a, minlength=m)
        if data.exit_cell is not None:
            tot = tot - np.bincount(data.exit_cell, weights=a, minlength=m + 1)[:m]
    else:
        tot = np.column_stack([np.bincount(data.cell, weights=a[:, j], minlength=m)
                               for j in range(a.shape[1])]).reshape(m, a.shape[1])
        if data.exit_cell is not None:
            tot = tot - np.column_stack(
                [np.bincount(data.exit_cell, weights=a[:, j], minlength=m + 1)[:m]
                 for j in range(a.shape[1])]).reshape(m, a.shape[1])
    return _rev_cumsum_strata(tot, data)


def _rev_cumsum_strata(a, data: CoxData):
    """Sum over cells at or after each cell within its stratum (risk-set sums)."""
    total = np.cumsum(a[::-1], axis=0)[::-1]
    pad = np.concatenate([total, np.zeros((1,) + a.shape[1:])], axis=0)
    return total - pad[data.cell_stratum_end]


def _cum_strata(a, data: CoxData):
    """Sum over cells at or before each cell within its stratum."""
    total = np.cumsum(a, axis=0)
    pad = np.concatenate([np.zeros((1,) + a.shape[1:]), total], axis=0)
    return total - pad[data.cell_stratum_start]


def _cell_sums(data: CoxData, beta, second: bool = True) -> dict:
    """Risk-set and tied-event sums per cell, and the Efron scalar sums.

    With case weights the scalars ``A, B, C, G, F`` carry the tie group's mean weight (R
    ``coxfit6``: each Efron sub-step counts ``meanwt`` times); ``A1, B1`` are unweighted.
    """
    x, m = data.x, data.n_cells
    p = x.shape[1]
    eta = x @ beta
    r = np.exp(eta) if data.weight is None else np.exp(eta) * data.weight
    s0 = risk_sums(r, data)
    s1 = risk_sums(r[:, None] * x, data)
    dc = data.death_cell
    # tied-event sums by bincount over all rows (cheaper than indexing the event rows)
    re = r * data.event
    cell = data.cell
    e0 = np.bincount(cell, weights=re, minlength=m)
    e1 = np.column_stack([np.bincount(cell, weights=re * x[:, j], minlength=m)
                          for j in range(p)])
    f = data.frac
    den = s0[dc] - f * e0[dc]
    out = {"eta": eta, "r": r, "s0": s0, "s1": s1, "e0": e0, "e1": e1, "den": den}
    inv = 1.0 / den
    out["A1"] = np.bincount(dc, weights=inv, minlength=m)
    out["B1"] = np.bincount(dc, weights=f * inv, minlength=m)
    mw = np.ones(len(dc)) if data.mean_weight is None else data.mean_weight
    inv = mw / den
    inv2 = inv / den
    out["mw"] = mw
    out["A"] = np.bincount(dc, weights=inv, minlength=m)
    out["B"] = np.bincount(dc, weights=f * inv, minlength=m)
    out["C"] = np.bincount(dc, weights=inv2, minlength=m)
    out["G"] = np.bincount(dc, weights=f * inv2, minlength=m)
    out["F"] = np.bincount(dc, weights=f * f * inv2, minlength=m)
    if second:
        iu = np.triu_indices(p)
        w = r[:, None] * x[:, iu[0]] * x[:, iu[1]]
        s2u = risk_sums(w, data)
        e2u = np.column_stack([np.bincount(cell, weights=w[:, k] * data.event, minlength=m)
                               for k in range(w.shape[1])])
        out["s2"] = _unpack(s2u, p, iu)
        out["e2"] = _unpack(e2u, p, iu)
    return out


def _unpack(upper, p, iu):
    full = np.zeros((upper.shape[0], p, p))
    full[:, iu[0], iu[1]] = upper
    full[:, iu[1], iu[0]] = upper
    return full


def _cell_information(c) -> np.ndarray:
    """Per-cell information matrices (m x p x p), zero for cells without events."""
    s1, e1 = c["s1"], c["e1"]
    outer = lambda a, b: a[:, :, None] * b[:, None, :]  # noqa: E731
    return (c["s2"] * c["A"][:, None, None] - c["e2"] * c["B"][:, None, None]
            - (outer(s1, s1) * c["C"][:, None, None]
               - (outer(s1, e1) + outer(e1, s1)) * c["G"][:, None, None]
               + outer(e1, e1) * c["F"][:, None, None]))


def loglik_grad_info(data: CoxData, beta, second: bool = True):
    """Log partial likelihood, score vector and information matrix (None unless ``second``)
    at ``beta``."""
    c = _cell_sums(data, beta, second)
    wd = data.event if data.weight is None else data.w * data.event
    ll = wd @ c["eta"] - (c["mw"] * np.log(c["den"])).sum()
    grad = wd @ data.x - (
        c["s1"] * c["A"][:, None] - c["e1"] * c["B"][:, None]).sum(axis=0)
    info = _cell_information(c).sum(axis=0) if second else None
    return float(ll), grad, info


def fit(data: CoxData, *, max_iter: int = 50, tol: float = 1e-10, objective=None) -> dict:
    """Newton-Raphson with step halving from beta = 0 (as R ``coxph.fit``).

    ``objective(data, beta) -> (loglik, score, information)`` defaults to
    :func:`loglik_grad_info` (Efron / Breslow); the exact partial likelihood passes its own.

    Returns
    -------
    dict
        beta, information, loglik_null, loglik, iterations, converged.
    """
    loglik_grad_info_ = objective or loglik_grad_info
    p = data.x.shape[1]
    beta = np.zeros(p)
    ll0, grad, info = loglik_grad_info_(data, beta)
    ll = ll0
    converged = False
    iterations = 0
    for _ in range(max_iter):
        iterations += 1
        try:
            step = np.linalg.solve(info, grad)
        except np.linalg.LinAlgError as e:
            raise ModelError("the Cox information matrix is singular: a covariate is constant "
                             "or collinear with others") from e
        new = beta + step
        ll_new, g_new, i_new = loglik_grad_info_(data, new)
        halvings = 0
        while (not np.isfinite(ll_new) or ll_new < ll - 1e-12) and halvings < 30:
            step /= 2
            new = beta + step
            ll_new, g_new, i_new = loglik_grad_info_(data, new)
            halvings += 1
        done = abs(ll_new - ll) <= tol * max(abs(ll_new), 1.0) and np.max(np.abs(step)) < 1e-7
        beta, ll, grad, info = new, ll_new, g_new, i_new
        if done:
            converged = True
            break
    if not converged:
        warnings.warn(f"Cox model did not converge in {max_iter} iterations; estimates may be "
                      "infinite (an arm or covariate level without events?)",
                      ConvergenceWarning, stacklevel=3)
    return {"beta": beta, "information": info, "loglik_null": ll0, "loglik": ll,
            "iterations": iterations, "converged": converged}


def finish_newton(data: CoxData, beta, information=None, *, max_steps: int = 5,
                  rtol: float = 1e-10) -> dict:
    """Newton steps from a near-converged ``beta`` until the next step is negligible.

    lifelines returns the estimate at which it computed its last (tiny) step without taking
    it, which leaves the Efron estimate up to ~4e-6 relative from the root of the score; one
    full step from there (quadratic convergence) usually reaches the root to ~1e-12, so the
    usual cost is two evaluations: at lifelines' estimate and at the new one. A step is not
    taken when it is below ``rtol`` relative (or 1e-10 absolute for estimates near 0).
    ``information`` at ``beta`` (lifelines' inverse covariance), when given, spares the
    second derivatives of the first evaluation.

    Returns
    -------
    dict
        beta, information, loglik, all at the final beta.
    """
    ll, grad, info = loglik_grad_info(data, beta, second=information is None)
    if information is not None:
        info = information
    for _ in range(max_steps):
        try:
            step = np.linalg.solve(info, grad)
        except np.linalg.LinAlgError as e:
            raise ModelError("the Cox information matrix is singular: a covariate is constant "
                             "or collinear with others") from e
        if np.all(np.abs(step) <= rtol * np.maximum(np.abs(beta), 1.0)):
            if information is not None and info is information:
                info = loglik_grad_info(data, beta)[2]  # at our own evaluation, not lifelines'
            break
        new = beta + step
        ll_new, g_new, i_new = loglik_grad_info(data, new)
        if not np.isfinite(ll_new) or ll_new < ll - 1e-9 * max(abs(ll), 1.0):
            break  # no better than where lifelines stopped: keep its estimate
        beta, ll, grad, info = new, ll_new, g_new, i_new
    return {"beta": beta, "information": info, "loglik": float(ll)}


def _exposure(data: CoxData, c: dict) -> tuple[np.ndarray, np.ndarray]:
    """Per row: cumulative baseline hazard over its time at risk, and the x-bar-weighted one.

    ``a[i] = sum dLambda_l`` and ``b[i] = sum xbar_l dLambda_l`` over the Efron sub-steps at
    which row i is at risk (its own tie group with weight ``1 - f_l``), with
    ``dLambda_l = meanwt / D_l``; with (start, stop] data the sums run over (start, stop].
    """
    s1, e1 = c["s1"], c["e1"]
    b_cell = s1 * c["C"][:, None] - e1 * c["G"][:, None]
    a_all = _cum_strata(c["A"], data)
    b_all = _cum_strata(b_cell, data)
    a_cum = a_all[data.cell]
    b_cum = b_all[data.cell]
    if data.exit_cell is not None:
        a_pad = np.append(a_all, 0.0)
        b_pad = np.vstack([b_all, np.zeros((1, b_all.shape[1]))])
        a_cum = a_cum - a_pad[data.exit_cell]
        b_cum = b_cum - b_pad[data.exit_cell]
    dr, dc = data.death_rows, data.death_cell
    a_cum[dr] -= c["B"][dc]
    b_cum[dr] -= (s1 * c["G"][:, None] - e1 * c["F"][:, None])[dc]
    return a_cum, b_cum


def score_residuals(data: CoxData, beta) -> np.ndarray:
    """Score residuals (n x p) as R ``residuals(fit, type="score")``, Efron-adjusted.

    For row i: :math:`\\delta_i (x_i - \\bar x^{(i)}) - e^{\\eta_i} \\sum_{t \\le t_i}
    w_{il} (x_i - \\bar x_l) / D_l`, where an event's own tie group is at risk with weight
    :math:`1 - f_l` and :math:`\\bar x^{(i)}` is the mean of the Efron means of its tie group.
    Case weights enter the sums, not the row's own residual (R's ``weighted=FALSE``).
    """
    c = _cell_sums(data, beta, second=False)
    s1, e1 = c["s1"], c["e1"]
    a_cum, b_cum = _exposure(data, c)
    res = -np.exp(c["eta"])[:, None] * (data.x * a_cum[:, None] - b_cum)
    dr, dc = data.death_rows, data.death_cell
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_xbar = (s1 * c["A1"][:, None] - e1 * c["B1"][:, None]) / data.d[:, None]
    res[dr] += data.x[dr] - mean_xbar[dc]
    return res


def schoenfeld_residuals(data: CoxData, beta) -> tuple[np.ndarray, np.ndarray]:
    """Schoenfeld residuals :math:`x_i - \\bar x(t_i)` of the events (R ``coxscho``).

    :math:`\\bar x(t_i)` is the mean of the Efron sub-step means of the event's tie group
    (Breslow: the risk-set mean). Returns the residuals (events x p) and the event rows, in
    the engine's order: stratum, then time, then row order within tied times (R's order).
    """
    c = _cell_sums(data, beta, second=False)
    dr, dc = data.death_rows, data.death_cell
    mean_xbar = (c["s1"][dc] * c["A1"][dc, None] - c["e1"][dc] * c["B1"][dc, None]) / data.d[
        dc, None]
    return data.x[dr] - mean_xbar, dr


def martingale_residuals(data: CoxData, beta) -> np.ndarray:
    """Martingale residuals :math:`\\delta_i - e^{\\eta_i} \\hat\\Lambda_0(t_i)` (R ``fit$residuals``)."""
    c = _cell_sums(data, beta, second=False)
    a_cum, _ = _exposure(data, c)
    return data.event - np.exp(c["eta"]) * a_cum


def robust_variance(data: CoxData, beta, information, cluster=None) -> np.ndarray:
    """Sandwich variance D'D from weighted dfbeta residuals, summed within clusters (R
    ``robust=TRUE``)."""
    dfbeta = (data.w[:, None] * score_residuals(data, beta)) @ np.linalg.inv(information)
    if cluster is not None:
        k = int(cluster.max()) + 1
        dfbeta = np.column_stack([np.bincount(cluster, weights=dfbeta[:, j], minlength=k)
                                  for j in range(dfbeta.shape[1])])
    return dfbeta.T @ dfbeta


def zph(data: CoxData, beta, gtime: np.ndarray, terms: list[list[int]]) -> dict:
    """Score tests of beta(t) = beta + gamma g(t) per term and globally (R ``cox.zph``).

    ``gtime`` is the transformed time of every row, centred at its mean over the events; the
    information is that of (x, x g(t)) at the fitted beta.
    """
    p = data.x.shape[1]
    c = _cell_sums(data, beta)
    info_cell = _cell_information(c)
    g_cell = np.zeros(data.n_cells)
    g_cell[data.cell] = gtime
    wx = data.w[data.death_rows, None] * data.x[data.death_rows]
    sum_x = np.column_stack([np.bincount(data.death_cell, weights=wx[:, j],
                                         minlength=data.n_cells) for j in range(p)])
    resid_cell = sum_x - (c["s1"] * c["A"][:, None] - c["e1"] * c["B"][:, None])
    u = np.concatenate([np.zeros(p), (g_cell[:, None] * resid_cell).sum(axis=0)])
    imat = np.zeros((2 * p, 2 * p))
    imat[:p, :p] = info_cell.sum(axis=0)
    vg = (g_cell[:, None, None] * info_cell).sum(axis=0)
    imat[:p, p:] = vg
    imat[p:, :p] = vg
    imat[p:, p:] = (g_cell[:, None, None] ** 2 * info_cell).sum(axis=0)
    stats, dfs = [], []
    for cols in terms:
        kk = list(range(p)) + [p + j for j in cols]
        uu = u[kk]
        stats.append(float(uu @ np.linalg.solve(imat[np.ix_(kk, kk)], uu)))
        dfs.append(len(cols))
    stats.append(float(u @ np.linalg.solve(imat, u)))
    dfs.append(p)
    return {"statistic": np.array(stats), "df": np.array(dfs)}


def km_transform(time, event, start=None) -> np.ndarray:
    """cox.zph's transform="km": 1 - S(t-) of the pooled Kaplan-Meier (strata ignored).

    With (start, stop] data the Kaplan-Meier risk set at t is the rows with start < t <= stop.
    """
    utime, inverse = np.unique(time, return_inverse=True)
    total = np.bincount(inverse, minlength=len(utime))
    d = np.bincount(inverse, weights=event, minlength=len(utime))
    n = np.cumsum(total[::-1])[::-1]
    if start is not None:  # minus the rows not yet entered: start >= t
        n = n - (len(start) - np.searchsorted(np.sort(start), utime, side="left"))
    surv = np.cumprod(1.0 - d / n)
    s_minus = np.concatenate([[1.0], surv[:-1]])[inverse]
    return 1.0 - s_minus


def concordance(time, event, score, strata=None) -> float:
    """Harrell's C as R ``concordance(fit)``: higher score, earlier event.

    A pair is comparable when the shorter time is an event (a censoring tied with an event
    counts as the longer time; two tied events are not comparable); tied scores (equal to
    1e-10 relative, as identical covariate rows can differ by rounding) count 1/2.
    Pairs are counted with a Fenwick tree over score ranks, processing times from the largest.
    """
    if strata is None:
        strata = np.zeros(len(time), dtype=np.int64)
    conc = disc = tied = 0.0
    for k in np.unique(strata):
        m = strata == k
        t, e, x = time[m], event[m], score[m]
        ranks = score_ranks(x)
        nr = int(ranks.max()) + 1
        order = np.lexsort((-e, -t))
        t, e, ranks = t[order], e[order], ranks[order]
        tree = np.zeros(nr + 1)
        _, starts = np.unique(-t, return_index=True)
        ends = np.append(starts[1:], len(t))
        for i, j in zip(starts, ends):
            block_e = e[i:j] == 1
            block_r = ranks[i:j]
            for rk in block_r[~block_e]:  # censored at t count as later than events at t
                _bit_add(tree, rk + 1)
            total = _bit_sum(tree, nr)
            for rk in block_r[block_e]:
                below = _bit_sum(tree, rk)
                upto = _bit_sum(tree, rk + 1)
                conc += below
                tied += upto - below
                disc += total - upto
            for rk in block_r[block_e]:
                _bit_add(tree, rk + 1)
    return float((conc + 0.5 * tied) / (conc + disc + tied))


def score_ranks(score) -> np.ndarray:
    """Dense ranks 0, 1, ... of ``score``, with values equal to 1e-10 relative made ties.

    Identical covariate rows can give linear predictors that differ by rounding (BLAS); R's
    concordance treats them as tied scores.
    """
    values, inv = np.unique(score, return_inverse=True)
    scale = max(np.max(np.abs(values)), 1.0)
    new_rank = np.concatenate([[0], np.cumsum(np.diff(values) > 1e-10 * scale)])
    return new_rank[inv]


def _bit_add(tree, i):
    n = len(tree)
    while i < n:
        tree[i] += 1
        i += i & (-i)


def _bit_sum(tree, i):
    s = 0.0
    while i > 0:
        s += tree[i]
        i -= i & (-i)
    return s
