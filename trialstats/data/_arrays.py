"""Column-array helpers of the validation engine, written for million-row tables.

Each avoids a per-row Python loop or a hash table sized for every row: :func:`factorize`
starts with a small hash table, :func:`key_codes` combines factorised columns into one integer
per row, :func:`duplicated_codes` finds repeated codes by sorting, and
:func:`frame_from_columns` builds a DataFrame without copying its columns into 2-D blocks.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["duplicated_codes", "factorize", "frame_from_columns", "key_codes"]


def frame_from_columns(columns: dict, index=None, copy: bool = False) -> pd.DataFrame:
    """A DataFrame holding ``columns`` (name -> array).

    Without ``copy`` the arrays are kept as they are, one block per column (pandas >= 2
    consolidates, that is copies every column of one dtype into a 2-D block, only when asked
    to copy), so a large table is not held twice.
    """
    first = next(iter(columns.values()), ())
    if index is None:
        index = pd.RangeIndex(len(first))
    return pd.DataFrame(columns, index=index, copy=copy)


def factorize(values, use_na_sentinel: bool = True):
    """:func:`pandas.factorize` with a small initial hash table (the default is sized for every
    row; a million-row column has a few thousand distinct values)."""
    values = np.asarray(values)
    return pd.factorize(values, use_na_sentinel=use_na_sentinel, size_hint=min(len(values), 1 << 12))


def duplicated_codes(codes: np.ndarray) -> np.ndarray:
    """True for every row whose code occurs more than once (by sorting: no hash table)."""
    order = np.argsort(codes, kind="stable")
    ordered = codes[order]
    same = ordered[1:] == ordered[:-1]
    mark = np.zeros(len(codes), dtype=bool)
    mark[1:] |= same
    mark[:-1] |= same
    out = np.zeros(len(codes), dtype=bool)
    out[order] = mark
    return out


def key_codes(columns: list) -> np.ndarray:
    """One int64 code per row for the combination of ``columns`` (equal rows, equal codes).

    Factorising each column and combining the integer codes needs far less memory than hashing
    rows of Python objects (DataFrame.duplicated on a million rows).
    """
    codes = np.zeros(len(columns[0]), dtype=np.int64)
    for col in columns:
        c, uniques = factorize(col, use_na_sentinel=False)
        n = len(uniques) + 1
        if codes.max(initial=0) >= (2**62) // n:
            codes = factorize(codes)[0].astype(np.int64)
        codes = codes * n + c
    return codes
