"""Fitting helpers of :func:`trialstats.longitudinal.lmm.lmm` (statsmodels ``MixedLM``).

Option checks of the random-effects formula, the optimiser attempts and their convergence
verdict, the model-based covariance of the fixed effects and the tidy random-effects covariance.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from .._inference import t_inference
from ..errors import ConvergenceWarning, ModelError
from ._design import _check_columns, _parse, rhs_matrix

_COEF_COLUMNS = [
    "term",
    "estimate",
    "std_error",
    "df",
    "statistic",
    "p_value",
    "conf_low",
    "conf_high",
]
# Optimisers of statsmodels' profiled likelihood, tried in turn. BFGS with a tight gradient
# tolerance reaches lme4's optimum (bobyqa, rhoend = 2e-10) to about 1e-6 relative in the
# variance parameters when the optimum is interior. At a boundary (singular random-effects
# covariance, common when the slope variance is near zero) the gradient methods stop short or
# report convergence at a worse point, while Powell and Nelder-Mead reach lme4's optimum; they are
# run whenever BFGS did not converge or ended near a singular covariance, and the attempt with
# the highest (restricted) likelihood is kept.
_FIRST = ("bfgs", {"gtol": 1e-8})
_FALLBACKS = (
    # MixedLM.fit passes only gtol, maxiter, eps, maxcor, ftol, tol, disp, maxls to scipy (it drops
    # maxfun / xtol with a FutureWarning), and scipy's Powell has no evaluation limit when only
    # maxiter is given: maxiter is the cap. 300 Powell iterations (each a line search per
    # parameter) reach the optimum of the reference fits (tests/test_lmm.py) with room to spare,
    # and bound a hopeless fit (values near overflow) to seconds, not the 10 minutes of issue 11
    ("powell", {"maxiter": 300, "ftol": 1e-12}),
    # Nelder-Mead with tight tolerances can wander on a boundary ridge for minutes: keep it loose
    ("nm", {"maxiter": 3000, "ftol": 1e-8}),
    ("lbfgs", {}),
)
# lme4's isSingular: a diagonal element of the relative Cholesky factor below 1e-4
_SINGULAR_TOL = 1e-4


def _is_singular(cov_re: np.ndarray, scale: float) -> bool:
    """lme4's ``isSingular`` rule on the relative covariance ``G / sigma^2``."""
    rel = cov_re / scale
    try:
        chol = np.linalg.cholesky(rel + 0.0)
    except np.linalg.LinAlgError:
        return True
    return bool(np.min(np.abs(np.diag(chol))) < _SINGULAR_TOL)


def _model_vcov(X, Z, groups, cov_re, scale) -> np.ndarray:
    """(X' V^-1 X)^-1 with V_i = sigma^2 I + Z_i G Z_i' (lme4's and nlme's ``vcov``)."""
    p = X.shape[1]
    info = np.zeros((p, p))
    codes, _ = pd.factorize(groups)
    order = np.argsort(codes, kind="stable")
    bounds = np.flatnonzero(np.diff(codes[order])) + 1
    for idx in np.split(order, bounds):
        Xi, Zi = X[idx], Z[idx]
        Vi = scale * np.eye(len(idx)) + Zi @ cov_re @ Zi.T
        info += Xi.T @ np.linalg.solve(Vi, Xi)
    return np.linalg.inv(info)


def _fit_attempts(model, method: str, formula: str, where: str):
    """MixedLM fitted by the first optimiser, then the fallbacks when it fails, does not
    converge or ends singular; the converged attempt with the highest likelihood is kept.
    Returns (optimizer, statsmodels result, warning messages)."""

    def run(name: str, kwargs: dict):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                fitted = model.fit(reml=(method == "reml"), method=[name], **kwargs)
            except (np.linalg.LinAlgError, ValueError) as e:
                return name, None, (f"{name}: {e}",)
        return name, fitted, tuple(dict.fromkeys(str(w.message) for w in caught))

    def usable(attempt) -> bool:
        return attempt[1] is not None and np.isfinite(float(attempt[1].llf))

    first = run(*_FIRST)
    attempts = [first]
    if (
        not usable(first)
        or not first[1].converged
        or _is_singular(np.asarray(first[1].cov_re, dtype=float), float(first[1].scale))
    ):
        attempts += [run(*fb) for fb in _FALLBACKS[:2]]
        if not any(usable(a) and a[1].converged for a in attempts):
            attempts.append(run(*_FALLBACKS[2]))
    candidates = [a for a in attempts if usable(a)]
    if not candidates:
        errors = "; ".join(m for a in attempts for m in a[2])
        raise ModelError(f"{where}: statsmodels MixedLM could not fit {formula!r}: {errors}")
    pool = [a for a in candidates if a[1].converged] or candidates
    optimizer, res, messages = max(pool, key=lambda a: float(a[1].llf))
    return optimizer, res, messages


def _fixed_effects(res, design, Z, subjects, cov_re, scale, vcov: str, level: float, formula: str,
                   where: str):
    """(beta, vcov, coef frame) of the fixed effects; ``vcov`` "model" or "hessian"."""
    beta = np.asarray(res.fe_params, dtype=float)
    try:
        if vcov == "model":
            V = _model_vcov(design.X, Z, subjects, cov_re, scale)
        else:
            p = len(beta)
            V = np.asarray(res.cov_params(), dtype=float)[:p, :p]
    except np.linalg.LinAlgError as e:  # e.g. "SVD did not converge"
        raise ModelError(f"{where}: the covariance of the fixed effects of {formula!r} cannot be "
                         f"computed ({e}); check for extreme values or a simpler re_formula") from e
    se = np.sqrt(np.diag(V))
    df = np.full(len(beta), np.inf)
    coef = pd.concat(
        [
            pd.DataFrame({"term": list(design.terms), "estimate": beta, "std_error": se, "df": df}),
            t_inference(beta, se, df, level=level),
        ],
        axis=1,
    )[_COEF_COLUMNS]
    return beta, V, coef


def _re_cov_frame(cov_re, z_names, groups: str) -> pd.DataFrame:
    """The random-effects covariance as rows: group, term1, term2, covariance, correlation."""
    q = len(z_names)
    pairs = [(i, i) for i in range(q)] + [(i, j) for j in range(q) for i in range(j + 1, q)]
    sd = np.sqrt(np.clip(np.diag(cov_re), 0, None))
    re_rows = []
    for i, j in pairs:
        denom = sd[i] * sd[j]
        corr = 1.0 if i == j else (cov_re[i, j] / denom if denom > 0 else np.nan)
        re_rows.append({"group": groups, "term1": z_names[j] if i != j else z_names[i],
                        "term2": z_names[i], "covariance": cov_re[i, j], "correlation": corr})
    return pd.DataFrame(re_rows)


def _check_re_formula(re_formula, data, where: str) -> list[str]:
    """Raise ModelError unless ``re_formula`` is a one-sided string; return its variables."""
    if not isinstance(re_formula, str):
        raise ModelError(
            f"{where}: re_formula must be a string such as '~WEEK'; got {re_formula!r}"
        )
    if not re_formula.strip().startswith("~"):
        raise ModelError(
            f"{where}: re_formula must be one-sided and start with '~' (e.g. '~WEEK'); "
            f"got {re_formula!r}"
        )
    _, re_vars, _ = _parse(re_formula.strip(), where)
    if isinstance(data, pd.DataFrame):
        _check_columns(re_vars, data, where, f"re_formula {re_formula!r}")
    return re_vars


def _random_effects_design(design, groups: str, re_formula: str, where: str):
    """Subjects, their number (at least 2) and the random-effects matrix ``Z`` with its names."""
    subjects = design.frame[groups].to_numpy()
    n_subjects = len(pd.unique(subjects))
    if n_subjects < 2:
        raise ModelError(
            f"{where}: random effects need at least 2 levels of groups={groups!r}; the rows used "
            f"have {n_subjects}"
        )
    Z, z_names = rhs_matrix(re_formula, design.frame, where=where)
    if Z.shape[1] == 0:
        raise ModelError(f"{where}: re_formula {re_formula!r} has no random effects")
    return subjects, n_subjects, Z, z_names


def _convergence(res, y, messages: tuple, formula: str, re_formula: str, where: str):
    """(converged, messages): not converged for an exact fit; warns when not converged or singular.

    Warnings are attributed to the caller of :func:`lmm` (``stacklevel=3``).
    """
    converged = bool(res.converged)
    cov_re = np.asarray(res.cov_re, dtype=float)
    scale = float(res.scale)
    singular = _is_singular(cov_re, scale)
    if converged and not scale > 1e-10 * float(np.var(y)):
        converged = False  # an exact fit: tests and intervals would divide by ~0
        messages = messages + ("the residual variance is zero: the outcome is an exact function "
                               "of the fixed and random effects",)
    if not converged:
        warnings.warn(
            f"{where}: statsmodels MixedLM did not converge for {formula!r} ({'; '.join(messages)})",
            ConvergenceWarning,
            stacklevel=3,
        )
    elif singular:
        warnings.warn(
            f"{where}: boundary (singular) fit: the random-effects covariance of {re_formula!r} "
            "is singular (a variance near zero or a correlation near +-1); consider a simpler "
            "re_formula",
            ConvergenceWarning,
            stacklevel=3,
        )
    return converged, messages
