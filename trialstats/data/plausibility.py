"""Plausibility of numeric values: finite, within the possible range, within the plausible range.

Declarative, like the rest of validation: the ranges live on each
:class:`~trialstats.data.schema.ColumnSpec` (``limits``, ``plausible``, ``count_limit``); this
module only applies them. A value that cannot be true (``inf``, ``AGE = 1e308``, ``AVAL =
1e300``, a hair count of a million) is an error; a value outside the plausible range is a
warning naming the rows (the rows stay). The values would otherwise reach the models and make
them overflow or spin (issue 11).
"""

from __future__ import annotations

import numpy as np

from .schema import COUNT_PARAMCDS, ColumnSpec

__all__ = ["check_plausible"]


def _range(lo: float, hi: float) -> str:
    return f"[{lo:g}, {hi:g}]"


def check_plausible(col: ColumnSpec, values, paramcd, add, where, show) -> bool:
    """Apply the ranges of ``col`` to its coerced ``values``.

    Parameters
    ----------
    col : ColumnSpec
    values : ndarray
        Coerced numeric values (NaN = missing).
    paramcd : ndarray of str or None
        PARAMCD of each row (for ``count_limit``).
    add : callable(column, message, positions, severity)
        Records a problem.
    where, show : callable
        Format row positions ("rows 3 (EXO-0003), ...") and values for messages.

    Returns
    -------
    bool
        False when an error was recorded.
    """
    x = np.asarray(values, dtype=float)
    what = f" ({col.description})" if col.description else ""
    ok = True
    bad = np.flatnonzero(np.isinf(x))
    if len(bad):
        add(col.name, f"infinite values {show(x[bad])} in {where(bad)}; expected finite numbers{what}",
            bad, "error")
        ok = False
    finite = np.isfinite(x)
    if col.limits is not None:
        lo, hi = col.limits
        outside = finite & ((x < lo) | (x > hi))
        bad = np.flatnonzero(outside)
        finite = finite & ~outside  # reported once
        if len(bad):
            add(col.name, f"impossible values {show(x[bad])} in {where(bad)}; possible values are "
                f"in {_range(lo, hi)}{what}", bad, "error")
            ok = False
    if col.count_limit is not None and paramcd is not None:
        counts = np.isin(paramcd, list(COUNT_PARAMCDS))
        bad = np.flatnonzero(finite & counts & (x >= col.count_limit))
        if len(bad):
            params = ", ".join(sorted(set(paramcd[bad])))
            add(col.name, f"impossible hair counts {show(x[bad])} for PARAMCD {params} in "
                f"{where(bad)}; counts must be below {col.count_limit:g}", bad, "error")
            ok = False
    if ok and col.plausible is not None:
        lo, hi = col.plausible
        bad = np.flatnonzero(finite & ((x < lo) | (x > hi)))
        if len(bad):
            add(col.name, f"implausible values {show(x[bad])} in {where(bad)}; plausible values are "
                f"in {_range(lo, hi)}{what}; the rows are kept, check them", bad, "warning")
    return ok
