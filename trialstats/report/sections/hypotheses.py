"""Section 11 — Hypotheses, in the plan's order, with the multiplicity adjustment.

Strategies (two-sided ``alpha``):

* ``fixed-sequence``: hypotheses are tested in order at the full alpha; testing stops at the
  first that is not rejected and every later one is "not tested". The adjusted p-value of the
  i-th hypothesis is ``max(p_1, ..., p_i)``, so it is rejected exactly when adjusted p <= alpha.
* ``holm``: Holm's step-down procedure; adjusted p-values as R ``p.adjust(method = "holm")``.

A hypothesis whose estimate is unavailable (its analysis failed) has no p-value; under the fixed
sequence it stops the sequence, under Holm it is left out of the adjustment. Either way the row
says why.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...results.multiplicity import adjust_p, multiplicity
from ..plan import DEFAULT_BETTER
from ..tables import fmt_estimate_ci, fmt_pvalue
from ._analysis import Results, section_of, single_step, table
from ._base import EventWords, pct_level

KEY = "hypotheses"
TITLE = "Hypotheses and multiplicity"
#: Sections whose results this one reads (the registry computes them first).
NEEDS = ("primary", "durability", "relapse", "safety")

ENDPOINT_NAMES = {
    "primary": "Primary endpoint",
    "rmst": "Restricted mean event-free time",
    "cox": "Hazard of the event",
    "slope": "Off-treatment slope",
    "ae": "Risk of any treatment-emergent adverse event",
}


def endpoint_names(plan) -> dict:
    """Names of the hypothesis endpoints, with the event of the plan's time-to-event endpoint."""
    if plan.relapse is None:
        return dict(ENDPOINT_NAMES)
    w = EventWords.of(plan)
    return {**ENDPOINT_NAMES, "rmst": f"Restricted mean {w.free_time}", "cox": f"Hazard of {w.event}"}


def adjust_fixed_sequence(p_values) -> np.ndarray:
    """Fixed-sequence adjusted p-values: running maximum (NaN propagates to every later one)."""
    return adjust_p(p_values, "fixed-sequence")


def adjust_holm(p_values) -> np.ndarray:
    """Holm step-down adjusted p-values over the non-missing p-values (NaN stays NaN)."""
    return adjust_p(p_values, "holm")


def conclusions(p_values, adjusted, strategy: str, alpha: float) -> list[str]:
    """Wording per hypothesis: rejected / not rejected / not tested (fixed sequence stopped)."""
    out = []
    stopped = False
    for p, a in zip(p_values, adjusted):
        if strategy == "fixed-sequence" and stopped:
            out.append("not tested (an earlier hypothesis was not rejected)")
            continue
        if np.isnan(p):
            out.append("not available (its analysis failed)")
            stopped = True
            continue
        if a <= alpha:
            out.append(f"rejected at two-sided alpha = {alpha:g}")
        else:
            out.append("not rejected")
            stopped = True
    return out


def test_hypothesis(ctx, h, ok) -> dict:
    """Estimate, interval and p-value of one hypothesis by :func:`trialstats.compare` on the
    stored comparisons of its endpoint (any pair of arms; a non-inferiority margin on the
    estimate's scale). A one-sided p-value is doubled, so that every hypothesis is judged at the
    plan's two-sided alpha (one-sided alpha / 2). Empty when the analysis gave no estimate."""
    from ...results.hypothesis import compare

    reference = h.reference or ctx.reference
    rows = ctx.estimates.get(h.endpoint, h.arm, reference, ok)
    if rows.empty:
        return {}
    rows = rows.drop(columns=["key", "label", "section"])
    if h.test == "non-inferiority":
        better = h.better or DEFAULT_BETTER.get(h.endpoint.split(":")[0], "higher")
        alternative = "greater" if better == "higher" else "less"
        r = compare(rows, h.arm, reference, margin=h.margin, alternative=alternative,
                    level=1 - ctx.plan.alpha / 2).iloc[0]
        p = min(1.0, 2.0 * float(r["p_value"]))
        what = (f"non-inferiority, margin {h.margin:g} ({better} is better; one-sided "
                f"alpha = {ctx.plan.alpha / 2:g})")
    else:
        r = compare(rows, h.arm, reference).iloc[0]
        p = float(r["p_value"])
        what = "superiority (two-sided)"
    return {"measure": r["measure"], "estimate": r["estimate"], "conf_low": r["conf_low"],
            "conf_high": r["conf_high"], "p_value": p, "null": r["null"], "test": what}


def analyse(ctx):
    """Frame ``hypotheses``: one row per hypothesis of the plan, in testing order, with the
    estimate, raw and adjusted p-values and the conclusion (strategy of the plan)."""
    plan = ctx.plan
    ref = ctx.reference
    ok = ctx.sections_ok()
    names = endpoint_names(plan)
    rows = []
    for h in plan.hypotheses:
        name = names.get(h.endpoint, h.endpoint.replace("secondary:", "Secondary: "))
        base = {"id": h.id, "endpoint": h.endpoint, "name": name, "ARM": h.arm,
                "reference": h.reference or ref}
        e = test_hypothesis(ctx, h, ok)
        if not e:
            rows.append({**base, "measure": "", "estimate": np.nan, "conf_low": np.nan, "conf_high": np.nan,
                         "p_value": np.nan, "null": np.nan, "test": h.test})
        else:
            rows.append({**base, **e})
    t = pd.DataFrame(rows, columns=["id", "endpoint", "name", "ARM", "reference", "test", "measure", "estimate",
                                    "conf_low", "conf_high", "p_value", "null"])
    t = multiplicity(t, plan.strategy, alpha=plan.alpha).drop(columns=["rejected", "adjustment"])
    t["conclusion"] = conclusions(t["p_value"].to_numpy(float), t["p_adjusted"].to_numpy(float), plan.strategy, plan.alpha)
    t["strategy"] = plan.strategy
    ctx.results["hypotheses"] = t
    p = Results()
    p.add("hypotheses", t)
    for _, r in t[t["p_value"].isna()].iterrows():
        p.notes.append(f"{r['id']} ({r['endpoint']}, {r['ARM']}): no estimate because its analysis did not produce one (see its section).")
    return p.analysis(KEY)


def render(a, view):
    """The section from the frame of :func:`analyse` (or read back from the ARD)."""
    plan, ref = view.plan, view.reference
    lvl = pct_level(plan.level)
    t = a.frame("hypotheses")
    head_to_head = (t["reference"] != ref).any() or (t["test"] != "superiority (two-sided)").any()
    disp = pd.DataFrame({
        "#": t["id"],
        "Hypothesis": [f"{n}: {view.label(x)} vs {view.label(r)}" for n, x, r in zip(t["name"], t["ARM"], t["reference"])],
        **({"Test": t["test"]} if head_to_head else {}),
        "Measure": t["measure"].replace("", "-"),
        f"Estimate ({lvl} CI)": [fmt_estimate_ci(e, lo, hi) for e, lo, hi in zip(t["estimate"], t["conf_low"], t["conf_high"])],
        "Raw p": [fmt_pvalue(v) for v in t["p_value"]],
        "Adjusted p": [fmt_pvalue(v) for v in t["p_adjusted"]],
        "Conclusion": t["conclusion"],
    }, dtype=object)
    strategy_text = (
        "fixed-sequence testing: each hypothesis is tested at the full alpha only if every earlier one was rejected"
        if plan.strategy == "fixed-sequence" else "Holm's step-down procedure over all hypotheses"
    )
    para = (
        f"{len(t)} hypotheses in the plan's order, controlled for the family-wise error rate at two-sided "
        f"alpha = {plan.alpha:g} by {strategy_text} (trialstats.multiplicity). Each is tested by "
        "trialstats.compare on the comparison its section stored"
        + (": superiority two-sided; non-inferiority one-sided against the plan's margin at alpha / 2, its "
           "p-value doubled so that every hypothesis is judged at the same two-sided alpha, its interval "
           "one-sided" if head_to_head else "")
        + f". Intervals are unadjusted {lvl} confidence intervals"
        + (" (non-inferiority: one-sided)." if head_to_head else ".")
    )
    return section_of(a, TITLE, paragraphs=[para],
                      tables=[table("hypotheses", f"Hypotheses in testing order ({plan.strategy})", a, disp)])


#: the older single-step contract (``compute(ctx) -> Section``), kept for one release
compute = single_step(analyse, render)
