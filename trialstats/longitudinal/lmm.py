"""Linear mixed models with random intercepts and slopes (statsmodels ``MixedLM``).

The use in an alopecia trial is durability: how fast the hair count falls after treatment stops,
per arm, with a random intercept and a random slope per subject::

    fit = ts.lmm("AVAL ~ ARM * WEEK_OFF + BASE", data, subject="USUBJID", re_formula="~WEEK_OFF")
    fit.coef                       # fixed effects
    fit.slopes("ARM", "WEEK_OFF")  # slope per arm and each arm minus the reference arm

The model is fitted by :class:`statsmodels.regression.mixed_linear_model.MixedLM`; this module
resolves the formula (R-style treatment coding, see :mod:`trialstats.longitudinal._design`),
counts excluded rows, and tidies the results. It corresponds to R's
``lme4::lmer(AVAL ~ ARM * WEEK_OFF + BASE + (WEEK_OFF | USUBJID), REML = TRUE)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .._compat import subject_alias
from .._inference import check_level, t_inference, without_inference
from .._summary import Summary
from ..errors import ModelError
from ._design import Design, build_design, reference_grid_matrix
from ._lmm_fit import (  # noqa: F401  (_COEF_COLUMNS is imported from here by counts)
    _COEF_COLUMNS,
    _check_re_formula,
    _convergence,
    _fit_attempts,
    _fixed_effects,
    _random_effects_design,
    _re_cov_frame,
)

__all__ = ["lmm", "LMMResult", "SlopesResult", "ModelSummary"]

_METHODS = ("reml", "ml")
_VCOV = ("model", "hessian")


def _choice(value, valid: tuple[str, ...], name: str, where: str) -> str:
    key = str(value).lower() if isinstance(value, str) else value
    if key not in valid:
        raise ModelError(f"{where}: {name}={value!r} is not valid; use one of {', '.join(valid)}")
    return key


def _trialstats_version() -> str:
    from .. import __version__

    return __version__


# --------------------------------------------------------------------------- summary object
ModelSummary = Summary  # the shared summary (trialstats._summary); name kept for counts


# --------------------------------------------------------------------------- slopes
@dataclass(frozen=True)
class SlopesResult:
    """Per-arm slopes over time and their differences from the reference arm.

    Attributes
    ----------
    per_arm : pandas.DataFrame
        ``<arm>, estimate, std_error, df, statistic, p_value, conf_low, conf_high``: the slope of
        the outcome per unit of ``time`` in each arm.
    difference : pandas.DataFrame
        ``contrast ("EXOSOME - PLACEBO"), estimate, std_error, df, statistic, p_value, conf_low,
        conf_high``: each arm's slope minus the reference arm's.
    contrast_matrix : pandas.DataFrame
        Rows = arms, columns = fixed-effect terms: the linear combinations ``L`` with
        slope = ``L @ beta``.
    arm, time : str
        The columns used.
    level : float
        Confidence level of the intervals.
    """

    per_arm: pd.DataFrame
    difference: pd.DataFrame
    contrast_matrix: pd.DataFrame
    arm: str
    time: str
    level: float

    def __repr__(self) -> str:
        return (
            f"<SlopesResult: slope of {self.time} in {len(self.per_arm)} levels of {self.arm}, "
            f"{len(self.difference)} differences vs {self.per_arm[self.arm].iloc[0]}>"
        )

    def summary(self) -> ModelSummary:
        """Both tables as a :class:`ModelSummary`."""
        return ModelSummary(
            title=f"Slope of {self.time} by {self.arm}",
            info=(("confidence level", f"{self.level:g}"), ("tests", "z (df = inf)")),
            tables=(("per arm", self.per_arm), ("difference vs reference", self.difference)),
        )

    def _repr_html_(self) -> str:
        return self.summary().as_html()


def _linear_combinations(L: np.ndarray, beta: np.ndarray, vcov: np.ndarray, level: float):
    est = L @ beta
    se = np.sqrt(np.einsum("ij,jk,ik->i", L, vcov, L))
    df = np.full(len(est), np.inf)
    inf = t_inference(est, se, df, level=level)
    out = pd.DataFrame({"estimate": est, "std_error": se, "df": df})
    return pd.concat([out, inf], axis=1)


# --------------------------------------------------------------------------- result
@dataclass(frozen=True)
class LMMResult:
    """A fitted linear mixed model with random effects per subject.

    Attributes
    ----------
    coef : pandas.DataFrame
        Fixed effects: ``term, estimate, std_error, df, statistic, p_value, conf_low, conf_high``.
        ``df`` is ``inf``: Wald z tests and normal intervals, as statsmodels reports them (lme4
        gives no p-values; lmerTest would use Satterthwaite df, which gives wider intervals in
        small trials).
    vcov : pandas.DataFrame
        Covariance matrix of the fixed effects (see ``vcov`` in :func:`lmm`).
    random_effects_cov : pandas.DataFrame
        ``group, term1, term2, covariance, correlation``: variances (``term1 == term2``, correlation
        1) then covariances of the random effects, in lme4's ``as.data.frame(VarCorr(fit))`` order.
    residual_variance : float
        Within-subject residual variance (sigma^2).
    loglik, aic, bic : float
        Log-likelihood (REML criterion when ``method="reml"``), and AIC/BIC counting fixed effects,
        random-effect (co)variances and sigma^2, with BIC's ``n`` the number of observations, as
        lme4 does. REML AIC/BIC only compare models with the same fixed effects.
    n_obs, n_subjects : int
    converged : bool
    exclusions : pandas.DataFrame
        Input rows not used: ``row, <groups>, reason``.
    warnings : tuple of str
        Messages from the optimiser (also re-issued as :class:`ConvergenceWarning` when the fit did
        not converge or lies on the boundary).
    formula, re_formula, groups, method, level, vcov_type, optimizer : str / float
        The specification the model was fitted with.
    versions : dict
        Package versions used.
    allow_nonconverged : bool
        Whether inference is reported although the fit did not converge (else NaN).
    """

    formula: str
    re_formula: str
    groups: str
    method: str
    level: float
    vcov_type: str
    coef: pd.DataFrame
    vcov: pd.DataFrame
    random_effects_cov: pd.DataFrame
    residual_variance: float
    loglik: float
    aic: float
    bic: float
    n_obs: int
    n_subjects: int
    converged: bool
    exclusions: pd.DataFrame
    warnings: tuple[str, ...]
    optimizer: str
    versions: dict
    _design: Design = field(repr=False, compare=False)
    allow_nonconverged: bool = False

    def __repr__(self) -> str:
        status = "converged" if self.converged else "NOT converged"
        return (
            f"<LMMResult: {self.formula}, random {self.re_formula} | {self.groups}, "
            f"{self.method.upper()}, {self.n_obs} obs / {self.n_subjects} subjects, {status}>"
        )

    @property
    def random_effects_cov_matrix(self) -> pd.DataFrame:
        """The random-effects covariance as a square DataFrame (terms x terms)."""
        terms = list(dict.fromkeys(self.random_effects_cov["term1"]))
        mat = pd.DataFrame(np.nan, index=terms, columns=terms)
        for _, r in self.random_effects_cov.iterrows():
            mat.loc[r["term1"], r["term2"]] = r["covariance"]
            mat.loc[r["term2"], r["term1"]] = r["covariance"]
        return mat

    def slopes(self, arm: str = "ARM", time: str = "WEEK_OFF", level: float | None = None):
        """Slope of the outcome over ``time`` in each level of ``arm``, and differences.

        Each slope is a linear combination ``L @ beta`` of the fixed effects: the change of the
        fitted mean per unit of ``time`` with ``arm`` at that level, other numeric covariates at
        their mean and other factors averaged with equal weights (emmeans' ``emtrends``
        reference grid). Standard errors are ``sqrt(L V L')``; tests are z tests.

        Parameters
        ----------
        arm : str
            Factor column of the formula (its first level is the reference).
        time : str
            Numeric column of the formula entering linearly.
        level : float, optional
            Confidence level; defaults to the fit's.

        Returns
        -------
        SlopesResult

        Raises
        ------
        ModelError
            If ``arm`` is not a factor of the formula, ``time`` not a numeric covariate of it, or
            the fitted mean is not linear in ``time``.
        """
        level = self.level if level is None else check_level(level)
        design = self._design
        if arm not in design.levels:
            factors = ", ".join(design.levels) or "none"
            raise ModelError(
                f"slopes: arm={arm!r} is not a factor of the formula {self.formula!r}; "
                f"factors: {factors}"
            )
        numeric = [v for v in design.variables if v not in design.levels]
        if time not in numeric:
            raise ModelError(
                f"slopes: time={time!r} is not a numeric covariate of the formula "
                f"{self.formula!r}; numeric covariates: {', '.join(numeric) or 'none'}"
            )
        arms = design.levels[arm]
        rows = []
        for a in arms:
            x0, x1, x2 = (reference_grid_matrix(design, {arm: a, time: t}) for t in (0.0, 1.0, 2.0))
            d1, d2 = x1 - x0, x2 - x1
            if not np.allclose(d1, d2, rtol=1e-10, atol=1e-10 * max(1.0, np.abs(x2).max())):
                raise ModelError(
                    f"slopes: the fitted mean of {self.formula!r} is not linear in {time!r}, so "
                    "there is no single slope; use a formula where it enters linearly"
                )
            rows.append(d1)
        L = np.vstack(rows)
        beta = self.coef["estimate"].to_numpy()
        V = self.vcov.to_numpy()
        per_arm = pd.concat(
            [pd.DataFrame({arm: arms}), _linear_combinations(L, beta, V, level)], axis=1
        )
        D = L[1:] - L[0]
        difference = pd.concat(
            [
                pd.DataFrame({"contrast": [f"{a} - {arms[0]}" for a in arms[1:]]}),
                _linear_combinations(D, beta, V, level),
            ],
            axis=1,
        )
        keep = self.converged or self.allow_nonconverged  # no inference from a failed fit
        return SlopesResult(
            per_arm=without_inference(per_arm, keep, False),
            difference=without_inference(difference, keep, False),
            contrast_matrix=pd.DataFrame(L, index=arms, columns=list(design.terms)),
            arm=arm,
            time=time,
            level=level,
        )

    def comparisons(self, *args, **kwargs):
        """Comparisons frame of the arms: see :func:`trialstats.results.comparisons.lmm_comparisons`."""
        from ..results.comparisons import lmm_comparisons

        return lmm_comparisons(self, *args, **kwargs)

    def summary(self) -> ModelSummary:
        """Specification, fit statistics and the coefficient and variance tables."""
        info = (
            ("formula", self.formula),
            ("random effects", f"{self.re_formula} | {self.groups}"),
            ("method", f"{self.method.upper()}, fixed-effect covariance: {self.vcov_type}"),
            ("observations", f"{self.n_obs} ({len(self.exclusions)} rows excluded)"),
            ("subjects", str(self.n_subjects)),
            ("log-likelihood", f"{self.loglik:.4f}"),
            ("AIC / BIC", f"{self.aic:.4f} / {self.bic:.4f}"),
            ("residual variance", f"{self.residual_variance:.6g}"),
            ("converged", "yes" if self.converged else "no"),
            ("tests", "z (df = inf)"),
        )
        tables = [("fixed effects", self.coef), ("random effects", self.random_effects_cov)]
        if len(self.exclusions):
            counts = self.exclusions["reason"].value_counts().rename_axis("reason")
            tables.append(("excluded rows", counts.reset_index(name="rows")))
        return ModelSummary(
            title="Linear mixed model (statsmodels MixedLM)", info=info, tables=tuple(tables)
        )

    def _repr_html_(self) -> str:
        return self.summary().as_html()


# --------------------------------------------------------------------------- fitting
def lmm(
    formula: str,
    data: pd.DataFrame,
    groups: str | None = None,
    re_formula: str = "~WEEK",
    method: str = "reml",
    level: float = 0.95,
    vcov: str = "model",
    allow_nonconverged: bool = False,
    *,
    subject: str | None = None,
) -> LMMResult:
    r"""Fit a linear mixed model with random intercepts and slopes per subject.

    .. math::

        y_{ij} = x_{ij}^\top \beta + z_{ij}^\top b_i + \varepsilon_{ij},\quad
        b_i \sim N(0, G),\quad \varepsilon_{ij} \sim N(0, \sigma^2)

    with ``G`` unstructured (random intercept and slope correlated), fitted by
    :class:`statsmodels.regression.mixed_linear_model.MixedLM`: BFGS on the profiled
    likelihood; when it does not converge or ends near a singular random-effects covariance
    (lme4's ``isSingular`` rule), Powell and Nelder-Mead are run too and the converged attempt
    with the highest likelihood is kept (gradient methods stop short at such boundaries).
    Equivalent R: ``lme4::lmer(y ~ x + (t | id), REML = TRUE)`` or
    ``nlme::lme(y ~ x, random = ~ t | id)``.

    Parameters
    ----------
    formula : str
        Fixed effects, e.g. ``"AVAL ~ ARM * WEEK_OFF + BASE"``. Factors use treatment coding with
        the first level (first category of a ``Categorical``) as reference.
    data : pandas.DataFrame
        One row per subject and visit.
    groups : str, optional
        Deprecated alias of ``subject`` (FutureWarning).
    re_formula : str, default "~WEEK"
        One-sided formula of the random effects: ``"~WEEK"`` = random intercept and slope,
        ``"~1"`` = random intercept only, ``"~0 + WEEK"`` = slope only.
    method : {"reml", "ml"}
        Restricted or full maximum likelihood.
    level : float, default 0.95
        Confidence level of the intervals.
    vcov : {"model", "hessian"}
        Covariance of the fixed effects. ``"model"`` (default): :math:`(X^\top V^{-1} X)^{-1}` at
        the estimated variance parameters, as lme4, nlme and SAS PROC MIXED report it.
        ``"hessian"``: statsmodels' ``bse_fe``, from the inverse observed information of all
        parameters jointly; it differs from ``"model"`` when the data are unbalanced (by about
        0.2 % for the simulated trial in the tests).
    allow_nonconverged : bool, default False
        A fit that did not converge (``converged`` False, with a ``ConvergenceWarning``) keeps
        its estimates and standard errors, but its statistics, p-values and intervals (``coef``,
        :meth:`LMMResult.slopes`) are NaN unless this is True.

    subject : str, default "USUBJID"
        Subject column (the random effects / clusters are per level of it).

    Returns
    -------
    LMMResult
        ``coef`` holds Wald z tests (``df = inf``) and normal intervals, as statsmodels reports
        them; lme4 reports no p-values, and for small trials a Satterthwaite or Kenward-Roger df
        (see :func:`trialstats.mmrm`) gives more honest intervals.

    Raises
    ------
    ModelError
        Unknown columns, invalid options, an outcome missing everywhere, fewer than 2 subjects, or
        a model statsmodels cannot fit.

    Warns
    -----
    ConvergenceWarning
        When the optimiser did not converge or the random-effects covariance is singular.
    """
    groups = subject_alias(subject, groups, "groups", "lmm")
    import statsmodels
    from statsmodels.regression.mixed_linear_model import MixedLM

    where = "lmm"
    level = check_level(level)
    method = _choice(method, _METHODS, "method", where)
    vcov = _choice(vcov, _VCOV, "vcov", where)
    re_vars = _check_re_formula(re_formula, data, where)
    design = build_design(formula, data, cluster=groups, extra_columns=re_vars, where=where)
    subjects, n_subjects, Z, z_names = _random_effects_design(design, groups, re_formula, where)

    model = MixedLM(
        design.y,
        pd.DataFrame(design.X, columns=list(design.terms)),
        groups=subjects,
        exog_re=pd.DataFrame(Z, columns=list(z_names)),
    )

    optimizer, res, messages = _fit_attempts(model, method, formula, where)
    converged, messages = _convergence(res, design.y, messages, formula, re_formula, where)
    cov_re = np.asarray(res.cov_re, dtype=float)
    scale = float(res.scale)

    beta, V, coef = _fixed_effects(res, design, Z, subjects, cov_re, scale, vcov, level, formula,
                                   where)
    coef = without_inference(coef, converged, allow_nonconverged)

    q = len(z_names)
    random_effects_cov = _re_cov_frame(cov_re, z_names, groups)

    n_obs = len(design.y)
    loglik = float(res.llf)
    k = len(beta) + q * (q + 1) // 2 + 1
    aic = -2.0 * loglik + 2.0 * k
    bic = -2.0 * loglik + math.log(n_obs) * k
    return LMMResult(
        formula=formula,
        re_formula=re_formula,
        groups=groups,
        method=method,
        level=level,
        vcov_type=vcov,
        coef=coef,
        vcov=pd.DataFrame(V, index=list(design.terms), columns=list(design.terms)),
        random_effects_cov=random_effects_cov,
        residual_variance=scale,
        loglik=loglik,
        aic=aic,
        bic=bic,
        n_obs=n_obs,
        n_subjects=n_subjects,
        converged=converged,
        exclusions=design.exclusions,
        warnings=messages,
        optimizer=optimizer,
        versions={"statsmodels": statsmodels.__version__, "trialstats": _trialstats_version()},
        _design=design,
        allow_nonconverged=bool(allow_nonconverged),
    )
