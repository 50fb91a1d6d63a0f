"""Section 1 — Summary: the key results in one table (built last, from the other sections)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..tables import fmt_estimate_ci, fmt_n_pct, fmt_pvalue
from ._analysis import Results, section_of, single_step, table
from ._base import EventWords, endpoint_name, pct_level
from .primary import p_text

KEY = "summary"
TITLE = "Summary"
#: Sections whose results this one reads (the registry computes them first).
NEEDS = ("disposition", "primary", "durability", "relapse", "safety", "hypotheses", "methods")

_ORDER = (("primary", "Primary: {label}"), ("primary-kr", "Sensitivity: {label}"), ("slope", "Durability: {label}"),
          ("rmst", "{event}: {label}"), ("cox", "{event}: {label}"))
def key_results(ctx) -> pd.DataFrame:
    """Tidy key results: one row per (result, arm) against the reference arm, with estimate,
    interval and p-value; only from the sections that completed without a failure."""
    est = ctx.estimates.frame(ctx.sections_ok() if ctx.sections else None)
    est = est[est["reference"] == ctx.reference]
    event = EventWords.of(ctx.plan).title if ctx.plan.relapse is not None else "Time to event"
    rows = []
    others = [a for a in ctx.arms if a != ctx.reference]

    def row(result, e):
        return {"result": result, "endpoint": e["key"], "ARM": e["arm"], "measure": e["measure"],
                "estimate": e["estimate"], "conf_low": e["conf_low"], "conf_high": e["conf_high"],
                "p_value": e["p_value"]}

    for endpoint, template in _ORDER:
        for a in others:
            hit = est[(est["key"] == endpoint) & (est["arm"] == a)]
            if len(hit):
                e = hit.iloc[0]
                rows.append(row(template.format(label=e["label"], event=event), e))
    for spec in ctx.plan.more_events or ():  # further time-to-event endpoints, in plan order
        title = EventWords.of_spec(spec).title
        for endpoint in (f"rmst:{spec.paramcd}", f"cox:{spec.paramcd}"):
            for a in others:
                hit = est[(est["key"] == endpoint) & (est["arm"] == a)]
                if len(hit):
                    rows.append(row(f"{title}: {hit.iloc[0]['label']}", hit.iloc[0]))
    sec = est[est["key"].str.startswith("secondary:")]
    for key in sorted(set(sec["key"])):
        for a in others:
            hit = sec[(sec["key"] == key) & (sec["arm"] == a)]
            if len(hit):
                rows.append(row(f"Secondary: {hit.iloc[0]['label']}", hit.iloc[0]))
    return pd.DataFrame(rows, columns=["result", "endpoint", "ARM", "measure", "estimate", "conf_low", "conf_high", "p_value"])


def analyse(ctx):
    """Frames ``summary_key_results`` (:func:`key_results`), ``summary_arms`` (subjects per arm
    and in total) and, when their sections ran, ``summary_hypotheses`` (id, arms, conclusion,
    adjusted p), ``summary_medians`` (median time to the event) and ``summary_teae`` (subjects
    with any TEAE)."""
    trial = ctx.trial
    p = Results()
    arms = list(ctx.arms)
    p.add("summary_arms", pd.DataFrame({"ARM": [*arms, "Total"],
                                        "n": [int((trial.adsl["ARM"] == a).sum()) for a in arms] + [len(trial.adsl)]}))
    kr = p.add("summary_key_results", key_results(ctx))
    if kr.empty:
        p.failures.append("No key result is available: the analyses that make them failed or do not "
                          "apply (see their sections).")
    hyp = ctx.results.get("hypotheses")
    if isinstance(hyp, pd.DataFrame) and len(hyp):
        p.add("summary_hypotheses", hyp[["id", "name", "ARM", "reference", "conclusion", "p_adjusted", "strategy"]])
    med = ctx.results.get("relapse_medians")
    rel = ctx.sections.get("relapse")
    if isinstance(med, pd.DataFrame) and len(med) and rel is not None and not rel.error:
        p.add("summary_medians", med[["ARM", "median", "conf_low", "conf_high"]])
    counts = ctx.results.get("teae_counts")
    if isinstance(counts, pd.DataFrame):
        p.add("summary_teae", counts.loc[counts["category"] == "Any TEAE", ["ARM", "n", "N"]])
    return p.analysis(KEY)


def render(a, view):
    """The summary from the frames of :func:`analyse` (or read back from the ARD)."""
    trial, plan, ref = view.trial, view.plan, view.reference
    lvl = pct_level(plan.level)
    n = dict(zip(a.frame("summary_arms")["ARM"], a.frame("summary_arms")["n"]))
    primary_runs = plan.skipped("primary") is None
    paras = [
        f"{trial.meta.title}. {int(n['Total'])} subjects randomised: "
        + ", ".join(f"{view.label(x)} {int(n[x])}" for x in view.arms)
        + f". Reference arm: {view.label(ref)}."
        + (f" Primary endpoint: change from baseline in {endpoint_name(trial, plan.primary.paramcd)} "
           f"at {plan.primary.visit}." if primary_runs else "")
    ]
    kr = a.frame("summary_key_results")
    disp = pd.DataFrame({
        "Result": kr["result"],
        "Comparison": [f"{view.label(x)} vs {view.label(ref)}" for x in kr["ARM"]],
        "Measure": kr["measure"],
        f"Estimate ({lvl} CI)": [fmt_estimate_ci(e, lo, hi) for e, lo, hi in zip(kr["estimate"], kr["conf_low"], kr["conf_high"])],
        "p-value (unadjusted)": [fmt_pvalue(v) for v in kr["p_value"]],
    }, dtype=object)
    hyp = a.frame("summary_hypotheses")
    for _, r in (hyp.iterrows() if hyp is not None else ()):
        paras.append(
            f"{r['id']} ({r['name']}, {view.label(r['ARM'])} vs {view.label(r['reference'])}): {r['conclusion']}"
            + (f" (adjusted {p_text(r['p_adjusted'])}, {r['strategy']})."
               if np.isfinite(r["p_adjusted"]) and not r["conclusion"].startswith("not tested") else ".")
        )
    med = a.frame("summary_medians")
    if med is not None:
        w = EventWords.of(plan)
        after = " after treatment stops" if w.origin == "end of treatment" else f" {w.from_origin}"
        paras.append(f"Median time to {w.event}{after} (days, Kaplan-Meier): " + ", ".join(
            f"{view.label(str(r['ARM']))} {fmt_estimate_ci(r['median'], r['conf_low'], r['conf_high'], 0)}"
            for _, r in med.iterrows()) + f" ({lvl} CI; NE = not reached or not estimable).")
    teae = a.frame("summary_teae")
    if teae is not None:
        paras.append("Subjects with any treatment-emergent adverse event: " + ", ".join(
            f"{view.label(r['ARM'])} {fmt_n_pct(r['n'], r['N'])}" for _, r in teae.iterrows()) + ".")
    return section_of(a, TITLE, paragraphs=paras,
                      tables=[table("summary_key_results", "Key results", a, disp)])


#: the older single-step contract (``compute(ctx) -> Section``), kept for one release
compute = single_step(analyse, render)
