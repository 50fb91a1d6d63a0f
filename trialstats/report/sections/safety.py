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
from ._analysis import Results, section_of, single_step, table
from ._base import NotApplicable, pct_level

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


def analyse(ctx):
    """Frames ``safety_teae`` (subjects with TEAEs per category, SOC and PT by arm, with the risk
    difference of each arm vs the reference), ``safety_serious`` (serious TEAEs, one row per
    event; when ADAE has AESER) and ``safety_population`` (flag, whether ADSL has it, subjects,
    ADAE records)."""
    plan, trial = ctx.plan, ctx.trial
    arms, ref = ctx.arms, ctx.reference
    p = Results()
    if trial.adae is None:
        raise NotApplicable("the trial has no ADAE table (adverse events); a trial without "
                            "adverse events gives a header-only ADAE file")
    pop = plan.safety_population or "SAFFL"
    if plan.safety_population and pop not in trial.adsl.columns:
        raise ValueError(f"[safety] population {pop!r} is not a column of ADSL")
    counts = teae_counts(trial.adsl, trial.adae, arms, pop)
    rd = risk_differences(counts, arms, ref, plan.rd_method, plan.level)
    ctx.results["teae_counts"] = counts
    _store_any_teae(ctx, counts)
    tidy = counts.merge(rd.drop(columns=["method", "reference"]).rename(columns={"estimate": "rd", "conf_low": "rd_conf_low", "conf_high": "rd_conf_high"}),
                        on=["category", "AEBODSYS", "AEDECOD", "ARM"], how="left")
    tidy["rd_method"] = np.where(tidy["ARM"] == ref, "", plan.rd_method)
    p.add("safety_teae", tidy)
    if "AESER" in trial.adae.columns:
        ser = trial.adae[(trial.adae["AESER"].astype(str) == "Y")]
        if "TRTEMFL" in ser.columns:
            ser = ser[ser["TRTEMFL"].astype(str) == "Y"]
        ser = ser.merge(trial.adsl[["USUBJID", "ARM"]], on="USUBJID", how="left", suffixes=("_ae", ""))
        cols = [c for c in ("USUBJID", "ARM", "AEBODSYS", "AEDECOD", "AESEV", "ASTDY", "AENDY") if c in ser.columns]
        p.add("safety_serious", ser[cols].sort_values(["ARM", "USUBJID"] + (["ASTDY"] if "ASTDY" in cols else []), kind="mergesort"))
    has_pop = pop in trial.adsl.columns
    n_saf = int((trial.adsl[pop].astype(str) == "Y").sum()) if has_pop else len(trial.adsl)
    ctx.results["safety_population"] = f"the safety population ({pop} = Y)" if has_pop else "all randomised subjects"
    p.add("safety_population", pd.DataFrame({"flag": [pop], "flag_in_adsl": [has_pop], "subjects": [n_saf],
                                             "adae_records": [len(trial.adae)]}))
    return p.analysis(KEY)


def _store_any_teae(ctx, counts) -> None:
    """Every pair's risk difference of any TEAE in the estimates table (the plan's "ae"
    hypotheses: lower risk is better)."""
    plan = ctx.plan
    any_ = counts[counts["category"] == "Any TEAE"].set_index("ARM")
    usable = [a for a in ctx.arms if int(any_.loc[a, "N"]) > 0]
    if len(usable) > 1:
        from ...results.proportions import risk_difference

        res = risk_difference({a: int(any_.loc[a, "n"]) for a in usable}, {a: int(any_.loc[a, "N"]) for a in usable},
                              pairs="all", method=plan.rd_method, level=plan.level, endpoint="TEAE",
                              param="any treatment-emergent adverse event")
        ctx.estimates.add("ae", res.comparisons(), "risk difference of any treatment-emergent adverse event", KEY)


def render(a, view):
    """The section from the frames of :func:`analyse` (or read back from the ARD)."""
    plan, arms, ref = view.plan, view.arms, view.reference
    labels = view.labels
    lvl = pct_level(plan.level)
    tidy = a.frame("safety_teae")
    wide = []
    for key, g in tidy.groupby(["category", "AEBODSYS", "AEDECOD"], sort=False):
        cat, soc, pt = key
        row = {"": {"System organ class": soc, "Preferred term": f"\u2003{pt}"}.get(cat, cat)}
        g = g.set_index("ARM")
        for x in arms:
            row[f"{labels[x]} (N={int(g.loc[x, 'N'])})"] = fmt_n_pct(g.loc[x, "n"], g.loc[x, "N"])
        for x in arms:
            if x != ref:
                hit = g.loc[x]
                row[f"RD {labels[x]} - {labels[ref]}, % ({lvl} CI)"] = fmt_estimate_ci(100 * hit["rd"], 100 * hit["rd_conf_low"], 100 * hit["rd_conf_high"], 1)
        wide.append(row)
    tables = [table("safety_teae", "Subjects with treatment-emergent adverse events by system organ class and preferred term", a,
                    pd.DataFrame(wide, dtype=object))]
    ser = a.frame("safety_serious")
    if ser is not None:
        sdisp = ser.astype(str).copy()
        sdisp["ARM"] = [labels.get(x, x) for x in ser["ARM"].astype(str)]
        tables.append(table("safety_serious", f"Serious treatment-emergent adverse events ({len(ser)} events)", a, sdisp))
    pop = a.frame("safety_population").iloc[0]
    flag, has_pop, n_saf = str(pop["flag"]), bool(pop["flag_in_adsl"]), int(pop["subjects"])
    paras = []
    if int(pop["adae_records"]) == 0:
        paras.append("There were no adverse events in this trial: the ADAE table has no rows, "
                     "so every count below is zero.")
    elif tidy.loc[tidy["category"] == "Any TEAE", "n"].sum() == 0:
        paras.append("There were no treatment-emergent adverse events in the safety population.")
    rd_text = (
        f"Risk differences (percentage points, arm minus {labels[ref]}) with {lvl} intervals by the "
        f"{RD_METHOD_NAMES[plan.rd_method]} method (trialstats.risk_difference); "
        "no p-values are given for adverse events."
        if len(arms) > 1 else "The trial has one arm, so there are no risk differences.")
    paras.append(
        (f"Safety population: {n_saf} subjects who received study treatment ({flag} = Y), by arm. "
         if has_pop else f"Safety population: all {n_saf} randomised subjects (ADSL has no {flag}), by arm. ")
        + f"Each subject is counted once per system organ class and once per preferred term. {rd_text}"
    )
    return section_of(a, TITLE, paragraphs=paras, tables=tables)


#: the older single-step contract (``compute(ctx) -> Section``), kept for one release
compute = single_step(analyse, render)
