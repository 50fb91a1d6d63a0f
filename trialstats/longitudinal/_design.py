"""R-style design matrices from a formula, shared by :mod:`lmm` and :mod:`counts`.

The design follows R's ``model.matrix`` with ``contr.treatment``:

* term names as R prints them: ``(Intercept)``, ``ARMEXOSOME``, ``ARMEXOSOME:WEEK_OFF``;
* a pandas ``Categorical`` keeps its category order (the first category is the reference level);
  any other string (or boolean) column becomes a factor whose levels are sorted as R sorts them
  (see :func:`r_level_order`); levels absent from the rows used are dropped, as R's ``model.frame``
  does (``drop.unused.levels = TRUE``);
* rows with a missing outcome, covariate, cluster or time value are excluded, and every excluded
  row is reported with its reason (:attr:`Design.exclusions`) rather than dropped silently.

The formula is checked by :func:`trialstats.formula.parse_formula` (a whitelist: formulas are
data, never code) and its rebuilt text is handed to formulaic; this module only resolves columns,
handles missing values and translates formulaic's column names (``ARM[T.EXOSOME]``) into R's
(``ARMEXOSOME``).
"""

from __future__ import annotations

import functools
import itertools
import re
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from formulaic import model_matrix
from scipy import linalg

from .._coding import coded as _coded
from .._coding import (
    names_text,
    uncoded,  # noqa: F401 (re-exported for the MMRM anova)
)
from .._coding import position as _position
from .._materializer import MATERIALIZER
from ..errors import ModelError
from ..formula import SafeFormula, check_factor_levels, formula_context, parse_formula

__all__ = ["Design", "build_design", "r_level_order", "rhs_matrix", "reference_grid_matrix"]

_MAX_LISTED = 10
_MAX_MAGNITUDE = 1e100  # larger values overflow sums of squares (1e200 * n)


def _r_collation_key(value: str):
    """Sort key close to R's factor-level order under ICU / English collation.

    Punctuation sorts before digits, digits before letters; letters compare case-insensitively
    first, and on a tie lower case sorts before upper case (``"a" < "A" < "b"``). This is what R
    does with ICU collation (``C.UTF-8`` and ``en_US.UTF-8`` locales); R in the plain ``C`` locale
    would instead sort by code point.
    """
    text = str(value)

    def klass(ch: str) -> int:
        if ch.isalpha():
            return 2
        if ch.isdigit():
            return 1
        return 0

    primary = tuple((klass(ch), ch.casefold()) for ch in text)
    tertiary = tuple(0 if ch.islower() or not ch.isalpha() else 1 for ch in text)
    return (primary, tertiary, text)


def r_level_order(values) -> list:
    """Unique non-missing values in the order R gives to ``levels(factor(values))``.

    Parameters
    ----------
    values : array_like
        Strings, numbers (sorted numerically, as ``factor`` does) or booleans (``False`` first).

    Returns
    -------
    list
        The distinct values, sorted as R sorts factor levels (see :func:`_r_collation_key`).
    """
    uniq = list(pd.unique(pd.Series(values).dropna()))
    if all(isinstance(v, bool | np.bool_) for v in uniq):
        return sorted(uniq)  # FALSE, TRUE
    if all(isinstance(v, int | float | np.integer | np.floating) for v in uniq):
        return sorted(uniq)  # R sorts numbers numerically before turning them into labels
    return sorted(uniq, key=_r_collation_key)


@dataclass(frozen=True)
class Design:
    """A resolved model design: the matrices, the rows used and the rows excluded.

    Attributes
    ----------
    formula : str
        The formula as given.
    outcome : str or None
        Name of the outcome column (None for a one-sided formula).
    y : numpy.ndarray or None
        Outcome values of the rows used.
    X : numpy.ndarray
        Fixed-effects design matrix (rows used x terms).
    terms : tuple of str
        R-style column names of ``X``.
    frame : pandas.DataFrame
        The rows used (original index kept), factors as ``Categorical`` with R's level order.
    exclusions : pandas.DataFrame
        One row per excluded input row: ``row`` (index label in the input), the cluster column
        when one was named, and ``reason`` (e.g. ``"missing AVAL, BASE"``).
    levels : dict
        Factor name -> levels used (reference first).
    n_input_rows : int
        Number of rows of the input table.
    """

    formula: str
    outcome: str | None
    y: np.ndarray | None
    X: np.ndarray
    terms: tuple[str, ...]
    frame: pd.DataFrame
    exclusions: pd.DataFrame
    levels: dict = field(default_factory=dict)
    n_input_rows: int = 0
    model_spec: object = None
    variables: tuple[str, ...] = ()
    column_order: tuple[int, ...] = ()
    products: list | None = None  # columns as factor-indicator/covariate products (see _grid)
    aliased: tuple[int, ...] = ()  # with build_design(aliased="keep"): aliased columns of X
    variable_order: str = "formula"  # build_design(variable_order=): see _coding.names_text


def _parse(formula: str, where: str, contrasts: tuple = ()) -> tuple[list[str], list[str],
                                                                    SafeFormula]:
    """Outcome and covariate column names of a formula, in order of appearance.

    The formula is checked against the whitelist of :mod:`trialstats.formula` first; only the
    returned ``SafeFormula.text`` may be handed to formulaic.
    """
    if not isinstance(formula, str):
        safe = parse_formula(formula, where=where)  # raises the ModelError
    else:
        safe = _parse_cached(formula, where, tuple(contrasts))
    return list(safe.lhs_columns), list(safe.rhs_columns), safe


@functools.lru_cache(maxsize=256)
def _parse_cached(formula: str, where: str, contrasts: tuple = ()) -> SafeFormula:
    """:func:`trialstats.formula.parse_formula` of a formula string, checked once per string
    (the check and formulaic's parser cost ~2 ms; a SafeFormula is immutable)."""
    return parse_formula(formula, where=where, contrasts=contrasts)


def _check_columns(needed: Sequence[str], data: pd.DataFrame, where: str, what: str) -> None:
    missing = [c for c in needed if c not in data.columns]
    if missing:
        plural = "s" if len(missing) > 1 else ""
        raise ModelError(
            f"{where}: {what} names column{plural} {', '.join(map(repr, missing))} "
            f"not in the data; available columns: {', '.join(map(str, data.columns))}"
        )


def _as_factor(series: pd.Series) -> pd.Series:
    """Strings and booleans become Categorical in R's order; Categorical keeps its order."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        return series
    if pd.api.types.is_bool_dtype(series):
        mapped = series.map({True: "TRUE", False: "FALSE"})
        return pd.Series(
            pd.Categorical(mapped, categories=["FALSE", "TRUE"]),
            index=series.index,
            name=series.name,
        )
    if pd.api.types.is_object_dtype(series) or pd.api.types.is_string_dtype(series):
        return pd.Series(
            pd.Categorical(series, categories=r_level_order(series)),
            index=series.index,
            name=series.name,
        )
    return series


def _row_list(rows: Sequence, data: pd.DataFrame, cluster: str | None) -> str:
    shown = []
    for r in list(rows)[:_MAX_LISTED]:
        if cluster is not None and cluster in data.columns:
            shown.append(f"{r} ({data.at[r, cluster]})")
        else:
            shown.append(str(r))
    more = f" and {len(rows) - _MAX_LISTED} more" if len(rows) > _MAX_LISTED else ""
    return ", ".join(shown) + more


def _split_interaction(name: str) -> list[str]:
    """Split a column name on ':' outside brackets and parentheses."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(name):
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == ":" and depth == 0:
            parts.append(name[start:i])
            start = i + 1
    parts.append(name[start:])
    return parts


def _r_columns(columns, term_indices: dict, formula: str) -> tuple[list[int], tuple[str, ...]]:
    """R's names and column order for formulaic's columns.

    formulaic names a treatment-coded level ``ARM[T.EXOSOME]`` (``ARM[EXOSOME]`` when not
    reduced); R writes ``ARMEXOSOME``. In an interaction R lists the variables in order of first
    appearance in the formula (``WEEK_OFF + ARM:WEEK_OFF`` gives ``WEEK_OFF:ARMEXOSOME``) and
    lets the first one vary fastest across the columns. Returns the permutation to apply to
    formulaic's columns and the R names in that order.
    """
    names = [str(c) for c in columns]

    def position(var: str) -> int:
        return _position(var, formula)

    order: list[int] = []
    out: dict[int, str] = {}
    counters: dict[tuple, int] = {}
    for idx in term_indices.values():
        parsed = []
        for j in idx:
            if names[j] == "Intercept":
                parsed.append((j, [("(Intercept)", None, "(Intercept)")]))
                continue
            comps = []
            for c in _split_interaction(names[j]):
                m = re.fullmatch(r"(.+?)\[(?:T\.)?(.*)\]", c)
                comps.append(
                    (m.group(1), m.group(2), m.group(1) + m.group(2)) if m else (c, None, c)
                )
            comps = [_coded(comp, counters) for comp in comps]
            comps.sort(key=lambda comp: position(comp[0]))
            parsed.append((j, comps))
        seen: dict[str, list] = {}
        for _, comps in parsed:
            for var, lvl, _ in comps:
                if lvl is not None and lvl not in seen.setdefault(var, []):
                    seen[var].append(lvl)

        def key(item, seen=seen):
            return tuple(
                seen[var].index(lvl) if lvl is not None else 0 for var, lvl, _ in reversed(item[1])
            )

        for j, comps in sorted(parsed, key=key):
            order.append(j)
            out[j] = ":".join(text for _, _, text in comps)
    if sorted(order) != list(range(len(names))):  # terms did not cover every column
        order = list(range(len(names)))
        out = {j: ":".join(_split_interaction(n)) for j, n in enumerate(names)}
    return order, tuple(out[j] for j in order)


def _aliased(X: np.ndarray, tol: float = 1e-10) -> list[int]:
    """Indices of columns that are linear combinations of the columns before them.

    Works on the Gram matrix of the columns scaled to unit length (one pass over the rows):
    a column is aliased when the squared norm of its residual on the kept columns, taken from an
    incrementally extended Cholesky factor, is below ``tol`` (an angle to their span below
    about 1e-5 radians).
    """
    if X.shape[1] == 0:  # no terms: nothing aliased (callers say what is missing)
        return []
    scale = np.linalg.norm(X, axis=0)
    nonzero = scale > 0
    Xs = X[:, nonzero] / scale[nonzero]
    G = np.zeros((X.shape[1], X.shape[1]))
    G[np.ix_(nonzero, nonzero)] = Xs.T @ Xs
    if nonzero.all():  # no aliasing: every pivot of the full Cholesky factor is above tol
        try:
            if np.min(np.diag(np.linalg.cholesky(G))) ** 2 > tol:
                return []
        except np.linalg.LinAlgError:
            pass
    out: list[int] = []
    kept: list[int] = []
    L = np.zeros((0, 0))
    for j in range(X.shape[1]):
        if not nonzero[j]:
            out.append(j)
            continue
        v = linalg.solve_triangular(L, G[kept, j], lower=True) if kept else np.zeros(0)
        r = G[j, j] - float(v @ v)
        if r <= tol:
            out.append(j)
            continue
        k = len(kept)
        L_new = np.zeros((k + 1, k + 1))
        L_new[:k, :k] = L
        L_new[k, :k] = v
        L_new[k, k] = np.sqrt(r)
        L = L_new
        kept.append(j)
    return out


def build_design(
    formula: str,
    data: pd.DataFrame,
    *,
    cluster: str | None = None,
    extra_columns: Sequence[str] = (),
    where: str = "model",
    aliased: str = "error",
    contrasts: tuple = (),
    variable_order: str = "formula",
) -> Design:
    """Resolve a two-sided formula on a DataFrame into an R-style design.

    Parameters
    ----------
    formula : str
        Wilkinson formula, e.g. ``"AVAL ~ ARM * WEEK_OFF + BASE"`` (formulaic syntax).
    data : pandas.DataFrame
        One row per observation.
    cluster : str, optional
        Cluster (subject) column: required to be present and non-missing, and shown next to the
        excluded rows.
    extra_columns : sequence of str
        Further columns that must be non-missing in the rows used (random-effects covariates,
        time).
    where : str
        Name of the calling function, used in error messages.
    aliased : {"error", "keep"}
        Aliased (linearly dependent) columns raise ModelError, or are kept in ``X`` and listed
        in ``Design.aliased`` (for callers that drop them as R does).
    contrasts : tuple of (str, str) pairs
        Factor -> contrast text (:func:`trialstats.formula.contrast_text`); default treatment
        coding. Columns are named as R names them (``ARM1`` for sum and Helmert coding,
        ``ARM.L`` for polynomial).
    variable_order : {"formula", "terms"}
        How interaction columns are named (:func:`trialstats._coding.names_text`): as R's
        ``model.matrix`` (default) or as R mmrm (``"terms"``), e.g. ``ARMTRT:BASE`` or
        ``BASE:ARMTRT`` for ``ARM:BASE + BASE``.

    Returns
    -------
    Design

    Raises
    ------
    ModelError
        Unknown columns (named, with the available ones), an outcome missing in every row, no
        complete rows, non-finite numeric values, or aliased (linearly dependent) terms.
    """
    if not isinstance(data, pd.DataFrame):
        raise ModelError(f"{where}: data must be a pandas DataFrame; got {type(data).__name__}")
    lhs, rhs, safe = _parse(formula, where, contrasts)
    if len(lhs) != 1:
        raise ModelError(
            f"{where}: formula {formula!r} must have exactly one outcome column on the left of '~'"
        )
    outcome = lhs[0]
    _check_columns([outcome, *rhs], data, where, f"formula {formula!r}")
    if cluster is not None:
        _check_columns([cluster], data, where, f"groups={cluster!r}")
    extras = [c for c in ([cluster] if cluster else []) + list(extra_columns) if c is not None]
    _check_columns(extras, data, where, "argument")

    variables = list(dict.fromkeys([outcome, *rhs, *extras]))
    frame = data.loc[:, variables].copy()
    n_rows = len(frame)
    if n_rows == 0:
        raise ModelError(f"{where}: data has no rows")
    if frame[outcome].isna().all():
        raise ModelError(
            f"{where}: outcome column {outcome!r} is missing in all {n_rows} rows; nothing to fit"
        )
    for col in variables:
        s = frame[col]
        if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
            values = s.to_numpy(dtype=float, na_value=np.nan)
            bad = s.index[np.isinf(values)]
            if len(bad):
                raise ModelError(
                    f"{where}: column {col!r} has infinite values in rows "
                    f"{_row_list(bad, data, cluster)}; use finite numbers or leave them missing"
                )
            with np.errstate(invalid="ignore"):
                huge = s.index[np.abs(values) >= _MAX_MAGNITUDE]
            if len(huge):  # their squares overflow: optimisers would spin on an inf likelihood
                raise ModelError(
                    f"{where}: column {col!r} has values of magnitude {_MAX_MAGNITUDE:g} or more "
                    f"in rows {_row_list(huge, data, cluster)}; no model can be fitted to them: "
                    "check the data or rescale the column"
                )

    miss = frame.isna()
    any_missing = miss.any(axis=1)
    reasons = [
        "missing " + ", ".join(c for c in variables if miss.at[r, c])
        for r in frame.index[any_missing]
    ]
    excl = pd.DataFrame({"row": frame.index[any_missing]})
    if cluster is not None:
        excl[cluster] = data.loc[any_missing, cluster].to_numpy()
    excl["reason"] = reasons
    used = frame.loc[~any_missing].copy() if len(excl) else frame  # frame is our own copy
    if len(used) == 0:
        counts = excl["reason"].value_counts()
        raise ModelError(
            f"{where}: no complete rows: every one of the {n_rows} rows misses a value "
            f"({'; '.join(f'{k}: {v} rows' for k, v in counts.items())})"
        )

    check_factor_levels(used, rhs, where, safe.text)
    levels = {}
    for col in rhs:
        s = _as_factor(used[col])
        if isinstance(s.dtype, pd.CategoricalDtype):
            s = s.cat.remove_unused_categories()
            levels[col] = list(s.cat.categories)
        used[col] = s
    if cluster is not None and isinstance(used[cluster].dtype, pd.CategoricalDtype):
        used[cluster] = used[cluster].cat.remove_unused_categories()

    spec, order, terms, X, y, products = _model_matrices(safe.text, outcome, rhs, used, levels,
                                                         where, variable_order)
    _check_finite(X, terms, formula, where)
    if np.ptp(y) == 0:  # no residual variance: every test would be 0/0 (p = 1e-22, df = inf)
        raise ModelError(
            f"{where}: outcome {outcome!r} is constant ({y[0]:g}) in all {len(y)} rows used; "
            "there is nothing to model and no test or interval can be computed"
        )
    dup = _aliased(X)
    if dup and aliased != "keep":
        raise ModelError(
            f"{where}: terms {', '.join(terms[j] for j in dup)} of {formula!r} are linear "
            "combinations of earlier terms in the rows used (aliased); drop them or check that "
            "every factor level occurs with every level it interacts with"
        )
    return Design(
        formula=formula,
        outcome=outcome,
        y=y,
        X=X,
        terms=terms,
        frame=used,
        exclusions=excl,
        levels=levels,
        n_input_rows=n_rows,
        model_spec=spec,
        variables=tuple(rhs),
        column_order=tuple(order),
        products=products,
        aliased=tuple(dup),
        variable_order=variable_order,
    )


# (formula, variable kinds and levels) -> (ModelSpec, column order, R names, column products):
# the design of a formula is fixed by the formula, which variables are factors and their levels
_SPEC_CACHE: OrderedDict = OrderedDict()
_SPEC_CACHE_SIZE = 64


def _model_matrices(formula: str, outcome: str, rhs: list, used: pd.DataFrame, levels: dict,
                    where: str, variable_order: str = "formula"):
    """(ModelSpec, R column order, R names, X, y) of the rows used.

    The first time a formula is seen with given factor levels, formulaic builds the matrices;
    when every column is a product of factor indicators and plain numeric variables (checked
    against formulaic's matrix, see :func:`._grid.products_from_names`), later calls with the
    same formula and levels build X with NumPy from those products: the same numbers without
    formulaic's per-call cost.
    """
    from ._grid import evaluate_products, products_from_names

    key = (formula, outcome, variable_order, tuple(
        (c, tuple(levels[c]) if c in levels else str(used[c].dtype)) for c in rhs))
    try:
        hit = _SPEC_CACHE.get(key)
    except TypeError:  # unhashable levels: no cache
        key, hit = None, None
    if hit is not None:
        _SPEC_CACHE.move_to_end(key)
        spec, order, terms, products, fortran = hit
        X = evaluate_products(products, used, levels)
        # the memory layout formulaic's route gave: BLAS rounding (and so iterative fits such as
        # statsmodels MixedLM, to ~1e-6) depends on it; same layout, same numbers
        X = np.asfortranarray(X) if fortran else np.ascontiguousarray(X)
        return spec, order, terms, X, used[outcome].to_numpy(dtype=float), products
    try:
        mm = model_matrix(formula, used, na_action="raise", context=formula_context(),
                          materializer=MATERIALIZER)
    except Exception as e:
        raise ModelError(f"{where}: cannot build the design of {formula!r}: {e}") from e
    spec = mm.rhs.model_spec
    order, terms = _r_columns(mm.rhs.columns, spec.term_indices,
                              names_text(spec, formula, variable_order))
    X = np.asarray(mm.rhs, dtype=float)[:, order]
    y = np.asarray(mm.lhs, dtype=float).ravel()
    products = None
    if key is not None and [str(c) for c in mm.lhs.columns] == [outcome]:
        products = products_from_names([str(c) for c in mm.rhs.columns], order, levels, rhs,
                                       used, X)
        if products is not None:
            _SPEC_CACHE[key] = (spec, order, terms, products,
                                bool(X.flags.f_contiguous and not X.flags.c_contiguous))
            while len(_SPEC_CACHE) > _SPEC_CACHE_SIZE:
                _SPEC_CACHE.popitem(last=False)
    return spec, order, terms, X, y, products


def rhs_matrix(rhs_formula: str, frame: pd.DataFrame, *, where: str = "model"):
    """Design matrix of a one-sided formula (``"~WEEK"``) on rows already checked for missing values.

    Returns
    -------
    (numpy.ndarray, tuple of str)
        The matrix and its R-style column names.
    """
    text = rhs_formula.strip()
    if not text.startswith("~"):
        raise ModelError(
            f"{where}: re_formula must be one-sided and start with '~' (e.g. '~WEEK'); got "
            f"{rhs_formula!r}"
        )
    _, rhs, safe = _parse(text, where)
    _check_columns(rhs, frame, where, f"re_formula {rhs_formula!r}")
    sub = frame.copy()
    for col in rhs:
        sub[col] = _as_factor(sub[col])
    try:
        mm = model_matrix(safe.text, sub, na_action="raise", context=formula_context(),
                          materializer=MATERIALIZER)
    except Exception as e:
        raise ModelError(f"{where}: cannot build the design of {rhs_formula!r}: {e}") from e
    order, names = _r_columns(mm.columns, mm.model_spec.term_indices, safe.text)
    Z = np.asarray(mm, dtype=float)[:, order]
    _check_finite(Z, names, rhs_formula, where)
    return Z, names


def _check_finite(X: np.ndarray, names, formula: str, where: str) -> None:
    """A transform (log of 0, x / 0) must not put inf or NaN into the design."""
    bad = [str(names[j]) for j in range(X.shape[1]) if not np.isfinite(X[:, j]).all()]
    if bad:
        raise ModelError(
            f"{where}: terms {', '.join(bad)} of {formula!r} have infinite or undefined values in "
            "the rows used (a transform such as log(0) or x / 0); change the transform or the data"
        )


def reference_grid_matrix(design: Design, fixed: dict):
    """Design rows averaged over a reference grid, as emmeans builds it.

    Numeric covariates not in ``fixed`` are set to their mean over the rows used; factors not in
    ``fixed`` take each of their levels with equal weight and the resulting rows are averaged.

    Parameters
    ----------
    design : Design
    fixed : dict
        Column -> value held fixed (e.g. ``{"ARM": "EXOSOME", "WEEK_OFF": 1.0}``).

    Returns
    -------
    numpy.ndarray
        One row of length ``len(design.terms)``.
    """
    frame = design.frame
    grid_cols, grid_vals = [], []
    base = {}
    for col in design.variables:
        if col in fixed:
            continue
        s = frame[col]
        if isinstance(s.dtype, pd.CategoricalDtype):
            grid_cols.append(col)
            grid_vals.append(list(s.cat.categories))
        else:
            base[col] = float(np.mean(s.to_numpy(dtype=float)))
    rows = []
    for combo in itertools.product(*grid_vals) if grid_cols else [()]:
        row = dict(base)
        row.update(dict(zip(grid_cols, combo)))
        row.update(fixed)
        rows.append(row)
    new = pd.DataFrame(rows)
    for col in design.variables:
        if isinstance(frame[col].dtype, pd.CategoricalDtype):
            new[col] = pd.Categorical(new[col], categories=frame[col].cat.categories)
    X = np.asarray(design.model_spec.get_model_matrix(new, context=formula_context()), dtype=float)
    if design.column_order:  # R's column order (see _r_columns)
        X = X[:, list(design.column_order)]
    return X.mean(axis=0)
