"""Intercurrent events from the data: :func:`intercurrent_events` and the estimand's data grid.

For each subject of the estimand's population and each declared event
(:class:`~trialstats.estimands.definition.IntercurrentEvent`), the first visit the event affects
is found from the data:

* ADSL flag with a ``day`` column (``COMPLFL = "N"`` with ``TRTDURD``, the last dose day): the
  first visit after that day. A visit's day is the subject's own ADY when the record exists,
  else the visit's scheduled day (the median ADY of that visit over all subjects).
* ADSL flag without a day (or a blank day): the visit after the subject's last observed value.
* ADEFF flag: the first visit whose record carries one of the flag's ``values``.

Events after the estimand's visit do not affect it (counted in the notes). A subject with
several events takes the earliest (the first declared on a tie). Hostile data is refused with a
:class:`~trialstats.errors.TrialDataError` that lists every problem with table, column and
subjects: an event day after the last visit of the trial, a non-numeric day, a Y/N flag (name
ending in FL) holding other values, a flag value that differs from the plan's only in case, a
column the data does not have.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import TrialDataError
from ._inputs import listed
from .definition import Estimand

__all__ = ["IntercurrentEvents", "intercurrent_events", "estimand_grid", "window_visits"]


@dataclass(frozen=True)
class IntercurrentEvents:
    """Result of :func:`intercurrent_events`.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per subject with an event affecting the estimand: USUBJID, ARM, event,
        strategy, day (NaN when not known), visit (first affected visit), visit_index (its
        position among :attr:`visits`), derivation (how the visit was found).
    visits : tuple of str
        The estimand's post-baseline visits, in time order, up to its visit.
    notes : tuple of str
        What was derived and how (subjects without a day, events after the visit, ties).
    counts : pandas.DataFrame
        Per arm and event: n (population), n_event (events affecting the estimand).
    """

    table: pd.DataFrame
    visits: tuple
    notes: tuple
    counts: pd.DataFrame

    def __repr__(self) -> str:
        return (f"<IntercurrentEvents: {len(self.table)} subjects with an event over "
                f"{len(self.visits)} visits>")


def window_visits(trial, paramcd: str, visit: str,
                  flag: str = "ANL01FL") -> tuple[pd.DataFrame, tuple, dict]:
    """ADEFF rows of ``paramcd`` (merged with ADSL) kept by the analysis ``flag`` (when the
    column exists), the post-baseline visits up to ``visit`` in AVISITN order, and each visit's
    scheduled day (median ADY; NaN without ADY).

    Raises
    ------
    TrialDataError
        No ADEFF, ``paramcd`` absent, or ``visit`` not a post-baseline visit of it.
    """
    adeff = getattr(trial, "adeff", None)
    if adeff is None:
        raise TrialDataError("estimand: the trial has no ADEFF table (longitudinal efficacy data)")
    codes = list(dict.fromkeys(adeff["PARAMCD"].astype(str)))
    if paramcd not in codes:
        raise TrialDataError(f"estimand: PARAMCD {paramcd!r} is not in ADEFF; valid: {listed(codes)}")
    frame = trial.analysis_frame("adeff", paramcd=paramcd)
    if flag and flag in frame.columns:
        frame = frame[frame[flag].astype(str) == "Y"]
    if "AVISITN" in frame.columns:
        frame = frame[frame["AVISITN"].notna()]
    base = (frame["ABLFL"].astype(str) == "Y") if "ABLFL" in frame.columns else frame["AVISITN"] <= 0
    post = frame[~base]
    order = post.groupby(post["AVISIT"].astype(str), sort=False)["AVISITN"].first().sort_values(
        kind="stable")
    every = list(order.index)
    if visit not in every:
        raise TrialDataError(f"estimand: visit {visit!r} is not a post-baseline visit of PARAMCD "
                             f"{paramcd}; valid: {listed(every)}")
    visits = tuple(every[: every.index(visit) + 1])
    days = {}
    for v in every:
        ady = post.loc[post["AVISIT"].astype(str) == v, "ADY"] if "ADY" in post.columns else None
        days[v] = float(np.median(ady.dropna())) if ady is not None and ady.notna().any() else np.nan
    return frame.reset_index(drop=True), visits, days


def _population(trial, estimand: Estimand) -> pd.DataFrame:
    adsl = trial.adsl
    pop = estimand.population
    if not pop:
        return adsl
    if pop not in adsl.columns:
        raise TrialDataError(f"estimand {estimand.id}: population flag {pop!r} is not a column "
                             f"of ADSL; columns ending in FL: "
                             f"{listed(c for c in adsl.columns if str(c).endswith('FL')) or 'none'}")
    return adsl[adsl[pop].astype(str) == "Y"]


def _flag_problems(frame: pd.DataFrame, ev, table: str, problems: list, notes: list) -> None:
    """A Y/N flag must hold Y, N or blank; a plan value differing only in case is an error;
    a plan value absent from the column is noted."""
    col = frame[ev.flag].fillna("").astype(str)
    found = list(dict.fromkeys(col))
    if ev.flag.upper().endswith("FL"):
        bad = ~col.isin(["Y", "N", ""])
        if bad.any():
            subj = frame.loc[bad, "USUBJID"].astype(str)
            problems.append(f"{table}, column {ev.flag}: a Y/N flag holds "
                            f"{listed(repr(v) for v in dict.fromkeys(col[bad]))} (subjects "
                            f"{listed(dict.fromkeys(subj))}); valid: 'Y', 'N', blank")
    for v in ev.values:
        if v in found:
            continue
        near = [f for f in found if f.casefold() == v.casefold()]
        if near:
            problems.append(f"{table}, column {ev.flag}: the plan's value {v!r} of event "
                            f"{ev.name!r} occurs only as {listed(repr(x) for x in near)}; "
                            "values are matched exactly: correct the plan or the data")
        else:
            notes.append(f"{ev.name}: value {v!r} does not occur in {table.upper()} {ev.flag} "
                         f"(values: {listed(repr(x) for x in found)}); no subject has this event")


def _adsl_event(ev, pop, obs, visits_all, days, problems, notes):
    """(subject -> (index into visits_all, day, derivation)) for an ADSL-flag event."""
    adsl = pop
    if ev.flag not in adsl.columns:
        problems.append(f"adsl: event {ev.name!r} names flag column {ev.flag!r}, which ADSL does "
                        f"not have; columns: {listed(adsl.columns)}")
        return {}
    if ev.day and ev.day not in adsl.columns:
        problems.append(f"adsl: event {ev.name!r} names day column {ev.day!r}, which ADSL does "
                        f"not have; columns: {listed(adsl.columns)}")
        return {}
    if ev.day and not np.isfinite([days[v] for v in visits_all]).any():
        problems.append(f"adeff: event {ev.name!r} has a day column ({ev.day}) but ADEFF has no "
                        "study day (ADY) of its visits, so the day cannot be placed among them; "
                        "add ADY or leave out day (the event is then put at the visit after the "
                        "last observed value)")
        return {}
    _flag_problems(adsl, ev, "adsl", problems, notes)
    hit = adsl[adsl[ev.flag].fillna("").astype(str).isin(ev.values)]
    out, no_day, after = {}, [], []
    last_day = days[visits_all[-1]]
    if ev.day:
        day = pd.to_numeric(hit[ev.day], errors="coerce")
        text = hit[ev.day].astype(str).str.strip()
        bad = day.isna() & hit[ev.day].notna() & (text != "") & (text.str.lower() != "nan")
        if bad.any():
            problems.append(f"adsl, column {ev.day}: not a number for subjects "
                            f"{listed(hit.loc[bad, 'USUBJID'])} ({listed(repr(x) for x in text[bad])})")
    for k, row in enumerate(hit.itertuples(index=False)):
        s = row.USUBJID
        d = float(day.iloc[k]) if ev.day and pd.notna(day.iloc[k]) else np.nan
        own = obs.get(s, {})
        if np.isnan(d):
            if ev.day:
                no_day.append(s)
            seen = [j for j, v in enumerate(visits_all) if v in own]
            j = (seen[-1] + 1) if seen else 0
            if j >= len(visits_all):
                after.append(f"{s} (observed at the last visit {visits_all[-1]})")
                continue
            out[s] = (j, np.nan, "visit after the last observed value")
            continue
        if np.isfinite(last_day) and d > last_day:
            after.append(f"{s} (day {d:g})")
            continue
        vday = [own.get(v, days[v]) for v in visits_all]
        j = next((i for i, x in enumerate(vday) if x > d), None)
        if j is None:
            after.append(f"{s} (day {d:g})")
            continue
        out[s] = (j, d, f"first visit after day {ev.day}")
    if after:
        problems.append(f"adsl, column {ev.day or ev.flag}: event {ev.name!r} lies after the last "
                        f"visit ({visits_all[-1]}, scheduled day {last_day:g}) for subjects "
                        f"{listed(after)}; such an event affects no visit: correct the day or "
                        "the flag")
    if no_day:
        notes.append(f"{ev.name}: {len(no_day)} subjects have no {ev.day}; their event is put at "
                     f"the visit after their last observed value ({listed(no_day)})")
    return out


def _adeff_event(ev, frame, pop_ids, visits_all, problems, notes):
    if ev.flag not in frame.columns:
        problems.append(f"adeff: event {ev.name!r} names flag column {ev.flag!r}, which ADEFF "
                        f"does not have; columns: {listed(frame.columns)}")
        return {}
    rows = frame[frame["USUBJID"].isin(pop_ids) & frame["AVISIT"].astype(str).isin(visits_all)]
    _flag_problems(rows, ev, "adeff", problems, notes)
    hit = rows[rows[ev.flag].fillna("").astype(str).isin(ev.values)]
    pos = {v: i for i, v in enumerate(visits_all)}
    out = {}
    for s, g in hit.groupby("USUBJID", sort=False):
        j = min(pos[str(v)] for v in g["AVISIT"].astype(str))
        out[s] = (j, np.nan, f"first visit flagged by ADEFF {ev.flag}")
    return out


def intercurrent_events(trial, estimand: Estimand, outcome: str = "CHG",
                        flag: str = "ANL01FL") -> IntercurrentEvents:
    """Derive each subject's first intercurrent event of ``estimand`` from the trial's data.

    Parameters
    ----------
    trial : Trial
    estimand : Estimand
        Its population, variable (PARAMCD and visit) and events are used.
    outcome : str, default "CHG"
        ADEFF column of the variable (a visit counts as observed when it is not missing).
    flag : str, default "ANL01FL"
        ADEFF analysis flag: rows whose flag is not "Y" are left out (when the column exists),
        as in the analysis.

    Returns
    -------
    IntercurrentEvents

    Raises
    ------
    TrialDataError
        Every problem at once: a flag or day column the table lacks, a Y/N flag with other
        values, a flag value differing from the plan's only in case, a non-numeric day, an event
        after the last visit of the trial; no ADEFF, PARAMCD or visit.
    """
    frame, visits, days = window_visits(trial, estimand.paramcd, estimand.visit, flag)
    pop = _population(trial, estimand)
    pop_ids = set(pop["USUBJID"])
    every = list(days)  # every post-baseline visit in time order (events beyond the window)
    post = frame[frame["AVISIT"].astype(str).isin(every) & frame["USUBJID"].isin(pop_ids)]
    post = post[post[outcome].notna()] if outcome in post.columns else post
    ady = post["ADY"] if "ADY" in post.columns else pd.Series(np.nan, index=post.index)
    obs: dict = {}
    for s, v, d in zip(post["USUBJID"], post["AVISIT"].astype(str), ady, strict=True):
        obs.setdefault(s, {})[v] = float(d) if pd.notna(d) else days[v]
    problems: list[str] = []
    notes: list[str] = []
    first: dict = {}
    for ev in estimand.events:
        found = (_adsl_event(ev, pop, obs, every, days, problems, notes) if ev.table == "adsl"
                 else _adeff_event(ev, frame, pop_ids, every, problems, notes))
        for s, (j, d, how) in found.items():
            if s not in first or j < first[s][0]:
                first[s] = (j, d, how, ev)
    if problems:
        raise TrialDataError(f"estimand {estimand.id or estimand.name}: {len(problems)} problem"
                             f"{'s' if len(problems) > 1 else ''} deriving intercurrent events:\n  "
                             + "\n  ".join(problems))
    late = [s for s, (j, *_rest) in first.items() if j >= len(visits)]
    if late:
        notes.append(f"{len(late)} subjects have their event after {estimand.visit}, so it does "
                     "not affect this estimand")
    arm = dict(zip(pop["USUBJID"], pop["ARM"].astype(str), strict=True))
    rows = [dict(USUBJID=s, ARM=arm[s], event=ev.name, strategy=ev.strategy, day=d,
                 visit=every[j], visit_index=j, derivation=how)
            for s, (j, d, how, ev) in first.items() if j < len(visits)]
    cols = ["USUBJID", "ARM", "event", "strategy", "day", "visit", "visit_index", "derivation"]
    table = pd.DataFrame(rows, columns=cols)
    order = {s: i for i, s in enumerate(pop["USUBJID"])}
    table = table.sort_values("USUBJID", key=lambda c: c.map(order), kind="stable",
                              ignore_index=True)
    counts = _counts(trial, pop, table, estimand)
    return IntercurrentEvents(table=table, visits=visits, notes=tuple(notes), counts=counts)


def _counts(trial, pop, table, estimand) -> pd.DataFrame:
    arms = [str(a) for a in trial.arms]
    n = pop["ARM"].astype(str).value_counts()
    rows = []
    for ev in estimand.events:
        k = table[table["event"] == ev.name]["ARM"].value_counts()
        for a in arms:
            rows.append(dict(ARM=a, event=ev.name, strategy=ev.strategy, n=int(n.get(a, 0)),
                             n_event=int(k.get(a, 0))))
    return pd.DataFrame(rows, columns=["ARM", "event", "strategy", "n", "n_event"])


def estimand_grid(trial, estimand: Estimand, visits: tuple, outcome: str = "CHG",
                  flag: str = "ANL01FL", columns=()) -> pd.DataFrame:
    """The full subject x visit grid of the estimand (rbmi's shape): one row per subject of the
    population and visit of ``visits``, ``outcome`` NaN where not observed; USUBJID, ARM
    (categorical, trial order), AVISIT (categorical, ``visits``), BASE and ADSL ``columns``.

    Rows whose ``flag`` (ADEFF analysis flag, when the column exists) is not "Y" are left out.
    """
    frame = trial.analysis_frame("adeff", paramcd=estimand.paramcd)
    if flag and flag in frame.columns:
        frame = frame[frame[flag].astype(str) == "Y"]
    pop = _population(trial, estimand)
    base = _baseline(frame)
    keep = [c for c in dict.fromkeys(["USUBJID", "ARM", *columns]) if c in pop.columns]
    grid = pd.MultiIndex.from_product([list(pop["USUBJID"]), list(visits)],
                                      names=["USUBJID", "AVISIT"]).to_frame(index=False)
    grid = grid.merge(pop[keep], on="USUBJID", how="left")
    grid["BASE"] = grid["USUBJID"].map(base)
    rows = frame[frame["AVISIT"].astype(str).isin(visits)][["USUBJID", "AVISIT", outcome]].copy()
    rows["AVISIT"] = rows["AVISIT"].astype(str)
    rows = rows.drop_duplicates(["USUBJID", "AVISIT"], keep="first")
    grid = grid.merge(rows, on=["USUBJID", "AVISIT"], how="left")
    grid["ARM"] = pd.Categorical(grid["ARM"].astype(str), categories=[str(a) for a in trial.arms])
    grid["AVISIT"] = pd.Categorical(grid["AVISIT"], categories=list(visits))
    return grid


def _baseline(frame: pd.DataFrame) -> pd.Series:
    """Each subject's baseline value: ADEFF BASE (first non-missing), else AVAL at ABLFL = Y."""
    if "BASE" in frame.columns and frame["BASE"].notna().any():
        return frame.dropna(subset=["BASE"]).groupby("USUBJID", sort=False)["BASE"].first()
    bl = frame[frame.get("ABLFL", pd.Series("", index=frame.index)).astype(str) == "Y"]
    return bl.groupby("USUBJID", sort=False)["AVAL"].first()
