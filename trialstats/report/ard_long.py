"""The report's analysis results data (ARD) as one long table, in the spirit of the CDISC Analysis
Results Standard and the pharmaverse ``cards`` format.

Every number of every table of the report becomes one row::

    section, table, row, arm, group, stat_name, stat

``section`` is the section key (``time_to_event`` for the time-to-event section), ``row`` is the row's position in its table, ``arm`` the arm code of the row (``""`` when the row
is not about one arm), ``group`` the row's other text columns (``"AVISIT=WEEK 24; measure=..."``),
``stat_name`` the numeric column (``estimate``, ``p_value``, ``n``) and ``stat`` its value. The
report writes it beside the HTML as ``<stem>_ard/ard.csv`` and ``ard.parquet`` (see
:func:`trialstats.report.build.build`); the per-table CSVs stay for readers who want one table.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

__all__ = ["ARD_COLUMNS", "long_ard", "parquet_bytes"]

ARD_COLUMNS = ("section", "table", "row", "arm", "group", "stat_name", "stat")
#: ``section`` of the ARD by section key: the time-to-event section by its general name
SECTION_NAMES = {"relapse": "time_to_event"}
_ARM_COLUMNS = ("arm", "ARM")


def _is_number(col: pd.Series) -> bool:
    return (pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)
            and not isinstance(col.dtype, pd.CategoricalDtype))


def long_ard(sections) -> pd.DataFrame:
    """One row per number of the tables of ``sections`` (Section objects in reading order).

    Parameters
    ----------
    sections : iterable of Section

    Returns
    -------
    pandas.DataFrame
        Columns :data:`ARD_COLUMNS`; ``stat`` float64, the others text (``row`` int64).
    """
    parts = []
    for sec in sections:
        for t in sec.tables:
            d = t.data.reset_index(drop=True)
            if d.empty:
                continue
            num = [c for c in d.columns if _is_number(d[c])]
            if not num:
                continue
            txt = [c for c in d.columns if c not in num]
            arm_col = next((c for c in _ARM_COLUMNS if c in txt), None)
            arm = d[arm_col].astype(str).where(d[arm_col].notna(), "") if arm_col else pd.Series("", index=d.index)
            others = [c for c in txt if c != arm_col]
            if others:
                group = d[others].astype(str).where(d[others].notna(), "")
                group = group.apply(lambda r, cols=others: "; ".join(f"{c}={v}" for c, v in zip(cols, r)), axis=1)
            else:
                group = pd.Series("", index=d.index)
            for c in num:
                parts.append(pd.DataFrame({
                    "section": SECTION_NAMES.get(sec.key, sec.key), "table": t.name, "row": np.arange(len(d), dtype=np.int64),
                    "arm": arm.to_numpy(), "group": group.to_numpy(), "stat_name": str(c),
                    "stat": d[c].to_numpy(dtype=float, na_value=np.nan)}))
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=float if c == "stat" else object) for c in ARD_COLUMNS})
    out = pd.concat(parts, ignore_index=True)
    return out.sort_values(["section", "table", "row"], kind="stable", ignore_index=True)[list(ARD_COLUMNS)]


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    """The frame as Parquet bytes (pyarrow; no index; the same frame gives the same bytes)."""
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False, engine="pyarrow", compression="zstd")
    return buf.getvalue()
