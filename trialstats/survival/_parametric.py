"""Parametric survival likelihoods on arrays: censored and interval-censored maximum likelihood.

Each observation is an interval (lower, upper] of the event time: ``lower == upper`` an exact
event, ``upper = inf`` right-censored, ``lower = 0`` left-censored. Log-likelihoods are on the
time scale (densities include the Jacobian 1/t), as R ``survreg`` reports them.

Distributions
-------------
Accelerated failure time (log T = x'beta + sigma W), as R ``survreg``:
  exponential (sigma = 1), weibull (W minimum extreme value), lognormal (W normal),
  loglogistic (W logistic).
Proportional hazards / other (as flexsurv parametrises them):
  gompertz: h(t) = b exp(a t), parameters (a, log b);
  gengamma: Prentice's generalised gamma, parameters (mu, log sigma, Q).

The fit maximises with BFGS then polishes with Newton steps on central-difference derivatives;
the covariance is the inverse of the numerical observed information.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import optimize, special, stats

from ..errors import ConvergenceWarning, ModelError

AFT = ("exponential", "weibull", "lognormal", "loglogistic")
DISTRIBUTIONS = AFT + ("gompertz", "gengamma")


def _w_logsf(dist, z):
    if dist in ("weibull", "exponential"):
        return -np.exp(z)
    if dist == "lognormal":
        return stats.norm.logsf(z)
    return -np.logaddexp(0.0, z)


def _w_logpdf(dist, z):
    if dist in ("weibull", "exponential"):
        return z - np.exp(z)
    if dist == "lognormal":
        return stats.norm.logpdf(z)
    return z - 2.0 * np.logaddexp(0.0, z)


def _log_diff(log_a, log_b):
    """log(exp(log_a) - exp(log_b)) for log_a >= log_b."""
    with np.errstate(divide="ignore"):
        return log_a + np.log1p(-np.exp(log_b - log_a))


def log_sf(dist, params, t, x=None):
    """log S(t) under ``dist`` with parameters ``params`` (t > 0; inf gives -inf)."""
    t = np.asarray(t, dtype=float)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        if dist in AFT:
            p = x.shape[1] if x is not None else 1
            beta = params[:p]
            eta = x @ beta if x is not None else np.full(t.shape, beta[0])
            sigma = 1.0 if dist == "exponential" else np.exp(params[p])
            out = _w_logsf(dist, (np.log(t) - eta) / sigma)
        elif dist == "gompertz":
            a, b = params[0], np.exp(params[1])
            out = -b * t if abs(a) < 1e-12 else -(b / a) * np.expm1(a * t)
        else:
            mu, sigma, q = params[0], np.exp(params[1]), params[2]
            w = (np.log(t) - mu) / sigma
            if abs(q) < 1e-8:
                out = stats.norm.logsf(w)
            else:
                k = q**-2
                u = k * np.exp(q * w)
                s = special.gammaincc(k, u) if q > 0 else special.gammainc(k, u)
                out = np.log(s)
    return np.where(np.isinf(t), -np.inf, np.where(t <= 0, 0.0, out))


def log_pdf(dist, params, t, x=None):
    """log f(t) (time scale) under ``dist``."""
    t = np.asarray(t, dtype=float)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        if dist in AFT:
            p = x.shape[1] if x is not None else 1
            beta = params[:p]
            eta = x @ beta if x is not None else np.full(t.shape, beta[0])
            log_sigma = 0.0 if dist == "exponential" else params[p]
            z = (np.log(t) - eta) / np.exp(log_sigma)
            return _w_logpdf(dist, z) - log_sigma - np.log(t)
        if dist == "gompertz":
            a, log_b = params[0], params[1]
            return log_b + a * t + log_sf(dist, params, t)
        mu, log_sigma, q = params[0], params[1], params[2]
        sigma = np.exp(log_sigma)
        w = (np.log(t) - mu) / sigma
        if abs(q) < 1e-8:
            return stats.norm.logpdf(w) - log_sigma - np.log(t)
        k = q**-2
        return (np.log(abs(q)) + k * np.log(k) - log_sigma - np.log(t) - special.gammaln(k)
                + k * (q * w - np.exp(q * w)))


def loglik(dist, params, lower, upper, x=None) -> float:
    """Total log-likelihood of interval data (lower, upper]."""
    exact = lower == upper
    right = np.isinf(upper) & ~exact
    left = (lower <= 0) & ~exact & ~right
    inter = ~(exact | right | left)
    total = 0.0

    def xs(mask):
        return None if x is None else x[mask]

    if exact.any():
        total += log_pdf(dist, params, lower[exact], xs(exact)).sum()
    if right.any():
        total += log_sf(dist, params, lower[right], xs(right)).sum()
    if left.any():
        ls = log_sf(dist, params, upper[left], xs(left))
        total += np.log(-np.expm1(ls)).sum()
    if inter.any():
        total += _log_diff(log_sf(dist, params, lower[inter], xs(inter)),
                           log_sf(dist, params, upper[inter], xs(inter))).sum()
    return float(total)


def _num_grad(f, theta, h=1e-6):
    g = np.zeros_like(theta)
    for j in range(len(theta)):
        e = np.zeros_like(theta)
        e[j] = h * max(1.0, abs(theta[j]))
        g[j] = (f(theta + e) - f(theta - e)) / (2 * e[j])
    return g


def _num_hess(f, theta, h=1e-4):
    p = len(theta)
    hmat = np.zeros((p, p))
    steps = h * np.maximum(1.0, np.abs(theta))
    for i in range(p):
        for j in range(i, p):
            ei = np.zeros(p)
            ej = np.zeros(p)
            ei[i] = steps[i]
            ej[j] = steps[j]
            val = (f(theta + ei + ej) - f(theta + ei - ej) - f(theta - ei + ej)
                   + f(theta - ei - ej)) / (4 * steps[i] * steps[j])
            hmat[i, j] = hmat[j, i] = val
    return hmat


def start_values(dist, lower, upper, x=None) -> np.ndarray:
    """Crude starting values from the log of the observed (mid)times."""
    t = np.where(np.isinf(upper), lower, np.where(lower <= 0, upper / 2, (lower + upper) / 2))
    t = np.maximum(t, 1e-8)
    lt = np.log(t)
    if dist in AFT:
        p = x.shape[1] if x is not None else 1
        beta = np.zeros(p)
        beta[0] = lt.mean() + 0.5
        return beta if dist == "exponential" else np.append(beta, np.log(max(lt.std(), 0.1)))
    if dist == "gompertz":
        events = np.isfinite(upper).sum()
        return np.array([0.0, np.log(max(events, 1) / t.sum())])
    return np.array([lt.mean() + 0.5, np.log(max(lt.std(), 0.1)), 0.5])


def fit(dist, lower, upper, x=None, start=None) -> dict:
    """Maximum likelihood fit: params, vcov, loglik, converged."""
    if dist not in DISTRIBUTIONS:
        raise ModelError(f"dist={dist!r} is not valid; choose one of: {', '.join(DISTRIBUTIONS)}")
    lower = np.asarray(lower, dtype=float)
    upper = np.asarray(upper, dtype=float)

    def nll(theta):
        v = -loglik(dist, theta, lower, upper, x)
        return v if np.isfinite(v) else 1e300

    theta = start_values(dist, lower, upper, x) if start is None else np.asarray(start, float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = optimize.minimize(nll, theta, method="Nelder-Mead",
                                options={"maxiter": 4000, "xatol": 1e-8, "fatol": 1e-10})
        res = optimize.minimize(nll, res.x, method="BFGS", options={"gtol": 1e-9})
        theta = res.x
        # Newton polish on numerical derivatives
        for _ in range(20):
            g = _num_grad(nll, theta)
            hmat = _num_hess(nll, theta)
            try:
                step = np.linalg.solve(hmat, g)
            except np.linalg.LinAlgError:
                break
            new = theta - step
            if nll(new) > nll(theta) + 1e-10:
                break
            theta = new
            if np.max(np.abs(step)) < 1e-10:
                break
        hmat = _num_hess(nll, theta)
    g = _num_grad(nll, theta)
    converged = bool(np.all(np.isfinite(theta)) and np.max(np.abs(g)) < 1e-4)
    try:
        vcov = np.linalg.inv(hmat)
    except np.linalg.LinAlgError:
        vcov = np.full((len(theta), len(theta)), np.nan)
        converged = False
    if not converged:
        warnings.warn(f"{dist} fit did not converge (max |gradient| = {np.max(np.abs(g)):.2g})",
                      ConvergenceWarning, stacklevel=3)
    return {"params": theta, "vcov": vcov, "loglik": -nll(theta), "converged": converged}
