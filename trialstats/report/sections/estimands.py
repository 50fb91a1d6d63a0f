"""Section "Estimands and missing data": the plan's estimands (ICH E9(R1)) and their estimates.

Driven by sap.toml's ``[[estimands]]`` (absent: "not applicable"). For each estimand the library
(:func:`trialstats.analyse_estimand`) derives the intercurrent events from the data and maps each
strategy to its analysis; this module only arranges the results:

* ``analyse(ctx)`` -> :class:`~._analysis.Analysis`: runs every estimand
  (:func:`run_estimands`: one :class:`~trialstats.estimands.EstimandResult` or the reason it
  failed per estimand), stores the estimates in ``ctx.estimates`` (key
  ``estimand:<id>:<estimator>``) and keeps the section's tidy frames: the estimand attributes,
  the intercurrent events by arm, the estimates, each tipping-point table and tipping delta, and
  the missing-data patterns;
* ``render(analysis, view)`` -> :class:`~._base.Section`: every table, sentence and the
  tipping-point plot from those frames only (so the report renders the same from ``ard.parquet``);
  no statistics.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace

import numpy as np
import pandas as pd

from ..tables import fmt_estimate_ci, fmt_int, fmt_number, fmt_pvalue
from ._analysis import Analysis, View, section_of, single_step, table
from ._analysis import Results as Frames
from ._base import Figure, Table, _one_line, endpoint_name, new_figure, pct_level

KEY = "estimands"
TITLE = "Estimands and missing data"
#: Sections whose results this one reads (the registry computes them first).
NEEDS = ()

#: How each strategy's analysis is described (Methods and the estimand table).
STRATEGY_TEXT = {
    "hypothetical": "values from the event on set missing and modelled under MAR",
    "treatment policy": "values observed after the event used as they are",
    "composite": "the event counted as an unfavourable outcome from the event on",
    "while on treatment": "the last value before the event carried to later visits",
}
METHOD_NAMES = {"MAR": "missing at random", "JR": "jump to reference", "CR": "copy reference",
                "CIR": "copy increments in reference", "LMCF": "last mean carried forward"}


@dataclass(frozen=True)
class Results:
    """What :func:`run_estimands` returns: per estimand its result or its failure, and the ARD
    rows."""

    estimands: tuple
    results: dict = field(default_factory=dict)  # id -> EstimandResult
    failures: dict = field(default_factory=dict)  # id -> "Type: message"
    level: float = 0.95
    names: dict = field(default_factory=dict)  # PARAMCD -> its name (ADEFF PARAM)

    def ard(self) -> pd.DataFrame:
        """Every estimate as analysis-results rows (comparisons-frame columns plus estimator,
        role)."""
        parts = [r.estimates for r in self.results.values()]
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def run_estimands(trial, plan, engine="sequential") -> Results:
    """Run every estimand of the resolved ``plan`` on ``trial`` (no formatting).

    An estimand that fails is recorded with its reason; the others still run.
    """
    from ... import analyse_estimand  # through the package: benchmarks/bench_report.py times it

    results, failures, cache = {}, {}, {}
    for e in plan.estimands:
        try:
            results[e.id] = analyse_estimand(
                trial, e, formula=plan.mmrm.formula, covariance=plan.mmrm.covariance,
                df=plan.mmrm.df, level=plan.level, engine=engine,
                endpoint=endpoint_name(trial, e.paramcd), cache=cache)
        except Exception as err:  # noqa: BLE001 - shown in the report as a failure box
            failures[e.id] = f"{type(err).__name__}: {_one_line(err)}"
    names = {e.paramcd: endpoint_name(trial, e.paramcd) for e in plan.estimands}
    return Results(plan.estimands, results, failures, plan.level, names)


def _variable(e, names) -> str:
    return f"change from baseline in {names.get(e.paramcd, e.paramcd)} at {e.visit}"


# --- analyse: tidy frames from the results (no formatting) --------------------------------------

def _definition_frame(res: Results) -> pd.DataFrame:
    rows = []
    for e in res.estimands:
        pop = f"{e.population} = Y" if e.population else "all randomised subjects"
        for ev in e.events:
            how = (f"ADSL {ev.flag} in ({', '.join(ev.values)})"
                   + (f", on day {ev.day}" if ev.day else "") if ev.table == "adsl"
                   else f"first ADEFF visit with {ev.flag} in ({', '.join(ev.values)})")
            strat = ev.strategy + (f" (off-treatment values missing: {ev.imputation})"
                                   if ev.strategy == "treatment policy"
                                   and ev.off_treatment == "missing" else "")
            if ev.strategy == "composite":
                strat += f" ({'value ' + fmt_number(ev.value, 2) if ev.value is not None else ev.rule})"
            rows.append(dict(estimand=e.id, role=e.role, name=e.name, population=pop,
                             variable=_variable(e, res.names), event=ev.name, derivation=how,
                             strategy=strat, summary=f"{e.summary}, each arm vs the reference"))
    return pd.DataFrame(rows)


def _events_frame(res: Results) -> pd.DataFrame | None:
    parts = []
    for eid, r in res.results.items():
        c = r.events.counts.copy()
        c.insert(0, "estimand", eid)
        parts.append(c)
    if not parts:
        return None
    return pd.concat(parts, ignore_index=True).rename(columns={"ARM": "arm"})


def _estimates_frame(res: Results) -> pd.DataFrame | None:
    data = res.ard()
    if data.empty:
        return None
    data = data.rename(columns={"analysis": "analysis_id"}).reset_index(drop=True)
    data.insert(0, "estimand", [a.split(":")[0] for a in data["analysis_id"]])
    return data


def _tipping_frames(r) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The tipping-point table and its summary (tipping delta, every flip, the level)."""
    tp, e = r.tipping, r.estimand
    data = tp.table.copy()
    data.insert(0, "estimand", e.id)
    data.insert(1, "arm", str(tp.arm))
    data.insert(2, "reference", str(tp.reference))
    data.insert(3, "visit", str(tp.visit))
    data["significant"] = data["significant"].map({True: "yes", False: "no"})
    # one row per flip of the conclusion (one row with flip NaN when it never flips)
    flips = [float(f) for f in tp.flips] or [np.nan]
    summary = pd.DataFrame({"flip": flips}).assign(
        estimand=e.id, arm=str(tp.arm), reference=str(tp.reference), visit=str(tp.visit),
        tipping_delta=float(tp.tipping_delta), level=float(tp.level),
        delta_arms="/".join(map(str, tp.delta_arms)))
    return data, summary[["estimand", "arm", "reference", "visit", "tipping_delta", "flip",
                          "level", "delta_arms"]]


def _pattern_frames(r) -> tuple[pd.DataFrame, pd.DataFrame]:
    e = r.estimand
    p = r.patterns.copy()
    p.insert(0, "estimand", e.id)
    types = (p.groupby(["arm", "type"], sort=False)["n"].sum().unstack(fill_value=0)
             .reindex(columns=["complete", "monotone", "intermittent", "none observed"],
                      fill_value=0).reset_index())
    types.insert(0, "estimand", e.id)
    types["visits"] = " → ".join(r.events.visits)
    return types, p


def analyse(ctx) -> Analysis:
    """Run the plan's estimands (:func:`run_estimands`) and keep the section's tidy frames."""
    res = run_estimands(ctx.trial, ctx.plan)
    for eid, r in res.results.items():
        for estimator, rows in r.estimates.groupby("estimator", sort=False):
            ctx.estimates.add(f"estimand:{eid}:{estimator}", rows,
                              f"{eid} {estimator} difference", KEY)
    ctx.results["estimands_methods"] = methods_paragraph(res)
    ctx.results["estimands"] = res
    out = Frames()
    out.add("estimands_definition", _definition_frame(res))
    for name, frame in (("estimands_events", _events_frame(res)),
                        ("estimands_estimates", _estimates_frame(res))):
        if frame is not None:
            out.add(name, frame)
    seen = set()
    for e in res.estimands:
        if e.id in res.failures:
            out.failures.append(f"Estimand {e.id} failed: {res.failures[e.id]}")
            continue
        r = res.results[e.id]
        if r.tipping is not None:
            data, summary = _tipping_frames(r)
            out.add(f"estimands_tipping_{e.id}", data)
            out.add(f"estimands_tipping_delta_{e.id}", summary)
        key = (e.population, e.paramcd, e.visit, tuple(r.events.visits))
        if key not in seen:
            seen.add(key)
            types, patterns = _pattern_frames(r)
            out.add(f"estimands_missing_types_{e.id}", types)
            out.add(f"estimands_missing_patterns_{e.id}", patterns)
    notes: dict = {}
    for e in res.estimands:  # one note per text, naming every estimand it concerns
        for n in getattr(res.results.get(e.id), "notes", ()):
            notes.setdefault(n, []).append(e.id)
    out.notes.extend(f"{', '.join(ids)}: {n}" for n, ids in notes.items())
    return out.analysis(KEY)


# --- render: tables, sentences and the plot from the frames (no statistics) ---------------------

def _definition_table(a: Analysis) -> Table:
    data = a.frame("estimands_definition")
    display = pd.DataFrame({
        "Estimand": [f"{i} ({r}): {n}" for i, r, n in
                     zip(data["estimand"], data["role"], data["name"], strict=True)],
        "Population": data["population"], "Variable": data["variable"],
        "Intercurrent event (from the data)": [f"{ev}: {d}" for ev, d in
                                               zip(data["event"], data["derivation"], strict=True)],
        "Strategy": data["strategy"], "Population-level summary": data["summary"]}, dtype=object)
    return table("estimands_definition", "Estimands (ICH E9(R1) attributes)", a, display)


def _events_table(a: Analysis, view: View) -> Table | None:
    data = a.frame("estimands_events")
    if data is None:
        return None
    display = pd.DataFrame({
        "Estimand": data["estimand"], "Arm": [view.label(x) for x in data["arm"]],
        "Intercurrent event": data["event"], "Strategy": data["strategy"],
        "Subjects": [fmt_int(n) for n in data["n"]],
        "With the event before or at the visit": [
            f"{k} ({fmt_number(100 * k / n, 1) if n else '-'}%)"
            for k, n in zip(data["n_event"], data["n"], strict=True)]}, dtype=object)
    return table("estimands_events", "Intercurrent events by arm, as derived from the data", a,
                 display)


def _estimates_table(a: Analysis, view: View) -> Table | None:
    data = a.frame("estimands_estimates")
    if data is None:
        return None
    lvl = pct_level(view.plan.level)
    display = pd.DataFrame({
        "Estimand": data["estimand"],
        "Estimator": [f"{s} ({r})" for s, r in zip(data["estimator"], data["role"], strict=True)],
        "Comparison": [f"{view.label(x)} - {view.label(b)}"
                       for x, b in zip(data["arm"], data["reference"], strict=True)],
        "Visit": data["visit"],
        f"Difference ({lvl} CI)": [fmt_estimate_ci(e, lo, hi, 2) for e, lo, hi in
                                   zip(data["estimate"], data["conf_low"], data["conf_high"],
                                       strict=True)],
        "SE": [fmt_number(s, 3) for s in data["std_error"]],
        "p-value": [fmt_pvalue(p) for p in data["p_value"]]}, dtype=object)
    return table("estimands_estimates", "Main and sensitivity estimates side by side "
                 "(each arm minus the reference at the estimand's visit)", a, display,
                 note="MAR MMRM: the plan's MMRM of the data after the strategies; JR / CR / CIR: "
                      "conditional mean imputation of the values missing after the events, "
                      "jackknife standard errors (normal intervals, rbmi's method_condmean).")


def _tipping_parts(a: Analysis, eid: str, view: View):
    data = a.frame(f"estimands_tipping_{eid}")
    summary = a.frame(f"estimands_tipping_delta_{eid}")
    level = float(summary["level"].iloc[0])
    tip = float(summary["tipping_delta"].iloc[0])
    arm_code, ref_code = str(summary["arm"].iloc[0]), str(summary["reference"].iloc[0])
    visit = str(summary["visit"].iloc[0])
    arm, ref = view.label(arm_code), view.label(ref_code)
    display = pd.DataFrame({
        "Delta": [fmt_number(d, 1) for d in data["delta"]],
        f"{arm} - {ref} ({pct_level(level)} CI)": [
            fmt_estimate_ci(x, lo, hi, 2) for x, lo, hi in
            zip(data["estimate"], data["conf_low"], data["conf_high"], strict=True)],
        "p-value": [fmt_pvalue(p) for p in data["p_value"]],
        "Significant": data["significant"]}, dtype=object)
    flip = ("the conclusion does not change on this grid" if np.isnan(tip)
            else f"the conclusion changes at delta = {fmt_number(tip, 2)}")
    note = (f"Delta added to every imputed value of {arm} (conditional mean imputation, "
            f"jackknife; at delta 0 the imputation of the main analysis, whose estimate is the "
            f"ANCOVA of the imputed data rather than the MMRM's); {flip}.")
    tables = [table(f"estimands_tipping_{eid}", f"{eid}: tipping point of {arm} - {ref} at "
                    f"{visit}", a, note=note, display=display),
              table(f"estimands_tipping_delta_{eid}", f"{eid}: tipping delta", a,
                    pd.DataFrame({"Comparison": [f"{arm} - {ref}"], "Visit": [visit],
                                  "Tipping delta": [fmt_number(tip, 2) if np.isfinite(tip)
                                                    else "not reached on the grid"]},
                                 dtype=object))]
    from ...plots.estimands import plot_tipping_point

    tp = SimpleNamespace(  # what plot_tipping_point reads of a TippingPointResult
        table=data.assign(significant=data["significant"].eq("yes")), level=level,
        flips=[float(f) for f in summary["flip"] if np.isfinite(f)], arm=arm_code,
        reference=ref_code, visit=visit,
        delta_arms=str(summary["delta_arms"].iloc[0]).split("/"))
    fig, ax = new_figure(figsize=(7.0, 4.0))
    plot_tipping_point(tp, ax=ax, title=f"{eid}: {arm} - {ref} at {visit}",
                       xlabel=f"delta added to the imputed values of {arm}",
                       ylabel=f"{arm} - {ref}")
    figure = Figure(f"estimands_tipping_{eid}", f"{eid}: estimate and {pct_level(level)} "
                    f"confidence interval against the delta; {flip}.", fig)
    return tables, figure


def _pattern_tables(a: Analysis, eid: str, view: View) -> list[Table]:
    types = a.frame(f"estimands_missing_types_{eid}")
    p = a.frame(f"estimands_missing_patterns_{eid}")
    visits = str(types["visits"].iloc[0]) if len(types) else ""
    disp_types = pd.DataFrame({"Arm": [view.label(x) for x in types["arm"]],
                               **{c.capitalize(): [fmt_int(v) for v in types[c]]
                                  for c in ("complete", "monotone", "intermittent",
                                            "none observed")}}, dtype=object)
    disp = pd.DataFrame({"Arm": [view.label(x) for x in p["arm"]], "Pattern": p["pattern"],
                         "Type": p["type"], "Subjects": [fmt_int(n) for n in p["n"]]},
                        dtype=object)
    return [table(f"estimands_missing_types_{eid}", f"{eid}: missing-data pattern by arm "
                  f"({visits})", a, disp_types,
                  note="Monotone: nothing observed after the first missing visit; intermittent: "
                       "a missing visit followed by an observed one. Observed outcomes, before "
                       "any strategy."),
            table(f"estimands_missing_patterns_{eid}", f"{eid}: patterns (X observed, "
                  f". missing; visits {visits})", a, disp)]


def render(a: Analysis, view: View):
    """The section's text, tables and figures from :func:`analyse`'s frames (no statistics)."""
    lvl = pct_level(view.plan.level)
    paragraphs = [
        "Each estimand is stated by its five attributes (ICH E9(R1)); its intercurrent events are "
        "derived from the data, and each strategy is mapped to an analysis of the data changed "
        "accordingly. The main estimator and the sensitivity analyses below estimate the same "
        f"estimand under different assumptions about the missing values; intervals are {lvl}."]
    tables = [_definition_table(a)]
    tables += [t for t in (_events_table(a, view), _estimates_table(a, view)) if t is not None]
    figures = []
    for e in view.plan.estimands:
        if a.frame(f"estimands_tipping_{e.id}") is not None:
            more, fig = _tipping_parts(a, e.id, view)
            tables += more
            figures.append(fig)
        if a.frame(f"estimands_missing_types_{e.id}") is not None:
            tables += _pattern_tables(a, e.id, view)
    return section_of(a, TITLE, paragraphs=paragraphs, tables=tables, figures=figures)


def _strategy_text(ev) -> str:
    if ev.strategy == "treatment policy" and ev.off_treatment == "missing":
        return (f"values after the event were not collected and are imputed by "
                f"{METHOD_NAMES[ev.imputation]} ({ev.imputation})")
    return STRATEGY_TEXT[ev.strategy]


def methods_paragraph(res: Results) -> str:
    """What ran, for Methods: one sentence per estimand that completed."""
    out = []
    for e in res.estimands:
        r = res.results.get(e.id)
        if r is None:
            continue
        events = "; ".join(f"{ev.name} ({ev.strategy}: {_strategy_text(ev)})" for ev in e.events)
        est = list(dict.fromkeys(r.estimates["estimator"]))
        sens = [s for s in est if s in METHOD_NAMES]
        text = (f"{e.id} ({e.role}): {e.summary} in the {_variable(e, res.names)}"
                f"{' among subjects with ' + e.population + ' = Y' if e.population else ''}; "
                f"intercurrent events: {events}. Main estimator: {est[0]}.")
        if sens:
            text += (" Sensitivity: the values missing after the events imputed by "
                     + ", ".join(f"{METHOD_NAMES[s]} ({s})" for s in sens)
                     + " (conditional mean imputation, jackknife standard errors).")
        if r.tipping is not None:
            text += (f" Tipping point: a delta from {fmt_number(min(e.tipping_deltas), 1)} to "
                     f"{fmt_number(max(e.tipping_deltas), 1)} added to the imputed values of "
                     f"{e.tipping_arm}.")
        out.append(text)
    return ("Estimands (ICH E9(R1)): " + " ".join(out)) if out else ""


compute = single_step(analyse, render)
