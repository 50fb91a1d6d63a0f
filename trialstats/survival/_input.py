"""Shared front end of the survival functions: ADTTE columns → validated NumPy arrays.

Every survival function accepts the same arguments to describe its outcome: ``time=`` (days,
as ADTTE's AVAL), exactly one of ``event=`` (1 = event) or ``censor=`` (1 = censored, ADaM's
CNSR), an optional ``paramcd=`` filter, a ``by=`` grouping column and ``time_unit=``. This
module resolves them once, with errors that name the column, the offending rows and what is
valid, and hands the engines plain arrays.

Times are converted from days to the reporting unit as ``weeks = days / 7`` and
``months = days / 30.4375`` (the mean Gregorian month, 365.25 / 12).

Times equal up to rounding are tied, as in R (``survival:::aeqSurv``, applied by ``survfit``,
``survdiff`` and ``coxph``): two neighbouring distinct times :math:`y_j < y_{j+1}` are the same
time when :math:`y_{j+1} - y_j \\le \\epsilon` or :math:`(y_{j+1} - y_j) / \\overline{|y|} \\le
\\epsilon`, with :math:`\\epsilon = \\sqrt{\\text{machine epsilon}} \\approx 1.5 \\times 10^{-8}`
(``TIE_TOLERANCE``) and :math:`\\overline{|y|}` the mean of the distinct times; each time is
replaced by the smallest of its group (so 2 and ``sqrt(2)**2`` are one time). See
:func:`tie_times`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import ModelError

TIME_UNITS = {"days": 1.0, "weeks": 7.0, "months": 30.4375}
MAX_ROWS_SHOWN = 10
# R aeqSurv's default tolerance, sqrt(.Machine$double.eps)
TIE_TOLERANCE = float(np.sqrt(np.finfo(float).eps))


def check_choice(name: str, value, valid) -> str:
    """Return ``value`` if it is one of ``valid``, else raise a ModelError listing the choices."""
    if value not in valid:
        raise ModelError(f"{name}={value!r} is not valid; choose one of: {', '.join(map(str, valid))}")
    return value


def describe_rows(data: pd.DataFrame, mask: np.ndarray, values=None) -> str:
    """Describe up to 10 offending rows as ``row <label> (<USUBJID>): <value>``."""
    idx = np.flatnonzero(mask)
    parts = []
    for i in idx[:MAX_ROWS_SHOWN]:
        label = f"row {data.index[i]}"
        if "USUBJID" in data.columns:
            label += f" ({data['USUBJID'].iloc[i]})"
        if values is not None:
            value = values[i]
            label += f": {value.item() if hasattr(value, 'item') else value!r}"
        parts.append(label)
    more = f" and {len(idx) - MAX_ROWS_SHOWN} more" if len(idx) > MAX_ROWS_SHOWN else ""
    return ", ".join(parts) + more


def require_columns(data: pd.DataFrame, columns, what: str = "data") -> None:
    """Raise a ModelError naming every missing column and the columns that exist."""
    if not isinstance(data, pd.DataFrame):
        raise ModelError(f"{what} must be a pandas DataFrame; got {type(data).__name__}")
    missing = [c for c in columns if c is not None and c not in data.columns]
    if missing:
        raise ModelError(
            f"column(s) {', '.join(missing)} not found in {what}; "
            f"available: {', '.join(map(str, data.columns))}"
        )


def filter_paramcd(data: pd.DataFrame, paramcd: str | None) -> pd.DataFrame:
    """Keep the rows of one ADTTE parameter; refuse an ambiguous multi-parameter table."""
    if paramcd is None:
        if "PARAMCD" in data.columns:
            values = pd.unique(data["PARAMCD"].dropna())
            if len(values) > 1:
                raise ModelError(
                    "data has several PARAMCD values ("
                    + ", ".join(map(str, values))
                    + "); pass paramcd= to choose one"
                )
        return data
    if "PARAMCD" not in data.columns:
        raise ModelError(f"paramcd={paramcd!r} given but data has no PARAMCD column")
    out = data[data["PARAMCD"] == paramcd]
    if len(out) == 0:
        values = ", ".join(map(str, pd.unique(data["PARAMCD"].dropna())))
        raise ModelError(f"no rows with PARAMCD == {paramcd!r}; PARAMCD values: {values}")
    return out


def numeric_times(data: pd.DataFrame, column: str, *, allow_missing: bool = False) -> np.ndarray:
    """A time column as float days: numeric, finite, non-negative (NaN allowed only if asked)."""
    raw = data[column]
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
    bad_text = np.isnan(values) & raw.notna().to_numpy()
    if bad_text.any():
        raise ModelError(
            f"column {column}: non-numeric times in {describe_rows(data, bad_text, raw.to_numpy())}"
        )
    if not allow_missing and np.isnan(values).any():
        raise ModelError(
            f"column {column}: missing times in {describe_rows(data, np.isnan(values))}; "
            "drop or impute these rows before the analysis"
        )
    if np.isinf(values).any():
        raise ModelError(
            f"column {column}: infinite times in {describe_rows(data, np.isinf(values), values)}; "
            "times must be finite days"
        )
    with np.errstate(invalid="ignore"):
        neg = values < 0
    if neg.any():
        raise ModelError(
            f"column {column}: negative times in {describe_rows(data, neg, values)}; "
            "times must be >= 0 days"
        )
    return values


def tie_times(*times: np.ndarray) -> tuple[np.ndarray, ...]:
    """Make times equal up to rounding exactly equal, as R ``survival:::aeqSurv``.

    Parameters
    ----------
    *times : ndarray
        One array (right-censored times) or two (start, stop); the distinct finite values of all
        of them together define the groups of tied times.

    Returns
    -------
    tuple of ndarray
        The arrays with each value replaced by the smallest value of its tie group (the
        criterion is in the module docstring). Unchanged (the same objects) when nothing is tied.
    """
    arrays = [np.asarray(t, dtype=float) for t in times]
    y = np.unique(np.concatenate(arrays))
    y = y[np.isfinite(y)]
    if len(y) < 2:
        return tuple(arrays)
    dy = np.diff(y)
    tied = (dy <= TIE_TOLERANCE) | (dy / np.mean(np.abs(y)) <= TIE_TOLERANCE)
    if not tied.any():
        return tuple(arrays)
    cuts = y[np.concatenate([[True], ~tied])]
    out = []
    for a in arrays:
        finite = np.isfinite(a)
        b = a.copy()
        b[finite] = cuts[np.searchsorted(cuts, a[finite], side="right") - 1]
        out.append(b)
    return tuple(out)


def counting_times(data: pd.DataFrame, stop: str, start: str | None):
    """Stop times and (counting process) start times < stop, tied as R ``aeqSurv``."""
    t = numeric_times(data, stop)
    if start is None:
        return tie_times(t)[0], None
    t0 = numeric_times(data, start)
    bad = t0 >= t
    if bad.any():
        raise ModelError(f"columns {start}/{stop}: start must be < stop (interval (start, stop]) "
                         f"in {describe_rows(data, bad, t0)}")
    return tie_times(t, t0)


def case_weights(data: pd.DataFrame, column: str) -> np.ndarray:
    """Case weights from a column: numeric, finite and >= 0 (as R ``survfit`` / ``coxph``)."""
    require_columns(data, [column])
    raw = data[column]
    w = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        raise ModelError(f"column {column} (weights=): weights must be finite numbers >= 0; "
                         f"found {describe_rows(data, bad, raw.to_numpy())}")
    return w


def event_indicator(data: pd.DataFrame, event: str | None, censor: str | None) -> np.ndarray:
    """1 = event, 0 = censored, from exactly one of ``event=`` or ``censor=`` (ADaM CNSR)."""
    if (event is None) == (censor is None):
        raise ModelError(
            "give exactly one of event= (1 = event, 0 = censored) or censor= "
            "(ADaM CNSR: 1 = censored, 0 = event); got "
            + ("both" if event is not None else "neither")
        )
    column = event if event is not None else censor
    require_columns(data, [column])
    raw = data[column]
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
    bad = ~np.isin(values, (0.0, 1.0))
    if bad.any():
        meaning = "1 = event, 0 = censored" if event is not None else "1 = censored, 0 = event"
        raise ModelError(
            f"column {column}: values must be 0 or 1 ({meaning}); found "
            f"{describe_rows(data, bad, raw.to_numpy())}"
        )
    values = values.astype(np.int8)
    return values if event is not None else (1 - values).astype(np.int8)


#: most groups of a ``by=`` or ``strata=`` column (a level per subject would not end)
MAX_GROUPS = 200


def group_levels(series: pd.Series) -> list:
    """Level order of a grouping column: categorical order, else R's sorted order."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        present = set(series.dropna().unique())
        return [c for c in series.cat.categories if c in present]
    values = pd.unique(series.dropna())
    try:
        return sorted(values)
    except TypeError:
        return sorted(values, key=str)


def group_codes(data: pd.DataFrame, by: str, what: str = "by") -> tuple[np.ndarray, tuple]:
    """Integer codes 0..k-1 of a grouping column and its levels (first = reference)."""
    require_columns(data, [by])
    series = data[by]
    missing = series.isna().to_numpy()
    if missing.any():
        raise ModelError(
            f"column {by} ({what}=): missing values in {describe_rows(data, missing)}; "
            "every row needs a group"
        )
    n = series.nunique(dropna=True)
    if n > MAX_GROUPS:
        raise ModelError(
            f"column {by} ({what}=) has {n} distinct values; at most {MAX_GROUPS} groups are "
            "allowed (is it an identifier or a continuous variable? use a coarser grouping)")
    levels = group_levels(series)
    codes = pd.Categorical(series, categories=levels).codes.astype(np.int64)
    return codes, tuple(levels)


@dataclass(frozen=True)
class SurvivalInput:
    """Validated outcome arrays.

    Attributes
    ----------
    time : ndarray of float
        Times in ``time_unit``.
    event : ndarray of int8
        1 = event, 0 = censored.
    group : ndarray of int64
        Group codes (all zero when there is no ``by``).
    levels : tuple
        Group labels in order, reference first (``("all",)`` without ``by``).
    by : str or None
        Name of the grouping column.
    time_unit : str
        ``"days"``, ``"weeks"`` or ``"months"``.
    frame : DataFrame
        The rows analysed (after the PARAMCD filter).
    """

    time: np.ndarray
    event: np.ndarray
    group: np.ndarray
    levels: tuple
    by: str | None
    time_unit: str
    frame: pd.DataFrame

    @property
    def group_name(self) -> str:
        """Column name used for the group in result tables (``by`` or ``"group"``)."""
        return self.by if self.by is not None else "group"


def prepare(
    data: pd.DataFrame,
    *,
    time: str,
    event: str | None,
    censor: str | None,
    by: str | None,
    paramcd: str | None = None,
    time_unit: str = "days",
    min_groups: int = 1,
) -> SurvivalInput:
    """Validate ADTTE-style input and return :class:`SurvivalInput`.

    Raises
    ------
    ModelError
        Missing columns; negative, missing or infinite times (with rows); an event/censor column
        not 0/1; both or neither of ``event=``/``censor=``; fewer than ``min_groups`` groups.
    """
    require_columns(data, [time, by])
    check_choice("time_unit", time_unit, tuple(TIME_UNITS))
    data = filter_paramcd(data, paramcd)
    if len(data) == 0:
        raise ModelError("data has no rows")
    ev = event_indicator(data, event, censor)
    (t,) = tie_times(numeric_times(data, time) / TIME_UNITS[time_unit])
    if by is None:
        codes, levels = np.zeros(len(data), dtype=np.int64), ("all",)
    else:
        codes, levels = group_codes(data, by)
    if len(levels) < min_groups:
        raise ModelError(
            f"a comparison needs at least {min_groups} groups in column {by}; "
            f"found {len(levels)}: {', '.join(map(str, levels))}"
        )
    return SurvivalInput(t, ev, codes, levels, by, time_unit, data)


def checked_rhs(formula, frame: pd.DataFrame, where: str) -> str:
    """The covariate side of a survival model's formula, checked (formulas are data, never code).

    The formula goes through :func:`trialstats.formula.parse_formula`; every column it names must
    be in ``frame``, and factors are held to :data:`trialstats.formula.MAX_FACTOR_LEVELS` levels.
    Only the returned text (rebuilt from the checked parts) may reach formulaic.
    """
    from ..formula import check_factor_levels, parse_formula

    safe = parse_formula(formula, where=where)
    rhs = safe.rhs
    unknown = [c for c in safe.columns if c not in frame.columns]
    if unknown:
        raise ModelError(f"cannot build the design matrix for {rhs!r}: column(s) "
                         f"{', '.join(map(repr, unknown))} not in the data; available "
                         f"columns: {', '.join(map(str, frame.columns))}")
    check_factor_levels(frame, safe.columns, where, rhs)
    return rhs
