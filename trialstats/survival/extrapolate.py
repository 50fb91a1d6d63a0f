"""Parametric extrapolation of relapse-free survival per arm (NICE DSU TSD 14).

Each arm is fitted separately with each candidate distribution (exponential, Weibull,
log-normal, log-logistic, Gompertz, generalised gamma; see
:mod:`trialstats.survival._parametric` for the parametrisations) by maximum likelihood on the
right-censored times. Fits are compared by AIC and BIC (BIC with n = subjects in the arm), and
the relapse-free proportion :math:`S(t)` is reported at chosen years (1 year = 365.25 days).

Intervals for :math:`S(t)` use the delta method on :math:`g = \\log(-\\log S(t))`:
:math:`\\exp(-\\exp(g \\pm z\\,SE_g))`, with :math:`SE_g^2 = \\nabla g^T V \\nabla g` (numerical
gradient, V the inverse observed information); they are approximate and ignore model
uncertainty (the choice of distribution), which usually dominates long-term extrapolation.

What is lifelines and what is ours
----------------------------------
- **lifelines** fits exponential, Weibull, log-normal, log-logistic and generalised gamma
  (``ExponentialFitter``, ``WeibullFitter``, ``LogNormalFitter``, ``LogLogisticFitter``,
  ``GeneralizedGammaFitter``): maximum likelihood estimates, log-likelihood and covariance
  (inverse of its autograd Hessian). Its parameters are mapped to survreg's / flexsurv's
  (:mod:`._parametric`): mu = log(lambda) or log(alpha), log(sigma) = -log(rho) or
  -log(beta), generalised gamma (mu, log sigma, Q) unchanged; the covariance is carried by
  the Jacobian of that map (exact at the maximum). Its log-likelihood equals ours at the mapped
  parameters to ~1e-15 (``tests/test_survival_extrapolate.py``). Its optimiser is run with
  tight tolerances (``_LIFELINES_FIT_OPTIONS``); S(t) then matches R ``survreg`` to ~1e-5
  relative (within the optimiser tolerance 1e-4; our own optimiser reached 1.5e-8 there).
- **ours** (:mod:`._parametric`): Gompertz (lifelines has no Gompertz fitter), a fallback
  when lifelines reports a ConvergenceError, and the delta-method intervals for S(t).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from .._inference import check_level
from ..errors import ConvergenceWarning, ModelError
from . import _parametric
from ._input import prepare
from ._lifelines import quiet_lifelines
from ._summary import Summary, summary_html
from .km import KaplanMeierResult, kaplan_meier

DAYS_PER_YEAR = 365.25

__all__ = ["ExtrapolationResult", "extrapolate"]


def _g(dist, params, t_days):
    return np.log(-_parametric.log_sf(dist, params, np.atleast_1d(t_days)))


@dataclass(frozen=True)
class ExtrapolationResult:
    """Per-arm parametric fits and extrapolated relapse-free proportions.

    Attributes
    ----------
    fits : DataFrame
        <group>, distribution, n_params, loglik, aic, bic, delta_aic (vs the arm's best),
        converged.
    survival : DataFrame
        <group>, distribution, years, time (days), survival, conf_low, conf_high.
    km : KaplanMeierResult
        The Kaplan-Meier curves of the same data (for plots).
    """

    fits: pd.DataFrame
    survival: pd.DataFrame
    km: KaplanMeierResult
    group: str
    levels: tuple
    distributions: tuple
    level: float
    _params: dict = field(repr=False, compare=False)

    def __repr__(self) -> str:
        return (f"<ExtrapolationResult: {len(self.distributions)} distributions x "
                f"{len(self.levels)} arm(s) by {self.group}>")

    def predict(self, times_days) -> pd.DataFrame:
        """Fitted S(t) of every arm and distribution at times in days.

        Returns
        -------
        DataFrame
            <group>, distribution, time, survival.
        """
        t = np.atleast_1d(np.asarray(times_days, dtype=float))
        t = np.where(t <= 0, 1e-12, t)
        rows = []
        for (g, dist), params in self._params.items():
            s = np.exp(_parametric.log_sf(dist, params, t))
            rows.append(pd.DataFrame({self.group: g, "distribution": dist, "time": t,
                                      "survival": s}))
        return pd.concat(rows, ignore_index=True)

    _repr_html_ = summary_html  # Jupyter shows summary() as tables

    def summary(self) -> Summary:
        """Model fit statistics and extrapolated survival."""
        return Summary(repr(self)[1:-1], {"Fit statistics": self.fits,
                                          "Relapse-free proportion": self.survival},
                       ("Intervals: delta method on log(-log S(t)); they ignore the choice of "
                        "distribution.",))


# lifelines univariate fitter and its parameter names, per distribution
_LIFELINES_FITTERS = {
    "exponential": ("ExponentialFitter", ["lambda_"]),
    "weibull": ("WeibullFitter", ["lambda_", "rho_"]),
    "lognormal": ("LogNormalFitter", ["mu_", "sigma_"]),
    "loglogistic": ("LogLogisticFitter", ["alpha_", "beta_"]),
    "gengamma": ("GeneralizedGammaFitter", ["mu_", "ln_sigma_", "lambda_"]),
}


# tighter than lifelines' defaults (L-BFGS-B for all but gengamma, SLSQP there): with them the
# lognormal and gengamma parameters stop ~3e-5 from the maximum, and S(5 years) 7.5e-5 relative
# from survreg's; with these, 1e-5 (what is left is L-BFGS-B on lifelines' natural scale
# parameters: exponential log(lambda) 4.9e-7 from the closed-form maximum with any tolerance)
_LIFELINES_FIT_OPTIONS = {"L-BFGS-B": {"ftol": 1e-16, "gtol": 1e-12, "maxiter": 10000},
                          "SLSQP": {"ftol": 1e-16, "maxiter": 10000}}


def _to_parametric(dist, p):
    """lifelines parameters -> ours (:mod:`._parametric`) and the Jacobian of that map."""
    if dist == "exponential":
        return np.log(p), np.diag(1.0 / p)
    if dist in ("weibull", "loglogistic"):  # (scale, shape) -> (mu, log sigma = -log shape)
        return np.array([np.log(p[0]), -np.log(p[1])]), np.diag([1.0 / p[0], -1.0 / p[1]])
    if dist == "lognormal":  # (mu, sigma) -> (mu, log sigma)
        return np.array([p[0], np.log(p[1])]), np.diag([1.0, 1.0 / p[1]])
    return p.copy(), np.eye(len(p))  # gengamma: (mu, log sigma, Q) as flexsurv


def _fit_lifelines(dist, time, event) -> dict | None:
    """One arm's fit by lifelines, in our parametrisation; None if lifelines fails."""
    import lifelines
    from lifelines.exceptions import ConvergenceError

    name, names = _LIFELINES_FITTERS[dist]
    with quiet_lifelines():
        try:
            fitter = getattr(lifelines, name)()
            options = _LIFELINES_FIT_OPTIONS["SLSQP" if dist == "gengamma" else "L-BFGS-B"]
            fitter.fit(time, event, fit_options=dict(options))
        except ConvergenceError:
            return None
    theta, jac = _to_parametric(dist, fitter.params_[names].to_numpy(dtype=float))
    vcov = jac @ fitter.variance_matrix_.loc[names, names].to_numpy(dtype=float) @ jac.T
    return {"params": theta, "vcov": vcov, "loglik": float(fitter.log_likelihood_),
            "converged": True}


def extrapolate(
    data: pd.DataFrame,
    time: str = "AVAL",
    event: str | None = None,
    censor: str | None = None,
    by: str | None = "ARM",
    *,
    distributions=("exponential", "weibull", "lognormal", "loglogistic", "gompertz",
                   "gengamma"),
    times_years=(1, 2, 3, 5),
    level: float = 0.95,
    paramcd: str | None = None,
) -> ExtrapolationResult:
    """Fit parametric survival models per arm and extrapolate the relapse-free proportion.

    Parameters
    ----------
    data : DataFrame
        ADTTE-like table (times in days).
    time : str, default "AVAL"
    event, censor : str
        Exactly one: 1 = event column, or 1 = censored column (ADaM ``CNSR``).
    by : str or None, default "ARM"
    distributions : sequence of str
        Any of exponential, weibull, lognormal, loglogistic, gompertz, gengamma.
    times_years : sequence of float
        Years at which to report S(t) (1 year = 365.25 days).
    level : float, default 0.95
    paramcd : str, optional

    Returns
    -------
    ExtrapolationResult

    Raises
    ------
    ModelError
        Unknown distribution, invalid input, or an arm without events.
    """
    level = check_level(level)
    distributions = tuple(distributions)
    for d in distributions:
        if d not in _parametric.DISTRIBUTIONS:
            raise ModelError(f"distribution {d!r} is not valid; choose from: "
                             f"{', '.join(_parametric.DISTRIBUTIONS)}")
    years = np.atleast_1d(np.asarray(times_years, dtype=float))
    if np.any(~np.isfinite(years)) or np.any(years <= 0):
        raise ModelError(f"times_years must be positive numbers; got {years.tolist()}")
    inp = prepare(data, time=time, event=event, censor=censor, by=by, paramcd=paramcd)
    if np.any(inp.time <= 0):
        raise ModelError("parametric fits need times > 0; found time 0 in "
                         f"{int(np.sum(inp.time <= 0))} row(s)")
    z = stats.norm.ppf(0.5 + level / 2)
    t_days = years * DAYS_PER_YEAR
    fit_rows, surv_rows, params = [], [], {}
    for k, g in enumerate(inp.levels):
        m = inp.group == k
        t, e = inp.time[m], inp.event[m]
        if e.sum() == 0:
            raise ModelError(f"arm {g} has no events: parametric curves cannot be fitted")
        if len(np.unique(t)) < 2:  # lifelines fails inside its optimiser (len() of unsized)
            raise ModelError(f"arm {g} has {len(t)} subject(s) with {len(np.unique(t))} distinct "
                             "time(s): a parametric curve needs at least two different times")
        lower = t
        upper = np.where(e == 1, t, np.inf)
        for dist in distributions:
            res = _fit_lifelines(dist, t, e) if dist in _LIFELINES_FITTERS else None
            if res is None:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    res = _parametric.fit(dist, lower, upper)
            if not res["converged"]:
                warnings.warn(f"{dist} fit for arm {g} did not converge", ConvergenceWarning,
                              stacklevel=2)
            theta, vcov = res["params"], res["vcov"]
            kpar = len(theta)
            fit_rows.append((g, dist, kpar, res["loglik"], -2 * res["loglik"] + 2 * kpar,
                             -2 * res["loglik"] + np.log(m.sum()) * kpar, res["converged"]))
            params[(g, dist)] = theta
            gval = _g(dist, theta, t_days)
            grad = np.zeros((len(t_days), kpar))
            for j in range(kpar):
                h = 1e-6 * max(1.0, abs(theta[j]))
                up, dn = theta.copy(), theta.copy()
                up[j] += h
                dn[j] -= h
                with np.errstate(invalid="ignore", over="ignore"):
                    grad[:, j] = (_g(dist, up, t_days) - _g(dist, dn, t_days)) / (2 * h)
            with np.errstate(invalid="ignore"):
                se = np.sqrt(np.einsum("ij,jk,ik->i", grad, vcov, grad))
            for y, td, gv, s in zip(years, t_days, gval, se):
                surv_rows.append((g, dist, y, td, np.exp(-np.exp(gv)),
                                  np.exp(-np.exp(gv + z * s)), np.exp(-np.exp(gv - z * s))))
    name = inp.group_name
    fits = pd.DataFrame(fit_rows, columns=[name, "distribution", "n_params", "loglik", "aic",
                                           "bic", "converged"])
    fits.insert(6, "delta_aic", fits["aic"] - fits.groupby(name, sort=False)["aic"].transform("min"))
    survival = pd.DataFrame(surv_rows, columns=[name, "distribution", "years", "time",
                                                "survival", "conf_low", "conf_high"])
    km = kaplan_meier(data, time=time, event=event, censor=censor, by=by, paramcd=paramcd)
    return ExtrapolationResult(fits, survival, km, name, inp.levels, distributions, level,
                               params)
