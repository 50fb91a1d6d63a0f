"""Display strings for report tables: tidy numeric frames → strings.

The second of the report's three steps (results → tidy numeric frames → display strings → HTML).
Every ``fmt_*`` function is pure (same input, same string; no locale, no clock) and handles missing
values (``None``/NaN) by returning :data:`MISSING`. Numbers are rounded half-to-even on their
decimal representation (Python's ``format``), negative zero is printed as zero, and the minus sign
is ASCII ``-`` so the CSV and HTML agree.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import pandas as pd

__all__ = [
    "MISSING",
    "NOT_ESTIMABLE",
    "display_frame",
    "fmt_estimate_ci",
    "fmt_int",
    "fmt_mean_sd",
    "fmt_median_iqr",
    "fmt_n_pct",
    "fmt_number",
    "fmt_pvalue",
]

#: Shown for a missing value.
MISSING = "-"
#: Shown for an estimate that could not be computed (e.g. a median not reached).
NOT_ESTIMABLE = "NE"


def _is_missing(x) -> bool:
    if x is None:
        return True
    try:
        return bool(pd.isna(x))
    except (TypeError, ValueError):
        return False


def fmt_number(x, digits: int = 1) -> str:
    """A number with ``digits`` decimals: ``fmt_number(3.14159, 2) == "3.14"``.

    Missing → ``"-"``; ±inf → ``"Inf"``/``"-Inf"``; ``-0.0`` (and values that round to it) → ``"0.0"``.
    """
    if _is_missing(x):
        return MISSING
    x = float(x)
    if math.isinf(x):
        return "Inf" if x > 0 else "-Inf"
    s = f"{x:.{digits}f}"
    if s.startswith("-") and float(s) == 0.0:
        s = s[1:]
    return s


def fmt_int(x) -> str:
    """A count: ``fmt_int(12.0) == "12"``; missing → ``"-"``."""
    if _is_missing(x):
        return MISSING
    return str(int(round(float(x))))


def fmt_estimate_ci(estimate, conf_low, conf_high, digits: int = 2) -> str:
    """``"1.23 (0.45, 2.01)"``. A missing estimate → ``"NE"``; a missing bound → ``"NE"`` in its place."""
    if _is_missing(estimate):
        return NOT_ESTIMABLE
    lo = NOT_ESTIMABLE if _is_missing(conf_low) else fmt_number(conf_low, digits)
    hi = NOT_ESTIMABLE if _is_missing(conf_high) else fmt_number(conf_high, digits)
    return f"{fmt_number(estimate, digits)} ({lo}, {hi})"


def fmt_pvalue(p, digits: int = 3) -> str:
    """A p-value: ``"<0.001"``, ``"0.012"``, ``">0.999"``.

    Values below ``10**-digits`` print as ``"<0.001"`` and above ``1 - 10**-digits`` as
    ``">0.999"``. A p-value just below 0.05 that would round up to ``"0.050"`` is printed with one
    more decimal, truncated (``0.04996`` → ``"0.0499"``), so the display never contradicts a test at
    the 5 % level.
    Missing → ``"-"``. Values outside [0, 1] raise ``ValueError``.
    """
    if _is_missing(p):
        return MISSING
    p = float(p)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"a p-value must lie in [0, 1]; got {p!r}")
    floor = 10.0 ** (-digits)
    if p < floor:
        return f"<{floor:.{digits}f}"
    if p > 1.0 - floor:
        return f">{1.0 - floor:.{digits}f}"
    s = f"{p:.{digits}f}"
    if p < 0.05 <= float(s):
        scale = 10 ** (digits + 1)
        s = f"{math.floor(p * scale) / scale:.{digits + 1}f}"
    return s


def fmt_n_pct(n, total, digits: int = 1) -> str:
    """``"12 (40.0%)"``; a zero or missing denominator gives the count alone."""
    if _is_missing(n):
        return MISSING
    n = int(n)
    if _is_missing(total) or int(total) == 0:
        return str(n)
    return f"{n} ({fmt_number(100.0 * n / int(total), digits)}%)"


def fmt_mean_sd(mean, sd, digits: int = 1) -> str:
    """``"12.3 (4.5)"``; a missing SD (one observation) → ``"12.3 (-)"``."""
    if _is_missing(mean):
        return MISSING
    return f"{fmt_number(mean, digits)} ({fmt_number(sd, digits)})"


def fmt_median_iqr(median, q1, q3, digits: int = 1) -> str:
    """``"12.0 [10.0, 14.0]"`` (median [Q1, Q3])."""
    if _is_missing(median):
        return MISSING
    return f"{fmt_number(median, digits)} [{fmt_number(q1, digits)}, {fmt_number(q3, digits)}]"


def display_frame(
    data: pd.DataFrame,
    columns: Mapping[str, Callable[[pd.Series], str] | str],
) -> pd.DataFrame:
    """Build a display frame (all strings) from a tidy frame, one output column per entry.

    Parameters
    ----------
    data : DataFrame
        Tidy numeric frame.
    columns : mapping of header -> source
        A source is a column name of ``data`` (its values are turned into strings as they are;
        floats through :func:`fmt_number` with 2 decimals) or a function of one row returning a
        string.

    Returns
    -------
    DataFrame of str, in ``data``'s row order, with the headers as columns.
    """
    out = {}
    for header, src in columns.items():
        if callable(src):
            out[header] = [src(row) for _, row in data.iterrows()]
        else:
            out[header] = [_plain(v) for v in data[src]]
    return pd.DataFrame(out, index=range(len(data)), dtype=object)


def _plain(v) -> str:
    if _is_missing(v):
        return MISSING
    if isinstance(v, float):
        return fmt_number(v, 2)
    return str(v)
