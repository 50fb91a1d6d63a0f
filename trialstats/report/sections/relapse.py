"""Section 7 — Time to event: every ADTTE parameter the plan names (``[time_to_event]`` and its
``more`` list; by default those trial.toml [endpoints] names), each analysed the same way.

Kaplan-Meier curves per arm with the number at risk, median time to relapse, landmark
relapse-free rates, log-rank tests (unstratified and stratified by the plan's strata), Cox
hazard ratios with the proportional-hazards check, the RMST difference up to the plan's tau,
the cumulative incidence of relapse with discontinuation as a competing event (Gray's test), and
the interval-censored sensitivity analysis (Turnbull NPMLE, Weibull interval regression), since
relapse is only seen at visits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from ..tables import fmt_estimate_ci, fmt_int, fmt_number, fmt_pvalue
from ._analysis import Results, section_of, single_step, table
from ._base import (
    EventWords,
    Figure,
    NotApplicable,
    _one_line,
    legend_safe,
    new_figure,
    pct_level,
    time_grid,
)

KEY = "relapse"
TITLE = "Relapse"
#: Sections whose results this one reads (the registry computes them first).
NEEDS = ()


def relapse_frame(trial, paramcd: str) -> pd.DataFrame:
    """ADTTE rows of ``paramcd`` with ADSL's columns; NotApplicable when the trial has no ADTTE."""
    if trial.adtte is None:
        raise NotApplicable("the trial has no ADTTE table (time-to-event data), so there is no "
                            "relapse analysis")
    return trial.analysis_frame("adtte", paramcd=paramcd)


def title(plan) -> str:
    """The section title for this plan ("Relapse", "Time to recurrence", "Time to event"; "Time
    to recurrence and time to death" with a further endpoint)."""
    if plan.relapse is None:
        return TITLE
    more = [EventWords.of_spec(s).title for s in plan.more_events or ()]
    head = EventWords.of(plan).title
    return head + "".join(f" and {t[:1].lower() + t[1:]}" for t in more)


def table_prefix(w: EventWords) -> str:
    """Name prefix of the section's tables and figures (ARD file names): ``relapse_`` for an
    event named relapse, else ``tte_`` (time to event)."""
    return "relapse" if w.event == "relapse" else "tte"


def strata_column(data: pd.DataFrame, strata: tuple[str, ...]) -> tuple[pd.DataFrame, str | None, list[str]]:
    """One stratification column from the plan's strata present in the data (joined by '/')."""
    cols = [c for c in strata if c in data.columns]
    if not cols:
        return data, None, []
    if len(cols) == 1:
        return data, cols[0], cols
    data = data.assign(STRATUM=data[cols].astype(str).agg("/".join, axis=1))
    return data, "STRATUM", cols


def term_arm(term: str, arms: list[str]) -> str | None:
    """The arm a model term refers to ("ARM[T.EXOSOME]" → "EXOSOME"): longest code it contains."""
    hits = [a for a in arms if a in str(term)]
    return max(hits, key=len) if hits else None


def _group_col(frame: pd.DataFrame) -> str:
    return "ARM" if "ARM" in frame.columns else frame.columns[0]


@dataclass(frozen=True)
class Event:
    """One time-to-event endpoint of the section: its plan entry, its words, the name prefix of
    its frames (``tte`` / ``relapse`` for the plan's first, ``tte_<paramcd>`` for the others) and
    the keys of its estimates (``rmst``, ``cox``; ``rmst:<PARAMCD>`` for the others)."""

    spec: Any
    w: EventWords
    pre: str
    main: bool

    def key(self, name: str) -> str:
        return name if self.main else f"{name}:{self.spec.paramcd}"


def events(plan) -> list[Event]:
    """The time-to-event endpoints of ``plan``: ``relapse`` first, then ``more_events``."""
    w = EventWords.of(plan)
    out = [Event(plan.relapse, w, table_prefix(w), True)]
    for spec in plan.more_events or ():
        pre = "tte_" + (re.sub(r"[^a-z0-9]+", "_", spec.paramcd.lower()).strip("_") or "endpoint")
        while pre in {e.pre for e in out}:
            pre += "_"
        out.append(Event(spec, EventWords.of_spec(spec), pre, False))
    return out


def analyse(ctx):
    """The analysis frames of every time-to-event endpoint (see the module docstring).

    Returns
    -------
    Analysis
        Per endpoint, frames ``<pre>_counts`` (subjects, events, strata used, interval bounds
        present), ``<pre>_at_risk``, ``<pre>_median``, ``<pre>_landmarks``, ``<pre>_logrank``,
        ``<pre>_cox``, ``<pre>_ph_test``, ``<pre>_rmst``, ``<pre>_rmst_difference`` and, when
        coded, ``<pre>_causes``, ``<pre>_cif_landmarks``, ``<pre>_gray``, ``<pre>_turnbull``,
        ``<pre>_weibull_interval``, ``<pre>_weibull_fit``; ``<pre>`` from :func:`events`.
    """
    p = Results()
    for ep in events(ctx.plan):
        # the first endpoint's results are read by later sections (long-term, methods, summary)
        _analyse_event(ctx, p, ep, ctx.results if ep.main else {})
    return p.analysis(KEY)


def _analyse_event(ctx, p, ep: Event, res: dict) -> None:
    import trialstats as ts

    plan, trial = ctx.plan, ctx.trial
    spec, w, pre = ep.spec, ep.w, ep.pre
    data = relapse_frame(trial, spec.paramcd)
    data, stratum, strata_cols = strata_column(data, spec.strata)
    rows = trial.adtte[trial.adtte["PARAMCD"].astype(str) == spec.paramcd]
    param = rows["PARAM"].astype(str).iloc[0] if "PARAM" in rows.columns and len(rows) else ""
    p.add(f"{pre}_counts", pd.DataFrame({
        "paramcd": [spec.paramcd], "subjects": [len(data)], "events": [int((data["CNSR"] == 0).sum())],
        "strata": [", ".join(strata_cols)], "interval_bounds": [{"TLOWER", "TUPPER"} <= set(data.columns)],
        # a subset of the randomised subjects in ADTTE (e.g. responders only) is said in the text
        "adtte_subjects": [int(rows["USUBJID"].nunique())], "randomised": [len(trial.adsl)],
        "param": [param]}))

    km = ts.kaplan_meier(data, time="AVAL", censor="CNSR", by="ARM", level=plan.level)
    res["km"] = km
    ticks = time_grid(float(data["AVAL"].max()))
    # the curves of the figures (drawn by render): every step of each arm, the arms in order
    p.add(f"{pre}_km", km.table)
    p.add(f"{pre}_km_levels", pd.DataFrame({km.group: list(km.levels), "time_unit": km.time_unit}))
    p.attempt(_what("Number-at-risk table", ep), lambda: p.add(f"{pre}_at_risk", km.risk_table(ticks).rename(columns={km.group: "ARM"})))

    def medians():
        med = km.median().rename(columns={km.group: "ARM"})
        med["n"] = [km.n_obs.get(a) for a in med["ARM"]]
        med["events"] = [km.n_events.get(a) for a in med["ARM"]]
        res["relapse_medians"] = p.add(f"{pre}_median", med)

    p.attempt(_what(f"Median time to {w.event}", ep), medians)

    def landmarks():
        lm = km.survival_at(list(spec.landmarks)).rename(columns={km.group: "ARM"})
        res["relapse_landmarks"] = p.add(f"{pre}_landmarks", lm)

    p.attempt(_what("Landmark rates", ep), landmarks)
    p.attempt(_what("Log-rank tests", ep), lambda: _logrank(p, data, stratum, strata_cols, pre, res))
    p.attempt(_what("Cox model", ep), lambda: _cox(ctx, p, data, stratum, ep))

    def rmst():
        fit = ts.rmst(data, time="AVAL", censor="CNSR", by="ARM", tau=spec.tau, level=plan.level)
        ctx.estimates.add(ep.key("rmst"), fit.comparisons(pairs="all", measures=("difference",), endpoint=spec.paramcd),
                          f"RMST difference to day {spec.tau:g} ({w.days_free})", KEY)
        p.add(f"{pre}_rmst", fit.per_arm)
        p.add(f"{pre}_rmst_difference", fit.comparisons(measures=("difference",)).rename(columns={"arm": "ARM"}))

    p.attempt(_what("RMST", ep), rmst)
    causes = _cause_names(data, w)
    if "EVENTCD" in data.columns and len(causes) > 1:  # a competing event is coded
        _competing(ctx, p, data, causes, ep, res)
    if "interval-censored" in plan.sensitivity and {"TLOWER", "TUPPER"} <= set(data.columns):
        res["interval_censored"] = True
        p.attempt(_what("Interval-censored sensitivity (Turnbull / Weibull)", ep), lambda: _interval(ctx, p, data, ep))


def _what(analysis: str, ep: Event) -> str:
    """Name of an analysis in a failure line: the endpoint is named for all but the first."""
    return analysis if ep.main else f"{analysis} ({ep.spec.paramcd})"


def _logrank(p, data, stratum, strata_cols, pre, res) -> None:
    import trialstats as ts

    rows = []
    lr = ts.logrank(data, time="AVAL", censor="CNSR", by="ARM")
    rows.append({"test": "Log-rank (unstratified)", "statistic": lr.statistic, "df": lr.df, "p_value": lr.p_value})
    if stratum:
        slr = ts.logrank(data, time="AVAL", censor="CNSR", by="ARM", strata=stratum)
        rows.append({"test": f"Log-rank stratified by {', '.join(strata_cols)}", "statistic": slr.statistic, "df": slr.df, "p_value": slr.p_value})
        for _, r in slr.pairwise.iterrows():
            rows.append({"test": f"  {r['contrast']} (stratified, Holm-adjusted p)", "statistic": r["statistic"], "df": r["df"], "p_value": r.get("p_adjusted", r["p_value"])})
    res["logrank"] = p.add(f"{pre}_logrank", pd.DataFrame(rows))


def _cox(ctx, p, data, stratum, ep: Event) -> None:
    import trialstats as ts

    spec, ref, w, pre = ep.spec, ctx.reference, ep.w, ep.pre
    fit = ts.cox("ARM", data, time="AVAL", censor="CNSR", strata=stratum)
    cmp = fit.comparisons(reference=ref)  # one row per arm vs the reference, in arm order
    coef = fit.coef.reset_index(drop=True)
    if len(coef) != len(cmp):  # pragma: no cover - the model is ARM only
        raise ValueError("the Cox model has terms other than the arm")
    coef.insert(0, "ARM", cmp["arm"].to_numpy())
    coef.insert(1, "reference", cmp["reference"].to_numpy())
    ctx.estimates.add(ep.key("cox"), fit.comparisons(reference=ref, pairs="all", endpoint=spec.paramcd),
                      f"hazard ratio of {w.event}", KEY)
    p.add(f"{pre}_cox", coef)
    p.add(f"{pre}_ph_test", fit.ph_test())


def _competing(ctx, p, data, causes, ep: Event, res) -> None:
    import trialstats as ts

    plan, pre = ctx.plan, ep.pre
    other = "; ".join(v for k, v in causes.items() if k != 1)
    res["competing_events"] = f"a competing event ({other})"
    p.add(f"{pre}_causes", pd.DataFrame({"cause": list(causes), "name": list(causes.values())}))

    def competing():
        ci = ts.cumulative_incidence(data, time="AVAL", event_code="EVENTCD", by="ARM", cause=1, level=plan.level)
        res["cif"] = ci
        p.add(f"{pre}_cif_curve", ci.table)
        p.add(f"{pre}_cif_levels", pd.DataFrame({ci.group: list(ci.levels), "time_unit": ci.time_unit,
                                                 "cause": int(ci.cause)}))
        p.add(f"{pre}_cif_landmarks", ci.at(list(ep.spec.landmarks)).rename(columns={ci.group: "ARM"}))
        p.add(f"{pre}_gray", ts.gray_test(data, time="AVAL", event_code="EVENTCD", by="ARM").table)

    p.attempt(_what("Cumulative incidence (competing risks)", ep), competing)

def _interval(ctx, p, data, ep: Event) -> None:
    import trialstats as ts

    pre = ep.pre
    tb = ts.turnbull(data, left="TLOWER", right="TUPPER", by="ARM")
    p.add(f"{pre}_turnbull", tb.survival_at(list(ep.spec.landmarks)).rename(columns={tb.group: "ARM"}))
    ir = ts.interval_regression("ARM", data, left="TLOWER", right="TUPPER", dist="weibull", level=ctx.plan.level)
    coef = ir.coef.reset_index(drop=True)
    coef.insert(0, "ARM", [term_arm(t, ctx.arms) for t in coef["term"]])
    p.add(f"{pre}_weibull_interval", coef)
    p.add(f"{pre}_weibull_fit", pd.DataFrame({"scale": [ir.scale], "n_obs": [ir.n_obs], "converged": [bool(ir.converged)]}))


# ----------------------------------------------------------------------------------------------
# render: tables and sentences from the frames only
# ----------------------------------------------------------------------------------------------
def render(a, view):
    """The section from the analysis frames of :func:`analyse` (or read back from the ARD)."""
    paragraphs, tables, figures, failures = [], [], [], []
    several = bool(view.plan.more_events)
    for ep in events(view.plan):
        counts = a.frame(f"{ep.pre}_counts")
        if counts is None:  # pragma: no cover - analyse always makes it
            continue
        intro = _intro(ep, counts.iloc[0])
        strata = str(counts["strata"].iloc[0] or "")
        mine = [fn(a, view, ep, strata) for name, fn in _RENDERERS if a.frame(f"{ep.pre}_{name}") is not None]
        if several and mine:  # one part per endpoint: its heading and sentence above its tables
            mine[0] = replace(mine[0], heading=ep.w.title, lead=intro)
        else:
            paragraphs.append(intro)
        tables += mine
        _figures(a, view, ep, figures, failures)
    sec = section_of(a, title(view.plan), paragraphs=paragraphs, tables=tables, figures=figures)
    return replace(sec, failures=sec.failures + tuple(failures))


@dataclass(frozen=True)
class Curves:
    """A survival-curve result as the plots read it (``table``, ``group``, ``levels``,
    ``time_unit``, ``cause``, ``risk_table(times)``), rebuilt from the ARD frames."""

    table: pd.DataFrame
    group: str
    levels: tuple
    time_unit: str
    cause: int = 1
    at_risk: pd.DataFrame | None = None

    @classmethod
    def of(cls, table: pd.DataFrame, levels: pd.DataFrame, at_risk: pd.DataFrame | None = None) -> Curves:
        group = str(levels.columns[0])
        return cls(table, group, tuple(levels[group]), str(levels["time_unit"].iloc[0]),
                   int(levels["cause"].iloc[0]) if "cause" in levels.columns else 1, at_risk)

    def risk_table(self, times) -> pd.DataFrame:
        """The at-risk frame, which was made at ``times``."""
        if self.at_risk is None or [float(t) for t in pd.unique(self.at_risk["time"])] != [float(t) for t in times]:
            raise ValueError("the number-at-risk frame was not made at these times")
        return self.at_risk.rename(columns={"ARM": self.group})


def _figures(a, view, ep: Event, figures: list, failures: list) -> None:
    """The Kaplan-Meier (with the number at risk), log(-log) and cumulative-incidence figures of
    one endpoint, drawn from its frames; a figure that cannot be drawn is a failure line."""
    from ...plots.survival import plot_cumulative_incidence, plot_km, plot_loglog

    w, pre = ep.w, ep.pre
    labels = legend_safe(view.labels)
    lvl = pct_level(view.plan.level)

    def draw(what: str, fn) -> None:
        try:
            figures.append(fn())
        except Exception as e:  # noqa: BLE001 - shown in the section, never swallowed
            failures.append(f"{_what(what, ep)} failed: {type(e).__name__}: {_one_line(e)}")

    def km_plot():
        at_risk = a.frame(f"{pre}_at_risk")
        km = Curves.of(a.frame(f"{pre}_km"), a.frame(f"{pre}_km_levels"), at_risk)
        fig, ax = new_figure(figsize=(7.5, 5.0))
        # the number-at-risk row under the axis at the times of the at-risk table
        plot_km(km, ax=ax, at_risk=True, times=list(pd.unique(at_risk["time"])), labels=labels)
        ax.set_title(f"{w.Free} survival {w.after} (Kaplan-Meier)")
        return Figure(f"{pre}_km", f"Kaplan-Meier estimate of {w.free} survival by arm with {lvl} pointwise intervals (log-log) and the number at risk.", fig)

    def loglog_plot():
        fig, ax = new_figure(figsize=(6.5, 4.0))
        plot_loglog(Curves.of(a.frame(f"{pre}_km"), a.frame(f"{pre}_km_levels")), ax=ax, labels=labels,
                    title=f"log(-log) {w.free} survival: parallel curves support proportional hazards")
        return Figure(f"{pre}_loglog", "Complementary log-log plot of the Kaplan-Meier curves by arm (a visual check of proportional hazards, next to the Schoenfeld-residual test).", fig)

    def cif_plot():
        other = _other(a, pre)
        fig, ax = new_figure(figsize=(7.5, 4.5))
        plot_cumulative_incidence(Curves.of(a.frame(f"{pre}_cif_curve"), a.frame(f"{pre}_cif_levels")), ax=ax, labels=labels)
        ax.set_title(f"Cumulative incidence of {w.event} (competing: {other})")
        return Figure(f"{pre}_cif", f"Cumulative incidence of {w.event} with a competing event ({other}; Aalen-Johansen).", fig)

    if a.frame(f"{pre}_km") is not None:
        draw("Kaplan-Meier plot", km_plot)
        draw("log(-log) plot", loglog_plot)
    if a.frame(f"{pre}_cif_curve") is not None:
        draw("Cumulative incidence plot", cif_plot)


def _intro(ep: Event, counts) -> str:
    w = ep.w
    entered = ("entered the off-treatment period" if w.origin == "end of treatment"
               else "were followed")
    return (f"Time to {w.event} is measured in days {w.from_origin}; {int(counts['subjects'])} subjects "
            f"{entered} and {int(counts['events'])} {w.events} were observed."
            + _subset(counts)
            + (f" {w.Event} is detected at visits, so the event time is the visit at which it was seen "
               f"(right-censored analyses) or the interval since the last {w.free} visit "
               "(interval-censored sensitivity)." if bool(counts["interval_bounds"]) else ""))


def _subset(counts) -> str:
    """" ADTTE holds ... for n of the N randomised subjects" when the endpoint's data cover only
    some of them (a relapse defined among responders), else ""."""
    n = int(counts.get("adtte_subjects", 0) or 0)
    total = int(counts.get("randomised", 0) or 0)
    if not n or n >= total:
        return ""
    param = str(counts.get("param", "") or "")
    what = f" (\"{param}\")" if param else ""
    return (f" ADTTE holds this endpoint{what} for {n} of the {total} randomised subjects; the "
            "others are not part of this analysis.")


def _which(view, ep: Event) -> str:
    """`` (time to death)`` in the captions that do not name the event, when the section has
    more than one endpoint; "" otherwise."""
    if not view.plan.more_events:
        return ""
    return f" ({ep.w.title[:1].lower() + ep.w.title[1:]})"


def _arm_names(view, arms) -> list[str]:
    return [view.label(str(x)) for x in arms]


def _t_at_risk(a, view, ep, strata):
    w, pre = ep.w, ep.pre
    rt = a.frame(f"{pre}_at_risk")
    wide = rt.pivot_table(index="ARM", columns="time", values="n_risk", observed=True, sort=False)
    disp = pd.DataFrame({"Arm": _arm_names(view, wide.index),
                         **{f"Day {t:g}": [fmt_int(v) for v in wide[t]] for t in wide.columns}}, dtype=object)
    return table(f"{pre}_at_risk", f"Number at risk{_which(view, ep)} by day {w.since}", a, disp)


def _t_median(a, view, ep, strata):
    w, pre = ep.w, ep.pre
    med, lvl = a.frame(f"{pre}_median"), pct_level(view.plan.level)
    disp = pd.DataFrame({"Arm": _arm_names(view, med["ARM"]),
                         "n": [fmt_int(v) for v in med["n"]], w.Event + "s": [fmt_int(v) for v in med["events"]],
                         f"Median days ({lvl} CI)": [fmt_estimate_ci(m, lo, hi, 0) for m, lo, hi in zip(med["median"], med["conf_low"], med["conf_high"])]}, dtype=object)
    return table(f"{pre}_median", f"Median time to {w.event} (Brookmeyer-Crowley interval; NE = not reached / not estimable)", a, disp)


def _t_landmarks(a, view, ep, strata):
    w, pre = ep.w, ep.pre
    lm, lvl = a.frame(f"{pre}_landmarks"), pct_level(view.plan.level)
    disp = pd.DataFrame({"Day": [fmt_number(t, 0) for t in lm["time"]], "Arm": _arm_names(view, lm["ARM"]),
                         "At risk": [fmt_int(v) for v in lm["n_risk"]],
                         f"{w.free_pct} ({lvl} CI)": [fmt_estimate_ci(100 * s, 100 * lo, 100 * hi, 1) for s, lo, hi in zip(lm["survival"], lm["conf_low"], lm["conf_high"])]}, dtype=object)
    return table(f"{pre}_landmarks", f"Landmark {w.free} rates (Kaplan-Meier)", a, disp)


def _t_logrank(a, view, ep, strata):
    w, pre = ep.w, ep.pre
    t = a.frame(f"{pre}_logrank")
    disp = pd.DataFrame({"Test": t["test"], "Chi-square": [fmt_number(s, 2) for s in t["statistic"]], "df": [fmt_int(d) for d in t["df"]], "p-value": [fmt_pvalue(v) for v in t["p_value"]]}, dtype=object)
    return table(f"{pre}_logrank", f"Log-rank tests of {w.free} survival", a, disp)


def _t_cox(a, view, ep, strata):
    w, pre = ep.w, ep.pre
    coef, lvl = a.frame(f"{pre}_cox"), pct_level(view.plan.level)
    disp = pd.DataFrame({"Comparison": [f"{view.label(x)} vs {view.label(r)}" for x, r in zip(coef["ARM"], coef["reference"])],
                         f"Hazard ratio ({lvl} CI)": [fmt_estimate_ci(h, lo, hi, 2) for h, lo, hi in zip(coef["hazard_ratio"], coef["conf_low"], coef["conf_high"])],
                         "p-value": [fmt_pvalue(v) for v in coef["p_value"]]}, dtype=object)
    return table(f"{pre}_cox", f"Cox proportional-hazards model of {w.event}" + (f", stratified by {strata}" if strata else "") + " (Efron ties)", a, disp)


def _t_ph_test(a, view, ep, strata):
    pre = ep.pre
    ph = a.frame(f"{pre}_ph_test")
    disp = pd.DataFrame({"Term": ph["term"].astype(str), "Chi-square": [fmt_number(s, 2) for s in ph["statistic"]], "df": [fmt_number(d, 0) for d in ph["df"]], "p-value": [fmt_pvalue(v) for v in ph["p_value"]]}, dtype=object)
    return table(f"{pre}_ph_test", f"Proportional-hazards check{_which(view, ep)} (scaled Schoenfeld residuals, as R cox.zph); a small p-value questions the single hazard ratio", a, disp)


def _t_rmst(a, view, ep, strata):
    w, pre = ep.w, ep.pre
    per, lvl, tau = a.frame(f"{pre}_rmst"), pct_level(view.plan.level), ep.spec.tau
    disp = pd.DataFrame({"Arm": _arm_names(view, per[_group_col(per)]), f"RMST, days ({lvl} CI)": [fmt_estimate_ci(e, lo, hi, 1) for e, lo, hi in zip(per["rmst"], per["conf_low"], per["conf_high"])]}, dtype=object)
    return table(f"{pre}_rmst", f"Restricted mean {w.free_time} up to day {tau:g}", a, disp)


def _t_rmst_difference(a, view, ep, strata):
    pre = ep.pre
    diff, lvl, tau = a.frame(f"{pre}_rmst_difference"), pct_level(view.plan.level), ep.spec.tau
    disp = pd.DataFrame({"Comparison": [f"{view.label(x)} - {view.label(r)}" for x, r in zip(diff["ARM"], diff["reference"])], f"Difference, days ({lvl} CI)": [fmt_estimate_ci(e, lo, hi, 1) for e, lo, hi in zip(diff["estimate"], diff["conf_low"], diff["conf_high"])], "p-value": [fmt_pvalue(v) for v in diff["p_value"]]}, dtype=object)
    return table(f"{pre}_rmst_difference", f"RMST difference{_which(view, ep)} vs {view.label(view.reference)} up to day {tau:g}", a, disp)


def _other(a, pre) -> str:
    causes = a.frame(f"{pre}_causes")
    return "; ".join(str(n) for c, n in zip(causes["cause"], causes["name"]) if int(c) != 1)


def _t_cif_landmarks(a, view, ep, strata):
    w, pre = ep.w, ep.pre
    at, lvl = a.frame(f"{pre}_cif_landmarks"), pct_level(view.plan.level)
    disp = pd.DataFrame({"Day": [fmt_number(t, 0) for t in at["time"]], "Arm": _arm_names(view, at["ARM"]),
                         "At risk": [fmt_int(v) for v in at["n_risk"]],
                         f"Cumulative incidence % ({lvl} CI)": [fmt_estimate_ci(100 * e, 100 * lo, 100 * hi, 1) for e, lo, hi in zip(at["estimate"], at["conf_low"], at["conf_high"])]}, dtype=object)
    return table(f"{pre}_cif_landmarks", f"Cumulative incidence of {w.event} at the landmark days (competing event: {_other(a, pre)}; Aalen-Johansen)", a, disp)


def _t_gray(a, view, ep, strata):
    pre = ep.pre
    gtab = a.frame(f"{pre}_gray")
    causes = a.frame(f"{pre}_causes")
    names = {int(c): str(n) for c, n in zip(causes["cause"], causes["name"])}
    disp = pd.DataFrame({"Cause": [f"{int(c)} ({names.get(int(c), 'other')})" for c in gtab["cause"]],
                         "Chi-square": [fmt_number(v, 2) for v in gtab["statistic"]], "df": [fmt_number(v, 0) for v in gtab["df"]],
                         "p-value": [fmt_pvalue(v) for v in gtab["p_value"]]}, dtype=object)
    return table(f"{pre}_gray", "Gray's test of equal cumulative incidence across arms, per cause", a, disp)


def _t_turnbull(a, view, ep, strata):
    w, pre = ep.w, ep.pre
    sa = a.frame(f"{pre}_turnbull")
    disp = pd.DataFrame({"Day": [fmt_number(t, 0) for t in sa["time"]], "Arm": _arm_names(view, sa["ARM"]),
                         w.free_pct: [fmt_number(100 * v, 1) for v in sa["survival"]]}, dtype=object)
    return table(f"{pre}_turnbull", f"{w.Free} proportion at the landmark days, Turnbull NPMLE (interval-censored; mass at interval midpoints)", a, disp)


def _t_weibull_interval(a, view, ep, strata):
    w, pre = ep.w, ep.pre
    coef, lvl, ref = a.frame(f"{pre}_weibull_interval"), pct_level(view.plan.level), view.reference
    fit = a.frame(f"{pre}_weibull_fit").iloc[0]
    arm_rows = coef[coef["ARM"].notna()]
    disp = pd.DataFrame({"Comparison": [f"{view.label(x)} vs {view.label(ref)}" for x in arm_rows["ARM"]],
                         f"Time ratio ({lvl} CI)": [fmt_estimate_ci(np.exp(e), np.exp(lo), np.exp(hi), 2) for e, lo, hi in zip(arm_rows["estimate"], arm_rows["conf_low"], arm_rows["conf_high"])],
                         "p-value": [fmt_pvalue(v) for v in arm_rows["p_value"]]}, dtype=object)
    return table(f"{pre}_weibull_interval", f"Weibull AFT regression of interval-censored {w.event} times: time ratios vs {view.label(ref)} (> 1 = {w.event} later)", a, disp,
                 note=f"Weibull scale {fit['scale']:.3g}; {int(fit['n_obs'])} subjects; {'converged' if bool(fit['converged']) else 'NOT converged'}.")


#: display tables in reading order: frame name (after the prefix) -> renderer
_RENDERERS = (("at_risk", _t_at_risk), ("median", _t_median), ("landmarks", _t_landmarks),
              ("logrank", _t_logrank), ("cox", _t_cox), ("ph_test", _t_ph_test), ("rmst", _t_rmst),
              ("rmst_difference", _t_rmst_difference), ("cif_landmarks", _t_cif_landmarks),
              ("gray", _t_gray), ("turnbull", _t_turnbull), ("weibull_interval", _t_weibull_interval))


def _cause_names(data: pd.DataFrame, w: EventWords) -> dict:
    """EVENTCD (> 0) -> name: the event for 1, the EVNTDESC of the other codes (lower case)."""
    if "EVENTCD" not in data.columns:
        return {1: w.event}
    out = {}
    for code in sorted(int(c) for c in pd.unique(data["EVENTCD"].dropna()) if int(c) > 0):
        desc = ""
        if "EVNTDESC" in data.columns:
            d = data.loc[data["EVENTCD"] == code, "EVNTDESC"].astype(str)
            desc = str(d.value_counts().index[0]).lower() if len(d) else ""
        out[code] = w.event if code == 1 else (desc or f"event code {code}")
    return out


#: the older single-step contract (``compute(ctx) -> Section``), kept for one release
compute = single_step(analyse, render)
