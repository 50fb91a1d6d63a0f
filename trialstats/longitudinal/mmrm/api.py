"""``ts.mmrm``: the formula / DataFrame front end of the MMRM.

Resolves the formula and columns, validates the input (every failure is a :class:`ModelError`
that names the column, subject or visit and lists what is valid), builds the arrays and hands them
to :mod:`._engine`; inference quantities are assembled in :mod:`.results`.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
from formulaic import Formula

from ..._inference import check_level
from ...data.consistency import check_mmrm_rows
from ...errors import ModelError
from ...formula import contrast_text, parse_formula
from .._design import _check_columns, _row_list, build_design, r_level_order
from ._fit import SubjectArrays, fit_arrays, one_blas_thread
from .aliasing import drop_aliased
from .covariance import COVARIANCE_TYPES, CovarianceStructure
from .dof import DF_METHODS
from .optim import OPTIMIZERS, check_start
from .results import MMRMResult, MMRMSpec, make_result
from .spatial import SPATIAL_TYPES, SpatialStructure, point_labels

VCOV_TYPES = ("model", "empirical", "empirical-jackknife", "empirical-bias-reduced")
METHODS = ("reml", "ml")

__all__ = ["mmrm", "COVARIANCE_TYPES", "DF_METHODS", "VCOV_TYPES"]


def _choice(value, valid, what: str) -> str:
    if not isinstance(value, str) or value.lower() not in valid:
        raise ModelError(f"unknown {what} {value!r}; valid: {', '.join(valid)}")
    return value.lower()


def _levels(series: pd.Series) -> list:
    """Observed levels: a Categorical keeps its order, other columns are sorted as R sorts."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        present = set(series.dropna().unique())
        return [c for c in series.cat.categories if c in present]
    if pd.api.types.is_numeric_dtype(series):
        return sorted(series.dropna().unique())
    return r_level_order(series)


def _codes(series: pd.Series) -> tuple[list, np.ndarray]:
    """Observed levels (as :func:`_levels`) and each row's index into them (no missing values)."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        codes = np.asarray(series.array.codes, dtype=np.int64)
        cats = series.cat.categories
        present = np.bincount(codes, minlength=len(cats)) > 0
        if present.all():
            return list(cats), codes
        new_code = np.cumsum(present) - 1
        return [c for c, keep in zip(cats, present, strict=True) if keep], new_code[codes]
    levels = _levels(series)
    return levels, pd.Categorical(series, categories=levels).codes.astype(np.int64)


def _check_visit_cells(formula: str, frame: pd.DataFrame, visit: str) -> None:
    """Every level of a factor interacting with the visit must be observed at every visit."""
    try:
        terms = Formula(formula).rhs
    except Exception:  # parsed again (and reported) by build_design
        return
    partners = set()
    for term in terms:
        names = {str(f) for f in term.factors}
        if visit in names:
            partners |= names - {visit}
    for var in sorted(partners):
        if var not in frame.columns:
            continue
        s = frame[var]
        if pd.api.types.is_numeric_dtype(s) and not isinstance(s.dtype, pd.CategoricalDtype):
            continue
        table = pd.crosstab(s, frame[visit], dropna=True)
        empty = [(a, v) for a in _levels(s) for v in _levels(frame[visit])
                 if a in table.index and v in table.columns and table.at[a, v] == 0]
        if empty:
            cells = ", ".join(f"{var}={a} at {visit}={v}" for a, v in empty[:10])
            raise ModelError(
                f"no observations for {cells}: the {var}:{visit} interaction cannot be estimated; "
                f"drop that {visit} level or the interaction"
            )


@one_blas_thread  # small matrices: BLAS threads cost more than they share (see _fit)
def mmrm(
    formula: str,
    data: pd.DataFrame,
    *,
    subject: str = "USUBJID",
    visit: str = "AVISIT",
    covariance: str = "us",
    df: str = "satterthwaite",
    method: str = "reml",
    group: str | None = None,
    vcov: str = "model",
    level: float = 0.95,
    allow_nonconverged: bool = False,
    weights: str | None = None,
    coords: str | list | None = None,
    start=None,
    optimizer: str = "newton",
    rank_deficient: str = "drop",
    contrasts: dict | None = None,
) -> MMRMResult:
    """Fit a mixed model for repeated measures (MMRM).

    .. math::

        y_i = X_i \\beta + \\varepsilon_i, \\quad \\varepsilon_i \\sim N(0, \\Sigma_i(\\theta))

    where :math:`\\Sigma_i` is the subject's block of a visit-by-visit covariance matrix of the
    chosen structure (one per level of ``group`` when given). Estimation is by REML (default) or
    ML, maximising the exact likelihood; subjects with missing visits contribute every observed
    visit (valid under MAR). Results agree with R ``mmrm`` and SAS PROC MIXED.

    Parameters
    ----------
    formula : str
        Fixed effects, e.g. ``"CHG ~ ARM * AVISIT + BASE"``. No covariance term: it is given by
        ``covariance``, ``visit`` and ``subject``.
    data : pandas.DataFrame
        Long format, one row per subject and visit.
    subject : str, default "USUBJID"
        Subject identifier column.
    visit : str, default "AVISIT"
        Visit column; its levels (Categorical order, else sorted) are the covariance time
        points. Structured covariances use the level *position* (1..m) as time.
    covariance : {"us", "toep", "toeph", "ar1", "ar1h", "cs", "csh", "ad", "adh"}
        Residual covariance structure (see :mod:`.covariance`).
    df : {"satterthwaite", "kenward-roger", "kenward-roger-linear", "residual", "between-within"}
        Degrees of freedom for every test and interval. Kenward-Roger also adjusts the covariance
        of the estimates; "kenward-roger-linear" is the variant that matches SAS ``ddfm=kr`` for
        an unstructured covariance.
    method : {"reml", "ml"}
    group : str, optional
        Column whose levels get their own covariance matrix (e.g. the arm).
    vcov : {"model", "empirical", "empirical-jackknife", "empirical-bias-reduced"}
        Model-based covariance of the estimates, or the sandwich: CR0 (mmrm "Empirical"), the
        closed-form leave-one-subject-out jackknife (CR3, "Empirical-Jackknife", without the
        (n-1)/n factor, as mmrm) or the bias-reduced CR2 ("Empirical-Bias-Reduced"); with
        Satterthwaite df each sandwich gets its Bell-McCaffrey df (see :mod:`.sandwich`).
        Ignored by the Kenward-Roger methods, which use their adjusted covariance.
    level : float, default 0.95
        Confidence level of every interval.
    allow_nonconverged : bool, default False
        A fit that did not converge (``converged`` False, with a ``ConvergenceWarning``) keeps
        its estimates and standard errors, but its statistics, p-values and intervals (coef,
        lsmeans, contrasts, F tests) are NaN unless this is True (R mmrm's stance: a
        non-converged fit is not reported silently).
    weights : str, optional
        Column of positive observation weights, with SAS ``WEIGHT`` (and R ``mmrm``) semantics:
        subject i's residual covariance is :math:`W_i^{-1/2}\\Sigma W_i^{-1/2}`,
        :math:`W_i` the diagonal of its rows' weights. Rows with a missing weight are excluded
        (and counted); zero, negative or infinite weights raise :class:`ModelError`.
    coords : str or list of str, optional
        Numeric time column (e.g. study day) for the spatial covariances ``"sp_exp"`` and
        ``"sp_gau"`` (R mmrm ``sp_exp(coords | subject)``; see :mod:`.spatial`), which use it
        in place of ``visit``: visits may fall on any, irregular, times. A list of numeric
        columns, e.g. ``["VISITN", "VISITN2"]`` (R mmrm ``sp_exp(VISITN, VISITN2 | USUBJID)``),
        places each row at a point with the Euclidean distance between points; the
        structure's "visits" are then the distinct points, sorted lexicographically, and
        ``fit.spec.visit`` names their key, e.g. ``"(VISITN, VISITN2)"`` (``fit.visit_levels``
        are labels such as ``"(1.0, -0.5)"``; ``fit.spec.coords`` the tuple of columns). A
        list of one column is that column.
    start : array_like, optional
        Start values of the covariance parameters (R mmrm's parameterisation, as ``fit.theta``);
        default: from the residuals of an OLS fit.
    rank_deficient : {"drop", "error"}
        A design with aliased columns (a linear combination of earlier ones, e.g. a treatment
        with no observation at a visit it interacts with) is fitted without them ("drop", the
        default, R mmrm's behaviour): their coefficients are NA in ``coef``, ``fit.aliased``
        lists them, the summary notes them and non-estimable LS means are NA (see
        :mod:`.aliasing`); "error" raises :class:`ModelError` naming them instead.
    contrasts : dict, optional
        Factor -> coding of its columns, as R's ``contrasts = list(ARMCD = "contr.sum")``:
        "treatment" (default), "sum", "helmert", "poly", "diff" (R spellings "contr.sum"
        etc. too), or a formulaic ``Contrasts`` instance of those kinds. Coefficients and their
        names follow R (``ARMCD1`` for sum coding); the fit, LS means and contrasts between
        levels do not change.
    optimizer : {"newton", "l-bfgs-b", "bfgs", "cg"}
        "newton" (default): damped Newton with the analytic Hessian. The others are scipy's
        (R mmrm's ``optim`` methods) with the analytic gradient and no Newton polish (see
        :mod:`.optim`). Refits (``fit.refit``, ``fit.problem()``) start and optimise as the
        fit did (``start`` and ``optimizer`` are kept in ``fit.spec``).

    Returns
    -------
    MMRMResult

    Raises
    ------
    ModelError
        Unknown option (valid ones listed), a column not in ``data``, a single visit with
        between-within df or a spatial covariance (a single visit is otherwise fitted: the
        linear model with t inference, df n - p, as R mmrm),
        a subject with the same visit twice, a factor level with no observation at some visit
        (with ``rank_deficient="error"``), an all-missing outcome, or fewer subjects than covariance parameters.

    Examples
    --------
    >>> fit = ts.mmrm("CHG ~ ARM * AVISIT + BASE", adeff, subject="USUBJID",
    ...               visit="AVISIT")                                   # doctest: +SKIP
    >>> fit.contrast("ARM", by="AVISIT")                                 # doctest: +SKIP
    """
    covariance = _choice(covariance, COVARIANCE_TYPES + SPATIAL_TYPES, "covariance structure")
    visit = _spatial_visit(covariance, coords, visit, data)
    df_method = _choice(df, DF_METHODS, "df method")
    method = _choice(method, METHODS, "method")
    vcov = _choice(vcov, VCOV_TYPES, "vcov")
    level = check_level(level)
    optimizer = _choice(optimizer, OPTIMIZERS, "optimizer")
    rank_deficient = _choice(rank_deficient, ("error", "drop"), "rank_deficient")
    if not isinstance(data, pd.DataFrame):
        raise ModelError(f"data must be a pandas DataFrame; got {type(data).__name__}")
    coding = _contrasts(contrasts, data)
    if not data.index.is_unique:  # rows are named by label in errors and exclusions: positions
        data = data.reset_index(drop=True)
    points = None
    if isinstance(coords, (list, tuple)):
        coords = tuple(coords) if len(coords) > 1 else coords[0]
    if isinstance(coords, tuple):  # points: a key column of the distinct points is the visit
        data, points = _with_point_key(data, coords, visit, subject)
    extra = [subject, visit] + ([group] if group else []) + ([weights] if weights else [])
    _check_columns(extra, data, "mmrm", "argument")
    check_mmrm_rows(formula, data, subject)

    design = _design_or_cell_error(formula, data, subject, visit, group, extra, rank_deficient,
                                   coding)
    design, aliasing = drop_aliased(design)
    arrays = _subject_arrays(design.frame, data, subject, visit, group)
    if weights:
        arrays = replace(arrays, weights=_weights(design.frame, data, weights, subject))
    _check_single_time(arrays, covariance, df_method, visit)
    structures = [SpatialStructure(covariance, _times(arrays.visit_levels, points))
                  if covariance in SPATIAL_TYPES
                  else CovarianceStructure(covariance, len(arrays.visit_levels))
                  for _ in (arrays.group_levels or [None])]
    _check_identifiable(arrays, structures, covariance, group)
    theta0 = check_start(start, sum(st.n_theta for st in structures), covariance)
    engine, theta, converged, message = fit_arrays(
        design.X, design.y, arrays, structures, reml=(method == "reml"), start=theta0,
        optimizer=optimizer)
    spec = MMRMSpec(
        formula=formula, subject=subject, visit=visit, covariance=covariance, df=df_method,
        method=method, group=group, vcov=vcov, level=level, weights=weights,
        allow_nonconverged=bool(allow_nonconverged), coords=coords, aliasing=aliasing,
        contrasts=coding,
        start=None if theta0 is None else tuple(float(t) for t in theta0), optimizer=optimizer,
    )
    excl = design.exclusions
    counts = (excl.groupby("reason", sort=True).size().rename("n_rows").reset_index()
              if len(excl) else pd.DataFrame({"reason": pd.Series(dtype=str),
                                              "n_rows": pd.Series(dtype=int)}))
    return make_result(spec, design, arrays, structures, engine, theta, converged, message,
                       exclusions=counts, excluded_rows=excl)


def _spatial_visit(covariance: str, coords, visit: str, data) -> str:
    """The column whose distinct values are the covariance's time points.

    For several coordinate columns, the name of the key column of the points that
    :func:`_with_point_key` adds, ``"(VISITN, VISITN2)"``.
    """
    if isinstance(coords, (list, tuple)):
        if (not coords or not all(isinstance(c, str) for c in coords)
                or len(set(coords)) < len(coords)):
            raise ModelError(f"coords must be a column name or a list of distinct column names "
                             f"(e.g. ['VISITN', 'VISITN2']); got {coords!r}")
        if len(coords) > 1:
            if covariance not in SPATIAL_TYPES:
                raise ModelError(f"coords={list(coords)!r} is used by the spatial covariances "
                                 f"({', '.join(SPATIAL_TYPES)}) only; covariance is "
                                 f"{covariance!r}")
            key = "(" + ", ".join(coords) + ")"
            if isinstance(data, pd.DataFrame) and key in data.columns:
                raise ModelError(f"coords={list(coords)!r}: data has a column {key!r}, the name "
                                 "of the key of the points; rename it")
            return key
        coords = coords[0]
    if covariance not in SPATIAL_TYPES:
        if coords is not None:
            raise ModelError(f"coords={coords!r} is used by the spatial covariances "
                             f"({', '.join(SPATIAL_TYPES)}) only; covariance is {covariance!r}")
        return visit
    if coords is None:
        raise ModelError(f"covariance {covariance!r} needs coords=: the numeric time column "
                         "(e.g. study day) of each visit")
    if not isinstance(data, pd.DataFrame) or coords not in data.columns:
        return coords  # reported by the column check
    s = data[coords]
    if not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
        raise ModelError(f"coords column {coords!r} must be numeric (a time); it has dtype "
                         f"{s.dtype}")
    return coords


def _times(levels, points) -> tuple:
    """A spatial structure's "visits": the numeric times, or the points of the key's labels."""
    if points is None:
        return tuple(float(t) for t in levels)
    return tuple(points[v] for v in levels)


def _with_point_key(data: pd.DataFrame, coords: tuple, key: str, subject: str):
    """data with the column ``key`` of each row's point (see :func:`.spatial.point_labels`).

    Returns the extended frame and the points by label; a coordinate column that is missing,
    not numeric or infinite raises :class:`ModelError`.
    """
    _check_columns(list(coords), data, "mmrm", "coords=")
    for c in coords:
        s = data[c]
        if not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
            raise ModelError(f"coords column {c!r} must be numeric (a coordinate); it has dtype "
                             f"{s.dtype}")
        inf = np.isinf(s.to_numpy(dtype=float, na_value=np.nan))
        if inf.any():
            raise ModelError(f"coords column {c!r} is infinite in rows "
                             f"{_row_list(data.index[inf], data, subject)}; use finite numbers "
                             "or leave them missing")
    labels, points = point_labels(data, coords)
    return data.assign(**{key: labels}), points


def _check_single_time(arrays: SubjectArrays, covariance: str, df_method: str,
                       visit: str) -> None:
    """A single visit is a linear model with t inference; say what it cannot support."""
    if len(arrays.visit_levels) > 1:
        return
    if covariance in SPATIAL_TYPES:
        raise ModelError(f"coords column {visit!r} has one distinct value in the rows used; a "
                         f"{covariance} covariance needs at least two times")
    if df_method == "between-within":
        raise ModelError(f"visit column {visit!r} has one level in the rows used: nothing varies "
                         "within subjects, so between-within df are undefined; use "
                         "df='residual' or 'satterthwaite' (both n - p here)")


def _weights(frame: pd.DataFrame, data: pd.DataFrame, column: str, subject: str) -> np.ndarray:
    """Observation weights of the rows used: numeric, finite and positive (else ModelError)."""
    s = frame[column]
    if not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
        raise ModelError(f"weights column {column!r} must be numeric; it has dtype {s.dtype}")
    w = s.to_numpy(dtype=float)
    bad = ~np.isfinite(w) | (w <= 0)
    if bad.any():
        raise ModelError(
            f"weights column {column!r} must be positive and finite; rows "
            f"{_row_list(frame.index[bad], data, subject)} have {', '.join(map(str, w[bad][:10]))}"
        )
    return w


def _contrasts(contrasts, data: pd.DataFrame) -> tuple:
    """``contrasts=`` checked: ((factor, contrast text), ...) for the non-default codings."""
    if contrasts is None:
        return ()
    if not isinstance(contrasts, dict):
        raise ModelError("contrasts must be a dict such as {'ARM': 'sum'}; got "
                         f"{type(contrasts).__name__}")
    out = []
    for col, value in contrasts.items():
        _check_columns([col], data, "mmrm", "contrasts=")
        s = data[col]
        if pd.api.types.is_numeric_dtype(s) and not isinstance(s.dtype, pd.CategoricalDtype):
            raise ModelError(f"mmrm: contrasts= codes factors; column {col!r} is numeric "
                             f"({s.dtype}): make it a Categorical or drop it from contrasts")
        text = contrast_text(value, col, "mmrm: contrasts=")
        if text != "contr.treatment":  # the default coding: the formula is left as it is
            out.append((str(col), text))
    return tuple(out)


def _design_or_cell_error(formula, data, subject, visit, group, extra, rank_deficient="error",
                          contrasts=()):
    """build_design; when it fails, report an empty factor-by-visit cell if that is the cause.

    An unobserved cell of a factor interacting with the visit always makes the design aliased,
    so the (costlier) cell check runs only when the design cannot be built.
    """
    try:
        return build_design(formula, data, cluster=subject,
                            extra_columns=[c for c in extra if c != subject], where="mmrm",
                            aliased="keep" if rank_deficient == "drop" else "error",
                            contrasts=contrasts, variable_order="terms")
    except ModelError:
        safe = parse_formula(formula, where="mmrm")  # only the checked text reaches formulaic
        needed = sorted(set(safe.columns) | set(extra))
        if all(c in data.columns for c in needed):
            complete = data.loc[data[needed].notna().all(axis=1), needed]
            _check_visit_cells(safe.text, complete, visit)
        raise


def _subject_arrays(frame: pd.DataFrame, data: pd.DataFrame, subject: str, visit: str,
                    group: str | None) -> SubjectArrays:
    """Subject, visit and group codes of the rows used, with the checks they allow."""
    visit_levels, visit_idx = _codes(frame[visit])
    if len(visit_levels) < 1:  # pragma: no cover - build_design needs a complete row
        raise ModelError(f"visit column {visit!r} has no level in the rows used")
    s = frame[subject]
    if isinstance(s.dtype, pd.CategoricalDtype):
        subj_codes, subj_uniques = pd.factorize(s, sort=False)
    else:
        subj_codes, subj_uniques = pd.factorize(
            s.astype(str) if pd.api.types.is_object_dtype(s) else s, sort=False)
    subj_codes = subj_codes.astype(np.int64)
    n_subjects = len(subj_uniques)
    m = len(visit_levels)
    cell = np.bincount(subj_codes * m + visit_idx, minlength=n_subjects * m)
    dup = cell[subj_codes * m + visit_idx] > 1
    if dup.any():
        rows = frame.index[dup]
        first = rows[0]
        raise ModelError(
            f"time points must be unique per subject: {subject} {frame.at[first, subject]} has "
            f"{visit} {frame.at[first, visit]} more than once; duplicated rows: "
            f"{_row_list(rows, data, subject)}"
        )
    g_sub = np.zeros(n_subjects, dtype=np.int64)
    group_levels = ()
    if group:
        levels_g, g_row = _codes(frame[group])
        group_levels = tuple(levels_g)
        g_sub[subj_codes] = g_row
        bad = np.flatnonzero(g_sub[subj_codes] != g_row)
        if len(bad):
            raise ModelError(f"group column {group!r} changes within subject "
                             f"{subj_uniques[subj_codes[bad[0]]]}")
    return SubjectArrays(subject=subj_codes, visit=visit_idx, group=g_sub,
                         subject_ids=np.asarray(subj_uniques), visit_levels=tuple(visit_levels),
                         group_levels=group_levels)


def _check_identifiable(arrays: SubjectArrays, structures, covariance: str,
                        group: str | None) -> None:
    """Enough subjects (overall and per covariance group) for the covariance parameters."""
    n_subjects = len(arrays.group)
    m = len(arrays.visit_levels)
    n_theta = sum(s.n_theta for s in structures)
    if n_subjects <= n_theta:
        raise ModelError(
            f"{n_subjects} subjects with data cannot identify the {n_theta} parameters of a "
            f"{covariance} covariance over {m} visits"
            + (f" in {len(structures)} groups" if group else "")
            + "; use a structure with fewer parameters (e.g. ar1h, cs) or more subjects"
        )
    per_group = np.bincount(arrays.group, minlength=len(structures))
    for g, gl in enumerate(arrays.group_levels or [None]):
        if per_group[g] <= structures[g].n_theta:
            raise ModelError(
                f"group {group}={gl} has {per_group[g]} subjects, too few for its "
                f"{structures[g].n_theta} covariance parameters"
            )
