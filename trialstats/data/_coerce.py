"""Coercion of raw table columns (text from CSV, or typed from Parquet/memory) for validation.

Character columns become object arrays of ``str`` (missing -> ``""``); numeric columns become
``int64`` or ``float64`` arrays plus a missing mask and the positions of values that are neither
numbers nor a missing-value token (:data:`~trialstats.data.schema.MISSING_TOKENS`), so that the
validation engine (:mod:`trialstats.data.validation`) can report them all at once.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from .schema import MISSING_TOKENS

_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_INTEGER = re.compile(r"^[+-]?\d+$")


def _is_missing_scalar(v) -> bool:
    """True for None, pd.NA, pd.NaT and float NaN."""
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    return isinstance(v, float | np.floating) and np.isnan(v)


def _coerce_str(s: pd.Series) -> np.ndarray:
    """Character values; missing -> ''. Whole-number floats print without '.0'."""
    if s.dtype == object and pd.api.types.infer_dtype(s, skipna=False) == "string":
        return s.to_numpy(dtype=object)  # all str already (the CSV readers): no loop, no copy
    out = np.empty(len(s), dtype=object)
    for i, v in enumerate(s.astype(object).tolist()):
        if _is_missing_scalar(v):
            out[i] = ""
        elif isinstance(v, bytes):
            out[i] = v.decode("utf-8", errors="replace")
        elif isinstance(v, float | np.floating) and float(v).is_integer():
            out[i] = str(int(v))
        else:
            out[i] = str(v)
    return out


def _coerce_number(s: pd.Series):
    """Numeric values from a column that may hold text.

    Returns
    -------
    values : ndarray (int64 or float64)
    missing : ndarray of bool
    junk : list of (position, raw value)
        Values that are neither numbers nor a missing-value token (NaN in ``values``, not
        ``missing``), so the other checks still run on the remaining rows.
    """
    if pd.api.types.is_bool_dtype(s.dtype):
        vals = s.astype(object).tolist()
        return np.full(len(s), np.nan), np.zeros(len(s), dtype=bool), list(enumerate(vals))
    if pd.api.types.is_numeric_dtype(s.dtype):
        arr = s.to_numpy(dtype=float, na_value=np.nan)
        missing = np.isnan(arr)
        if pd.api.types.is_integer_dtype(s.dtype) and not missing.any():
            return s.to_numpy(dtype=np.int64), missing, []
        return arr, missing, []
    values = np.full(len(s), np.nan)
    missing = np.zeros(len(s), dtype=bool)
    all_int = True
    junk = []
    for i, v in enumerate(s.astype(object).tolist()):
        if _is_missing_scalar(v):
            missing[i] = True
            continue
        if isinstance(v, bool | np.bool_):
            junk.append((i, v))
            continue
        if isinstance(v, int | np.integer):
            values[i] = float(v)
            continue
        if isinstance(v, float | np.floating):
            values[i] = float(v)
            all_int = False
            continue
        text = v.decode("utf-8", errors="replace") if isinstance(v, bytes) else str(v)
        t = text.strip()
        if t in MISSING_TOKENS:
            missing[i] = True
        elif _NUMBER.match(t):
            values[i] = float(t)
            if not _INTEGER.match(t):
                all_int = False
        else:
            junk.append((i, text))
    if junk:
        return values, missing, junk
    if all_int and not missing.any() and np.all(np.abs(values) < 2**62):
        return values.astype(np.int64), missing, []
    return values, missing, []
