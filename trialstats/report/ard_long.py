"""The report's analysis results data (ARD) as one long table, in the spirit of the CDISC Analysis
Results Standard and the pharmaverse ``cards`` format.

Every cell of every analysis frame of the report (:class:`~.sections._analysis.Analysis`)
becomes one row::

    section, table, row, arm, group, stat_name, stat, text, type

``section`` is the section key (``time_to_event`` for the time-to-event section), ``table`` the
frame's name, ``row`` the row's position in its frame, ``arm`` the arm code of the row (``""``
when the row is not about one arm), ``group`` the row's other text columns
(``"AVISIT=WEEK 24; measure=..."``, for reading), ``stat_name`` the column. A number is in
``stat`` (float64; ``text`` ``""``), a word in ``text`` (``stat`` NaN); ``type`` says which
(``float``, ``int``, ``bool``, ``str``, ``missing``), so :func:`frames_from_ard` gives back the
frames cell for cell and the report renders from ``ard.parquet`` alone. A frame without rows
keeps its columns as rows with ``row`` -1. The report writes the table beside the HTML as
``<stem>_ard/ard.csv`` and ``ard.parquet`` (see :func:`trialstats.report.build.build`).
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

__all__ = ["ARD_COLUMNS", "frames_from_ard", "long_ard", "parquet_bytes"]

ARD_COLUMNS = ("section", "table", "row", "arm", "group", "stat_name", "stat", "text", "type")
#: ``section`` of the ARD by section key: the time-to-event section by its general name
SECTION_NAMES = {"relapse": "time_to_event"}
_ARM_COLUMNS = ("arm", "ARM")


def _is_number(col: pd.Series) -> bool:
    return (pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)
            and not isinstance(col.dtype, pd.CategoricalDtype))


def _cells(col: pd.Series) -> tuple[np.ndarray, list[str], list[str]]:
    """(stat, text, type) of each cell of one column."""
    n = len(col)
    if _is_number(col):
        kind = "int" if pd.api.types.is_integer_dtype(col) and not col.isna().any() else "float"
        return col.to_numpy(dtype=float, na_value=np.nan), [""] * n, [kind] * n
    if pd.api.types.is_bool_dtype(col):
        return col.to_numpy(dtype=float), [""] * n, ["bool"] * n
    stat, text, kind = np.full(n, np.nan), [""] * n, [""] * n
    for i, v in enumerate(col.astype(object).to_numpy()):
        if isinstance(v, bool | np.bool_):
            stat[i], kind[i] = float(v), "bool"
        elif isinstance(v, int | np.integer):
            stat[i], kind[i] = float(v), "int"
        elif isinstance(v, float | np.floating) and not np.isnan(v):
            stat[i], kind[i] = float(v), "float"
        elif v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
            kind[i] = "missing"
        else:
            text[i], kind[i] = str(v), "str"
    return stat, text, kind


def _frames_of(item):
    """(section key, {name: frame}) of an Analysis or a Section."""
    frames = getattr(item, "frames", None)
    if frames is None:
        frames = {t.name: t.data for t in item.tables}
    return item.key, frames


def _long_frame(section: str, name: str, d: pd.DataFrame) -> pd.DataFrame:
    d = d.reset_index(drop=True)
    if d.empty:
        return pd.DataFrame({"section": section, "table": name, "row": np.int64(-1), "arm": "", "group": "",
                             "stat_name": [str(c) for c in d.columns], "stat": np.nan, "text": "",
                             "type": ["float" if _is_number(d[c]) else "str" for c in d.columns]})
    num = [c for c in d.columns if _is_number(d[c])]
    txt = [c for c in d.columns if c not in num]
    arm_col = next((c for c in _ARM_COLUMNS if c in txt), None)
    arm = d[arm_col].astype(str).where(d[arm_col].notna(), "") if arm_col else pd.Series("", index=d.index)
    others = [c for c in txt if c != arm_col]
    if others:
        group = d[others].astype(str).where(d[others].notna(), "")
        group = group.apply(lambda r, cols=others: "; ".join(f"{c}={v}" for c, v in zip(cols, r)), axis=1)
    else:
        group = pd.Series("", index=d.index)
    parts = []
    for k, c in enumerate(d.columns):
        stat, text, kind = _cells(d[c])
        parts.append(pd.DataFrame({
            "section": section, "table": name, "row": np.arange(len(d), dtype=np.int64), "col": k,
            "arm": arm.to_numpy(), "group": group.to_numpy(), "stat_name": str(c),
            "stat": stat, "text": text, "type": kind}))
    out = pd.concat(parts, ignore_index=True).sort_values(["row", "col"], kind="stable")
    return out.drop(columns="col")


def long_ard(items) -> pd.DataFrame:
    """One row per cell of the analysis frames of ``items`` (Analysis or Section objects, in
    reading order).

    Parameters
    ----------
    items : iterable of Analysis or Section
        An Analysis gives its frames; a Section the tidy frames of its tables.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`ARD_COLUMNS`; ``stat`` float64, ``row`` int64, the others text. Sections
        in the given order, frames in the order made, cells row by row.
    """
    parts = []
    for item in items:
        key, frames = _frames_of(item)
        section = SECTION_NAMES.get(key, key)
        for name, d in frames.items():
            if d is not None and len(d.columns):
                parts.append(_long_frame(section, str(name), d))
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=float if c == "stat" else np.int64 if c == "row" else object)
                             for c in ARD_COLUMNS})
    return pd.concat(parts, ignore_index=True)[list(ARD_COLUMNS)]


def _column(cells: pd.DataFrame) -> pd.Series:
    kinds = set(cells["type"])
    if kinds <= {"int"}:
        return pd.Series(cells["stat"].to_numpy().astype(np.int64))
    if kinds <= {"float"} or kinds == {"int", "float"}:
        return pd.Series(cells["stat"].to_numpy(dtype=float))
    if kinds <= {"bool"}:
        return pd.Series(cells["stat"].to_numpy() != 0.0)
    values = [None if k == "missing" else t if k == "str" else bool(s) if k == "bool"
              else int(s) if k == "int" else float(s)
              for s, t, k in zip(cells["stat"], cells["text"], cells["type"])]
    return pd.Series(values, dtype=object)


def frames_from_ard(ard: pd.DataFrame, key: str) -> dict[str, pd.DataFrame]:
    """The analysis frames of section ``key`` from a long ARD (as written to ``ard.parquet``).

    Parameters
    ----------
    ard : DataFrame
        The long ARD (:func:`long_ard`).
    key : str
        Section key (``relapse`` reads the ``time_to_event`` rows).

    Returns
    -------
    dict of str -> DataFrame
        Frame name -> frame, in the order of the ARD: numeric columns float64 (int64 when
        every value was an integer column's), text columns object (None where missing).
    """
    rows = ard[ard["section"] == SECTION_NAMES.get(key, key)]
    out: dict[str, pd.DataFrame] = {}
    for name in pd.unique(rows["table"]):
        t = rows[rows["table"] == name]
        names = list(pd.unique(t["stat_name"]))
        if (t["row"] < 0).all():  # a frame without rows: its columns only
            out[str(name)] = pd.DataFrame({c: pd.Series(dtype=float if k == "float" else object)
                                           for c, k in zip(t["stat_name"], t["type"])})
            continue
        n = int(t["row"].max()) + 1
        cols = {}
        for c in names:
            cells = t[t["stat_name"] == c].sort_values("row", kind="stable")
            cols[c] = _column(cells).set_axis(range(n))
        out[str(name)] = pd.DataFrame(cols, index=range(n))
    return out


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    """The frame as Parquet bytes (pyarrow; no index; the same frame gives the same bytes)."""
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False, engine="pyarrow", compression="zstd")
    return buf.getvalue()
