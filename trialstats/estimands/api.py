"""``ts.rbmi``: reference-based multiple imputation, the front end (R rbmi's draws/impute/analyse/pool).

Resolves the formula and columns, validates the data grid, the arms and references, the ICE and
delta tables (:mod:`._inputs`), builds the arrays of :class:`._engine.Problem` once, and runs the
samples (:mod:`._parallel`), the analysis and the pooling (:mod:`._analysis`). Results are a
frozen :class:`.results.RBMIResult`.

What is not here from rbmi 1.5.2: ``method_bayes`` (MCMC through Stan: needs rstan/cmdstan and
is random by design); a user ``analysis=`` function with ``method="bmlmi"``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from formulaic import model_matrix

from .._blas import one_blas_thread
from .._inference import check_level
from .._materializer import MATERIALIZER
from ..errors import ConvergenceWarning, ModelError
from ..formula import formula_context, parse_formula
from ..longitudinal._design import _as_factor, _check_columns, _r_columns
from ..longitudinal.mmrm.covariance import COVARIANCE_TYPES, CovarianceStructure
from . import _inputs as inp
from ._analysis import LSM_WEIGHTS, AnalysisSpec
from ._engine import ImputationGroup, Problem, fit_imputation_model, impute
from .strategies import BUILTIN_STRATEGIES

__all__ = ["rbmi", "prepare", "METHODS", "INFERENCES"]

METHODS = ("condmean", "approxbayes", "bmlmi")
INFERENCES = ("jackknife", "bootstrap")


#: Most samples (bootstrap samples or imputations) of one call: rbmi's vignettes use up to
#: 2,000; more would only exhaust memory (one seed and one parameter set per sample).
MAX_SAMPLES = 100_000


def check_n_samples(n_samples, where: str) -> None:
    """Refuse more than :data:`MAX_SAMPLES` samples (ModelError naming ``n_samples``)."""
    if isinstance(n_samples, int | np.integer) and n_samples > MAX_SAMPLES:
        raise ModelError(f"{where}: n_samples is {n_samples}; at most {MAX_SAMPLES:,} are allowed")


def _choice(value, valid, what):
    if not isinstance(value, str) or value not in valid:
        raise ModelError(f"rbmi: unknown {what} {value!r}; valid: {', '.join(valid)}")
    return value


@dataclass(frozen=True)
class Prepared:
    """A validated problem: arrays for the engine and labels for the results."""

    problem: Problem
    analysis: AnalysisSpec
    subjects: tuple
    visits: tuple
    arms: tuple
    references: dict
    ice_visit: np.ndarray  # (n,) visit index of the ICE, m when none
    strategy: tuple  # (n,) strategy name per subject
    design_columns: tuple
    notes: tuple
    outcome: str
    frame: pd.DataFrame = None  # the input rows, sorted by subject then visit
    subject_column: str = ""


def _design(rhs: str, rhs_columns, frame: pd.DataFrame, group: str, arms: list, where: str):
    """Imputation design rows with the arm column set to each arm: (A, N, p) and names.

    ``rhs`` is the checked text of :func:`trialstats.formula.parse_formula` (never the raw
    formula: formulaic evaluates Python in it)."""
    sub = frame.copy()
    for c in rhs_columns:
        if c in sub.columns and c != group:
            sub[c] = _as_factor(sub[c])
    sub[group] = pd.Categorical(sub[group], categories=arms)
    try:
        mm = model_matrix(rhs, sub, na_action="raise", context=formula_context(),
                          materializer=MATERIALIZER)
    except Exception as e:
        raise ModelError(f"{where}: cannot build the design of {rhs!r}: {e}") from e
    spec = mm.model_spec
    out = []
    for a in arms:
        alt = sub.copy()
        alt[group] = pd.Categorical([a] * len(alt), categories=arms)
        out.append(np.asarray(spec.get_model_matrix(alt, context=formula_context()), dtype=float))
    order, names = _r_columns(mm.columns, spec.term_indices, rhs)
    X = np.stack(out)[:, :, order]
    own = np.asarray(mm, dtype=float)
    if np.linalg.matrix_rank(own) < own.shape[1]:
        raise ModelError(f"{where}: the imputation model {rhs!r} has linearly dependent "
                         f"columns ({', '.join(names)})")
    return X, tuple(names)


def _analysis_columns(frame: pd.DataFrame, covariates, where: str):
    """Covariate columns of the ANCOVA and their equal-weight values (NaN = numeric)."""
    cols, weights = [], []
    for c in covariates:
        if not isinstance(c, str) or c not in frame.columns:
            raise ModelError(f"{where}: covariates must be column names of data (no "
                             f"interactions); {c!r} is not; columns: {inp.listed(frame.columns)}")
        s = frame[c]
        if pd.api.types.is_numeric_dtype(s) and not isinstance(s.dtype, pd.CategoricalDtype):
            cols.append(s.to_numpy(dtype=float)[:, None])
            weights.append(np.nan)
        else:
            lv = inp.levels_of(s)
            codes = pd.Categorical(s, categories=lv).codes
            cols.append((codes[:, None] == np.arange(1, len(lv))[None, :]).astype(float))
            weights.extend([1.0 / len(lv)] * (len(lv) - 1))
    Z = np.hstack(cols) if cols else np.zeros((len(frame), 0))
    return Z, np.asarray(weights, dtype=float)


def _ice_arrays(ice_map, subjects, y, strategy_default, visits, valid):
    """ICE visit index and strategy of each subject; subjects with missing data and no ICE row
    get ``strategy_default`` from the visit after their last observed value."""
    n, m = y.shape
    ice_visit = np.full(n, m, dtype=np.int64)
    strat = ["MAR"] * n
    notes = []
    derived = []
    for i, s in enumerate(subjects):
        if s in ice_map:
            ice_visit[i], strat[i] = ice_map[s]
        elif np.isnan(y[i]).any():
            obs = np.flatnonzero(~np.isnan(y[i]))
            k = int(obs[-1]) + 1 if len(obs) else 0
            if strategy_default != "MAR" and k < m:
                ice_visit[i], strat[i] = k, strategy_default
                derived.append(s)
    if derived:
        notes.append(f"{len(derived)} subjects without an ICE row got strategy {strategy_default} "
                     f"from the visit after their last observed outcome: {inp.listed(derived)}")
    gaps = [s for i, s in enumerate(subjects) if _intermittent(y[i], ice_visit[i])]
    if gaps:
        notes.append(f"non-monotone missingness: {len(gaps)} subjects have missing values before "
                     f"their ICE or last observed visit ({inp.listed(gaps)}); these are imputed "
                     f"under MAR (given all observed values), as rbmi does")
    for i, s in enumerate(subjects):
        if strat[i] == "LMCF" and ice_visit[i] == 0:
            raise ModelError(f"rbmi: subject {s} has strategy LMCF with the ICE at the first visit "
                             f"({visits[0]}); LMCF needs a visit before the ICE")
    return ice_visit, strat, notes


def _intermittent(yi: np.ndarray, ice: int) -> bool:
    """A missing value before the ICE (or before the last observed value) of the subject."""
    obs = np.flatnonzero(~np.isnan(yi))
    if not len(obs):
        return False
    end = min(ice, int(obs[-1]) + 1)
    return bool(np.isnan(yi[:end]).any())


def _formula_columns(formula, data: pd.DataFrame):
    """Outcome, right-hand-side columns and checked formula of the imputation model.

    The formula goes through the whitelist of :mod:`trialstats.formula` first: formulaic
    evaluates Python inside ``{...}`` and calls, so a raw formula could run code."""
    safe = parse_formula(formula, [str(c) for c in data.columns], where="rbmi", sides="two")
    if len(safe.lhs_columns) != 1:
        raise ModelError(f"rbmi: formula {formula!r} needs one outcome column left of '~'")
    return safe.lhs_columns[0], sorted(safe.rhs_columns), safe


def _imputation_groups(miss, arm_of, ref_idx, code, ice_visit) -> tuple:
    """Subjects with missing values grouped by arm, reference, strategy, ICE and missing visits."""
    keys: dict = {}
    for i in np.flatnonzero(miss.any(axis=1)):
        k = (int(arm_of[i]), int(ref_idx[i]), int(code[i]), int(ice_visit[i]),
             miss[i].tobytes())
        keys.setdefault(k, []).append(i)
    return tuple(ImputationGroup(a, r, c, k, miss[members[0]].copy(),
                                 np.asarray(members, dtype=np.int64))
                 for (a, r, c, k, _), members in sorted(keys.items()))


def _strata(frame: pd.DataFrame, strata, subject: str, group: str, n: int):
    """Stratum code of each subject (sorted subject order of ``frame``), or None for the arm."""
    if strata is None or (not isinstance(strata, str) and list(strata) == [group]):
        return None
    cols = [strata] if isinstance(strata, str) else list(strata)
    for c in cols:
        if not isinstance(c, str) or c not in frame.columns:
            raise ModelError(f"rbmi: strata must be column names of data; {c!r} is not; "
                             f"columns: {inp.listed(frame.columns)}")
        inp.check_constant(frame, subject, c)
    inp.check_missing_covariates(frame, cols, subject)
    if not cols:
        return np.zeros(n, dtype=np.int64)  # unstratified
    first = frame.groupby("_s", sort=True)[cols].first().astype(str)
    key = first.apply(lambda r: "\x1f".join(r), axis=1)
    levels = sorted(set(key))
    if len(levels) > MAX_STRATA:
        raise ModelError(f"rbmi: strata {', '.join(cols)} have {len(levels)} level "
                         f"combinations; at most {MAX_STRATA} are allowed")
    return pd.Categorical(key, categories=levels).codes.astype(np.int64)


#: Most bootstrap strata (level combinations of ``strata=``).
MAX_STRATA = 200


def _check_strategies(strategy, strategies) -> dict:
    """Built-in plus user strategies (name -> function); ModelError for an unknown ``strategy``."""
    user = dict(strategies or {})
    for name, fn in user.items():
        if not callable(fn):
            raise ModelError(f"rbmi: strategies[{name!r}] must be a function "
                             "(pars_group, pars_ref, index_mar) -> {'mu', 'sigma'}")
    all_strategies = {**BUILTIN_STRATEGIES, **user}
    valid = list(all_strategies)
    if strategy not in valid:
        raise ModelError(f"rbmi: unknown strategy {strategy!r}; valid: {', '.join(valid)}")
    return all_strategies


def _arms(frame: pd.DataFrame, group: str):
    """(levels, present, arms) of ``group``: arms are the levels with subjects, at least two."""
    present = set(frame[group].dropna().unique())
    levels = inp.levels_of(frame[group].dropna())
    arms = [a for a in levels if a in present]  # arms without subjects are dropped, as R does
    if len(arms) < 2:
        raise ModelError(f"rbmi: group column {group!r} needs at least two arms; found "
                         f"{inp.listed(arms)}")
    return levels, present, arms


def _subject_visit_order(frame: pd.DataFrame, subject: str, visit: str, visits):
    """``frame`` with codes ``_s``, ``_v`` sorted by subject then visit; the subjects in order."""
    frame["_v"] = pd.Categorical(frame[visit], categories=visits).codes
    subj_key = frame[subject]
    subjects = list(pd.unique(subj_key))
    frame["_s"] = pd.Categorical(subj_key, categories=subjects).codes
    frame = frame.sort_values(["_s", "_v"], kind="stable")
    return frame, subjects


def _fit_mask(y: np.ndarray, ice_visit: np.ndarray, strat, notes: list) -> np.ndarray:
    """Outcomes the imputation model is fitted to: observed and not after a non-MAR ICE.

    A note is appended to ``notes`` when observed outcomes are left out.
    """
    m = y.shape[1]
    post = np.arange(m)[None, :] >= ice_visit[:, None]
    non_mar = np.array([s != "MAR" for s in strat])
    fit_mask = ~np.isnan(y) & ~(post & non_mar[:, None])
    excluded = int((~np.isnan(y) & ~fit_mask).sum())
    if excluded:
        notes.append(f"{excluded} observed outcomes after a non-MAR ICE are left out of the "
                     "imputation model (and kept, not imputed, in the analysis)")
    return fit_mask


def prepare(data, formula, *, subject, visit, group, reference=None, ice=None,
            strategy="MAR", covariance="us", same_cov=True, reml=True, delta=None,
            covariates=None, lsm_weights="counterfactual", strategies=None,
            strata=None) -> Prepared:
    """Validate the inputs of :func:`rbmi` and build the engine's arrays (see :func:`rbmi`)."""
    where = "rbmi"
    covariance = _choice(covariance, COVARIANCE_TYPES, "covariance structure")
    lsm_weights = _choice(lsm_weights, LSM_WEIGHTS, "lsm_weights")
    if not isinstance(data, pd.DataFrame):
        raise ModelError(f"rbmi: data must be a pandas DataFrame; got {type(data).__name__}")
    all_strategies = _check_strategies(strategy, strategies)
    valid = list(all_strategies)
    outcome, rhs_vars, safe = _formula_columns(formula, data)
    covariates = list(covariates or [])
    _check_columns([subject, visit, group, outcome, *rhs_vars, *covariates], data, where,
                   "formula or argument")
    if group not in rhs_vars:
        raise ModelError(f"rbmi: the imputation formula must contain the group column {group!r}")
    frame = data.copy()
    visits = inp.levels_of(frame[visit].dropna())
    levels, present, arms = _arms(frame, group)
    inp.check_grid(frame, subject, visit, visits)
    inp.check_constant(frame, subject, group)
    inp.check_missing_covariates(frame, [group, *[c for c in rhs_vars if c != group],
                                         *covariates], subject)
    references = inp.resolve_references(reference, levels, present)
    frame, subjects = _subject_visit_order(frame, subject, visit, visits)
    n, m = len(subjects), len(visits)
    y = frame[outcome].to_numpy(dtype=float).reshape(n, m)
    arm_of = pd.Categorical(frame[group], categories=arms).codes.reshape(n, m)[:, 0]
    X, names = _design(safe.rhs, rhs_vars, frame, group, arms, where)
    X = X.reshape(len(arms), n, m, -1)
    Z, eqw = _analysis_columns(frame, covariates, where)
    Z = Z.reshape(n, m, -1)
    ice_map = inp.resolve_ice(ice, subjects, visits, valid, subject, visit)
    ice_visit, strat, notes = _ice_arrays(ice_map, subjects, y, strategy, visits, valid)
    names_order = list(all_strategies)
    code = np.array([names_order.index(s) for s in strat])
    fit_mask = _fit_mask(y, ice_visit, strat, notes)
    ref_idx = np.array([arms.index(references[arms[a]]) for a in arm_of])
    groups = _imputation_groups(np.isnan(y), arm_of, ref_idx, code, ice_visit)
    n_cov = 1 if same_cov else len(arms)
    problem = Problem(
        y=y, X=X, arm=arm_of.astype(np.int64), fit_mask=fit_mask,
        cov_group=(np.zeros(len(arms), dtype=np.int64) if same_cov
                   else np.arange(len(arms), dtype=np.int64)),
        structures=tuple(CovarianceStructure(covariance, m) for _ in range(n_cov)),
        reml=bool(reml), groups=groups,
        strategies=tuple(all_strategies[s] for s in names_order),
        builtin=tuple(s in BUILTIN_STRATEGIES for s in names_order),
        strata=_strata(frame, strata, subject, group, n),
    )
    spec = AnalysisSpec(
        Z=Z, arm=problem.arm, n_arms=len(arms),
        delta=inp.resolve_delta(delta, subjects, visits, subject, visit),
        visits=np.arange(m), equal_weight=eqw, weights=lsm_weights,
    )
    for note in notes:
        if note.startswith("non-monotone"):
            warnings.warn(f"rbmi: {note}", UserWarning, stacklevel=3)
    return Prepared(problem, spec, tuple(subjects), tuple(visits), tuple(arms), references,
                    ice_visit, tuple(strat), names, tuple(notes), outcome,
                    frame.drop(columns=["_s", "_v"]), subject)


def full_fit(prep: Prepared):
    """Fit the imputation model to all subjects (warning when it does not converge)."""
    fit = fit_imputation_model(prep.problem, np.arange(prep.problem.n_subjects))
    if not fit.converged:
        warnings.warn(f"rbmi: the imputation MMRM did not converge: {fit.message}",
                      ConvergenceWarning, stacklevel=3)
    return fit, impute(prep.problem, fit)


def _kind(method: str, inference: str) -> str:
    """The sampling scheme of a method: jackknife, bootstrap, approxbayes or bmlmi."""
    if method == "condmean":
        return "jackknife" if inference == "jackknife" else "bootstrap"
    return method


def check_n_imputations(kind: str, n_imputations, where: str) -> int:
    """D of bmlmi: an integer >= 2 (default 2); refused for the other methods."""
    if kind != "bmlmi":
        if n_imputations is not None:
            raise ModelError(f"{where}: n_imputations applies to method='bmlmi' only")
        return 1
    d = 2 if n_imputations is None else n_imputations
    if isinstance(d, bool) or not isinstance(d, int | np.integer) or not 2 <= d <= 1000:
        raise ModelError(f"{where}: n_imputations (rbmi's D) must be an integer from 2 to 1000; "
                         f"got {n_imputations!r}")
    return int(d)


def rbmi(data, formula, *, subject, visit, group, reference=None, ice=None, strategy="MAR",
         method="condmean", inference="jackknife", n_samples=None, covariance="us",
         same_cov=True, reml=True, delta=None, covariates=None, lsm_weights="counterfactual",
         strategies=None, analysis=None, pool_type=None, level=0.95, seed=None, engine=None,
         workers=None, progress=None, n_imputations=None, strata=None):
    """Reference-based multiple imputation of a longitudinal outcome, as R ``rbmi``.

    The imputation model is an MMRM (``ts.mmrm``'s engine) of ``formula``, fitted to the
    observed outcomes that are not after an intercurrent event (ICE) with a non-MAR strategy.
    Missing outcomes are imputed under each subject's strategy (:mod:`.strategies`: MAR, JR,
    CR, CIR, LMCF or user-defined), ``delta`` is added, each visit is analysed by ANCOVA, and
    the results are pooled (:mod:`._analysis`).

    Parameters
    ----------
    data : pandas.DataFrame
        Long format, one row per subject **and** visit (outcome NaN where missing), as rbmi.
    formula : str
        Imputation model, e.g. ``"CHANGE ~ THERAPY * VISIT + BASVAL * VISIT"``.
    subject, visit, group : str
        Columns: subject id, visit (its level order is the time order) and arm. The first arm
        is rbmi's ``ref``: ``trt`` = each other arm minus the first.
    reference : dict, optional
        Arm -> its reference arm for JR/CR/CIR. Unlisted arms map to themselves when another arm
        refers to them, else to the first arm.
    ice : pandas.DataFrame, optional
        One row per subject with an ICE: ``subject`` (or the ``subject`` column name), ``visit``
        (first visit affected) and ``strategy``.
    strategy : str, default "MAR"
        Strategy of subjects with missing data and no ICE row; a non-MAR default puts their ICE
        at the visit after their last observed outcome.
    method : {"condmean", "approxbayes", "bmlmi"}
        ``"bmlmi"``: rbmi's ``method_bmlmi`` (von Hippel and Bartlett 2021): ``n_samples``
        bootstrap samples (B, stratified by arm), each fitted by ML/REML and imputed
        ``n_imputations`` times (D) by random draws, every copy of a resampled subject
        separately; pooled by :func:`._analysis.pool_bmlmi` (t interval, df floored at 3).
    inference : {"jackknife", "bootstrap"}
        For ``condmean``.
    n_samples : int, optional
        Bootstrap samples or imputations (required for bootstrap, approxbayes and bmlmi).
    covariance : str, default "us"
        Any ``ts.mmrm`` covariance structure.
    same_cov : bool, default True
        False: one covariance matrix per arm.
    reml : bool, default True
    delta : pandas.DataFrame, optional
        ``subject``, ``visit``, ``delta``: added to the outcome after imputation (see
        :func:`.results.delta_template`).
    covariates : list of str, optional
        Covariates of the per-visit ANCOVA (column names).
    lsm_weights : {"counterfactual", "proportional", "proportional_em", "equal"}
    strategies : dict, optional
        Name -> user strategy function ``(pars_group, pars_ref, index_mar) -> {"mu", "sigma"}``.
    analysis : callable, optional
        Replaces the per-visit ANCOVA: called with each completed data set (a DataFrame of the
        input's columns), returns rows ``parameter, estimate, std_error, df`` [``visit, arm``]
        (see :mod:`._user_analysis`); ``pooled`` then has those rows.
    pool_type : {"normal", "percentile"}, optional
        Bootstrap pooling (default normal).
    level : float, default 0.95
    seed : int, optional
        Seed of every random sample: sample i uses ``SeedSequence(seed).spawn(n)[i]``.
    engine : None, "local", "sequential", dask Client or "tcp://host:port"
    workers : int, optional
        Local processes (default: all cores).
    progress : bool, optional
        Progress bar on stderr (default: when stderr is a terminal).
    n_imputations : int, optional
        bmlmi only: imputations per bootstrap sample (rbmi's D, default 2).
    strata : list of str, optional
        Subject-level columns whose level combinations stratify the bootstrap samples (rbmi's
        ``set_vars(strata = ...)``): each stratum keeps its size. Default: the arm (``group``);
        ``[]``: unstratified. Used by the bootstrap, approxbayes and bmlmi.

    Returns
    -------
    RBMIResult
        ``.pooled`` (visit, parameter, arm, estimate, std_error, df, conf_low, conf_high,
        p_value), ``.comparisons()``, ``.imputed``, ``.samples``.

    Raises
    ------
    ModelError
        Unknown option, arm, strategy, subject or visit (in ``reference``, ``ice``, ``delta``),
        an ICE after the last visit, a reference arm without subjects, an incomplete data grid,
        missing covariates, LMCF with the ICE at the first visit.

    Examples
    --------
    >>> mi = ts.rbmi(dat, "CHANGE ~ THERAPY * VISIT + BASVAL * VISIT", subject="PATIENT",
    ...              visit="VISIT", group="THERAPY", reference={"DRUG": "PLACEBO"},
    ...              ice=ice, covariates=["BASVAL"])                    # doctest: +SKIP
    >>> mi.pooled                                                         # doctest: +SKIP
    """
    from .results import build_result, run_draws

    method = _choice(method, METHODS, "method")
    inference = _choice(inference, INFERENCES, "inference")
    level = check_level(level)
    kind = _kind(method, inference)
    n_imputations = check_n_imputations(kind, n_imputations, "rbmi")
    if kind == "bmlmi" and analysis is not None:
        raise ModelError("rbmi: a user analysis function is not supported with method='bmlmi' "
                         "(use the per-visit ANCOVA, or method='approxbayes')")
    if kind != "jackknife" and (not isinstance(n_samples, int | np.integer) or n_samples < 2):
        raise ModelError(f"rbmi: method={method!r}"
                         + (f", inference={inference!r}" if method == "condmean" else "")
                         + f" needs n_samples, an integer >= 2; got {n_samples!r}")
    check_n_samples(n_samples, "rbmi")
    if analysis is not None and not callable(analysis):
        raise ModelError(f"rbmi: analysis must be a function of the completed data; got "
                         f"{type(analysis).__name__}")
    if pool_type is not None and (kind != "bootstrap" or pool_type not in ("normal",
                                                                          "percentile")):
        raise ModelError(f"rbmi: pool_type {pool_type!r} applies to inference='bootstrap' "
                         "only; valid: 'normal', 'percentile'")
    prep = prepare(data, formula, subject=subject, visit=visit, group=group,
                   reference=reference, ice=ice, strategy=strategy, covariance=covariance,
                   same_cov=same_cov, reml=reml, delta=delta, covariates=covariates,
                   lsm_weights=lsm_weights, strategies=strategies, strata=strata)
    with one_blas_thread():  # small matrices: see _parallel
        draws = run_draws(prep, kind, n_samples, seed, engine=engine, workers=workers,
                          progress=progress, n_imputations=n_imputations)
        return build_result(prep, draws, analysis=analysis, pool_type=pool_type or (
            "normal" if kind == "bootstrap" else None), level=level, settings=dict(
            formula=formula, method=method,
            inference=inference if method == "condmean" else None, n_samples=n_samples,
            n_imputations=n_imputations if kind == "bmlmi" else None,
            strata=None if strata is None else ([strata] if isinstance(strata, str)
                                                else list(strata)),
            covariance=covariance, same_cov=bool(same_cov), reml=bool(reml), strategy=strategy,
            lsm_weights=lsm_weights, seed=draws.seed))
