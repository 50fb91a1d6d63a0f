"""The comparisons frame: one tidy row per comparison of two arms, whatever the model.

Every result that compares arms (MMRM LS-mean differences, slope differences, rate ratios,
hazard ratios, RMST differences and ratios, log-rank tests, risk differences) returns this frame
from its ``comparisons()`` method, so a report or a script never parses a label such as
``"EXOSOME - PLACEBO"`` or ``"EXOSOME vs PLACEBO"`` to find which arm a number belongs to: the arm
and its comparator are the columns ``arm`` and ``reference``.

Columns (:data:`COLUMNS`, in this order)
---------------------------------------
analysis : str
    Analysis id (e.g. ``"primary"``); ``""`` when the caller gave none.
endpoint, param : str
    Endpoint code (ADaM ``PARAMCD``) and its label (``PARAM``); ``""`` when unknown.
visit : str
    Visit or time point (``"WEEK 24"``, ``"tau = 365 days"``); ``""`` when there is none.
arm, reference : str
    The comparison is ``arm`` against ``reference`` (a difference ``arm - reference``, a ratio
    ``arm / reference``).
measure : str
    What ``estimate`` is: ``"difference in LS means"``, ``"hazard ratio"``, ...
scale : {"difference", "ratio"}
    A ratio's ``estimate``, ``null``, ``conf_low`` and ``conf_high`` are on the ratio scale;
    its ``std_error`` and ``statistic`` are on the log scale (the Wald test is of the log ratio).
null : float
    Value of ``estimate`` under the null hypothesis (0 for a difference, 1 for a ratio, or a
    non-inferiority margin).
estimate, std_error, df, statistic, p_value, conf_low, conf_high : float
    broom vocabulary; ``df`` is ``inf`` for a z test. A test without an estimate (log-rank) has
    ``estimate`` NaN.
level : float
    Confidence level of ``conf_low`` / ``conf_high``.
method : str
    How the numbers were computed, in words.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import ModelError

__all__ = ["COLUMNS", "NUMERIC_COLUMNS", "SCALES", "TEXT_COLUMNS", "comparisons_frame"]

#: Columns of a comparisons frame, in order.
COLUMNS = (
    "analysis", "endpoint", "param", "visit", "arm", "reference", "measure", "scale", "null",
    "estimate", "std_error", "df", "statistic", "p_value", "conf_low", "conf_high", "level",
    "method",
)
TEXT_COLUMNS = ("analysis", "endpoint", "param", "visit", "arm", "reference", "measure", "scale",
                "method")
NUMERIC_COLUMNS = ("null", "estimate", "std_error", "df", "statistic", "p_value", "conf_low",
                   "conf_high", "level")
SCALES = ("difference", "ratio")
_MAX_SHOWN = 10


def _rows_text(positions) -> str:
    shown = ", ".join(str(int(i)) for i in list(positions)[:_MAX_SHOWN])
    more = len(positions) - _MAX_SHOWN
    return shown + (f" and {more} more" if more > 0 else "")


def _coerce(frame: pd.DataFrame, problems: list) -> pd.DataFrame:
    out = pd.DataFrame(index=range(len(frame)))
    for col in TEXT_COLUMNS:
        values = frame[col].to_numpy(dtype=object)
        bad = [i for i, v in enumerate(values) if v is not None and not isinstance(v, str)
               and not (isinstance(v, float) and np.isnan(v))]
        if bad:
            problems.append(f"column {col}: text expected; rows {_rows_text(bad)} hold "
                            f"{values[bad[0]]!r}")
        out[col] = ["" if v is None or (isinstance(v, float) and np.isnan(v)) else v
                    for v in values]
    for col in NUMERIC_COLUMNS:
        try:
            out[col] = pd.to_numeric(frame[col].reset_index(drop=True), errors="raise")
            out[col] = out[col].astype(float)
        except (TypeError, ValueError):
            problems.append(f"column {col}: numbers expected")
            out[col] = np.nan
    return out


def _check_values(out: pd.DataFrame, problems: list) -> None:
    def flag(mask, message):
        pos = np.flatnonzero(np.asarray(mask, dtype=bool))
        if len(pos):
            problems.append(f"{message}: rows {_rows_text(pos)}")

    flag(~out["scale"].isin(SCALES), f"column scale: valid values are {', '.join(SCALES)}")
    flag(out["arm"] == "", "column arm: blank")
    flag(out["reference"] == "", "column reference: blank")
    flag((out["arm"] == out["reference"]) & (out["arm"] != ""),
         "columns arm, reference: an arm compared with itself")
    flag(out["measure"] == "", "column measure: blank")
    flag(~((out["level"] > 0) & (out["level"] < 1)), "column level: must be strictly between 0 and 1")
    flag(out["null"].isna(), "column null: missing (0 for a difference, 1 for a ratio)")
    ratio = out["scale"] == "ratio"
    for col in ("estimate", "conf_low", "conf_high", "null"):
        flag(ratio & (out[col] <= 0), f"column {col}: a ratio must be > 0")
    flag(out["std_error"] < 0, "column std_error: negative")
    flag(out["df"] <= 0, "column df: must be > 0 (inf for a z test)")
    flag((out["p_value"] < 0) | (out["p_value"] > 1), "column p_value: outside [0, 1]")
    flag(out["conf_low"] > out["conf_high"], "columns conf_low, conf_high: conf_low > conf_high")


def comparisons_frame(data) -> pd.DataFrame:
    """Validate and normalise a comparisons frame (see the module docstring for the columns).

    Parameters
    ----------
    data : DataFrame or iterable of dict
        Rows with exactly the columns of :data:`COLUMNS` (any order).

    Returns
    -------
    pandas.DataFrame
        The rows with the columns in :data:`COLUMNS` order, text columns as ``str`` (blank
        ``""``, never NaN), numeric columns as ``float64``, and a fresh ``RangeIndex``.

    Raises
    ------
    ModelError
        Missing or extra columns, a scale other than "difference" / "ratio", an arm compared
        with itself, a ratio that is not positive, a level outside (0, 1), p-values outside
        [0, 1], conf_low above conf_high; the message names the rows.
    """
    frame = data if isinstance(data, pd.DataFrame) else pd.DataFrame(list(data))
    if frame.empty and not len(frame.columns):
        frame = pd.DataFrame(columns=list(COLUMNS))
    missing = [c for c in COLUMNS if c not in frame.columns]
    extra = [c for c in frame.columns if c not in COLUMNS]
    if missing or extra:
        parts = ([f"missing {', '.join(missing)}"] if missing else []) + (
            [f"unexpected {', '.join(map(str, extra))}"] if extra else [])
        raise ModelError(f"comparisons frame: {'; '.join(parts)}; the columns are exactly "
                         f"{', '.join(COLUMNS)}")
    problems: list[str] = []
    out = _coerce(frame.reset_index(drop=True), problems)
    if not problems:
        _check_values(out, problems)
    if problems:
        raise ModelError("comparisons frame: " + "; ".join(problems))
    return out[list(COLUMNS)]
