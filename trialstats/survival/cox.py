"""Cox proportional hazards regression, matching R ``coxph`` and ``cox.zph``.

.. math::

    \\lambda(t \\mid x) = \\lambda_{0s}(t) \\exp(x^T \\beta)

with a baseline hazard per stratum :math:`s`, fitted by Newton-Raphson on the partial likelihood
with Efron (R's default), Breslow or exact (:mod:`._cox_exact`) handling of tied event times,
optional case weights and counting-process ``(start, stop]`` rows (time-dependent covariates,
recurrent events). Times equal up to rounding are tied first, as R ``aeqSurv``
(:func:`._input.tie_times`). Standard errors come from the
inverse information, or with ``robust=True`` / ``subject=`` from the sandwich :math:`D^T D` of
dfbeta residuals summed within subjects (R ``robust=TRUE`` / ``cluster()``; ``cluster=`` is the
deprecated alias of ``subject=``). Intervals are Wald
intervals on the log scale, exponentiated.

The formula (formulaic syntax, right-hand side only) uses treatment coding; term names follow R:
``ARMEXOSOME`` for level EXOSOME of ARM, ``AGE`` for a numeric column.

What is lifelines and what is ours
----------------------------------
- **lifelines** (``CoxPHFitter``) fits the Efron model (coefficients and the log partial
  likelihood at 0), with ``strata``. Its Newton-Raphson is run with full steps and tight
  stopping rules (``_LIFELINES_FIT_OPTIONS``), but lifelines returns the estimate at which its
  last step was *computed*, not taken: even at a 1e-12 decrement that is up to 3.5e-6 relative
  from the root on a one-event data set (5-7e-7 on ``aml``; issue 12). Our engine therefore
  finishes the fit (:func:`._cox_engine.finish_newton`: Newton steps to rounding) and gives the
  information, covariance and log-likelihood at the final estimate. Its vectorised "batch"
  sums are chosen when times are heavily tied (``_BATCH_FRACTION``).
- **ours** (:mod:`._cox_engine`, arrays):

  * Breslow ties: lifelines fits Efron only.
  * The robust / cluster sandwich: lifelines' score residuals ignore Efron's tie correction
    (its code says "doesn't handle ties"), so its robust SEs differ from R's by up to 3e-4
    relative on lung (R: dfbeta from Efron-adjusted score residuals); they are also an
    O(n^2) Python loop. Ours are R's ``residuals(fit, "dfbeta")`` summed within clusters.
  * ``ph_test``: lifelines' ``proportional_hazard_test`` is the per-column approximation of
    Grambsch and Therneau (R < 3.0), not R's ``cox.zph`` score test per term (e.g. veteran
    celltype: R 14.07 on 3 df, lifelines three separate statistics 4.0, 3.2, 9.2).
  * Stratified concordance (R sums the pair counts over strata; lifelines'
    ``concordance_index`` has no strata). Unstratified concordance is lifelines'
    ``concordance_index``, which equals R's.
  * Fits with case weights or (start, stop] rows, the score test, residuals and curves
    (:mod:`.cox_predict`). lifelines' ``CoxTimeVaryingFitter`` computes R's estimates
    there (bladder2 to 1e-9; test2 to 1e-4 only, stopping a step short as ``CoxPHFitter``)
    but took 10x as long as our engine on 20,000 (start, stop] rows (3.1 s against 0.30 s)
    and would still need our finishing step; statsmodels' ``PHReg`` does not reproduce R:
    with case weights it returns the unweighted estimates (lung: age 0.01705 against R's
    0.01817) and on test2 with ``entry=`` it gives 0 against R's -0.0211.

A group level without events makes its hazard ratio infinite (not estimable): :func:`cox` raises
a :class:`~trialstats.errors.ModelError` naming the level rather than returning a meaningless
estimate.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd
from scipy import stats

from .._compat import subject_alias
from .._inference import check_level, t_inference, without_inference
from ..errors import ConvergenceWarning, ModelError
from . import _cox_engine as engine
from . import _cox_exact as exact
from . import cox_predict
from ._cox_checks import _check_estimable, _inverse, _monotone_message
from ._cox_fit import _design, _fit
from ._input import (
    case_weights,
    check_choice,
    checked_rhs,
    counting_times,
    event_indicator,
    filter_paramcd,
    group_codes,
    require_columns,
)
from ._summary import Summary, summary_html

TIES = ("efron", "breslow", "exact")
PH_TRANSFORMS = ("km", "identity", "log", "rank")
# a model SE of a log hazard ratio above this, per SD of the covariate, means an infinite estimate
_MAX_SE_PER_SD = 100.0

__all__ = ["CoxResult", "cox"]


@dataclass(frozen=True)
class CoxResult:
    """A fitted Cox model.

    Attributes
    ----------
    coef : DataFrame
        term, estimate (log hazard ratio), std_error, hazard_ratio, conf_low, conf_high (hazard
        ratio scale), statistic (z), p_value.
    formula : str
        The right-hand side fitted.
    ties, level : str, float
        Tie handling and confidence level.
    strata, cluster : str or None
        Stratification and cluster columns.
    robust : bool
        Whether ``std_error`` is the sandwich (robust) one.
    loglik : tuple of float
        Log partial likelihood at beta = 0 and at the estimate (R ``fit$loglik``).
    n_obs, n_events : int
        Rows used and events among them.
    excluded : dict
        Rows left out, by reason (e.g. ``{"missing AGE": 2}``).
    converged : bool
        Newton-Raphson convergence. False also when a standard error shows the estimate is
        running off to infinity; then ``coef`` and ``lr_test`` carry no statistic, p-value or
        interval unless the fit was asked with ``allow_nonconverged=True``.
    """

    coef: pd.DataFrame
    formula: str
    ties: str
    level: float
    strata: str | None
    cluster: str | None
    robust: bool
    loglik: tuple
    n_obs: int
    n_events: int
    excluded: dict
    converged: bool
    naive_std_error: np.ndarray = field(repr=False)
    _state: dict = field(repr=False, compare=False)
    allow_nonconverged: bool = False

    def __repr__(self) -> str:
        se = "robust SE" if self.robust else "model SE"
        strat = f", strata {self.strata}" if self.strata else ""
        return (
            f"<CoxResult: ~ {self.formula}, {self.ties} ties{strat}, {se}, "
            f"{self.n_obs} obs / {self.n_events} events, "
            f"{'converged' if self.converged else 'NOT converged'}>"
        )

    @property
    def aic(self) -> float:
        """Akaike information criterion, -2 log partial likelihood + 2 p (R ``AIC(fit)``)."""
        return -2.0 * self.loglik[1] + 2.0 * len(self.coef)

    @property
    def vcov(self) -> pd.DataFrame:
        """Covariance matrix of the log hazard ratios (robust when ``robust``), term x term."""
        terms = list(self.coef["term"])
        return pd.DataFrame(self._state["vcov"], index=terms, columns=terms)

    @property
    def lr_test(self) -> dict:
        """Likelihood-ratio test of all coefficients: statistic, df, p_value."""
        stat = 2.0 * (self.loglik[1] - self.loglik[0])
        df = len(self.coef)
        if not (self.converged or self.allow_nonconverged):  # no inference from a failed fit
            return {"statistic": np.nan, "df": df, "p_value": np.nan}
        return {"statistic": stat, "df": df, "p_value": float(stats.chi2.sf(stat, df))}

    @cached_property
    def concordance(self) -> float:
        """Harrell's concordance of the linear predictor, as R ``fit$concordance``.

        NaN for fits with case weights or (start, stop] rows: R weights the pairs and uses
        time-dependent risk sets there, which is not implemented.
        """
        s = self._state
        if s["weights"] is not None or s["start"] is not None:
            return float("nan")
        if s["strata_codes"] is not None:  # lifelines' concordance_index has no strata
            return engine.concordance(s["time"], s["event"], s["eta"], s["strata_codes"])
        from lifelines.utils import concordance_index

        # lifelines scores predict survival (higher = later): use minus the risk rank, with
        # scores equal up to rounding (identical covariates through BLAS) made exact ties, as R
        ranks = engine.score_ranks(s["eta"])
        return float(concordance_index(s["time"], -ranks, s["event"]))

    @cached_property
    def _engine_data(self) -> engine.CoxData:
        """Rows indexed for our engine (cox.zph), built on first use."""
        s = self._state
        return s["data"]

    @cached_property
    def score_test(self) -> dict:
        """Score (log-rank) test of all coefficients at beta = 0, as R ``fit$score``.

        :math:`U(0)^T I(0)^{-1} U(0)` with the score and information of the partial likelihood
        (same tie method) at zero.

        Returns
        -------
        dict
            statistic, df, p_value.
        """
        objective = exact.loglik_grad_info if self.ties == "exact" else engine.loglik_grad_info
        _, u, info = objective(self._engine_data, np.zeros(len(self.coef)))
        stat = float(u @ np.linalg.solve(info, u))
        df = len(self.coef)
        return {"statistic": stat, "df": df, "p_value": float(stats.chi2.sf(stat, df))}

    def ph_test(self, transform: str = "km") -> pd.DataFrame:
        """Test of proportional hazards, as R ``cox.zph(fit, transform=)``.

        Score tests of :math:`\\beta_j(t) = \\beta_j + \\gamma_j g(t)`, per term and GLOBAL,
        with :math:`g` of the (stop) time: ``"km"`` :math:`1 - \\hat S(t-)` (pooled
        Kaplan-Meier, R's default), ``"identity"`` :math:`t`, ``"log"`` :math:`\\log t`,
        ``"rank"`` the rank of :math:`t` among all rows (ties averaged); centred at its mean
        over the events.

        Parameters
        ----------
        transform : {"km", "identity", "log", "rank"}
            Time transform.

        Returns
        -------
        DataFrame
            term, statistic (chi-square), df, p_value.
        """
        check_choice("transform", transform, PH_TRANSFORMS)
        if self.ties == "exact":
            raise ModelError("ph_test is not available with ties=\"exact\" (as R cox.zph); "
                             "refit with ties=\"efron\" or \"breslow\"")
        s = self._state
        t = s["time"]
        if transform == "km":
            g = engine.km_transform(t, s["event"], s["start"])
        elif transform == "identity":
            g = t.copy()
        elif transform == "rank":
            g = stats.rankdata(t)
        else:
            if (t <= 0).any():
                raise ModelError("transform=\"log\" needs times > 0; some rows have time 0")
            g = np.log(t)
        g = g - g[s["event"] == 1].mean()
        res = engine.zph(self._engine_data, s["beta"], g, s["term_columns"])
        return pd.DataFrame(
            {
                "term": list(s["term_names"]) + ["GLOBAL"],
                "statistic": res["statistic"],
                "df": res["df"],
                "p_value": stats.chi2.sf(res["statistic"], res["df"]),
            }
        )

    def comparisons(self, *args, **kwargs):
        """Comparisons frame of the arms: see :func:`trialstats.results.comparisons.cox_comparisons`."""
        from ..results.comparisons import cox_comparisons

        return cox_comparisons(self, *args, **kwargs)

    def residuals(self, type: str = "martingale"):  # noqa: A002 - R's argument name
        """Residuals, as R ``residuals(fit, type=)``: see :func:`.cox_predict.residuals`.

        Parameters
        ----------
        type : {"martingale", "deviance", "score", "schoenfeld", "scaledsch", "dfbeta",
                "dfbetas"}
            Residual type.

        Returns
        -------
        Series or DataFrame
        """
        return cox_predict.residuals(self, type)

    def baseline_survival(self) -> pd.DataFrame:
        """Survival curve(s) at R's ``fit$means``, as R ``survfit(fit)``: see
        :func:`.cox_predict.baseline_survival`.

        Returns
        -------
        DataFrame
        """
        return cox_predict.baseline_survival(self)

    def predict(self, newdata: pd.DataFrame, type: str = "lp"):  # noqa: A002 - R's name
        """Linear predictor, risk or survival curves for new rows, as R ``predict.coxph`` /
        ``survfit(fit, newdata)``: see :func:`.cox_predict.predict`.

        Parameters
        ----------
        newdata : DataFrame
            Covariates (and strata for survival curves).
        type : {"lp", "risk", "survival"}
            What to predict.

        Returns
        -------
        Series or DataFrame
        """
        return cox_predict.predict(self, newdata, type)
    _repr_html_ = summary_html  # Jupyter shows summary() as tables

    def summary(self) -> Summary:
        """Coefficients, likelihood-ratio test and concordance."""
        lr = self.lr_test
        notes = (
            f"Likelihood ratio test = {lr['statistic']:.4g} on {lr['df']} df, "
            f"p = {lr['p_value']:.4g}",
            f"Concordance = {self.concordance:.4f}" if np.isfinite(self.concordance) else
            "Concordance: not computed for weighted or (start, stop] fits",
        ) + tuple(f"Excluded: {v} rows ({k})" for k, v in self.excluded.items())
        return Summary(repr(self)[1:-1], {"Coefficients": self.coef}, notes)


def _coef_frame(names, beta, se, inf) -> pd.DataFrame:
    """The tidy coefficient table: log hazard ratios, hazard ratios and their z inference."""
    return pd.DataFrame(
        {
            "term": names,
            "estimate": beta,
            "std_error": se,
            "hazard_ratio": np.exp(beta),
            "conf_low": np.exp(inf["conf_low"].to_numpy()),
            "conf_high": np.exp(inf["conf_high"].to_numpy()),
            "statistic": inf["statistic"].to_numpy(),
            "p_value": inf["p_value"].to_numpy(),
        }
    )


def _check_not_aliased(x: np.ndarray, names: list, rhs: str) -> None:
    """Refuse columns that are linear combinations of earlier ones (or of the baseline hazard).

    Factors are coded as R's model.matrix codes them (trialstats/_materializer.py): an
    interaction without its margins (``SEX:ECOG``) has one indicator per level combination, one
    of them aliased with the baseline hazard; R's coxph reports NA for it, trialstats refuses.
    """
    from ..longitudinal._design import _aliased

    dup = _aliased(np.column_stack([np.ones(len(x)), x]))
    if dup:
        raise ModelError(
            f"covariates {', '.join(names[j - 1] for j in dup)} of '{rhs}' are linear "
            "combinations of earlier covariates or of the baseline hazard (aliased; R's coxph "
            "reports NA for them); add the missing main effects (e.g. A * B for A:B) or drop "
            "the aliased terms")


def cox(
    formula: str,
    data: pd.DataFrame,
    time: str = "AVAL",
    event: str | None = None,
    censor: str | None = None,
    *,
    strata: str | None = None,
    robust: bool | None = None,
    subject: str | None = None,
    cluster: str | None = None,
    ties: str = "efron",
    level: float = 0.95,
    paramcd: str | None = None,
    allow_nonconverged: bool = False,
    weights: str | None = None,
    start: str | None = None,
    stop: str | None = None,
) -> CoxResult:
    """Fit a Cox proportional hazards model, as R ``coxph(Surv(time, status) ~ formula)``.

    Parameters
    ----------
    formula : str
        Right-hand side in formulaic syntax, e.g. ``"ARM + AGE"`` (``C(x)`` makes a numeric
        column a factor). Treatment coding; the first level is the reference.
    data : DataFrame
        ADTTE-like table, one row per subject (or per record with ``subject=``).
    time : str, default "AVAL"
        Follow-up time.
    event, censor : str
        Exactly one: 1 = event column, or 1 = censored column (ADaM ``CNSR``).
    strata : str, optional
        Column whose levels get separate baseline hazards (R ``strata()``).
    robust : bool, optional
        Sandwich standard errors. Default as R: True with ``subject=`` or with non-integer
        case weights, else False.
    subject : str, optional
        Subject (cluster) column for the sandwich variance: the rows of one subject are summed
        (R ``cluster()``). The keyword of the subject column across the library.
    cluster : str, optional
        Deprecated alias of ``subject`` (FutureWarning).
    ties : {"efron", "breslow", "exact"}
        Handling of tied event times; "exact" is R's exact partial likelihood (the discrete
        / conditional logistic model).
    level : float, default 0.95
        Confidence level.
    paramcd : str, optional
        Keep only this PARAMCD.
    allow_nonconverged : bool, default False
        A fit that did not converge (``converged`` False, with a ``ConvergenceWarning``) keeps
        its estimates and standard errors, but its statistics, p-values and intervals (``coef``,
        ``lr_test``) are NaN unless this is True.
    weights : str, optional
        Column of case weights (finite, >= 0), as R ``coxph(weights=)``.
    start, stop : str, optional
        Counting-process data, R ``Surv(start, stop, event)``: each row is at risk on
        ``(start, stop]``, so covariates can change over time (one row per interval) and
        recurrent events are rows of one subject (use ``subject=`` for Andersen-Gill robust
        SEs). ``stop=`` names the stop column (default: ``time=``).

    Returns
    -------
    CoxResult

    Raises
    ------
    ModelError
        Invalid input or options, a constant covariate, a factor level without events, or a
        covariate that perfectly orders the events (monotone likelihood: infinite estimate).
    """
    cluster = subject_alias(subject, cluster, "cluster", "cox", default=None)
    _check_ties(ties, weights)
    level = check_level(level)
    time = stop if stop is not None else time
    require_columns(data, [time, strata, cluster, weights, start])
    frame = filter_paramcd(data, paramcd)
    ev_all = event_indicator(frame, event, censor)
    t_all, start_all = counting_times(frame, time, start)
    w_all = None if weights is None else case_weights(frame, weights)
    _check_formula(formula)
    rhs = checked_rhs(formula, frame, "cox")  # formulas are data, never code
    work, mm, keep, excluded, x, names, columns, term_names, term_columns = _design(
        rhs, frame, strata, cluster)
    spec = mm.model_spec
    t = t_all[keep]
    ev = ev_all[keep].astype(float)
    w = None if w_all is None else w_all[keep]
    t0 = None if start_all is None else start_all[keep]
    monotone = _check_rows(work, keep, strata, x, names, term_columns, term_names, t, ev,
                           counting=start_all is not None, rhs=rhs)
    strata_codes, strata_cat, cluster_codes = _group_arrays(work, keep, strata, cluster)
    robust = _use_robust(robust, cluster, w)
    # centre the covariates (as R does); the partial likelihood is unchanged
    # (R centres by the weighted mean; the estimates do not depend on it)
    xc = x - x.mean(axis=0)
    res, var, cox_data = _fit(t, ev, xc, strata_codes, ties, w, t0, monotone)
    beta = res["beta"]
    naive_se = np.sqrt(np.diag(var))
    if robust:  # ours: R's dfbeta sandwich with Efron-adjusted score residuals
        var = _robust_vcov(cox_data, beta, var, cluster_codes, ties)
    se = np.sqrt(np.diag(var))
    converged = _converged(res, monotone, names, beta, se, naive_se * x.std(axis=0))
    inf = t_inference(beta, se, np.inf, level)
    with np.errstate(over="ignore"):  # a runaway estimate gives an infinite hazard ratio
        coef = _coef_frame(names, beta, se, inf)
    coef = without_inference(coef, converged, allow_nonconverged)
    state = {
        "time": t,
        "start": t0,
        "weights": w,
        "event": ev,
        "eta": xc @ beta,
        "strata_codes": strata_codes,
        "x": xc,
        "center": x.mean(axis=0),
        "r_means": cox_predict.r_means(x, w),
        "naive_vcov": _inverse(res["information"]),
        "index": frame.index[keep],
        "spec": spec,
        "columns": columns,
        "names": names,
        "strata_levels": None if strata_cat is None else list(strata_cat.categories),
        "data": cox_data,
        "beta": beta,
        "term_names": term_names,
        "term_columns": term_columns,
        "vcov": var,
    }
    return CoxResult(
        coef=coef,
        formula=rhs,
        ties=ties,
        level=level,
        strata=strata,
        cluster=cluster,
        robust=bool(robust),
        loglik=(res["loglik_null"], res["loglik"]),
        n_obs=int(len(t)),
        n_events=int(ev.sum()),
        excluded=excluded,
        converged=converged,
        naive_std_error=naive_se,
        _state=state,
        allow_nonconverged=bool(allow_nonconverged),
    )


def _check_ties(ties, weights) -> None:
    """Raise ModelError for an unknown ``ties`` or case weights with ``ties="exact"``."""
    check_choice("ties", ties, TIES)
    if ties == "exact" and weights is not None:
        raise ModelError("case weights are not supported with ties=\"exact\" (as in R); use "
                         "ties=\"efron\" or \"breslow\"")


def _check_rows(work, keep, strata, x, names, term_columns, term_names, t, ev, *, counting, rhs):
    """Refuse rows without events, per-subject strata, inestimable or aliased terms; the
    monotone message.

    Returns the monotone-likelihood message (None when the likelihood is not monotone or, for
    ``(start, stop]`` data, where the standard-error check covers it).
    """
    if ev.sum() == 0:
        raise ModelError("no events in the rows analysed: a Cox model cannot be fitted")
    if strata is not None:  # a stratum per subject: refused before the per-stratum loops
        group_codes(work.loc[keep, [strata]], strata, what="strata")
    _check_estimable(x, names, term_columns, term_names, ev)
    _check_not_aliased(x, names, rhs)
    monotone = None
    if not counting:  # (start, stop] risk sets are not "time >= t": the SE check covers them
        strata_for_check = (None if strata is None
                            else pd.factorize(work[strata].to_numpy()[keep])[0])
        monotone = _monotone_message(x, names, term_columns, term_names, t, ev, strata_for_check)
    return monotone


def _use_robust(robust, cluster, w) -> bool:
    """Sandwich SEs: always with a cluster, by default (R coxph) with non-integer weights."""
    if cluster is not None:
        robust = True
    if robust is None:  # R coxph: robust by default with non-integer (sampling) weights
        robust = w is not None and bool(np.any(w != np.floor(w)))
    return robust


def _check_formula(formula) -> None:
    """Raise ModelError for a formula without terms or with strata()/cluster() in it."""
    if not isinstance(formula, str) or not formula.split("~", 1)[-1].strip():
        raise ModelError("formula has no terms; e.g. cox(\"ARM + AGE\", data, censor=\"CNSR\")")
    for special, arg in (("strata(", "strata"), ("cluster(", "subject")):
        if special in formula.split("~", 1)[-1]:
            raise ModelError(f"write {special}...) as the {arg}= argument, not in the formula: "
                             f"cox(\"ARM\", data, censor=\"CNSR\", {arg}=\"SEX\")")


def _group_arrays(work, keep, strata, cluster):
    """Stratum codes and categories, and cluster codes, of the analysed rows (None if unused)."""
    strata_codes, strata_cat = None, None
    if strata is not None:
        strata_cat = pd.Categorical(work[strata].to_numpy()[keep])
        strata_codes = strata_cat.codes.astype(np.int64)
    cluster_codes = None
    if cluster is not None:
        cluster_codes = pd.Categorical(work[cluster].to_numpy()[keep]).codes.astype(np.int64)
    return strata_codes, strata_cat, cluster_codes


def _robust_vcov(cox_data, beta, var, cluster_codes, ties):
    """Sandwich covariance (R's dfbeta form); ModelError with ``ties="exact"``."""
    if ties == "exact":
        raise ModelError("robust=/subject= standard errors are not available with "
                         "ties=\"exact\" (R has no score residuals for it); use "
                         "ties=\"efron\" or \"breslow\"")
    return engine.robust_variance(cox_data, beta, _inverse(var), cluster_codes)


def _converged(res, monotone, names, beta, se, naive_se_per_sd) -> bool:
    """Convergence, False with a ConvergenceWarning for monotone or runaway estimates."""
    converged = bool(res["converged"]) and monotone is None
    if monotone:
        warnings.warn(f"Cox model did not converge: {monotone}", ConvergenceWarning, stacklevel=3)
    runaway = ~(np.isfinite(se) & np.isfinite(beta)) | (naive_se_per_sd > _MAX_SE_PER_SD)
    if converged and runaway.any():  # e.g. SE 1e7: the estimate is heading to infinity
        converged = False
        warnings.warn(f"Cox model: the estimate of {names[int(np.argmax(runaway))]} is not finite "
                      "or has a standard error over 100 per standard deviation of the covariate "
                      "(monotone likelihood?): the fit is reported as not converged",
                      ConvergenceWarning, stacklevel=3)
    return converged
