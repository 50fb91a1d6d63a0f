"""Relapse after the end of treatment (ADTTE, PARAMCD RELAPSE) from the simulated counts."""

from __future__ import annotations

import numpy as np
import pandas as pd


def _relapse(usubjid, count, observed, day, eot, drop_visit, disc_day) -> pd.DataFrame:
    """ADTTE rows (PARAMCD RELAPSE) for subjects with an end-of-treatment count."""
    n, n_visits = count.shape
    chg = count - count[:, [0]]
    gain = chg[:, eot]
    threshold_hit = np.where(gain[:, None] > 0, chg <= gain[:, None] / 2.0, chg < 0)
    after = np.arange(n_visits) > eot
    relapse = observed & threshold_hit & after[None, :]
    has_relapse = relapse.any(axis=1)
    first = np.where(has_relapse, relapse.argmax(axis=1), n_visits)
    # last attended visit strictly before the relapse visit (or overall when none)
    cols = np.arange(n_visits)[None, :]
    attended_before = observed & (cols < first[:, None])
    last_free = np.where(attended_before, cols, -1).max(axis=1)
    rows = np.flatnonzero(observed[:, eot])
    eot_day = day[rows, eot]
    tlower = day[rows, last_free[rows]] - eot_day
    is_event = has_relapse[rows]
    is_drop = ~is_event & (drop_visit[rows] < n_visits)
    tupper = np.where(is_event, day[rows, np.minimum(first[rows], n_visits - 1)] - eot_day, -1)
    aval = np.where(is_event, tupper, np.where(is_drop, disc_day[rows] - eot_day, tlower))
    eventcd = np.where(is_event, 1, np.where(is_drop, 2, 0))
    below = gain[rows] <= 0
    desc = np.select(
        [is_event & ~below, is_event & below, is_drop],
        ["RELAPSE: LOST >=50% OF GAIN", "RELAPSE: BELOW BASELINE", "DISCONTINUED BEFORE RELAPSE"],
        "NO RELAPSE BY END OF FOLLOW-UP",
    )
    return pd.DataFrame({
        "USUBJID": usubjid[rows],
        "PARAMCD": "RELAPSE",
        "PARAM": "Days from end of treatment to relapse",
        "AVAL": aval.astype(np.int64),
        "CNSR": np.where(is_event, 0, 1).astype(np.int64),
        "EVNTDESC": desc,
        "TLOWER": tlower.astype(np.int64),
        "TUPPER": np.where(is_event, tupper, np.nan),
        "EVENTCD": eventcd.astype(np.int64),
    })


def _relapse_responders(usubjid, count, observed, day, eot, drop_visit, disc_day,
                        threshold) -> pd.DataFrame:
    """ADTTE rows for responders (gain > threshold): confirmed loss of half the gain."""
    n, n_visits = count.shape
    chg = count - count[:, [0]]
    gain = chg[:, eot]
    rows_all = np.flatnonzero(observed[:, eot] & (gain > threshold))
    out = {k: [] for k in ("USUBJID", "AVAL", "CNSR", "EVNTDESC", "TLOWER", "TUPPER", "EVENTCD")}
    for i in rows_all:
        visits = [j for j in range(eot + 1, n_visits) if observed[i, j]]
        lost = [chg[i, j] <= gain[i] / 2.0 for j in visits]
        eot_day = day[i, eot]
        onset = next((k for k in range(len(visits) - 1) if lost[k] and lost[k + 1]), None)
        if onset is not None:
            first = visits[onset]
            last_free = visits[onset - 1] if onset > 0 else eot
            rec = (day[i, first] - eot_day, 0, "RELAPSE: LOST >=50% OF GAIN (CONFIRMED)",
                   day[i, last_free] - eot_day, day[i, first] - eot_day, 1)
        else:
            # relapse-free throughout; an unconfirmed loss at the last visit is not counted
            k = len(visits) - (2 if visits and lost[-1] else 1)
            tl = day[i, visits[k] if k >= 0 else eot] - eot_day
            if drop_visit[i] < n_visits:
                rec = (disc_day[i] - eot_day, 1, "DISCONTINUED BEFORE RELAPSE", tl, np.nan, 2)
            else:
                rec = (tl, 1, "NO RELAPSE BY END OF FOLLOW-UP", tl, np.nan, 0)
        for k, v in zip(("AVAL", "CNSR", "EVNTDESC", "TLOWER", "TUPPER", "EVENTCD"), rec):
            out[k].append(v)
        out["USUBJID"].append(usubjid[i])
    return pd.DataFrame({
        "USUBJID": np.asarray(out["USUBJID"], dtype=object).astype(str),
        "PARAMCD": "RELAPSE",
        "PARAM": "Days from end of treatment to confirmed relapse (responders)",
        "AVAL": np.asarray(out["AVAL"], dtype=np.int64),
        "CNSR": np.asarray(out["CNSR"], dtype=np.int64),
        "EVNTDESC": np.asarray(out["EVNTDESC"], dtype=object).astype(str),
        "TLOWER": np.asarray(out["TLOWER"], dtype=np.int64),
        "TUPPER": np.asarray(out["TUPPER"], dtype=float),
        "EVENTCD": np.asarray(out["EVENTCD"], dtype=np.int64),
    })
