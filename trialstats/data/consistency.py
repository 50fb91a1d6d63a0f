"""Cross-column consistency checks of ADTTE, run at load (called from :mod:`.validation`).

``CNSR`` (1 = censored, 0 = event) is the column every survival analysis reads; ``EVENTCD`` and
``EVNTDESC`` say the same thing in other words. When they disagree, ``CNSR`` is most likely coded
the wrong way round, and Kaplan-Meier (which reads CNSR) and a cumulative incidence (which reads
EVENTCD) would silently disagree. Each rule below is an error naming the rows:

* ``EVENTCD`` 1 (event) on a row with ``CNSR`` 1, or ``EVENTCD`` 0 / 2 (censored / competing
  event) on a row with ``CNSR`` 0;
* an ``EVNTDESC`` that describes censoring (it contains "censor", or starts with "no ") on a row
  with ``CNSR`` 0;
* within one PARAMCD, the same ``EVNTDESC`` on event rows and on censored rows (a description
  names either the event or the reason for censoring, not both).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

__all__ = ["adtte_problems"]

_CENSOR_TEXT = re.compile(r"censor|^\s*no\s", re.IGNORECASE)


def _column(frame: pd.DataFrame, coerced: dict, name: str):
    if name in coerced:
        return np.asarray(coerced[name])
    if name in frame.columns:
        return frame[name].to_numpy()
    return None


def adtte_problems(frame, coerced, label: str) -> list:
    """Problems where CNSR contradicts EVENTCD or EVNTDESC (see the module docstring).

    Parameters
    ----------
    frame : DataFrame or None
        The ADTTE table as read.
    coerced : dict or None
        Its columns coerced by the validator (CNSR and EVENTCD as numbers); None when the
        table could not be checked.
    label : str
        How the table is named in messages (its file name).

    Returns
    -------
    list of Problem
    """
    from .validation import _Collector, _where

    if frame is None or not isinstance(frame, pd.DataFrame) or coerced is None or frame.empty:
        return []
    cnsr = _column(frame, coerced, "CNSR")
    if cnsr is None:
        return []
    cnsr = pd.to_numeric(pd.Series(cnsr), errors="coerce").to_numpy(dtype=float)
    out: list = []
    c = _Collector(label, frame, out)
    eventcd = _column(frame, coerced, "EVENTCD")
    if eventcd is not None:
        ev = pd.to_numeric(pd.Series(eventcd), errors="coerce").to_numpy(dtype=float)
        bad = np.flatnonzero(((ev == 1) & (cnsr == 1)) | (np.isin(ev, (0, 2)) & (cnsr == 0)))
        if len(bad):
            c.add("CNSR", f"CNSR contradicts EVENTCD in {_where(frame, bad)}: EVENTCD 1 (event) "
                  "needs CNSR 0, EVENTCD 0 or 2 (censored, competing event) needs CNSR 1; is "
                  "CNSR coded the wrong way round (1 = censored, 0 = event)?", bad)
    desc = _column(frame, coerced, "EVNTDESC")
    if desc is None:
        return out
    text = np.array(["" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)
                     for v in desc], dtype=object)
    censor_text = np.array([bool(_CENSOR_TEXT.search(t)) for t in text], dtype=bool)
    bad = np.flatnonzero(censor_text & (cnsr == 0))
    if len(bad):
        c.add("CNSR", f"CNSR 0 (event) but EVNTDESC describes censoring in {_where(frame, bad)} "
              f"({text[bad[0]]!r}); is CNSR coded the wrong way round (1 = censored, 0 = event)?",
              bad)
    param = _column(frame, coerced, "PARAMCD")
    param = np.array([""] * len(text), dtype=object) if param is None else param.astype(str)
    both = []
    for p in dict.fromkeys(param):
        in_p = param == p
        for d in sorted(set(text[in_p & (cnsr == 0)]) & set(text[in_p & (cnsr == 1)]) - {""}):
            rows = np.flatnonzero(in_p & (text == d))
            both.append((p, d, rows))
    for p, d, rows in both:
        c.add("CNSR", f"EVNTDESC {d!r} (PARAMCD {p}) is on event rows (CNSR 0) and on censored "
              f"rows (CNSR 1): {_where(frame, rows)}; a description names the event or the "
              "reason for censoring, not both", rows)
    return out


def check_mmrm_rows(formula: str, data: pd.DataFrame, subject: str = "USUBJID") -> None:
    """Refuse MMRM input that mixes parameters or keeps baseline rows, saying so in words.

    Without this check the first gives duplicated visits per subject and the second a response
    that equals its own covariate (CHG 0 or AVAL = BASE at baseline), which ends in a singular
    covariance and a numpy ``LinAlgError`` instead of an explanation.

    Parameters
    ----------
    formula : str
        The model formula; its left side is the outcome.
    data : DataFrame
        The MMRM input.
    subject : str
        Subject column, used to name rows.

    Raises
    ------
    ModelError
        ``PARAMCD`` holds more than one parameter; or rows flagged ``ABLFL == "Y"`` have a
        non-missing outcome.
    """
    from ..errors import ModelError
    from ..longitudinal._design import _row_list

    if "PARAMCD" in data.columns:
        params = data["PARAMCD"].astype(str)
        params = params[data["PARAMCD"].notna() & (params != "")]
        counts = params.value_counts(sort=False)
        if len(counts) > 1:
            listed = ", ".join(f"{p} ({n} rows)" for p, n in counts.items())
            raise ModelError(
                f"the MMRM data mix several parameters (PARAMCD: {listed}); fit one parameter at "
                f"a time, e.g. trial.efficacy({str(counts.index[0])!r})")
    outcome = formula.split("~", 1)[0].strip() if isinstance(formula, str) else ""
    if "ABLFL" in data.columns and outcome in data.columns:
        base = (data["ABLFL"].astype(str) == "Y").to_numpy() & data[outcome].notna().to_numpy()
        if base.any():
            rows = data.index[base]
            raise ModelError(
                f"the MMRM data keep baseline rows (ABLFL = 'Y') with {outcome} present: "
                f"{_row_list(rows, data, subject if subject in data.columns else None)}; drop "
                "them (data[data['ABLFL'] != 'Y']): the baseline value enters the model as the "
                "covariate BASE, not as a visit (to model baseline as a response on purpose, "
                "drop the ABLFL column)")
