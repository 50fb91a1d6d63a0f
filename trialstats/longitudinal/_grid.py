"""emmeans reference grids as one NumPy construction from a fitted design.

A column of an R-style treatment-coded design is a product of *components*: an indicator
``VAR == level`` for each factor in the column and the raw value of each plain numeric variable
(the intercept has none). When every column of a design has that form, a reference-grid row is
computed without formulaic: a factor held fixed contributes its indicator, a factor averaged with
equal weights over its K levels contributes 1/K (the mean of its indicator over the balanced
grid, and the grid is a Cartesian product, so the mean of a product of functions of distinct
variables is the product of their means), and a numeric covariate contributes its mean over the
rows used. This is exactly what :func:`._design.reference_grid_matrix` computes point by point
through ``ModelSpec.get_model_matrix``.

The product form is not assumed: :func:`column_products` reads it from formulaic's column names
and then *checks* it by rebuilding the design matrix from the data and comparing it with the one
formulaic built (they must be equal to rounding). Designs it does not fit (transforms such as
``I(BASE**2)``, ``center(BASE)``, splines) take the general route: one formulaic call on the full
grid of factor levels, then the same averaging with NumPy.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ._design import Design, _split_interaction

__all__ = ["column_products", "evaluate_products", "products_from_names", "reference_grid"]

_LEVEL = re.compile(r"(.+?)\[(?:T\.)?(.*)\]")


def column_products(design: Design):
    """The design's columns as products of factor indicators and numeric variables.

    Parameters
    ----------
    design : Design
        A design built by :func:`._design.build_design` (it keeps its ``ModelSpec``).

    Returns
    -------
    list of list of tuple, or None
        For each column (R order), its components: ``("factor", var, level_index)`` or
        ``("numeric", var)``. None when some column is not of that form, or when the matrix
        rebuilt from the components differs from ``design.X`` (so the caller must use formulaic).
    """
    spec = design.model_spec
    if spec is None:
        return None
    try:
        names = list(spec.column_names)
    except AttributeError:  # pragma: no cover - formulaic without column_names
        return None
    return products_from_names(names, design.column_order, design.levels, design.variables,
                               design.frame, design.X)


def products_from_names(names, column_order, levels: dict, variables, frame, X):
    """:func:`column_products` from formulaic's column names, checked against ``X``."""
    order = list(column_order) or list(range(len(names)))
    if len(order) != X.shape[1]:
        return None
    factors = {v: [str(x) for x in lv] for v, lv in levels.items()}
    numeric = set(variables) - set(factors)
    out = []
    for j in order:
        name = names[j]
        comps = []
        if name != "Intercept":
            for part in _split_interaction(name):
                m = _LEVEL.fullmatch(part)
                if m and m.group(1) in factors and m.group(2) in factors[m.group(1)]:
                    comps.append(("factor", m.group(1), factors[m.group(1)].index(m.group(2))))
                elif part in numeric:
                    comps.append(("numeric", part))
                else:
                    return None
        if len({c[1] for c in comps}) != len(comps):  # a variable twice in one column
            return None
        out.append(comps)
    rebuilt = evaluate_products(out, frame, levels)
    scale = np.maximum(1.0, np.abs(X))
    if not bool(np.all(np.abs(rebuilt - X) <= 1e-12 * scale)):
        return None
    return out


def evaluate_products(products, frame: pd.DataFrame, levels: dict) -> np.ndarray:
    """The design matrix of ``frame`` from column products (factors: Categorical columns)."""
    codes = {v: frame[v].cat.codes.to_numpy() for v in levels}
    values = {}
    X = np.ones((len(frame), len(products)))
    for j, comps in enumerate(products):
        for comp in comps:
            if comp[0] == "factor":
                X[:, j] *= codes[comp[1]] == comp[2]
            else:
                if comp[1] not in values:
                    values[comp[1]] = frame[comp[1]].to_numpy(dtype=float)
                X[:, j] *= values[comp[1]]
    return X


def reference_grid(design: Design, fixed: Sequence[str], products=None):
    """emmeans reference-grid rows for every combination of the levels of ``fixed`` factors.

    Factors not in ``fixed`` are averaged with equal weights over their levels; numeric
    covariates are held at their mean over the rows used (emmeans' defaults).

    Parameters
    ----------
    design : Design
    fixed : sequence of str
        Factor names (in ``design.levels``). The *last* one varies fastest across the rows.
    products : list, optional
        The output of :func:`column_products` (computed when not given; None = use formulaic).

    Returns
    -------
    keys : list of tuple
        The level combination of each row (same order as ``fixed``).
    L : numpy.ndarray (n_combinations, n_terms)
    """
    levels = [list(design.levels[f]) for f in fixed]
    keys = list(itertools.product(*levels))
    if products is None:
        products = column_products(design)
    if products is None:
        return keys, _grid_formulaic(design, list(fixed), keys)
    idx = np.array(list(itertools.product(*[range(len(lv)) for lv in levels])),
                   dtype=np.int64).reshape(len(keys), len(fixed))
    pos = {f: k for k, f in enumerate(fixed)}
    means = {}
    L = np.ones((len(keys), len(products)))
    for j, comps in enumerate(products):
        for comp in comps:
            var = comp[1]
            if comp[0] == "numeric":
                if var not in means:
                    means[var] = float(np.mean(design.frame[var].to_numpy(dtype=float)))
                L[:, j] *= means[var]
            elif var in pos:
                L[:, j] *= idx[:, pos[var]] == comp[2]
            else:
                L[:, j] *= 1.0 / len(design.levels[var])
    return keys, L


def _grid_formulaic(design: Design, fixed: list[str], keys: list[tuple]) -> np.ndarray:
    """General route: one model matrix on the full factorial grid, averaged with NumPy."""
    frame = design.frame
    factors = [v for v in design.variables if isinstance(frame[v].dtype, pd.CategoricalDtype)]
    others = [v for v in factors if v not in fixed]
    axes = fixed + others
    level_lists = [list(frame[v].cat.categories) for v in axes]
    combos = list(itertools.product(*level_lists))
    grid = pd.DataFrame(combos, columns=axes) if axes else pd.DataFrame(index=[0])
    for v in design.variables:
        if v in factors:
            grid[v] = pd.Categorical(grid[v], categories=frame[v].cat.categories)
        else:
            grid[v] = float(np.mean(frame[v].to_numpy(dtype=float)))
    X = np.asarray(design.model_spec.get_model_matrix(grid), dtype=float)
    if design.column_order:
        X = X[:, list(design.column_order)]
    n_fixed = int(np.prod([len(lv) for lv in level_lists[:len(fixed)]])) if fixed else 1
    return X.reshape(n_fixed, -1, X.shape[1]).mean(axis=1).reshape(len(keys), X.shape[1])
