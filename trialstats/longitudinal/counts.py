"""Marginal models of raw hair counts: GEE with robust (sandwich) standard errors.

A hair count is a count, often overdispersed and correlated within a subject across visits. A
generalised estimating equation (GEE) with a log link models the *population-average* rate;
its robust (sandwich, Liang-Zeger) covariance stays valid when the working correlation or the
variance function is wrong, provided there are enough subjects::

    fit = ts.count_model("AVAL ~ ARM * WEEK_OFF + LOGBASE", data, subject="USUBJID",
                         family="poisson", correlation="ar1", time="VISITNUM")
    fit.rate_ratios      # exp(coefficient): multiplicative effect on the mean count

Fitted by :class:`statsmodels.genmod.generalized_estimating_equations.GEE`. The working
correlation parameter is estimated as R's ``geepack::geeglm`` estimates it (see
:func:`count_model`), so the two agree.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._compat import subject_alias
from .._inference import check_level, t_inference, without_inference
from ..errors import ConvergenceWarning, ModelError
from ._design import _check_columns, build_design
from .lmm import _COEF_COLUMNS, ModelSummary, _choice, _trialstats_version

__all__ = ["count_model", "CountModelResult"]

_FAMILIES = ("poisson", "negative-binomial")
_CORRELATIONS = ("exchangeable", "ar1", "independence")
_MAX_LISTED = 10
# GEE stops when the norm of the estimating function (score) is below _CTOL * max(1, ||X'y||),
# i.e. relative to the size of the terms that cancel at the solution.
_CTOL = 1e-10
_MAXITER = 200
# a fitted log rate this far below log(mean count) (a rate 2e-9 of the mean) is a separation
_SEPARATION_LOG_RATE = 20.0


def _geepack_ar1_class():
    """statsmodels' AR(1) working correlation with geepack's estimator of its parameter.

    geepack (Yan & Fine 2004) estimates the AR(1) parameter ``a`` by unweighted least squares
    over all within-subject pairs: it minimises ``sum_{j<k} (r_j r_k / phi - a^|t_j - t_k|)^2``
    with Pearson residuals ``r`` and ``phi = sum r^2 / N``. statsmodels' own estimator (a
    weighted regression of each residual on the preceding ones, Rosner & Munoz 1988) gives a
    different value (0.463 vs 0.505 on MASS::epil), hence different estimates and SEs. Only the
    parameter update is replaced; the working covariance and the GEE itself are statsmodels'.
    """
    from scipy.optimize import minimize_scalar
    from statsmodels.genmod.cov_struct import Autoregressive, CovStruct

    class GeepackAutoregressive(Autoregressive):
        def __init__(self):
            super().__init__(grid=False)

        def covariance_matrix(self, expval, index):
            # statsmodels' Autoregressive uses row positions here (and a tridiagonal inverse),
            # ignoring `time`; use the time distances so that a missed visit leaves a gap.
            t = self.model.time_li[index]
            dist = np.abs(t[:, None, :] - t[None, :, :]).sum(axis=2)
            if self.dep_params == 0:
                return np.eye(len(expval)), True
            return np.power(self.dep_params, dist), True

        covariance_matrix_solve = CovStruct.covariance_matrix_solve

        def update(self, params):
            model = self.model
            varfunc = model.family.variance
            prods, dists = [], []
            ss, n = 0.0, 0
            for i in range(model.num_group):
                expval, _ = model.cached_means[i]
                resid = (model.endog_li[i] - expval) / np.sqrt(varfunc(expval))
                ss += float(np.sum(resid**2))
                n += len(resid)
                j1, j2 = np.tril_indices(len(resid), -1)
                t = model.time_li[i]
                prods.append(resid[j1] * resid[j2])
                dists.append(np.abs(t[j1] - t[j2]).sum(axis=1))
            prod = np.concatenate(prods) / (ss / n)
            dist = np.concatenate(dists)
            if len(prod) == 0:
                self.dep_params = 0.0
                return
            integer = np.allclose(dist, np.round(dist))
            low = -0.999999 if integer else 0.0

            def objective(a):
                return float(np.sum((prod - np.power(a, dist)) ** 2))

            res = minimize_scalar(
                objective, bounds=(low, 0.999999), method="bounded", options={"xatol": 1e-12}
            )
            self.dep_params = float(res.x)

    return GeepackAutoregressive()


@dataclass(frozen=True)
class CountModelResult:
    """A GEE fit of counts with a log link and robust standard errors.

    Attributes
    ----------
    coef : pandas.DataFrame
        ``term, estimate, std_error, df, statistic, p_value, conf_low, conf_high`` on the log-rate
        scale; robust (sandwich) SEs without small-sample correction (geepack's ``san.se``);
        ``df = inf``: Wald z tests and normal intervals.
    rate_ratios : pandas.DataFrame
        ``term, rate_ratio, conf_low, conf_high``: ``exp`` of each coefficient other than the
        intercept and of its interval limits.
    vcov : pandas.DataFrame
        Robust covariance matrix of the coefficients.
    correlation_parameter : float or None
        Estimated working-correlation parameter (exchangeable rho or AR(1) alpha); None for
        independence.
    alpha : float or None
        Negative-binomial dispersion (variance ``mu + alpha mu^2``); None for Poisson.
    alpha_source : str
        How ``alpha`` was obtained ("given" or how it was estimated); empty for Poisson.
    dispersion : float
        Pearson dispersion ``sum r^2 / N`` at the estimates (geepack's "scale"); well above 1
        means overdispersion relative to the family's variance. It does not enter the robust SEs.
    n_obs, n_subjects : int
    converged : bool
    exclusions : pandas.DataFrame
        Input rows not used: ``row, <groups>, reason``.
    warnings : tuple of str
    formula, groups, family, correlation, time, level, versions
        The specification the model was fitted with.

    Notes
    -----
    GEE is not a likelihood method, so there is no log-likelihood, AIC or BIC; compare working
    correlations by their robust SEs, not by a likelihood.
    """

    formula: str
    groups: str
    family: str
    correlation: str
    time: str | None
    level: float
    coef: pd.DataFrame
    rate_ratios: pd.DataFrame
    vcov: pd.DataFrame
    correlation_parameter: float | None
    alpha: float | None
    alpha_source: str
    dispersion: float
    n_obs: int
    n_subjects: int
    converged: bool
    exclusions: pd.DataFrame
    warnings: tuple[str, ...]
    versions: dict

    def __repr__(self) -> str:
        status = "converged" if self.converged else "NOT converged"
        return (
            f"<CountModelResult: GEE {self.family}, {self.correlation} working correlation, "
            f"{self.n_obs} obs / {self.n_subjects} subjects, {status}>"
        )

    def comparisons(self, *args, **kwargs):
        """Comparisons frame of the arms: see :func:`trialstats.results.comparisons.count_comparisons`."""
        from ..results.comparisons import count_comparisons

        return count_comparisons(self, *args, **kwargs)

    def summary(self) -> ModelSummary:
        """Specification, working correlation, and the coefficient and rate-ratio tables."""
        info = [
            ("formula", self.formula),
            ("family", f"{self.family} (log link)"),
            ("working correlation", f"{self.correlation} within {self.groups}"),
        ]
        if self.correlation_parameter is not None:
            info.append(("correlation parameter", f"{self.correlation_parameter:.6g}"))
        if self.alpha is not None:
            info.append(("alpha (NB dispersion)", f"{self.alpha:.6g} ({self.alpha_source})"))
        info += [
            ("Pearson dispersion", f"{self.dispersion:.6g}"),
            ("observations", f"{self.n_obs} ({len(self.exclusions)} rows excluded)"),
            ("subjects", str(self.n_subjects)),
            ("standard errors", "robust (sandwich), z tests"),
            ("converged", "yes" if self.converged else "no"),
        ]
        tables = [("coefficients (log rate)", self.coef), ("rate ratios", self.rate_ratios)]
        if len(self.exclusions):
            counts = self.exclusions["reason"].value_counts().rename_axis("reason")
            tables.append(("excluded rows", counts.reset_index(name="rows")))
        return ModelSummary(
            title="GEE count model (statsmodels GEE)", info=tuple(info), tables=tuple(tables)
        )

    def _repr_html_(self) -> str:
        return self.summary().as_html()


def _rows_text(rows, data: pd.DataFrame, groups: str) -> str:
    shown = [f"{r} ({data.at[r, groups]})" for r in list(rows)[:_MAX_LISTED]]
    more = f" and {len(rows) - _MAX_LISTED} more" if len(rows) > _MAX_LISTED else ""
    return ", ".join(shown) + more


def _estimate_alpha(y: np.ndarray, X: np.ndarray) -> float:
    """NB2 dispersion by maximum likelihood of a negative-binomial GLM, ignoring clustering."""
    from statsmodels.discrete.discrete_model import NegativeBinomial

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            res = NegativeBinomial(y, X, loglike_method="nb2").fit(
                method="bfgs", maxiter=2000, gtol=1e-10, disp=False
            )
            res = NegativeBinomial(y, X, loglike_method="nb2").fit(
                start_params=res.params, method="newton", maxiter=100, tol=1e-12, disp=False
            )
        except np.linalg.LinAlgError as e:  # e.g. "SVD did not converge"
            raise ModelError(f"count_model: the negative-binomial alpha cannot be estimated "
                             f"({e}); give alpha= or use family='poisson'") from e
    alpha = float(res.params[-1])
    if not np.isfinite(alpha) or alpha <= 0:
        raise ModelError(
            "count_model: the maximum-likelihood negative-binomial alpha is not positive "
            f"({alpha:.3g}): the counts show no overdispersion; use family='poisson' or give alpha="
        )
    return alpha


def _check_counts(design, data, formula: str, groups: str, time: str | None, where: str) -> int:
    """Checks of a count model's rows before the fit; returns the number of subjects.

    Raises
    ------
    ModelError
        No term; negative or non-integer counts (rows named); a factor level whose counts are
        all zero; a non-numeric time or repeated times within a subject; fewer than 2 subjects.
    """
    frame = design.frame
    y = design.y
    if design.X.shape[1] == 0:
        raise ModelError(f"{where}: formula {formula!r} has no terms (not even an intercept)")
    bad_neg = frame.index[y < 0]
    bad_int = frame.index[(y >= 0) & (y != np.round(y))]
    problems = []
    if len(bad_neg):
        problems.append(f"negative in rows {_rows_text(bad_neg, data, groups)}")
    if len(bad_int):
        problems.append(f"not whole numbers in rows {_rows_text(bad_int, data, groups)}")
    if problems:
        raise ModelError(
            f"{where}: outcome {design.outcome!r} must be counts (0, 1, 2, ...); values are "
            + "; ".join(problems)
        )
    for col in design.levels:  # a level with only zeros: log rate -> -inf
        totals = pd.Series(y, index=frame.index).groupby(frame[col], observed=True).sum()
        empty = [str(k) for k, v in totals.items() if v == 0]
        if empty:
            raise ModelError(
                f"{where}: every count of {design.outcome!r} is 0 where {col} is "
                f"{', '.join(empty)}: its rate ratio is not estimable (zero rate, infinite log "
                "rate ratio); combine or drop that level"
            )
    if time is not None:
        t = frame[time]
        if not pd.api.types.is_numeric_dtype(t) or pd.api.types.is_bool_dtype(t):
            raise ModelError(
                f"{where}: time={time!r} must be a numeric column (e.g. AVISITN); it is {t.dtype}"
            )
        dup = frame.duplicated([groups, time], keep=False)
        if dup.any():
            rows = frame.index[dup]
            raise ModelError(
                f"{where}: time points must be unique per subject; duplicates of {groups}/{time} "
                f"in rows {_rows_text(rows, data, groups)}"
            )
    subjects = frame[groups].to_numpy()
    n_subjects = len(pd.unique(subjects))
    if n_subjects < 2:
        raise ModelError(
            f"{where}: GEE needs at least 2 levels of groups={groups!r} for the robust "
            f"covariance; the rows used have {n_subjects}"
        )
    return n_subjects


def _family(family: str, alpha, y, X):
    """The statsmodels family: Poisson, or negative binomial with ``alpha`` given or estimated.

    Returns
    -------
    (family, alpha, alpha_source) : alpha None for Poisson; its source in words
    """
    from statsmodels.genmod import families

    alpha_source = ""
    if family == "negative-binomial":
        if alpha is None:
            alpha = _estimate_alpha(y, X)
            alpha_source = "maximum likelihood, negative-binomial GLM ignoring clustering"
        else:
            alpha = float(alpha)
            alpha_source = "given"
        fam = families.NegativeBinomial(alpha=alpha)
    else:
        alpha = None
        fam = families.Poisson()
    return fam, alpha, alpha_source


def count_model(
    formula: str,
    data: pd.DataFrame,
    groups: str | None = None,
    family: str = "poisson",
    correlation: str = "exchangeable",
    time: str | None = None,
    level: float = 0.95,
    alpha: float | None = None,
    allow_nonconverged: bool = False,
    *,
    subject: str | None = None,
) -> CountModelResult:
    r"""GEE for counts with a log link and robust (sandwich) standard errors.

    .. math::

        \log E[y_{ij}] = x_{ij}^\top \beta,\qquad
        \operatorname{Var}(y_{ij}) = \mu_{ij}\ \text{(Poisson)}\ \text{or}\
        \mu_{ij} + \alpha \mu_{ij}^2\ \text{(negative binomial)}

    with a working correlation within subject. Equivalent R:
    ``geepack::geeglm(formula, family = poisson, id = USUBJID, waves = time, corstr = ...)``.

    Parameters
    ----------
    formula : str
        E.g. ``"AVAL ~ ARM * WEEK_OFF + LOGBASE"``; treatment coding, first level = reference.
    data : pandas.DataFrame
        One row per subject and visit; the outcome must be non-negative whole numbers.
    groups : str, optional
        Deprecated alias of ``subject`` (FutureWarning).
    family : {"poisson", "negative-binomial"}
        Variance function. Negative binomial (NB2) needs ``alpha``; when not given it is
        estimated once, by maximum likelihood of a negative-binomial GLM with the same formula
        ignoring the clustering (R: ``1 / MASS::glm.nb(formula)$theta``), and then held fixed in
        the GEE. Any fixed alpha keeps the robust SEs valid; a good one improves efficiency.
    correlation : {"exchangeable", "ar1", "independence"}
        Working correlation. Its parameter is estimated as geepack does: exchangeable rho and the
        Pearson scale without degrees-of-freedom correction (statsmodels ``ddof_scale=0``); AR(1)
        by least squares over all within-subject pairs (see :func:`_geepack_ar1_class`).
    time : str, optional
        Visit column (numeric, e.g. visit number). Required for ``"ar1"``, where the correlation
        of two visits of a subject is ``alpha ** |time difference|``, so a missed visit leaves a
        gap instead of shifting later visits. Rows are ordered by it within subject.
    level : float, default 0.95
        Confidence level.
    alpha : float, optional
        Fixed negative-binomial dispersion (> 0); only with ``family="negative-binomial"``.
    allow_nonconverged : bool, default False
        A fit that did not converge (``converged`` False, with a ``ConvergenceWarning``) keeps
        its estimates and standard errors, but its statistics, p-values and intervals (``coef``,
        ``rate_ratios``) are NaN unless this is True.

    subject : str, default "USUBJID"
        Subject column (the random effects / clusters are per level of it).

    Returns
    -------
    CountModelResult

    Raises
    ------
    ModelError
        Unknown columns, family or correlation; negative or non-integer counts (rows listed);
        an outcome missing everywhere; fewer than 2 subjects; repeated times within a subject.

    Warns
    -----
    ConvergenceWarning
        When the GEE iterations stop before the score is below tolerance.
    """
    groups = subject_alias(subject, groups, "groups", "count_model")
    import statsmodels
    from statsmodels.genmod.cov_struct import Exchangeable, Independence
    from statsmodels.genmod.generalized_estimating_equations import GEE

    where = "count_model"
    level = check_level(level)
    family = _choice(family, _FAMILIES, "family", where)
    correlation = _choice(correlation, _CORRELATIONS, "correlation", where)
    _check_time_alpha(correlation, time, family, alpha, where)

    if time is not None and isinstance(data, pd.DataFrame):
        _check_columns([time], data, where, f"time={time!r}")
    design = build_design(
        formula, data, cluster=groups, extra_columns=[time] if time else [], where=where
    )
    frame = design.frame
    n_subjects = _check_counts(design, data, formula, groups, time, where)
    X, y, subjects, time_arr = _ordered_arrays(design, groups, time)

    fam, alpha, alpha_source = _family(family, alpha, y, X)
    cov = {
        "independence": Independence,
        "exchangeable": Exchangeable,
        "ar1": _geepack_ar1_class,
    }[correlation]()
    model = GEE(y, X, groups=subjects, time=time_arr, family=fam, cov_struct=cov)
    res, messages, converged = _fit_gee(model, X, y, formula, where)

    beta = np.asarray(res.params, dtype=float)
    converged = _check_separation(converged, X @ beta, y, frame, formula, where)
    V = np.asarray(res.cov_robust, dtype=float)
    terms = list(design.terms)
    coef, rate_ratios = _coef_tables(terms, beta, V, level, converged, allow_nonconverged)

    mu = np.exp(X @ beta)
    pearson = (y - mu) / np.sqrt(fam.variance(mu))
    dep = cov.dep_params
    corr_param = None if correlation == "independence" else float(np.asarray(dep).ravel()[0])
    return CountModelResult(
        formula=formula,
        groups=groups,
        family=family,
        correlation=correlation,
        time=time,
        level=level,
        coef=coef,
        rate_ratios=rate_ratios,
        vcov=pd.DataFrame(V, index=terms, columns=terms),
        correlation_parameter=corr_param,
        alpha=alpha,
        alpha_source=alpha_source,
        dispersion=float(np.mean(pearson**2)),
        n_obs=len(y),
        n_subjects=n_subjects,
        converged=converged,
        exclusions=design.exclusions,
        warnings=messages,
        versions={"statsmodels": statsmodels.__version__, "trialstats": _trialstats_version()},
    )


def _check_time_alpha(correlation, time, family, alpha, where):
    """Raise ModelError when ``ar1`` lacks ``time`` or ``alpha`` is misplaced or not positive."""
    if correlation == "ar1" and time is None:
        raise ModelError(
            f"{where}: correlation='ar1' needs time= (a numeric visit column, e.g. 'AVISITN') so "
            "that the lag between visits is known when visits are missed"
        )
    if alpha is not None:
        if family != "negative-binomial":
            raise ModelError(f"{where}: alpha= applies only to family='negative-binomial'")
        if not (isinstance(alpha, int | float) and math.isfinite(alpha) and alpha > 0):
            raise ModelError(f"{where}: alpha must be a positive number; got {alpha!r}")


def _ordered_arrays(design, groups, time):
    """X, y, subjects and times with rows ordered by subject then time (GEE keeps row order)."""
    frame, y = design.frame, design.y
    subjects = frame[groups].to_numpy()
    order = np.lexsort(
        (frame[time].to_numpy(dtype=float), pd.factorize(subjects)[0])
        if time
        else (np.arange(len(frame)), pd.factorize(subjects)[0])
    )
    X, y, subjects = design.X[order], y[order], subjects[order]
    time_arr = frame[time].to_numpy(dtype=float)[order] if time else None
    return X, y, subjects, time_arr


def _fit_gee(model, X, y, formula, where):
    """Fit the GEE (robust covariance); return the results, its warnings and convergence."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ctol = _CTOL * max(1.0, float(np.linalg.norm(X.T @ y)))
        try:
            res = model.fit(maxiter=_MAXITER, ctol=ctol, ddof_scale=0, cov_type="robust")
        except np.linalg.LinAlgError as e:  # e.g. "SVD did not converge"
            raise ModelError(f"{where}: GEE failed in linear algebra for {formula!r} ({e}); "
                             "check for extreme values or simplify the model") from e
    messages = tuple(dict.fromkeys(str(w.message) for w in caught))
    if res is None:
        raise ModelError(
            f"{where}: statsmodels GEE could not fit {formula!r}: {'; '.join(messages)}"
        )
    converged = bool(res.converged)
    if not converged:
        warnings.warn(
            f"{where}: GEE did not converge for {formula!r} (score norm {res.score_norm:.3g} after "
            f"{_MAXITER} iterations)",
            ConvergenceWarning,
            stacklevel=3,
        )
    return res, messages, converged


def _check_separation(converged, log_rate, y, frame, formula, where):
    """False (with a ConvergenceWarning) when zero counts are separated by a covariate."""
    low = log_rate < np.log(np.mean(y)) - _SEPARATION_LOG_RATE
    if converged and low.any():  # zero counts separated by a covariate: beta heads to infinity
        converged = False
        warnings.warn(
            f"{where}: GEE did not converge for {formula!r}: fitted means of {int(low.sum())} rows "
            f"(e.g. row {frame.index[np.argmax(low)]}) are below e^-{_SEPARATION_LOG_RATE:g} "
            "times the mean count: zero counts are separated by a covariate and its estimate "
            "is infinite",
            ConvergenceWarning,
            stacklevel=3,
        )
    return converged


def _coef_tables(terms, beta, V, level, converged, allow_nonconverged):
    """Tidy coefficient table (normal inference) and the rate ratios of the non-intercept terms."""
    se = np.sqrt(np.diag(V))
    df = np.full(len(beta), np.inf)
    inf = t_inference(beta, se, df, level=level)
    coef = pd.concat(
        [pd.DataFrame({"term": terms, "estimate": beta, "std_error": se, "df": df}), inf],
        axis=1,
    )[_COEF_COLUMNS]
    coef = without_inference(coef, converged, allow_nonconverged)
    keep = coef["term"] != "(Intercept)"
    rate_ratios = pd.DataFrame(
        {
            "term": coef.loc[keep, "term"],
            "rate_ratio": np.exp(coef.loc[keep, "estimate"]),
            "conf_low": np.exp(coef.loc[keep, "conf_low"]),
            "conf_high": np.exp(coef.loc[keep, "conf_high"]),
        }
    ).reset_index(drop=True)
    return coef, rate_ratios
