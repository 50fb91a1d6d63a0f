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

from ...results.multiplicity import adjust_p
from ..tables import fmt_estimate_ci, fmt_pvalue
from ._base import EventWords, Parts, Table, pct_level

KEY = "hypotheses"
TITLE = "Hypotheses and multiplicity"

ENDPOINT_NAMES = {
    "primary": "Primary endpoint",
    "rmst": "Restricted mean relapse-free time",
    "cox": "Hazard of relapse",
}


def endpoint_names(plan) -> dict:
    """Names of the hypothesis endpoints, with the event of the plan's time-to-event endpoint."""
    if plan.relapse is None:
        return dict(ENDPOINT_NAMES)
    w = EventWords.of(plan)
    return {"primary": "Primary endpoint", "rmst": f"Restricted mean {w.free_time}",
            "cox": f"Hazard of {w.event}"}


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


def compute(ctx):
    plan = ctx.plan
    ref = ctx.reference
    lvl = pct_level(plan.level)
    from .summary import trusted_estimates

    est = trusted_estimates(ctx)
    names = endpoint_names(plan)
    rows = []
    for h in plan.hypotheses:
        e = est.get((h.endpoint, h.arm))
        name = names.get(h.endpoint, h.endpoint.replace("secondary:", "Secondary: "))
        base = {"id": h.id, "endpoint": h.endpoint, "name": name, "ARM": h.arm}
        if e is None:
            rows.append({**base, "measure": "", "estimate": np.nan, "conf_low": np.nan, "conf_high": np.nan, "p_value": np.nan, "null": np.nan})
        else:
            rows.append({**base, "measure": e["measure"], "estimate": e["estimate"], "conf_low": e["conf_low"],
                         "conf_high": e["conf_high"], "p_value": e["p_value"], "null": e["null"]})
    t = pd.DataFrame(rows, columns=["id", "endpoint", "name", "ARM", "measure", "estimate", "conf_low", "conf_high", "p_value", "null"])
    adjust = adjust_fixed_sequence if plan.strategy == "fixed-sequence" else adjust_holm
    t["p_adjusted"] = adjust(t["p_value"].to_numpy(float))
    t["conclusion"] = conclusions(t["p_value"].to_numpy(float), t["p_adjusted"].to_numpy(float), plan.strategy, plan.alpha)
    t["strategy"] = plan.strategy
    t["alpha"] = plan.alpha
    ctx.results["hypotheses"] = t
    disp = pd.DataFrame({
        "#": t["id"],
        "Hypothesis": [f"{n}: {ctx.label(a)} vs {ctx.label(ref)}" for n, a in zip(t["name"], t["ARM"])],
        "Measure": t["measure"].replace("", "-"),
        f"Estimate ({lvl} CI)": [fmt_estimate_ci(e, lo, hi) for e, lo, hi in zip(t["estimate"], t["conf_low"], t["conf_high"])],
        "Raw p": [fmt_pvalue(v) for v in t["p_value"]],
        "Adjusted p": [fmt_pvalue(v) for v in t["p_adjusted"]],
        "Conclusion": t["conclusion"],
    }, dtype=object)
    p = Parts()
    strategy_text = (
        "fixed-sequence testing: each hypothesis is tested at the full alpha only if every earlier one was rejected"
        if plan.strategy == "fixed-sequence" else "Holm's step-down procedure over all hypotheses"
    )
    p.paragraphs.append(
        f"{len(t)} hypotheses in the plan's order, controlled for the family-wise error rate at two-sided "
        f"alpha = {plan.alpha:g} by {strategy_text}. Intervals are unadjusted {lvl} confidence intervals."
    )
    missing = t[t["p_value"].isna()]
    for _, r in missing.iterrows():
        p.notes.append(f"{r['id']} ({r['endpoint']}, {r['ARM']}): no estimate because its analysis did not produce one (see its section).")
    p.tables.append(Table("hypotheses", f"Hypotheses in testing order ({plan.strategy})", t, disp))
    return p.section(KEY, TITLE)
