"""Cross-column checks of ADEFF (part of the validation engine, :mod:`.validation`).

CHG = AVAL - BASE and no CHG without AVAL; one AVISITN per AVISIT and one AVISIT per AVISITN;
a warning for subjects without any post-baseline AVAL. Written on integer codes (factorised
columns), not on groupbys over Python strings, so a million-row ADEFF stays fast and small.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._arrays import factorize
from .schema import CHG_ATOL
from .validation import _Collector, _fmt_value, _values, _where

__all__ = ["check_adeff", "post_baseline_warnings"]


def check_adeff(coerced: dict, frame: pd.DataFrame, c: _Collector) -> None:
    """ADEFF cross-column rules: CHG = AVAL - BASE (and no CHG without AVAL); one AVISITN per
    AVISIT and vice versa."""
    if "AVAL" in coerced and "CHG" in coerced:
        aval, chg = (np.asarray(coerced[k], dtype=float) for k in ("AVAL", "CHG"))
        pos = np.flatnonzero(np.isnan(aval) & ~np.isnan(chg))
        if len(pos):
            c.add("AVAL", f"AVAL missing while CHG is present in {_where(frame, pos)}; CHG must be "
                  "derived from AVAL (CHG = AVAL - BASE): check the derivation; rows kept", pos,
                  severity="warning")
    if all(k in coerced for k in ("AVAL", "BASE", "CHG")):
        aval, base, chg = (np.asarray(coerced[k], dtype=float) for k in ("AVAL", "BASE", "CHG"))
        with np.errstate(invalid="ignore"):
            bad = np.flatnonzero(np.abs(chg - (aval - base)) > CHG_ATOL)
        if len(bad):
            detail = "; ".join(
                f"row {i + 1}: CHG {_fmt_value(chg[i])}, AVAL - BASE = {_fmt_value(aval[i] - base[i])}"
                for i in bad[:3])
            c.add("CHG", f"CHG differs from AVAL - BASE in {_where(frame, bad)} ({detail}); "
                  f"expected |CHG - (AVAL - BASE)| <= {CHG_ATOL:g}", bad)
    if "AVISIT" in coerced and "AVISITN" in coerced:
        v, n = coerced["AVISIT"], np.asarray(coerced["AVISITN"], dtype=float)
        rows = np.flatnonzero(~np.isnan(n))  # blank AVISITN: only on rows flagged out (ANL01FL)
        if len(rows) < len(n):
            v, n = np.asarray(v)[rows], n[rows]
        codes = {"AVISIT": factorize(v), "AVISITN": factorize(n)}
        raw = {"AVISIT": v, "AVISITN": n}
        for what, other in (("AVISIT", "AVISITN"), ("AVISITN", "AVISIT")):
            (ca, ua), (cb, ub) = codes[what], codes[other]
            pairs = np.unique(ca.astype(np.int64) * (len(ub) + 1) + cb)
            several = np.flatnonzero(np.bincount(pairs // (len(ub) + 1), minlength=len(ua)) > 1)
            for k in several:  # in order of first appearance, as the visits are factorised
                pos = np.flatnonzero(ca == k)
                found = _values(raw[other][pos])
                pos = rows[pos]  # positions in the table
                c.add(what, f"{what} {_fmt_value(ua[k])} has several {other} values ({found}) in "
                      f"{_where(frame, pos)}; each visit needs exactly one {other}", pos)


def post_baseline_warnings(adsl, adeff, coerced_adsl, coerced_adeff, labels, out):
    """Warn about subjects with no non-missing post-baseline AVAL (rows stay)."""
    if coerced_adeff is None or not {"USUBJID", "PARAMCD", "AVAL", "AVISITN"} <= set(coerced_adeff):
        return
    usub = coerced_adeff["USUBJID"]
    aval = np.asarray(coerced_adeff["AVAL"], dtype=float)
    if "ABLFL" in coerced_adeff:
        post = coerced_adeff["ABLFL"] != "Y"
    else:
        post = np.asarray(coerced_adeff["AVISITN"], dtype=float) > 0
    paramcd = coerced_adeff["PARAMCD"]
    # per subject and parameter (integer codes, not a groupby over Python strings)
    cu, subjects = factorize(usub)
    cp, params = factorize(paramcd)
    key = cu.astype(np.int64) * len(params) + cp
    size = len(subjects) * len(params)
    present = np.bincount(key, minlength=size) > 0
    has = np.bincount(key, weights=post & ~np.isnan(aval), minlength=size) > 0
    c = _Collector(labels["adeff"], adeff, out)
    for k, param in enumerate(params):
        lacking = np.flatnonzero(present[k::len(params)] & ~has[k::len(params)])
        if not len(lacking):
            continue
        pos = np.flatnonzero(np.isin(cu, lacking) & (cp == k))
        n = len(lacking)
        c.add("AVAL", f"{n} subject{'s' if n != 1 else ''} with no post-baseline AVAL for PARAMCD "
              f"{param} ({_where(adeff, pos)}); rows kept, but they add nothing to "
              "change-from-baseline models", pos, severity="warning")
    if coerced_adsl is not None and "USUBJID" in coerced_adsl:
        absent = ~pd.Series(coerced_adsl["USUBJID"]).isin(subjects).to_numpy()
        pos = np.flatnonzero(absent)
        if len(pos):
            _Collector(labels["adsl"], adsl, out).add(
                "USUBJID", f"subjects with no rows in {labels['adeff']} (no post-baseline value): "
                f"{_where(adsl, pos)}", pos, severity="warning")
