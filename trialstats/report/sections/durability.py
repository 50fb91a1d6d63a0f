"""Section 6 — Durability: what happens to a count endpoint after treatment stops.

Off-treatment data: the visits from the end of treatment (the last visit flagged ONTRTFL = "Y",
else the primary visit) onwards, with ``WEEK_OFF`` = weeks since the end of treatment. Two
models of the count (AVAL):

* a linear mixed model with a random intercept and slope per subject,
  ``AVAL ~ ARM * WEEK_OFF + BASE`` with ``(WEEK_OFF | USUBJID)`` — the per-arm slope is the mean
  change per week off treatment, in the endpoint's unit (AVALU, or the plan default);
* a marginal count model (GEE, log link) ``AVAL ~ ARM * YEARS_OFF + log(BASE)``, whose rate ratios
  per year off treatment describe the relative decline.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..tables import fmt_estimate_ci, fmt_number, fmt_pvalue
from ._analysis import Results, section_of, single_step, table
from ._base import (
    Figure,
    Section,
    endpoint_name,
    endpoint_unit,
    legend_safe,
    new_figure,
    outcome_units,
    pct_level,
    visit_times,
)
from .primary import is_baseline, observed_means, visit_number

KEY = "durability"
TITLE = "Durability after treatment stops"
#: Sections whose results this one reads (the registry computes them first).
NEEDS = ()


def off_treatment_frame(trial, paramcd: str, primary_visit: str) -> tuple[pd.DataFrame, float]:
    """Rows from the end of treatment on, with WEEK_OFF; returns (frame, end-of-treatment week)."""
    frame = trial.analysis_frame("adeff", paramcd=paramcd)
    if "ONTRTFL" in frame.columns and (frame["ONTRTFL"].astype(str) == "Y").any():
        stop = float(frame.loc[frame["ONTRTFL"].astype(str) == "Y", "AVISITN"].max())
    else:
        stop = visit_number(frame, primary_visit)
    frame = frame[~is_baseline(frame) & (frame["AVISITN"] >= stop)].reset_index(drop=True)
    frame["WEEK_OFF"] = (frame["AVISITN"] - stop).astype(float)
    if isinstance(frame["AVISIT"].dtype, pd.CategoricalDtype):
        frame["AVISIT"] = frame["AVISIT"].cat.remove_unused_categories()
    frame = frame[frame["AVAL"].notna()].reset_index(drop=True)
    frame["YEARS_OFF"] = frame["WEEK_OFF"] / 52.0
    frame["LOGBASE"] = np.log(frame["BASE"].astype(float).clip(lower=1.0))
    return frame, stop


def analyse(ctx):
    """Frames ``durability_slopes``, ``durability_slope_differences``, ``durability_rate_ratios``
    and ``durability_data`` (end-of-treatment week, observations, subjects, last week, unit,
    and the count model's size, dispersion and convergence)."""
    from ... import count_model, lmm

    plan, trial = ctx.plan, ctx.trial
    spec = plan.durability
    arms, ref = ctx.arms, ctx.reference
    labels = {a: ctx.label(a) for a in arms}
    data, stop = off_treatment_frame(trial, spec.paramcd, plan.primary.visit)
    p = Results()
    fit = lmm("AVAL ~ ARM * WEEK_OFF + BASE", data, subject="USUBJID", re_formula="~WEEK_OFF", level=plan.level)
    sl = fit.slopes(arm="ARM", time="WEEK_OFF")
    p.add("durability_slopes", sl.per_arm.rename(columns={sl.arm: "ARM"}))
    p.add("durability_slope_differences", fit.comparisons(time="WEEK_OFF").rename(columns={"arm": "ARM"}))
    unit = spec_unit(trial, spec.paramcd)
    name = endpoint_name(trial, spec.paramcd)
    ctx.estimates.add("slope", fit.comparisons(time="WEEK_OFF", pairs="all", endpoint=spec.paramcd, param=name),
                      f"off-treatment slope difference ({unit} per week)", KEY)
    cm = count_model("AVAL ~ ARM * YEARS_OFF + LOGBASE", data, subject="USUBJID", family=spec.family,
                     correlation=spec.correlation, level=plan.level)
    rr = cm.rate_ratios.merge(cm.coef[["term", "p_value"]], on="term", how="left").reset_index(drop=True)
    rr.insert(1, "description", [_count_term(t, arms, ref, labels) for t in rr["term"]])
    p.add("durability_rate_ratios", rr)
    p.add("durability_data", pd.DataFrame({
        "stop_week": [float(stop)], "n_obs": [len(data)], "n_subjects": [int(data["USUBJID"].nunique())],
        "last_week": [float(data["AVISITN"].max())], "unit": [unit], "count_n_obs": [int(cm.n_obs)],
        "count_n_subjects": [int(cm.n_subjects)], "count_dispersion": [float(cm.dispersion)],
        "count_converged": [bool(cm.converged)]}))
    p.add("durability_observed_means", observed_means(data.assign(AVISIT=data["AVISIT"]), "AVAL", plan.level, arms))
    times = visit_times(data)  # where each visit sits on the figure's time axis
    p.add("durability_visits", pd.DataFrame({"AVISIT": [str(v) for v in times], "AVISITN": list(times.values()),
                                             "units": pd.Series([unit or outcome_units(data)] * len(times), dtype=object)}))
    return p.analysis(KEY)


def _figure(a, view) -> Figure:
    """Observed means from the end of treatment on, drawn from the frames."""
    from ...plots.longitudinal import plot_observed_means

    spec = view.plan.durability
    visits = a.frame("durability_visits")
    stop = float(a.frame("durability_data")["stop_week"].iloc[0])
    fig, ax = new_figure(figsize=(7.5, 4.2))
    plot_observed_means(a.frame("durability_observed_means"), ax=ax, labels=legend_safe(view.labels),
                        ylabel=f"Observed mean {spec.paramcd}", title=f"{endpoint_name(view.trial, spec.paramcd)} after treatment stops",
                        units=visits["units"].iloc[0] if len(visits) else None,
                        time=dict(zip(visits["AVISIT"], visits["AVISITN"].astype(float))))
    return Figure("durability_observed", f"Observed mean {spec.paramcd} from the end of treatment (week {stop:g}) onwards, by arm ({pct_level(view.plan.level)} CI).", fig)


def render(a, view) -> Section:
    """The section from the frames of :func:`analyse` (or read back from the ARD)."""
    spec, ref = view.plan.durability, view.reference
    lvl = pct_level(view.plan.level)
    name = endpoint_name(view.trial, spec.paramcd)
    d = a.frame("durability_data").iloc[0]
    per_arm, diff, rr = a.frame("durability_slopes"), a.frame("durability_slope_differences"), a.frame("durability_rate_ratios")
    tables = [
        table("durability_slopes", f"Slope of {name} per week after treatment stops (random-slope LMM)", a,
              pd.DataFrame({"Arm": [view.label(str(x)) for x in per_arm["ARM"]],
                            f"Slope per week ({lvl} CI)": [fmt_estimate_ci(e, lo, hi, 3) for e, lo, hi in zip(per_arm["estimate"], per_arm["conf_low"], per_arm["conf_high"])],
                            "SE": [fmt_number(s, 3) for s in per_arm["std_error"]]}, dtype=object)),
        table("durability_slope_differences", f"Difference in slope vs {view.label(ref)}", a,
              pd.DataFrame({"Comparison": [f"{view.label(x)} - {view.label(r)}" for x, r in zip(diff["ARM"], diff["reference"])],
                            f"Difference per week ({lvl} CI)": [fmt_estimate_ci(e, lo, hi, 3) for e, lo, hi in zip(diff["estimate"], diff["conf_low"], diff["conf_high"])],
                            "p-value": [fmt_pvalue(v) for v in diff["p_value"]]}, dtype=object)),
        table("durability_rate_ratios",
              f"Count model ({spec.family} GEE, {spec.correlation} working correlation, robust SEs): rate ratios, time in years off treatment", a,
              pd.DataFrame({"Term": rr["description"],
                            f"Rate ratio ({lvl} CI)": [fmt_estimate_ci(e, lo, hi, 3) for e, lo, hi in zip(rr["rate_ratio"], rr["conf_low"], rr["conf_high"])],
                            "p-value": [fmt_pvalue(v) for v in rr["p_value"]]}, dtype=object),
              note=f"{int(d['count_n_obs'])} observations of {int(d['count_n_subjects'])} subjects; Pearson dispersion {d['count_dispersion']:.2f}"
                   + ("" if bool(d["count_converged"]) else "; NOT converged") + "."),
    ]
    stop = float(d["stop_week"])
    paras = (
        f"Treatment ended at week {stop:g}. Off-treatment data: {int(d['n_obs'])} observations of "
        f"{int(d['n_subjects'])} subjects from week {stop:g} to week {float(d['last_week']):g}. "
        "The random-slope model (REML, statsmodels MixedLM; Wald z intervals) gives each arm's mean change in "
        f"{d['unit']} per week off treatment; a negative slope is a decline after treatment stops. The GEE count model "
        "(log link, robust sandwich standard errors) gives the same comparison on the ratio scale.",
    )
    return section_of(a, TITLE, paragraphs=paras, tables=tables, figures=[_figure(a, view)])


def spec_unit(trial, paramcd: str) -> str:
    """Unit of the durability endpoint: ADEFF AVALU; else the plan default of a bundled
    parameter (:data:`trialstats.report.plan.DEFAULT_UNITS`, only for that PARAMCD); else the unit
    in PARAM's parentheses; else "units"."""
    from ..plan import DEFAULT_UNITS

    adeff = trial.adeff
    if "AVALU" in adeff.columns:
        u = adeff.loc[adeff["PARAMCD"] == paramcd, "AVALU"].astype(str).str.strip()
        if (u != "").any():
            return str(u[u != ""].iloc[0])
    return DEFAULT_UNITS.get(paramcd) or endpoint_unit(trial, paramcd) or "units"


def _count_term(term: str, arms: list[str], ref: str, labels: dict) -> str:
    """Plain-language label of a count-model term ("ARMEXOSOME:YEARS_OFF" → ...)."""
    arm = next((a for a in sorted(arms, key=len, reverse=True) if f"ARM{a}" in term or f"ARM[T.{a}]" in term), None)
    if arm and "YEARS_OFF" in term:
        return f"{labels.get(arm, arm)} vs {labels.get(ref, ref)}: ratio of the yearly change off treatment"
    if arm:
        return f"{labels.get(arm, arm)} vs {labels.get(ref, ref)} at the end of treatment"
    if term == "YEARS_OFF":
        return f"{labels.get(ref, ref)}: change per year off treatment"
    if term == "LOGBASE":
        return "log baseline count (per unit)"
    return term


#: the older single-step contract (``compute(ctx) -> Section``), kept for one release
compute = single_step(analyse, render)
