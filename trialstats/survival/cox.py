"""Cox proportional hazards regression, matching R ``coxph`` and ``cox.zph``.

.. math::

    \\lambda(t \\mid x) = \\lambda_{0s}(t) \\exp(x^T \\beta)

with a baseline hazard per stratum :math:`s`, fitted by Newton-Raphson on the partial likelihood
with Efron (R's default) or Breslow handling of tied event times. Standard errors come from the
inverse information, or with ``robust=True`` / ``cluster=`` from the sandwich :math:`D^T D` of
dfbeta residuals summed within clusters (R ``robust=TRUE`` / ``cluster=``). Intervals are Wald
intervals on the log scale, exponentiated.

The formula (formulaic syntax, right-hand side only) uses treatment coding; term names follow R:
``ARMEXOSOME`` for level EXOSOME of ARM, ``AGE`` for a numeric column.

What is lifelines and what is ours
----------------------------------
- **lifelines** (``CoxPHFitter``) fits the Efron model: coefficients, model-based covariance
  (inverse information), log partial likelihood at 0 and at the estimate, with ``strata``. Its
  Newton-Raphson is run with full steps and tight stopping rules (``_LIFELINES_FIT_OPTIONS``):
  lifelines returns the estimate at which its last step was computed, so with its defaults
  (first step 0.95, stop at a Newton decrement of 1e-7 or R's 1e-9 relative change) the
  estimates are up to ~1e-5 relative from R's, outside the "same algorithm" tolerance (rtol
  1e-6); tightened they agree with R ``coxph`` to ~1e-15 (4e-7 on one interaction model). Its
  vectorised "batch" sums are chosen when times are heavily tied (``_BATCH_FRACTION``).
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

A group level without events makes its hazard ratio infinite (not estimable): :func:`cox` raises
a :class:`~trialstats.errors.ModelError` naming the level rather than returning a meaningless
estimate.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd
from scipy import stats

from .._inference import check_level, t_inference
from ..errors import ConvergenceWarning, ModelError
from . import _cox_engine as engine
from ._input import check_choice, event_indicator, filter_paramcd, numeric_times, require_columns
from ._summary import Summary, summary_html

TIES = ("efron", "breslow")
# lifelines' Newton-Raphson: full steps, stop only when the step (norm 1e-12 on its standardised
# scale) or the Newton decrement (1e-12) is negligible; R's relative log-likelihood rule is off
_LIFELINES_FIT_OPTIONS = {"step_size": 1.0, "precision": 1e-12, "r_precision": 0.0,
                          "max_steps": 50}
# distinct times at most this fraction of the rows: lifelines' batch mode (see _fit_efron_lifelines)
_BATCH_FRACTION = 0.1

__all__ = ["CoxResult", "cox"]


def _r_name(column: str) -> str:
    """formulaic's ``ARM[T.EXOSOME]:AGE`` -> R's ``ARMEXOSOME:AGE``."""
    return re.sub(r"\[T\.([^\]]*)\]", r"\1", column)


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
        Newton-Raphson convergence.
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
        return {"statistic": stat, "df": df, "p_value": float(stats.chi2.sf(stat, df))}

    @cached_property
    def concordance(self) -> float:
        """Harrell's concordance of the linear predictor, as R ``fit$concordance``."""
        s = self._state
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
        if s["data"] is None:
            return engine.prepare(s["time"], s["event"], s["x"], s["strata_codes"], self.ties)
        return s["data"]

    def ph_test(self) -> pd.DataFrame:
        """Test of proportional hazards, as R ``cox.zph(fit, transform="km")``.

        Score tests of :math:`\\beta_j(t) = \\beta_j + \\gamma_j g(t)` with
        :math:`g(t) = 1 - \\hat S(t-)` (pooled Kaplan-Meier), per term and GLOBAL.

        Returns
        -------
        DataFrame
            term, statistic (chi-square), df, p_value.
        """
        s = self._state
        g = engine.km_transform(s["time"], s["event"])
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

    _repr_html_ = summary_html  # Jupyter shows summary() as tables

    def summary(self) -> Summary:
        """Coefficients, likelihood-ratio test and concordance."""
        lr = self.lr_test
        notes = (
            f"Likelihood ratio test = {lr['statistic']:.4g} on {lr['df']} df, "
            f"p = {lr['p_value']:.4g}",
            f"Concordance = {self.concordance:.4f}",
        ) + tuple(f"Excluded: {v} rows ({k})" for k, v in self.excluded.items())
        return Summary(repr(self)[1:-1], {"Coefficients": self.coef}, notes)


def _check_estimable(x: np.ndarray, names: list, term_columns, term_names, event):
    """Refuse constant columns and factor levels without events (infinite hazard ratios)."""
    constant = x.min(axis=0) == x.max(axis=0)
    for j, name in enumerate(names):
        if constant[j]:
            raise ModelError(f"covariate {name} is constant in the {len(x)} rows analysed; "
                             "remove it from the formula")
    for term, cols in zip(term_names, term_columns):
        sub = x[:, cols]
        if not (sub.min() >= 0 and sub.max() <= 1 and np.array_equal(sub, sub.round())):
            continue  # not a 0/1 (factor) term
        # events and subjects per level (reference = no indicator set), by matrix products
        ref = sub.sum(axis=1) == 0
        n_level = np.append(sub.sum(axis=0), ref.sum())
        e_level = np.append(event @ sub, event[ref].sum())
        labels = [names[c] for c in cols] + [f"{term} reference level"]
        for n_k, e_k, label in zip(n_level, e_level, labels):
            if n_k > 0 and e_k == 0:
                raise ModelError(
                    f"{label} has no events (0 of {int(n_k)} subjects): its hazard ratio "
                    "is not estimable (infinite); combine or drop that level, or use a "
                    "non-parametric comparison (logrank, rmst)"
                )


def _fit_efron_lifelines(time, event, x, strata_codes) -> dict:
    """Efron fit by lifelines ``CoxPHFitter`` on centred covariates.

    Returns
    -------
    dict
        beta, vcov (model-based), loglik_null, loglik, converged.
    """
    from lifelines import CoxPHFitter  # heavy import, only when a model is fitted
    from lifelines.exceptions import ConvergenceError
    from lifelines.exceptions import ConvergenceWarning as LifelinesConvergenceWarning

    p = x.shape[1]
    frame = pd.DataFrame(x, columns=[f"x{j}" for j in range(p)])
    frame["_time"] = time
    frame["_event"] = event.astype(np.int8)  # lifelines is a little faster on integer events
    if strata_codes is not None:
        frame["_stratum"] = strata_codes
    # lifelines' "batch" Efron sums (vectorised per distinct time) are exact and ~10x faster
    # when times are heavily tied (ADTTE days); its own regression-fitted choice picks the
    # row-by-row "single" mode at 1e6 rows with ~700 distinct days (23 s against 2.4 s)
    batch = True if len(np.unique(time)) <= _BATCH_FRACTION * len(time) else None
    # lifelines calls np.seterr globally and warns through its own classes: keep both local
    with np.errstate(), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            fitter = CoxPHFitter().fit(
                frame, "_time", "_event",
                strata=None if strata_codes is None else ["_stratum"],
                fit_options=dict(_LIFELINES_FIT_OPTIONS), batch_mode=batch,
            )
        except ConvergenceError as e:
            raise ModelError("the Cox information matrix is singular: a covariate is constant "
                             "or collinear with others") from e
    failed = [w for w in caught if issubclass(w.category, LifelinesConvergenceWarning)
              and "failed to converge" in str(w.message)]
    if failed:
        warnings.warn(f"Cox model did not converge in {_LIFELINES_FIT_OPTIONS['max_steps']} "
                      "iterations; estimates may be infinite (an arm or covariate level without "
                      "events?)", ConvergenceWarning, stacklevel=3)
    return {
        "beta": fitter.params_.to_numpy(dtype=float),
        "vcov": fitter.variance_matrix_.to_numpy(dtype=float),
        "loglik_null": float(fitter._ll_null_),  # lifelines' log-likelihood at beta = 0
        "loglik": float(fitter.log_likelihood_),
        "converged": not failed,
    }


def cox(
    formula: str,
    data: pd.DataFrame,
    time: str = "AVAL",
    event: str | None = None,
    censor: str | None = None,
    *,
    strata: str | None = None,
    robust: bool = False,
    cluster: str | None = None,
    ties: str = "efron",
    level: float = 0.95,
    paramcd: str | None = None,
) -> CoxResult:
    """Fit a Cox proportional hazards model, as R ``coxph(Surv(time, status) ~ formula)``.

    Parameters
    ----------
    formula : str
        Right-hand side in formulaic syntax, e.g. ``"ARM + AGE"`` (``C(x)`` makes a numeric
        column a factor). Treatment coding; the first level is the reference.
    data : DataFrame
        ADTTE-like table, one row per subject (or per record with ``cluster=``).
    time : str, default "AVAL"
        Follow-up time.
    event, censor : str
        Exactly one: 1 = event column, or 1 = censored column (ADaM ``CNSR``).
    strata : str, optional
        Column whose levels get separate baseline hazards (R ``strata()``).
    robust : bool, default False
        Sandwich standard errors (implied by ``cluster=``).
    cluster : str, optional
        Cluster column for the sandwich variance (R ``cluster()``).
    ties : {"efron", "breslow"}
        Handling of tied event times.
    level : float, default 0.95
        Confidence level.
    paramcd : str, optional
        Keep only this PARAMCD.

    Returns
    -------
    CoxResult

    Raises
    ------
    ModelError
        Invalid input or options, a constant covariate, or a factor level without events.
    """
    check_choice("ties", ties, TIES)
    level = check_level(level)
    require_columns(data, [time, strata, cluster])
    frame = filter_paramcd(data, paramcd)
    ev_all = event_indicator(frame, event, censor)
    t_all = numeric_times(frame, time)
    rhs = formula.split("~", 1)[-1].strip()
    if not rhs:
        raise ModelError("formula has no terms; e.g. cox(\"ARM + AGE\", data, censor=\"CNSR\")")
    for special, arg in (("strata(", "strata"), ("cluster(", "cluster")):
        if special in rhs:
            raise ModelError(f"write {special}...) as the {arg}= argument, not in the formula: "
                             f"cox(\"ARM\", data, censor=\"CNSR\", {arg}=\"SEX\")")
    import formulaic  # imported here: formula parsing is only needed by cox()

    work = frame.reset_index(drop=True)
    for col in work.columns:
        if isinstance(work[col].dtype, pd.CategoricalDtype):
            codes = work[col].cat.codes.to_numpy()
            used = np.bincount(codes[codes >= 0], minlength=len(work[col].cat.categories))
            if (used == 0).any():  # copying a 1e6-row column costs 5 % of a fit: only if needed
                work[col] = work[col].cat.remove_unused_categories()
    try:
        mm = formulaic.model_matrix(rhs, work, na_action="drop")
    except Exception as e:  # formulaic raises many types; report them as a model error
        raise ModelError(f"cannot build the design matrix for '{rhs}': {e}") from e
    excluded = {}
    if len(mm) < len(work):
        excluded["missing covariate"] = len(work) - len(mm)
    keep = np.zeros(len(work), dtype=bool)
    keep[mm.index.to_numpy()] = True
    for col, what in ((strata, "strata"), (cluster, "cluster")):
        if col is not None:
            miss = work[col].isna().to_numpy() & keep
            if miss.any():
                excluded[f"missing {col} ({what})"] = int(miss.sum())
                keep &= ~miss
    spec = mm.model_spec
    columns = [c for c in mm.columns if c != "Intercept"]
    if not columns:
        raise ModelError(f"formula '{rhs}' has no covariates")
    x_full = pd.DataFrame(mm, index=mm.index)[columns]
    if not keep.all():
        x_full = x_full.reindex(np.flatnonzero(keep))
    x = x_full.to_numpy(dtype=float)
    names = [_r_name(c) for c in columns]
    term_names, term_columns = [], []
    for term, idx in spec.term_indices.items():
        cols = [columns.index(mm.columns[i]) for i in idx if mm.columns[i] != "Intercept"]
        if cols:
            term_names.append(str(term).replace("C(", "C(", 1))
            term_columns.append(cols)
    t = t_all[keep]
    ev = ev_all[keep].astype(float)
    if ev.sum() == 0:
        raise ModelError("no events in the rows analysed: a Cox model cannot be fitted")
    _check_estimable(x, names, term_columns, term_names, ev)
    strata_codes = None
    if strata is not None:
        strata_codes = pd.Categorical(work[strata].to_numpy()[keep]).codes.astype(np.int64)
    cluster_codes = None
    if cluster is not None:
        cluster_codes = pd.Categorical(work[cluster].to_numpy()[keep]).codes.astype(np.int64)
        robust = True
    # centre the covariates (as R does); the partial likelihood is unchanged
    xc = x - x.mean(axis=0)
    cox_data = None
    if ties == "efron":
        res = _fit_efron_lifelines(t, ev, xc, strata_codes)
        var = res["vcov"]
    else:  # Breslow: lifelines has no Breslow ties
        cox_data = engine.prepare(t, ev, xc, strata_codes, ties)
        res = engine.fit(cox_data)
        var = np.linalg.inv(res["information"])
    beta = res["beta"]
    naive_se = np.sqrt(np.diag(var))
    if robust:  # ours: R's dfbeta sandwich with Efron-adjusted score residuals
        if cox_data is None:
            cox_data = engine.prepare(t, ev, xc, strata_codes, ties)
        var = engine.robust_variance(cox_data, beta, np.linalg.inv(var), cluster_codes)
    se = np.sqrt(np.diag(var))
    inf = t_inference(beta, se, np.inf, level)
    coef = pd.DataFrame(
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
    state = {
        "time": t,
        "event": ev,
        "eta": xc @ beta,
        "strata_codes": strata_codes,
        "x": xc,
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
        converged=res["converged"],
        naive_std_error=naive_se,
        _state=state,
    )
