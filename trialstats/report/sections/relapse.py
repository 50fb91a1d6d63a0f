"""Section 7 — Relapse after treatment stops (time-to-event).

Kaplan-Meier curves per arm with the number at risk, median time to relapse, landmark
relapse-free rates, log-rank tests (unstratified and stratified by the plan's strata), Cox
hazard ratios with the proportional-hazards check, the RMST difference up to the plan's tau,
the cumulative incidence of relapse with discontinuation as a competing event (Gray's test), and
the interval-censored sensitivity analysis (Turnbull NPMLE, Weibull interval regression), since
relapse is only seen at visits.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..tables import fmt_estimate_ci, fmt_int, fmt_number, fmt_pvalue
from ._base import (
    EventWords,
    Figure,
    NotApplicable,
    Parts,
    Table,
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
    """The section title for this plan ("Relapse", "Time to recurrence", "Time to event")."""
    return EventWords.of(plan).title if plan.relapse is not None else TITLE


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


def compute(ctx):
    import trialstats as ts

    plan, trial = ctx.plan, ctx.trial
    spec = plan.relapse
    arms, ref = ctx.arms, ctx.reference
    labels = {a: ctx.label(a) for a in arms}
    lvl = pct_level(plan.level)
    data = relapse_frame(trial, spec.paramcd)
    data, stratum, strata_cols = strata_column(data, spec.strata)
    p = Parts()
    w = EventWords.of(plan)
    pre = table_prefix(w)
    n_ev = int((data["CNSR"] == 0).sum())
    entered = ("entered the off-treatment period" if w.origin == "end of treatment"
               else "were followed")
    p.paragraphs.append(
        f"Time to {w.event} is measured in days {w.from_origin}; {len(data)} subjects "
        f"{entered} and {n_ev} {w.events} were observed."
        + (f" {w.Event} is detected at visits, so the event time is the visit at which it was seen "
           f"(right-censored analyses) or the interval since the last {w.free} visit "
           "(interval-censored sensitivity)." if {"TLOWER", "TUPPER"} <= set(data.columns) else "")
    )

    km = ts.kaplan_meier(data, time="AVAL", censor="CNSR", by="ARM", level=plan.level)
    ctx.results["km"] = km
    horizon = float(data["AVAL"].max())
    ticks = time_grid(horizon)

    def km_plot():
        from ...plots.survival import plot_km

        fig, ax = new_figure(figsize=(7.5, 5.0))
        plot_km(km, ax=ax, at_risk=True, labels=legend_safe(labels))
        ax.set_title(f"{w.Free} survival {w.after} (Kaplan-Meier)")
        p.figures.append(Figure(f"{pre}_km", f"Kaplan-Meier estimate of {w.free} survival by arm with {lvl} pointwise intervals (log-log) and the number at risk.", fig))

    p.attempt("Kaplan-Meier plot", km_plot)

    def loglog_plot():
        from ...plots.survival import plot_loglog

        fig, ax = new_figure(figsize=(6.5, 4.0))
        plot_loglog(km, ax=ax, labels=legend_safe(labels), title=f"log(-log) {w.free} survival: parallel curves support proportional hazards")
        p.figures.append(Figure(f"{pre}_loglog", "Complementary log-log plot of the Kaplan-Meier curves by arm (a visual check of proportional hazards, next to the Schoenfeld-residual test).", fig))

    def risk():
        rt = km.risk_table(ticks).rename(columns={km.group: "ARM"})
        wide = rt.pivot_table(index="ARM", columns="time", values="n_risk", observed=True, sort=False)
        disp = pd.DataFrame({"Arm": [labels.get(str(a), str(a)) for a in wide.index],
                             **{f"Day {t:g}": [fmt_int(v) for v in wide[t]] for t in wide.columns}}, dtype=object)
        p.tables.append(Table(f"{pre}_at_risk", f"Number at risk by day {w.since}", rt, disp))

    p.attempt("Number-at-risk table", risk)

    def medians():
        med = km.median().rename(columns={km.group: "ARM"})
        med["n"] = [km.n_obs.get(a) for a in med["ARM"]]
        med["events"] = [km.n_events.get(a) for a in med["ARM"]]
        ctx.results["relapse_medians"] = med
        disp = pd.DataFrame({"Arm": [labels.get(str(a), str(a)) for a in med["ARM"]],
                             "n": [fmt_int(v) for v in med["n"]], w.Event + "s": [fmt_int(v) for v in med["events"]],
                             f"Median days ({lvl} CI)": [fmt_estimate_ci(m, lo, hi, 0) for m, lo, hi in zip(med["median"], med["conf_low"], med["conf_high"])]}, dtype=object)
        p.tables.append(Table(f"{pre}_median", f"Median time to {w.event} (Brookmeyer-Crowley interval; NE = not reached / not estimable)", med, disp))

    p.attempt(f"Median time to {w.event}", medians)

    def landmarks():
        lm = km.survival_at(list(spec.landmarks)).rename(columns={km.group: "ARM"})
        ctx.results["relapse_landmarks"] = lm
        disp = pd.DataFrame({"Day": [fmt_number(t, 0) for t in lm["time"]], "Arm": [labels.get(str(a), str(a)) for a in lm["ARM"]],
                             "At risk": [fmt_int(v) for v in lm["n_risk"]],
                             f"{w.free_pct} ({lvl} CI)": [fmt_estimate_ci(100 * s, 100 * lo, 100 * hi, 1) for s, lo, hi in zip(lm["survival"], lm["conf_low"], lm["conf_high"])]}, dtype=object)
        p.tables.append(Table(f"{pre}_landmarks", f"Landmark {w.free} rates (Kaplan-Meier)", lm, disp))

    p.attempt("Landmark rates", landmarks)

    def tests():
        rows = []
        lr = ts.logrank(data, time="AVAL", censor="CNSR", by="ARM")
        rows.append({"test": "Log-rank (unstratified)", "statistic": lr.statistic, "df": lr.df, "p_value": lr.p_value})
        if stratum:
            slr = ts.logrank(data, time="AVAL", censor="CNSR", by="ARM", strata=stratum)
            rows.append({"test": f"Log-rank stratified by {', '.join(strata_cols)}", "statistic": slr.statistic, "df": slr.df, "p_value": slr.p_value})
            pw = slr.pairwise.copy()
            for _, r in pw.iterrows():
                rows.append({"test": f"  {r['contrast']} (stratified, Holm-adjusted p)", "statistic": r["statistic"], "df": r["df"], "p_value": r.get("p_adjusted", r["p_value"])})
        t = pd.DataFrame(rows)
        ctx.results["logrank"] = t
        disp = pd.DataFrame({"Test": t["test"], "Chi-square": [fmt_number(s, 2) for s in t["statistic"]], "df": [fmt_int(d) for d in t["df"]], "p-value": [fmt_pvalue(v) for v in t["p_value"]]}, dtype=object)
        p.tables.append(Table(f"{pre}_logrank", f"Log-rank tests of {w.free} survival", t, disp))

    p.attempt("Log-rank tests", tests)

    def cox():
        fit = ts.cox("ARM", data, time="AVAL", censor="CNSR", strata=stratum)
        cmp = fit.comparisons(reference=ref)  # one row per arm vs the reference, in arm order
        coef = fit.coef.reset_index(drop=True)
        if len(coef) != len(cmp):  # pragma: no cover - the model is ARM only
            raise ValueError("the Cox model has terms other than the arm")
        coef.insert(0, "ARM", cmp["arm"].to_numpy())
        coef.insert(1, "reference", cmp["reference"].to_numpy())
        ctx.estimates.add("cox", fit.comparisons(reference=ref, pairs="all", endpoint=spec.paramcd),
                          f"hazard ratio of {w.event}", KEY)
        disp = pd.DataFrame({"Comparison": [f"{labels.get(a, a)} vs {labels.get(r, r)}" for a, r in zip(coef["ARM"], coef["reference"])],
                             f"Hazard ratio ({lvl} CI)": [fmt_estimate_ci(h, lo, hi, 2) for h, lo, hi in zip(coef["hazard_ratio"], coef["conf_low"], coef["conf_high"])],
                             "p-value": [fmt_pvalue(v) for v in coef["p_value"]]}, dtype=object)
        p.tables.append(Table(f"{pre}_cox", f"Cox proportional-hazards model of {w.event}" + (f", stratified by {', '.join(strata_cols)}" if stratum else "") + " (Efron ties)", coef, disp))
        ph = fit.ph_test().reset_index(drop=True)
        pdisp = pd.DataFrame({"Term": ph["term"].astype(str), "Chi-square": [fmt_number(s, 2) for s in ph["statistic"]], "df": [fmt_number(d, 0) for d in ph["df"]], "p-value": [fmt_pvalue(v) for v in ph["p_value"]]}, dtype=object)
        p.tables.append(Table(f"{pre}_ph_test", "Proportional-hazards check (scaled Schoenfeld residuals, as R cox.zph); a small p-value questions the single hazard ratio", ph, pdisp))

    p.attempt("Cox model", cox)
    p.attempt("log(-log) plot", loglog_plot)

    def rmst():
        res = ts.rmst(data, time="AVAL", censor="CNSR", by="ARM", tau=spec.tau, level=plan.level)
        per = res.per_arm.reset_index(drop=True)
        diff = res.comparisons(measures=("difference",)).rename(columns={"arm": "ARM"})
        ctx.estimates.add("rmst", res.comparisons(pairs="all", measures=("difference",), endpoint=spec.paramcd),
                          f"RMST difference to day {spec.tau:g} ({w.days_free})", KEY)
        g = _group_col(per)
        p.tables.append(Table(f"{pre}_rmst", f"Restricted mean {w.free_time} up to day {spec.tau:g}", per,
                              pd.DataFrame({"Arm": [labels.get(str(a), str(a)) for a in per[g]], f"RMST, days ({lvl} CI)": [fmt_estimate_ci(e, lo, hi, 1) for e, lo, hi in zip(per["rmst"], per["conf_low"], per["conf_high"])]}, dtype=object)))
        p.tables.append(Table(f"{pre}_rmst_difference", f"RMST difference vs {labels.get(ref, ref)} up to day {spec.tau:g}", diff,
                              pd.DataFrame({"Comparison": [f"{labels.get(a, a)} - {labels.get(r, r)}" for a, r in zip(diff["ARM"], diff["reference"])], f"Difference, days ({lvl} CI)": [fmt_estimate_ci(e, lo, hi, 1) for e, lo, hi in zip(diff["estimate"], diff["conf_low"], diff["conf_high"])], "p-value": [fmt_pvalue(v) for v in diff["p_value"]]}, dtype=object)))

    p.attempt("RMST", rmst)

    causes = _cause_names(data, w)
    if "EVENTCD" in data.columns and len(causes) > 1:  # a competing event is coded
        other = "; ".join(v for k, v in causes.items() if k != 1)
        ctx.results["competing_events"] = f"a competing event ({other})"

        def competing():
            ci = ts.cumulative_incidence(data, time="AVAL", event_code="EVENTCD", by="ARM", cause=1, level=plan.level)
            ctx.results["cif"] = ci
            at = ci.at(list(spec.landmarks)).rename(columns={ci.group: "ARM"})
            p.tables.append(Table(f"{pre}_cif_landmarks", f"Cumulative incidence of {w.event} at the landmark days (competing event: {other}; Aalen-Johansen)", at,
                                  pd.DataFrame({"Day": [fmt_number(t, 0) for t in at["time"]], "Arm": [labels.get(str(a), str(a)) for a in at["ARM"]],
                                                "At risk": [fmt_int(v) for v in at["n_risk"]],
                                                f"Cumulative incidence % ({lvl} CI)": [fmt_estimate_ci(100 * e, 100 * lo, 100 * hi, 1) for e, lo, hi in zip(at["estimate"], at["conf_low"], at["conf_high"])]}, dtype=object)))
            gt = ts.gray_test(data, time="AVAL", event_code="EVENTCD", by="ARM")
            gtab = gt.table.reset_index(drop=True)
            names = causes
            p.tables.append(Table(f"{pre}_gray", "Gray's test of equal cumulative incidence across arms, per cause", gtab,
                                  pd.DataFrame({"Cause": [f"{int(c)} ({names.get(int(c), 'other')})" for c in gtab["cause"]],
                                                "Chi-square": [fmt_number(v, 2) for v in gtab["statistic"]], "df": [fmt_number(v, 0) for v in gtab["df"]],
                                                "p-value": [fmt_pvalue(v) for v in gtab["p_value"]]}, dtype=object)))

        p.attempt("Cumulative incidence (competing risks)", competing)

        def cif_plot():
            from ...plots.survival import plot_cumulative_incidence

            ci = ctx.results["cif"]
            fig, ax = new_figure(figsize=(7.5, 4.5))
            plot_cumulative_incidence(ci, ax=ax, labels=legend_safe(labels))
            ax.set_title(f"Cumulative incidence of {w.event} (competing: {other})")
            p.figures.append(Figure(f"{pre}_cif", f"Cumulative incidence of {w.event} with a competing event ({other}; Aalen-Johansen).", fig))

        if "cif" in ctx.results:
            p.attempt("Cumulative incidence plot", cif_plot)

    if "interval-censored" in plan.sensitivity and {"TLOWER", "TUPPER"} <= set(data.columns):
        ctx.results["interval_censored"] = True

        def interval():
            tb = ts.turnbull(data, left="TLOWER", right="TUPPER", by="ARM")
            sa = tb.survival_at(list(spec.landmarks)).rename(columns={tb.group: "ARM"})
            p.tables.append(Table(f"{pre}_turnbull", f"{w.Free} proportion at the landmark days, Turnbull NPMLE (interval-censored; mass at interval midpoints)", sa,
                                  pd.DataFrame({"Day": [fmt_number(t, 0) for t in sa["time"]], "Arm": [labels.get(str(a), str(a)) for a in sa["ARM"]],
                                                w.free_pct: [fmt_number(100 * v, 1) for v in sa["survival"]]}, dtype=object)))
            ir = ts.interval_regression("ARM", data, left="TLOWER", right="TUPPER", dist="weibull", level=plan.level)
            coef = ir.coef.reset_index(drop=True)
            coef.insert(0, "ARM", [term_arm(t, arms) for t in coef["term"]])
            arm_rows = coef[coef["ARM"].notna()]
            p.tables.append(Table(f"{pre}_weibull_interval", f"Weibull AFT regression of interval-censored {w.event} times: time ratios vs {labels.get(ref, ref)} (> 1 = {w.event} later)", coef,
                                  pd.DataFrame({"Comparison": [f"{labels.get(a, a)} vs {labels.get(ref, ref)}" for a in arm_rows["ARM"]],
                                                f"Time ratio ({lvl} CI)": [fmt_estimate_ci(np.exp(e), np.exp(lo), np.exp(hi), 2) for e, lo, hi in zip(arm_rows["estimate"], arm_rows["conf_low"], arm_rows["conf_high"])],
                                                "p-value": [fmt_pvalue(v) for v in arm_rows["p_value"]]}, dtype=object),
                                  note=f"Weibull scale {ir.scale:.3g}; {ir.n_obs} subjects; {'converged' if ir.converged else 'NOT converged'}."))

        p.attempt("Interval-censored sensitivity (Turnbull / Weibull)", interval)
    return p.section(KEY, w.title)


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

