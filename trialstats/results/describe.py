"""Descriptive summaries for a Table 1, as a long (cards-style) frame.

Continuous variables get n, mean, SD (n - 1 denominator), median, Q1, Q3, min and max, with
quantiles by linear interpolation (R's ``quantile(type = 7)``, numpy's default ``"linear"``);
categorical variables get n and percent per category, the percent of the non-missing values.
Missing values are counted (``n_missing``) and left out of every other statistic.

Variables are typed by content unless ``types`` says otherwise: text, boolean and categorical
columns are categorical; numeric columns are categorical when they hold whole numbers only and
at most ``max_codes`` distinct values (ordinal codes such as a stage 1-4 or a 0/1 flag are shown
as categories), continuous otherwise. This is pandas and numpy only: nothing here needs a
statistics library.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import ModelError

__all__ = ["CONTINUOUS_STATISTICS", "describe", "mean_ci", "variable_type"]

CONTINUOUS_STATISTICS = ("n", "n_missing", "mean", "sd", "median", "q1", "q3", "min", "max")
_TYPES = ("continuous", "categorical")
#: Columns never summarised by default (identifiers and timestamps of ADaM ADSL).
_ID_COLUMNS = frozenset({"STUDYID", "USUBJID", "SUBJID", "SITEID", "ARM", "ARMCD", "ACTARM",
                         "ACTARMCD", "TRT01P", "TRT01A", "TRT01PN", "TRT01AN"})


def variable_type(values: pd.Series, max_codes: int = 10) -> str:
    """"continuous" or "categorical", by content (see the module docstring).

    Parameters
    ----------
    values : Series
    max_codes : int, default 10
        Largest number of distinct whole-number values still treated as codes.

    Returns
    -------
    str
    """
    s = values
    if isinstance(s.dtype, pd.CategoricalDtype) or s.dtype == bool or not (
            pd.api.types.is_numeric_dtype(s)):
        return "categorical"
    x = s.dropna().to_numpy(dtype=float)
    if len(x) and np.all(x == np.round(x)) and len(np.unique(x)) <= max_codes:
        return "categorical"
    return "continuous"


def _default_variables(data: pd.DataFrame, by: str | None) -> list:
    out = []
    for col in data.columns:
        if col == by or str(col).upper() in _ID_COLUMNS or str(col).upper().endswith("DTC"):
            continue
        s = data[col]
        if pd.api.types.is_datetime64_any_dtype(s):
            continue
        present = s[s.notna() & (s.astype(str) != "")]
        if present.nunique() <= 1:  # constant (a population flag all "Y"): nothing to show
            continue
        if variable_type(s) == "categorical" and present.nunique() == len(present) > 20:
            continue  # one value per subject: an identifier
        out.append(col)
    return out


def _continuous(x: pd.Series) -> dict:
    v = pd.to_numeric(x, errors="coerce").to_numpy(dtype=float)
    ok = v[np.isfinite(v)]
    n = len(ok)
    if n == 0:
        stats = dict.fromkeys(CONTINUOUS_STATISTICS[2:], np.nan)
    else:
        q1, med, q3 = np.quantile(ok, [0.25, 0.5, 0.75])  # R quantile type 7
        stats = {"mean": ok.mean(), "sd": ok.std(ddof=1) if n > 1 else np.nan, "median": med,
                 "q1": q1, "q3": q3, "min": ok.min(), "max": ok.max()}
    return {"n": float(n), "n_missing": float(len(v) - n), **stats}


def _missing(s: pd.Series) -> np.ndarray:
    return (s.isna() | (s.astype(str) == "")).to_numpy()


def _category_order(s: pd.Series) -> list:
    if isinstance(s.dtype, pd.CategoricalDtype):
        return list(s.cat.categories)
    present = s[~_missing(s)]
    values = present.unique().tolist()
    try:
        return sorted(values)
    except TypeError:
        return sorted(values, key=str)


def _label(value) -> str:
    """A category as text; whole-number floats (codes read with missing values) without ".0"."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def describe(data: pd.DataFrame, variables=None, by: str | None = "ARM", *, types=None,
             overall: bool = True, max_codes: int = 10) -> pd.DataFrame:
    """Summary statistics per arm (and overall) for a Table 1.

    Parameters
    ----------
    data : DataFrame
        One row per subject (ADSL).
    variables : list of str, optional
        Columns to summarise, in display order. Default: every column except ``by``,
        identifiers (USUBJID, SUBJID, SITEID, ARM codes, ``*DTC``), dates, constant columns and
        text columns with a distinct value per subject.
    by : str or None, default "ARM"
        Grouping column (its categorical order is kept, else sorted); None for one group.
    types : dict, optional
        Column -> "continuous" or "categorical", overriding the typing by content.
    overall : bool, default True
        Add a group "Overall" with every subject.
    max_codes : int, default 10
        See :func:`variable_type`.

    Returns
    -------
    pandas.DataFrame
        Long format, one row per statistic: ``variable, type, category`` (``""`` for
        continuous), ``group``, ``statistic`` (continuous: n, n_missing, mean, sd, median, q1,
        q3, min, max; categorical: n, pct, and n_missing with category ``""``), ``value``.

    Raises
    ------
    ModelError
        Unknown columns or types (the valid ones listed).
    """
    if by is not None and by not in data.columns:
        raise ModelError(f"describe: by={by!r} is not a column; columns: "
                         f"{', '.join(map(str, data.columns))}")
    variables = _default_variables(data, by) if variables is None else list(variables)
    unknown = [v for v in variables if v not in data.columns]
    if unknown:
        raise ModelError(f"describe: columns not in the data: {', '.join(map(str, unknown))}")
    types = dict(types or {})
    bad = {k: v for k, v in types.items() if v not in _TYPES}
    if bad:
        raise ModelError(f"describe: types must be {' or '.join(_TYPES)}; got {bad}")
    groups = []
    if by is not None:
        for g in _category_order(data[by]):
            groups.append((str(g), (data[by] == g).to_numpy()))
    if overall or by is None:
        groups.append(("Overall", np.ones(len(data), dtype=bool)))
    rows = []
    for var in variables:
        s = data[var]
        kind = types.get(var) or variable_type(s, max_codes)
        cats = _category_order(s) if kind == "categorical" else []
        for g, mask in groups:
            sub = s[mask]
            if kind == "continuous":
                for stat, value in _continuous(sub).items():
                    rows.append((var, kind, "", g, stat, value))
                continue
            miss = _missing(sub)
            present = sub[~miss]
            rows.append((var, kind, "", g, "n_missing", float(miss.sum())))
            for c in cats:
                k = float((present == c).sum())
                rows.append((var, kind, _label(c), g, "n", k))
                rows.append((var, kind, _label(c), g, "pct",
                             100.0 * k / len(present) if len(present) else np.nan))
    return pd.DataFrame(rows, columns=["variable", "type", "category", "group", "statistic",
                                       "value"])


def mean_ci(data: pd.DataFrame, value: str, by=("ARM", "AVISIT"), *, level: float = 0.95) -> pd.DataFrame:
    """Observed mean of ``value`` per group with the one-sample t interval (R ``t.test``).

    Parameters
    ----------
    data : DataFrame
    value : str
        Numeric column; missing values are left out.
    by : sequence of str, default ("ARM", "AVISIT")
        Grouping columns; a categorical column keeps its level order (groups without data are
        left out).
    level : float, default 0.95

    Returns
    -------
    pandas.DataFrame
        ``by`` columns, then n, mean, sd (n - 1 denominator), std_error (sd / sqrt(n)), df
        (n - 1), conf_low, conf_high: mean -/+ t(1 - (1 - level) / 2, n - 1) * std_error; NaN
        interval for a group of one.

    Raises
    ------
    ModelError
        ``value`` or a ``by`` column is not in ``data``, or ``level`` is outside (0, 1).
    """
    from scipy import stats

    from .._inference import check_level

    level = check_level(level)
    by = list(by)
    missing = [c for c in [value, *by] if c not in data.columns]
    if missing:
        raise ModelError(f"mean_ci: columns {', '.join(missing)} are not in the data; columns: "
                         f"{', '.join(map(str, data.columns))}")
    d = data[[*by, value]].dropna(subset=[value])
    g = d.groupby(by, observed=True, sort=True)[value]
    out = g.agg(n="count", mean="mean", sd="std").reset_index()
    out["std_error"] = out["sd"] / np.sqrt(out["n"])
    out["df"] = (out["n"] - 1).astype(float)
    with np.errstate(invalid="ignore"):
        q = stats.t.ppf(0.5 + level / 2, out["df"].where(out["df"] > 0))
    out["conf_low"] = out["mean"] - q * out["std_error"]
    out["conf_high"] = out["mean"] + q * out["std_error"]
    return out
