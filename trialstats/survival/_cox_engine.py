"""Cox partial likelihood on arrays: Efron or Breslow ties, strata, score residuals, cox.zph.

Everything here takes NumPy arrays and returns arrays; :mod:`trialstats.survival.cox` is the
formula front end. The algorithms follow R ``survival`` (``coxph.fit``, ``coxscore2``,
``cox.zph``) and are checked against it in ``tests/test_survival_cox.py``.

For one stratum, sorted by time, each event :math:`i` at time :math:`t` with :math:`d` tied
events and Efron index :math:`l = 0..d-1` (Breslow: :math:`l = 0`) contributes

.. math::

    \\eta_i - \\log\\Bigl(S_0(t) - \\tfrac{l}{d} E_0(t)\\Bigr)

to the log partial likelihood, where :math:`S_0` sums :math:`e^{\\eta}` over the risk set and
:math:`E_0` over the tied events.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from ..errors import ConvergenceWarning, ModelError


@dataclass(frozen=True)
class _Stratum:
    """Sorted arrays of one stratum and its event bookkeeping."""

    order: np.ndarray  # positions in the full data, sorted by time
    time: np.ndarray
    x: np.ndarray
    event: np.ndarray
    first: np.ndarray  # index of the first row with the same time (start of the risk set)
    deaths: np.ndarray  # positions (in sorted order) of the events
    tie: np.ndarray  # tie-group index of each event
    d: np.ndarray  # size of each event's tie group
    frac: np.ndarray  # l/d (Efron) or 0 (Breslow) for each event


def make_strata(time, event, x, strata, ties: str) -> list[_Stratum]:
    """Sort each stratum by time and precompute the tie structure."""
    if strata is None:
        groups = [np.arange(len(time))]
    else:
        order = np.argsort(strata, kind="stable")
        groups = np.split(order, np.flatnonzero(np.diff(strata[order])) + 1)
    out = []
    for idx in groups:
        o = idx[np.argsort(time[idx], kind="stable")]
        t, ev = time[o], event[o]
        first = np.searchsorted(t, t, side="left")
        deaths = np.flatnonzero(ev)
        key = first[deaths]
        _, start, tie, d = np.unique(key, return_index=True, return_inverse=True,
                                     return_counts=True)
        pos = np.arange(len(deaths)) - start[tie]
        frac = pos / d[tie] if ties == "efron" else np.zeros(len(deaths))
        out.append(_Stratum(o, t, x[o], ev, first, deaths, tie, d[tie], frac))
    return out


def _rev_cumsum(a):
    return np.cumsum(a[::-1], axis=0)[::-1]


def _step_terms(s: _Stratum, beta, need_second=True):
    """Per-event denominators and weighted means (Efron-adjusted) in one stratum."""
    eta = s.x @ beta
    r = np.exp(eta)
    rx = r[:, None] * s.x
    s0 = _rev_cumsum(r)[s.first[s.deaths]]
    s1 = _rev_cumsum(rx)[s.first[s.deaths]]
    rd = r[s.deaths]
    ntie = s.tie.max() + 1 if len(s.deaths) else 0
    e0 = np.bincount(s.tie, weights=rd, minlength=ntie)[s.tie]
    e1 = np.zeros((ntie, s.x.shape[1]))
    np.add.at(e1, s.tie, rx[s.deaths])
    e1 = e1[s.tie]
    den = s0 - s.frac * e0
    num1 = s1 - s.frac[:, None] * e1
    out = {"eta": eta, "r": r, "den": den, "xbar": num1 / den[:, None]}
    if need_second:
        xx = s.x[:, :, None] * s.x[:, None, :]
        s2 = _rev_cumsum(r[:, None, None] * xx)[s.first[s.deaths]]
        e2 = np.zeros((ntie,) + xx.shape[1:])
        np.add.at(e2, s.tie, (r[:, None, None] * xx)[s.deaths])
        out["num2"] = s2 - s.frac[:, None, None] * e2[s.tie]
    return out


def loglik_grad_info(strata: list[_Stratum], beta):
    """Log partial likelihood, score vector and information matrix at ``beta``."""
    p = len(beta)
    ll, grad, info = 0.0, np.zeros(p), np.zeros((p, p))
    for s in strata:
        if len(s.deaths) == 0:
            continue
        st = _step_terms(s, beta)
        ll += st["eta"][s.deaths].sum() - np.log(st["den"]).sum()
        grad += s.x[s.deaths].sum(axis=0) - st["xbar"].sum(axis=0)
        info += (st["num2"] / st["den"][:, None, None]).sum(axis=0) - st["xbar"].T @ st["xbar"]
    return ll, grad, info


def fit(strata: list[_Stratum], p: int, *, max_iter: int = 50, tol: float = 1e-10) -> dict:
    """Newton-Raphson with step halving from beta = 0 (as R ``coxph.fit``).

    Returns
    -------
    dict
        beta, information, loglik_null, loglik, iterations, converged, score_test.
    """
    beta = np.zeros(p)
    ll0, grad, info = loglik_grad_info(strata, beta)
    try:
        score_test = float(grad @ np.linalg.solve(info, grad))
    except np.linalg.LinAlgError as e:
        raise ModelError("the Cox information matrix is singular at beta = 0: "
                         "a covariate is constant or collinear with others") from e
    ll = ll0
    converged = False
    iterations = 0
    for _ in range(max_iter):
        iterations += 1
        try:
            step = np.linalg.solve(info, grad)
        except np.linalg.LinAlgError as e:
            raise ModelError("the Cox information matrix became singular: a covariate is "
                             "collinear with others or separates events perfectly") from e
        new = beta + step
        ll_new, g_new, i_new = loglik_grad_info(strata, new)
        halvings = 0
        while (not np.isfinite(ll_new) or ll_new < ll - 1e-12) and halvings < 30:
            step /= 2
            new = beta + step
            ll_new, g_new, i_new = loglik_grad_info(strata, new)
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
            "iterations": iterations, "converged": converged, "score_test": score_test}


def score_residuals(strata: list[_Stratum], beta, n: int) -> np.ndarray:
    """Score residuals (n x p) as R ``residuals(fit, type="score")``, Efron-adjusted."""
    p = len(beta)
    out = np.zeros((n, p))
    for s in strata:
        res = np.zeros((len(s.time), p))
        if len(s.deaths):
            st = _step_terms(s, beta, need_second=False)
            inv_den = 1.0 / st["den"]
            xbar = st["xbar"]
            # cumulative sums over event sub-steps in time order
            a_cum = np.cumsum(inv_den)
            b_cum = np.cumsum(xbar * inv_den[:, None], axis=0)
            # for each row: the last event sub-step with time <= its time
            last = np.searchsorted(s.deaths, np.searchsorted(s.time, s.time, side="right") - 1,
                                   side="right") - 1
            has = last >= 0
            a_i = np.where(has, a_cum[np.maximum(last, 0)], 0.0)
            b_i = np.where(has[:, None], b_cum[np.maximum(last, 0)], 0.0)
            # Efron: an event's own tie group is at risk with weight 1 - l/d
            ntie = s.tie.max() + 1
            c_g = np.bincount(s.tie, weights=s.frac * inv_den, minlength=ntie)
            d_g = np.zeros((ntie, p))
            np.add.at(d_g, s.tie, (s.frac * inv_den)[:, None] * xbar)
            mean_xbar = np.zeros((ntie, p))
            np.add.at(mean_xbar, s.tie, xbar)
            mean_xbar /= np.bincount(s.tie, minlength=ntie)[:, None]
            a_i[s.deaths] -= c_g[s.tie]
            b_i[s.deaths] -= d_g[s.tie]
            r = st["r"]
            res = -r[:, None] * (s.x * a_i[:, None] - b_i)
            res[s.deaths] += s.x[s.deaths] - mean_xbar[s.tie]
        out[s.order] = res
    return out


def robust_variance(strata, beta, information, n, cluster=None) -> np.ndarray:
    """Sandwich variance D'D from dfbeta residuals, summed within clusters (R ``robust=TRUE``)."""
    dfbeta = score_residuals(strata, beta, n) @ np.linalg.inv(information)
    if cluster is not None:
        k = cluster.max() + 1
        summed = np.zeros((k, dfbeta.shape[1]))
        np.add.at(summed, cluster, dfbeta)
        dfbeta = summed
    return dfbeta.T @ dfbeta


def zph(strata: list[_Stratum], beta, gtime: np.ndarray, terms: list[list[int]]) -> dict:
    """Score tests of beta(t) = beta + gamma g(t) per term and globally (R ``cox.zph``).

    ``gtime`` is the transformed time of every row (full data order), centred at its mean over
    the events; the information is that of (x, x g(t)) at the fitted beta.
    """
    p = len(beta)
    u = np.zeros(2 * p)
    imat = np.zeros((2 * p, 2 * p))
    for s in strata:
        if len(s.deaths) == 0:
            continue
        st = _step_terms(s, beta)
        g = gtime[s.order][s.deaths]
        xbar = st["xbar"]
        v = st["num2"] / st["den"][:, None, None] - xbar[:, :, None] * xbar[:, None, :]
        u[p:] += (g[:, None] * (s.x[s.deaths] - xbar)).sum(axis=0)
        v_sum = v.sum(axis=0)
        vg = (g[:, None, None] * v).sum(axis=0)
        vgg = (g[:, None, None] ** 2 * v).sum(axis=0)
        imat[:p, :p] += v_sum
        imat[:p, p:] += vg
        imat[p:, :p] += vg
        imat[p:, p:] += vgg
    stats, dfs = [], []
    for cols in terms:
        kk = list(range(p)) + [p + j for j in cols]
        uu = u[kk]
        stats.append(float(uu @ np.linalg.solve(imat[np.ix_(kk, kk)], uu)))
        dfs.append(len(cols))
    stats.append(float(u @ np.linalg.solve(imat, u)))
    dfs.append(p)
    return {"statistic": np.array(stats), "df": np.array(dfs)}


def km_transform(time, event) -> np.ndarray:
    """cox.zph's transform="km": 1 - S(t-) of the pooled Kaplan-Meier (strata ignored)."""
    utime, inverse = np.unique(time, return_inverse=True)
    total = np.bincount(inverse, minlength=len(utime))
    d = np.bincount(inverse, weights=event, minlength=len(utime))
    n = np.cumsum(total[::-1])[::-1]
    surv = np.cumprod(1.0 - d / n)
    s_minus = np.concatenate([[1.0], surv[:-1]])[inverse]
    return 1.0 - s_minus


def concordance(time, event, score, strata=None) -> float:
    """Harrell's C as R ``concordance(fit)``: higher score, earlier event.

    A pair is comparable when the shorter time is an event (a censoring tied with an event
    counts as the longer time; two tied events are not comparable); tied scores count 1/2.
    """
    if strata is None:
        strata = np.zeros(len(time), dtype=np.int64)
    conc = disc = tied = 0.0
    for k in np.unique(strata):
        m = strata == k
        t, e, x = time[m], event[m], score[m]
        ranks = np.unique(x, return_inverse=True)[1]
        nr = ranks.max() + 1
        # process times in decreasing order; tree holds rows with time > current
        order = np.lexsort((-e, -t))  # at equal time, censored first (they count as longer)
        t, e, ranks = t[order], e[order], ranks[order]
        tree = np.zeros(nr + 1)
        i = 0
        n = len(t)
        while i < n:
            j = i
            while j < n and t[j] == t[i]:
                j += 1
            cens = np.arange(i, j)[e[i:j] == 0]
            evs = np.arange(i, j)[e[i:j] == 1]
            for c in cens:  # censored at t are "later" than events at t
                _bit_add(tree, ranks[c] + 1)
            for v in evs:
                below = _bit_sum(tree, ranks[v])
                upto = _bit_sum(tree, ranks[v] + 1)
                total = _bit_sum(tree, nr)
                conc += below
                tied += upto - below
                disc += total - upto
            for v in evs:
                _bit_add(tree, ranks[v] + 1)
            i = j
    return float((conc + 0.5 * tied) / (conc + disc + tied))


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
