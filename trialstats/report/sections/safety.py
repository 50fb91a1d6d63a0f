"""Section 10 — Safety: treatment-emergent adverse events (TEAEs).

Safety population: SAFFL = "Y", by arm as randomised. A subject is counted once per system organ
class (AEBODSYS) and once per preferred term (AEDECOD), however many events. Risk differences vs
the reference arm with Newcombe's hybrid-score interval (method 10 of Newcombe 1998) or the Wald
interval, as the plan says, computed by :func:`trialstats.risk_difference`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..tables import fmt_estimate_ci, fmt_n_pct
from ._base import NotApplicable, Parts, Table, pct_level

KEY = "safety"
TITLE = "Safety"
#: Sections whose results this one reads (the registry computes them first).
NEEDS = ()

RD_METHOD_NAMES = {"newcombe": "Newcombe hybrid score", "wald": "Wald"}


def teae_counts(adsl: pd.DataFrame, adae: pd.DataFrame, arms: list[str], population: str = "SAFFL") -> pd.DataFrame:
    """Subjects with at least one TEAE per category, SOC and PT, by arm (safety population).

    Columns ``category, AEBODSYS, AEDECOD, ARM, n, N``; categories: "Any TEAE", "Serious TEAE",
    "Severe TEAE", then one row per SOC (AEDECOD = "") and per PT within SOC. SOCs by decreasing
    total count then name; PTs likewise within their SOC.
    """
    saf = adsl[adsl[population].astype(str) == "Y"] if population in adsl.columns else adsl
    n_arm = {a: int((saf["ARM"] == a).sum()) for a in arms}
    ae = adae[adae["USUBJID"].isin(set(saf["USUBJID"]))]
    if "TRTEMFL" in ae.columns:
        ae = ae[ae["TRTEMFL"].astype(str) == "Y"]
    ae = ae.drop(columns=[c for c in ("ARM",) if c in ae.columns]).merge(saf[["USUBJID", "ARM"]], on="USUBJID", how="inner")
    rows = []

    def add(category, soc, pt, subset):
        for a in arms:
            rows.append({"category": category, "AEBODSYS": soc, "AEDECOD": pt, "ARM": a,
                         "n": int(subset.loc[subset["ARM"] == a, "USUBJID"].nunique()), "N": n_arm[a]})

    add("Any TEAE", "", "", ae)
    if "AESER" in ae.columns:
        add("Serious TEAE", "", "", ae[ae["AESER"].astype(str) == "Y"])
    if "AESEV" in ae.columns:
        add("Severe TEAE", "", "", ae[ae["AESEV"].astype(str) == "SEVERE"])
    soc_n = ae.groupby("AEBODSYS")["USUBJID"].nunique()
    for soc in sorted(soc_n.index, key=lambda s: (-int(soc_n[s]), str(s))):
        sae = ae[ae["AEBODSYS"] == soc]
        add("System organ class", soc, "", sae)
        pt_n = sae.groupby("AEDECOD")["USUBJID"].nunique()
        for pt in sorted(pt_n.index, key=lambda s: (-int(pt_n[s]), str(s))):
            add("Preferred term", soc, pt, sae[sae["AEDECOD"] == pt])
    return pd.DataFrame(rows, columns=["category", "AEBODSYS", "AEDECOD", "ARM", "n", "N"])


def risk_differences(counts: pd.DataFrame, arms: list[str], reference: str, method: str, level: float,
                     pairs=None) -> pd.DataFrame:
    """Risk difference (arm minus reference, proportion scale) with its interval per row of
    ``counts``, by :func:`trialstats.risk_difference` (no statistic is computed here).

    ``pairs`` (list of (arm, reference)) replaces the default "each arm vs ``reference``"; the
    columns are ``category, AEBODSYS, AEDECOD, ARM, reference, estimate, conf_low, conf_high,
    method``.
    """
    from ...results.proportions import risk_difference

    keys = ["category", "AEBODSYS", "AEDECOD"]
    pairs = pairs or [(a, reference) for a in arms if a != reference]
    out = []
    for key, g in counts.groupby(keys, sort=False):
        g = g.set_index("ARM")
        usable = [a for a in arms if int(g.loc[a, "N"]) > 0]
        ok = [(a, r) for a, r in pairs if a in usable and r in usable]
        rows = pd.DataFrame(columns=["arm", "reference", "estimate", "conf_low", "conf_high"])
        if ok:
            res = risk_difference({a: int(g.loc[a, "n"]) for a in usable},
                                  {a: int(g.loc[a, "N"]) for a in usable},
                                  pairs=ok, method=method, level=level)
            rows = res.comparisons()
        by = {(r.arm, r.reference): r for r in rows.itertuples()}
        for a, r in pairs:
            hit = by.get((a, r))
            out.append({**dict(zip(keys, key)), "ARM": a, "reference": r,
                        "estimate": hit.estimate if hit else np.nan,
                        "conf_low": hit.conf_low if hit else np.nan,
                        "conf_high": hit.conf_high if hit else np.nan, "method": method})
    # same columns when there is nothing to compare (a one-arm trial)
    return pd.DataFrame(out, columns=[*keys, "ARM", "reference", "estimate", "conf_low", "conf_high", "method"])


def compute(ctx):
    plan, trial = ctx.plan, ctx.trial
    arms, ref = ctx.arms, ctx.reference
    labels = {a: ctx.label(a) for a in arms}
    lvl = pct_level(plan.level)
    p = Parts()
    if trial.adae is None:
        raise NotApplicable("the trial has no ADAE table (adverse events); a trial without "
                            "adverse events gives a header-only ADAE file")
    pop = plan.safety_population or "SAFFL"
    if plan.safety_population and pop not in trial.adsl.columns:
        raise ValueError(f"[safety] population {pop!r} is not a column of ADSL")
    counts = teae_counts(trial.adsl, trial.adae, arms, pop)
    rd = risk_differences(counts, arms, ref, plan.rd_method, plan.level)
    ctx.results["teae_counts"] = counts
    any_ = counts[counts["category"] == "Any TEAE"].set_index("ARM")
    usable = [a for a in arms if int(any_.loc[a, "N"]) > 0]
    if len(usable) > 1:  # every pair, for the plan's hypotheses ("ae": lower risk is better)
        from ...results.proportions import risk_difference

        res = risk_difference({a: int(any_.loc[a, "n"]) for a in usable}, {a: int(any_.loc[a, "N"]) for a in usable},
                              pairs="all", method=plan.rd_method, level=plan.level, endpoint="TEAE",
                              param="any treatment-emergent adverse event")
        ctx.estimates.add("ae", res.comparisons(), "risk difference of any treatment-emergent adverse event", KEY)
    keys = ["category", "AEBODSYS", "AEDECOD"]
    wide = []
    for key, g in counts.groupby(keys, sort=False):
        cat, soc, pt = key
        name = {"System organ class": soc, "Preferred term": f"\u2003{pt}"}.get(cat, cat)
        row = {"": name}
        g = g.set_index("ARM")
        for a in arms:
            row[f"{labels[a]} (N={int(g.loc[a, 'N'])})"] = fmt_n_pct(g.loc[a, "n"], g.loc[a, "N"])
        for a in arms:
            if a == ref:
                continue
            hit = rd[(rd["category"] == cat) & (rd["AEBODSYS"] == soc) & (rd["AEDECOD"] == pt) & (rd["ARM"] == a)
                     & (rd["reference"] == ref)].iloc[0]
            row[f"RD {labels[a]} - {labels[ref]}, % ({lvl} CI)"] = fmt_estimate_ci(100 * hit["estimate"], 100 * hit["conf_low"], 100 * hit["conf_high"], 1)
        wide.append(row)
    disp = pd.DataFrame(wide, dtype=object)
    tidy = counts.merge(rd.drop(columns=["method", "reference"]).rename(columns={"estimate": "rd", "conf_low": "rd_conf_low", "conf_high": "rd_conf_high"}),
                        on=["category", "AEBODSYS", "AEDECOD", "ARM"], how="left")
    tidy["rd_method"] = np.where(tidy["ARM"] == ref, "", plan.rd_method)
    p.tables.append(Table("safety_teae", "Subjects with treatment-emergent adverse events by system organ class and preferred term", tidy, disp))
    if "AESER" in trial.adae.columns:
        ser = trial.adae[(trial.adae["AESER"].astype(str) == "Y")]
        if "TRTEMFL" in ser.columns:
            ser = ser[ser["TRTEMFL"].astype(str) == "Y"]
        ser = ser.merge(trial.adsl[["USUBJID", "ARM"]], on="USUBJID", how="left", suffixes=("_ae", ""))
        cols = [c for c in ("USUBJID", "ARM", "AEBODSYS", "AEDECOD", "AESEV", "ASTDY", "AENDY") if c in ser.columns]
        ser = ser[cols].sort_values(["ARM", "USUBJID"] + (["ASTDY"] if "ASTDY" in cols else []), kind="mergesort").reset_index(drop=True)
        sdisp = ser.astype(str).copy()
        sdisp["ARM"] = [labels.get(a, a) for a in ser["ARM"].astype(str)]
        p.tables.append(Table("safety_serious", f"Serious treatment-emergent adverse events ({len(ser)} events)", ser, sdisp))
    has_pop = pop in trial.adsl.columns
    n_saf = int((trial.adsl[pop].astype(str) == "Y").sum()) if has_pop else len(trial.adsl)
    ctx.results["safety_population"] = f"the safety population ({pop} = Y)" if has_pop else "all randomised subjects"
    any_teae = counts.loc[counts["category"] == "Any TEAE", "n"].sum()
    if len(trial.adae) == 0:
        p.paragraphs.append("There were no adverse events in this trial: the ADAE table has no rows, "
                            "so every count below is zero.")
    elif any_teae == 0:
        p.paragraphs.append("There were no treatment-emergent adverse events in the safety population.")
    rd_text = (
        f"Risk differences (percentage points, arm minus {labels[ref]}) with {lvl} intervals by the "
        f"{RD_METHOD_NAMES[plan.rd_method]} method (trialstats.risk_difference); "
        "no p-values are given for adverse events."
        if len(arms) > 1 else "The trial has one arm, so there are no risk differences.")
    p.paragraphs.append(
        (f"Safety population: {n_saf} subjects who received study treatment ({pop} = Y), by arm. "
         if has_pop else f"Safety population: all {n_saf} randomised subjects (ADSL has no {pop}), by arm. ")
        + f"Each subject is counted once per system organ class and once per preferred term. {rd_text}"
    )
    return p.section(KEY, TITLE)
