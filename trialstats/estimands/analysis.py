"""``ts.analyse_estimand``: each intercurrent-event strategy mapped to its analysis.

The data of an estimand is the full subject x visit grid of its population
(:func:`.ice.estimand_grid`). Each subject's first intercurrent event
(:func:`.ice.intercurrent_events`) changes the values from the affected visit on, by strategy:

========================  ===================================================================
strategy                  values from the event on
========================  ===================================================================
treatment policy          kept as observed (MAR MMRM); with ``off_treatment = "missing"`` the
                          missing ones are imputed by JR / CR / CIR (:func:`trialstats.rbmi`)
hypothetical              set missing, modelled under MAR (MMRM)
composite                 set to the unfavourable ``value`` (or the worst observed at the visit)
while on treatment        the subject's last value before the event
========================  ===================================================================

The main estimator is the MMRM of the changed data (``ts.mmrm``, the first covariance of
``covariance`` that converges), or the reference-based imputation when a treatment-policy event
has missing off-treatment data. The sensitivity estimators impute the missing values after the
events (hypothetical and treatment-policy events) by each method of ``estimand.sensitivity``,
conditional mean imputation with jackknife (rbmi ``method_condmean(type = "jackknife")``), and
the tipping-point analysis shifts the imputed values of one arm over a grid of deltas
(:func:`trialstats.tipping_point`, MAR imputation). Every estimate is a row of a comparisons
frame (:func:`trialstats.comparisons_frame`): each arm minus the trial's reference arm at the
estimand's visit.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import ConvergenceWarning, ModelError, TrialstatsError
from ..formula import parse_formula
from .definition import Estimand
from .ice import IntercurrentEvents, estimand_grid, intercurrent_events

__all__ = ["EstimandResult", "analyse_estimand", "missing_patterns"]

_ESTIMATE_COLUMNS = ("estimator", "role")


@dataclass(frozen=True)
class EstimandResult:
    """Result of :func:`analyse_estimand`.

    Attributes
    ----------
    estimand : Estimand
    events : IntercurrentEvents
    estimates : pandas.DataFrame
        Comparisons-frame rows (each arm minus the reference at the estimand's visit) of every
        estimator, with ``estimator`` ("MAR MMRM", "JR", ...) and ``role`` ("main" or
        "sensitivity") in front.
    data : pandas.DataFrame
        The grid after the strategies (``outcome`` changed), with ``ice_visit`` and ``strategy``.
    patterns : pandas.DataFrame
        Missing-data patterns of the observed outcome (:func:`missing_patterns`).
    tipping : TippingPointResult or None
    fits : dict
        Estimator -> its fit (``MMRMResult`` or ``RBMIResult``).
    notes : tuple of str
    """

    estimand: Estimand
    events: IntercurrentEvents
    estimates: pd.DataFrame
    data: pd.DataFrame
    patterns: pd.DataFrame
    tipping: object = None
    fits: dict = field(default_factory=dict, repr=False)
    notes: tuple = ()

    def __repr__(self) -> str:
        return (f"<EstimandResult {self.estimand.id}: {len(self.events.table)} subjects with an "
                f"intercurrent event, estimators {', '.join(dict.fromkeys(self.estimates['estimator']))}>")

    def comparisons(self) -> pd.DataFrame:
        """The estimates as a plain comparisons frame (``ts.comparisons_frame`` columns)."""
        from ..results.ard import comparisons_frame

        return comparisons_frame(self.estimates.drop(columns=list(_ESTIMATE_COLUMNS)))


def missing_patterns(data: pd.DataFrame, outcome: str, subject: str = "USUBJID",
                     visit: str = "AVISIT", arm: str = "ARM") -> pd.DataFrame:
    """Counts of missing-data patterns by arm on a full subject x visit grid.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per subject and visit (``visit`` categorical or in time order).
    outcome : str
        Column whose missing values make the pattern.

    Returns
    -------
    pandas.DataFrame
        arm, pattern ("X" observed, "." missing, one character per visit in order), type
        ("complete", "monotone": nothing observed after the first missing value, "intermittent",
        "none observed"), n (subjects).
    """
    d = data.sort_values([subject, visit], kind="stable")
    rows = []
    for _, g in d.groupby(subject, sort=False, observed=True):
        obs = g[outcome].notna().to_numpy()
        pat = "".join("X" if o else "." for o in obs)
        if obs.all():
            kind = "complete"
        elif not obs.any():
            kind = "none observed"
        else:
            first_missing = int(np.argmin(obs))
            kind = "monotone" if not obs[first_missing:].any() else "intermittent"
        rows.append((str(g[arm].iloc[0]), pat, kind))
    out = pd.DataFrame(rows, columns=["arm", "pattern", "type"])
    arms = (list(data[arm].cat.categories) if isinstance(data[arm].dtype, pd.CategoricalDtype)
            else list(dict.fromkeys(out["arm"])))
    out = out.groupby(["arm", "pattern", "type"], sort=False).size().rename("n").reset_index()
    out["_a"] = out["arm"].map({str(a): i for i, a in enumerate(arms)})
    out = out.sort_values(["_a", "pattern"], ascending=[True, False], kind="stable")
    return out.drop(columns="_a").reset_index(drop=True)


def _apply_strategies(grid, events: IntercurrentEvents, estimand: Estimand, outcome: str):
    """The grid with the values from each subject's event on changed by its strategy."""
    out = grid.copy()
    m = len(events.visits)
    ev_by_name = {e.name: e for e in estimand.events}
    y = out[outcome].to_numpy(dtype=float).reshape(-1, m).copy()
    observed = y.copy()
    subjects = list(pd.unique(out["USUBJID"]))
    pos = {s: i for i, s in enumerate(subjects)}
    ice_visit = np.full(len(subjects), m, dtype=np.int64)
    strategy = np.array([""] * len(subjects), dtype=object)
    worst = _worst(observed, estimand.better)
    for row in events.table.itertuples(index=False):
        i, k = pos[row.USUBJID], int(row.visit_index)
        ev = ev_by_name[row.event]
        ice_visit[i], strategy[i] = k, ev.strategy
        if ev.strategy == "hypothetical":
            y[i, k:] = np.nan
        elif ev.strategy == "composite":
            y[i, k:] = ev.value if ev.value is not None else worst[k:]
        elif ev.strategy == "while on treatment":
            before = observed[i, :k][~np.isnan(observed[i, :k])]
            y[i, k:] = before[-1] if len(before) else np.nan
    out[outcome] = y.ravel()
    out["ice_visit"] = np.repeat(ice_visit, m)
    out["strategy"] = np.repeat(strategy, m)
    return out


def _worst(y: np.ndarray, better: str) -> np.ndarray:
    """Least favourable observed value at each visit (NaN where nothing is observed)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmin(y, axis=0) if better == "higher" else np.nanmax(y, axis=0)


def _fit_mmrm(formula, data, covariance, df, level):
    from ..longitudinal.mmrm.api import mmrm

    attempts = []
    for cov in covariance:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                fit = mmrm(formula, data, subject="USUBJID", visit="AVISIT", covariance=cov,
                           df=df, level=level)
        except TrialstatsError as e:
            attempts.append(f"{cov}: failed ({str(e)[:200]})")
            continue
        if fit.converged:
            return fit, cov
        attempts.append(f"{cov}: did not converge")
    raise ModelError("estimand MMRM: no covariance structure converged: " + "; ".join(attempts))


def _rows(frame: pd.DataFrame, visit: str, estimator: str, role: str, estimand, endpoint):
    c = frame[frame["visit"].astype(str) == visit].copy()
    c["analysis"] = f"{estimand.id}: {estimator}"
    c["endpoint"] = endpoint
    c["param"] = estimand.paramcd
    c["visit"] = visit
    c.insert(0, "role", role)
    c.insert(0, "estimator", estimator)
    return c


def _ice_frame(data, visits, method: str) -> pd.DataFrame | None:
    """rbmi's ice table: subjects with a hypothetical or treatment-policy event (their missing
    values after it are imputed by ``method``)."""
    first = data.groupby("USUBJID", sort=False)[["ice_visit", "strategy"]].first()
    take = first[first["strategy"].isin(["hypothetical", "treatment policy"])
                 & (first["ice_visit"] < len(visits))]
    if take.empty:
        return None
    return pd.DataFrame({"USUBJID": take.index, "AVISIT": [visits[k] for k in take["ice_visit"]],
                         "strategy": method})


def _policy_ice(data, visits, estimand) -> pd.DataFrame | None:
    """ice table of the main estimator when a treatment-policy event has missing off-treatment
    data: those subjects by the event's imputation, hypothetical ones by MAR."""
    ev_imp = {e.strategy: e for e in estimand.events}
    first = data.groupby("USUBJID", sort=False)[["ice_visit", "strategy"]].first()
    first = first[first["ice_visit"] < len(visits)]
    rows = []
    for s, r in first.iterrows():
        if r["strategy"] == "treatment policy":
            rows.append((s, visits[r["ice_visit"]], ev_imp["treatment policy"].imputation))
        elif r["strategy"] == "hypothetical":
            rows.append((s, visits[r["ice_visit"]], "MAR"))
    return pd.DataFrame(rows, columns=["USUBJID", "AVISIT", "strategy"]) if rows else None


def _imputation_runs(data, formula, wanted: dict, common: dict, cache: dict,
                     fingerprint) -> dict:
    """``ts.rbmi`` (conditional mean, jackknife) of each ice table of ``wanted``, from ``cache``
    when run before; the others together: one set of jackknife fits imputed under each
    strategy (:func:`.results.run_draws_shared`, the same numbers as separate runs)."""
    from .._blas import one_blas_thread
    from .api import prepare
    from .results import build_result, run_draws_shared

    def key(ice):
        return (fingerprint, None if ice is None else tuple(map(tuple, ice.astype(str)
                                                                 .to_numpy())))

    todo = {}
    for ice in wanted.values():
        if key(ice) not in cache:
            todo.setdefault(key(ice), ice)
    prep_kw = {k: v for k, v in common.items() if k not in ("level", "engine", "progress")}
    with warnings.catch_warnings(), one_blas_thread():
        warnings.simplefilter("ignore", UserWarning)  # non-monotone note: kept in .notes
        preps = [prepare(data, formula, ice=ice, **prep_kw) for ice in todo.values()]
        draws = (run_draws_shared(preps, "jackknife", None, None, engine=common.get("engine"),
                                  progress=False) if preps else [])
        for (k, ice), prep, d in zip(todo.items(), preps, draws, strict=True):
            # the strategies after the events (MAR before them and for everyone else)
            used = "MAR" if ice is None else "/".join(dict.fromkeys(ice["strategy"].astype(str)))
            cache[k] = build_result(prep, d, pool_type=None, level=common["level"], settings=dict(
                formula=formula, method="condmean", inference="jackknife", n_samples=None,
                n_imputations=None, strata=None, covariance=common["covariance"],
                same_cov=True, reml=True, strategy=f"{used} after the events",
                lsm_weights="counterfactual", seed=None))
    return {name: cache[key(ice)] for name, ice in wanted.items()}


def _tipping(mi, estimand: Estimand, visit: str, level: float, formula: str, covariance: str):
    """The tipping-point table of ``estimand`` from the draws of the imputation run ``mi``."""
    from .._blas import one_blas_thread
    from .tipping import _tipping_table

    grid = np.unique(np.asarray(estimand.tipping_deltas, dtype=float))
    with one_blas_thread():
        return _tipping_table(mi._prep, mi._draws, "jackknife", grid, [estimand.tipping_arm],
                              estimand.tipping_arm, visit, level, None, formula, "condmean",
                              "jackknife", None, {"covariance": covariance})


def analyse_estimand(trial, estimand: Estimand, *, formula: str = "CHG ~ ARM * AVISIT + BASE",
                     covariance=("us", "toeph", "ar1h", "cs"), df: str = "satterthwaite",
                     level: float = 0.95, flag: str = "ANL01FL", endpoint: str = "",
                     engine="sequential", cache: dict | None = None) -> EstimandResult:
    """Estimate ``estimand`` on ``trial``: main estimator, sensitivity analyses, tipping point.

    Parameters
    ----------
    trial : Trial
    estimand : Estimand
    formula : str
        MMRM of the main estimator (its outcome is the variable: ``CHG``); also the imputation
        model of the sensitivity analyses unless ``estimand.formula`` is given. The analysis
        model of the imputed data is rbmi's ANCOVA per visit with the formula's other columns
        (``BASE``) as covariates.
    covariance : str or sequence of str
        Covariance structures tried in order until the MMRM converges; the imputation model
        uses the one that did.
    df : str
        Degrees of freedom of the MMRM.
    level : float
    flag : str
        ADEFF analysis flag (rows not "Y" are left out when the column exists).
    endpoint : str
        Label of the ``endpoint`` column of the rows (default the PARAMCD).
    engine
        Where the jackknife samples run (:func:`trialstats.rbmi`); results do not depend on it.
    cache : dict, optional
        Shared by the calls for several estimands of one trial: an imputation run whose data,
        events and options equal an earlier one's is taken from it (the report passes one).

    Returns
    -------
    EstimandResult

    Raises
    ------
    TrialDataError
        From :func:`trialstats.intercurrent_events`.
    ModelError
        A formula column that is not in the data, no converging MMRM, a tipping-point arm that
        is not a non-reference arm; the errors of :func:`trialstats.rbmi`.
    """
    covariance = (covariance,) if isinstance(covariance, str) else tuple(covariance)
    events = intercurrent_events(trial, estimand, flag=flag)
    visits = list(events.visits)
    safe = parse_formula(formula, where="estimand formula", sides="two")
    outcome = safe.lhs_columns[0]
    imp = parse_formula(estimand.formula or formula, where="estimand formula", sides="two")
    extra = [c for c in (*safe.rhs_columns, *imp.rhs_columns) if c not in ("ARM", "AVISIT", "BASE")]
    grid = estimand_grid(trial, estimand, tuple(visits), outcome=outcome, flag=flag,
                         columns=extra)
    data = _apply_strategies(grid, events, estimand, outcome)
    patterns = missing_patterns(grid, outcome)
    ref = str(trial.meta.reference)
    arms = [str(a) for a in trial.arms]
    endpoint = endpoint or estimand.paramcd
    visit = estimand.visit
    covariates = [c for c in imp.rhs_columns if c not in ("ARM", "AVISIT")]
    references = {a: ref for a in arms if a != ref}
    fits, parts, notes = {}, [], list(events.notes)
    policy_missing = any(e.strategy == "treatment policy" and e.off_treatment == "missing"
                         for e in estimand.events)
    fit, used = _fit_mmrm(formula, data.dropna(subset=[outcome]), covariance, df, level)
    common = dict(subject="USUBJID", visit="AVISIT", group="ARM", reference=references,
                  covariates=covariates, covariance=used, level=level, engine=engine,
                  progress=False)

    if estimand.tipping_arm and (estimand.tipping_arm not in arms or estimand.tipping_arm == ref):
        raise ModelError(f"estimand {estimand.id}: tipping_point.arm {estimand.tipping_arm!r} "
                         f"is not a non-reference arm; valid: "
                         f"{', '.join(a for a in arms if a != ref)}")
    cache = {} if cache is None else cache
    fingerprint = (estimand.formula or formula, used, level, str(flag),
                   int(pd.util.hash_pandas_object(data.drop(columns=["ice_visit", "strategy"]),
                                                  index=False).sum()))
    wanted: dict = {}  # which imputation runs: key -> ice table
    if policy_missing:
        wanted["main"] = _policy_ice(data, visits, estimand)
    for method in estimand.sensitivity:
        wanted[method] = _ice_frame(data, visits, method)
    if estimand.tipping_arm:
        wanted["tipping"] = wanted.get("main", _ice_frame(data, visits, "MAR"))
    runs = _imputation_runs(data, estimand.formula or formula, wanted, common, cache,
                            fingerprint)
    if policy_missing:
        method = next(e.imputation for e in estimand.events if e.strategy == "treatment policy")
        mi = runs["main"]
        name = f"{method} (off-treatment values missing)"
        fits[name] = mi
        parts.append(_rows(mi.comparisons(), visit, name, "main", estimand, endpoint))
        notes += [n for n in mi.notes if n not in notes]
    else:
        name = "MAR MMRM"
        fits[name] = fit
        parts.append(_rows(fit.comparisons(), visit, name, "main", estimand, endpoint))
    for method in estimand.sensitivity:
        mi = runs[method]
        fits[method] = mi
        parts.append(_rows(mi.comparisons(), visit, method, "sensitivity", estimand, endpoint))
        notes += [n for n in mi.notes if n not in notes]
    tipping = None
    if estimand.tipping_arm:
        tipping = _tipping(runs["tipping"], estimand, visit, level, estimand.formula or formula,
                           used)
    estimates = pd.concat(parts, ignore_index=True)
    cols = [*_ESTIMATE_COLUMNS, "analysis", "endpoint", "param", "visit", "arm", "reference",
            "measure", "scale", "null", "estimate", "std_error", "df", "statistic", "p_value",
            "conf_low", "conf_high", "level", "method"]
    return EstimandResult(estimand=estimand, events=events, estimates=estimates[cols],
                          data=data, patterns=patterns, tipping=tipping, fits=fits,
                          notes=tuple(notes))
