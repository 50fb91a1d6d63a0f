"""Section 9 — Subgroups: treatment effect at the primary visit by subgroup, forest plot.

For each subgroup factor of the plan (default sex, age band, baseline stage group) and each of its
levels, the primary MMRM is refitted on that level's subjects and each arm's difference from the
reference at the primary visit is shown with its interval. The interaction p-value tests whether
the treatment effect differs between the levels: a likelihood-ratio test (ML) of
``CHG ~ ARM * AVISIT * <subgroup> + BASE`` against ``CHG ~ (ARM + <subgroup>) * AVISIT + BASE``
(same covariance structure as the primary analysis), i.e. of every treatment-by-subgroup term over
the visits up to the primary visit. Subgroup results are descriptive: the trial is not powered for
them and no multiplicity adjustment is made.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
from scipy import stats

from ...formula import quote_name
from ..tables import fmt_estimate_ci, fmt_pvalue
from ._base import (
    Figure,
    Parts,
    Table,
    _one_line,
    fit_mmrm_with_fallback,
    legend_safe,
    new_figure,
    pct_level,
)
from .primary import at_visit, contrast_arm, mmrm_frame, p_text

KEY = "subgroups"
TITLE = "Subgroups"


def _rhs(formula: str) -> tuple[str, str]:
    lhs, rhs = formula.split("~", 1)
    return lhs.strip(), rhs.strip()


def interaction_lrt(data, spec, covariance: str, column: str, level: float):
    """Likelihood-ratio test (ML) of the treatment-by-``column`` interaction terms.

    Returns (statistic, df, p_value). Both models use ``covariance`` and ML estimation, so their
    log-likelihoods are comparable; ``df`` is the difference in the number of fixed effects.
    """
    lhs, _ = _rhs(spec.formula)
    col = quote_name(column)  # a column name is data: backticked, never spliced in as code
    sub = replace(spec, covariance=(covariance,), method="ml")
    full, _, _ = fit_mmrm_with_fallback(data, replace(sub, formula=f"{lhs} ~ ARM * AVISIT * {col} + BASE"), level=level)
    reduced, _, _ = fit_mmrm_with_fallback(data, replace(sub, formula=f"{lhs} ~ (ARM + {col}) * AVISIT + BASE"), level=level)
    df = len(full.coef) - len(reduced.coef)
    stat = max(0.0, 2.0 * (full.loglik - reduced.loglik))
    return stat, df, float(stats.chi2.sf(stat, df)) if df > 0 else np.nan


def compute(ctx):
    from ...plots.longitudinal import plot_forest

    plan, trial = ctx.plan, ctx.trial
    ep = plan.primary
    arms, ref = ctx.arms, ctx.reference
    others = [a for a in arms if a != ref]
    labels = {a: ctx.label(a) for a in arms}
    lvl = pct_level(plan.level)
    data = mmrm_frame(trial, ep.paramcd, ep.visit)
    used = ctx.results.get("primary_covariance", plan.mmrm.covariance[0])
    order = (used,) + tuple(c for c in plan.mmrm.covariance if c != used)
    spec = replace(plan.mmrm, covariance=order)
    p = Parts()
    rows = []
    overall = ctx.results.get("primary_fit")
    if overall is None:
        overall, _, _ = fit_mmrm_with_fallback(data, spec, level=plan.level)
    oc = overall.contrast("ARM", by="AVISIT").reset_index(drop=True)
    oc.insert(0, "ARM", contrast_arm(oc))
    for _, r in at_visit(oc, ep.visit).iterrows():
        rows.append({"subgroup": "Overall", "level": "", "label": f"All subjects (n={data['USUBJID'].nunique()})",
                     "ARM": r["ARM"], "n": data["USUBJID"].nunique(), "estimate": r["estimate"], "conf_low": r["conf_low"],
                     "conf_high": r["conf_high"], "p_value": r["p_value"], "interaction_p": np.nan})
    inter_rows = []
    for column, sublabel in plan.subgroups:
        if column not in data.columns:
            p.notes.append(f"Subgroup {sublabel} ({column}): column not in the data; not analysed.")
            continue
        col = data[column].astype(str)
        levels = sorted(set(col[(col != "") & (col != "nan")]))
        lrt = p.attempt(f"Interaction test for {sublabel}", interaction_lrt, data[col.isin(levels)].reset_index(drop=True), spec, used, column, plan.level)
        stat, df, pint = lrt if lrt else (np.nan, np.nan, np.nan)
        inter_rows.append({"subgroup": sublabel, "column": column, "statistic": stat, "df": df, "p_value": pint})
        heading = f"{sublabel} (interaction {p_text(pint)})"
        rows.append({"subgroup": sublabel, "level": "", "label": heading, "ARM": None, "n": np.nan, "estimate": np.nan,
                     "conf_low": np.nan, "conf_high": np.nan, "p_value": np.nan, "interaction_p": pint})
        for lev in levels:
            sub = data[col == lev].reset_index(drop=True)
            n = sub["USUBJID"].nunique()
            label = f"{sublabel}: {lev} (n={n})"
            res = p.attempt(f"MMRM in subgroup {sublabel} = {lev}", fit_mmrm_with_fallback, sub, spec, level=plan.level)
            if res is None:
                for a in others:
                    rows.append({"subgroup": sublabel, "level": lev, "label": label, "ARM": a, "n": n, "estimate": np.nan,
                                 "conf_low": np.nan, "conf_high": np.nan, "p_value": np.nan, "interaction_p": pint})
                continue
            sc = res[0].contrast("ARM", by="AVISIT").reset_index(drop=True)
            sc.insert(0, "ARM", contrast_arm(sc))
            for _, r in at_visit(sc, ep.visit).iterrows():
                rows.append({"subgroup": sublabel, "level": lev, "label": label, "ARM": r["ARM"], "n": n,
                             "estimate": r["estimate"], "conf_low": r["conf_low"], "conf_high": r["conf_high"],
                             "p_value": r["p_value"], "interaction_p": pint})
    forest = pd.DataFrame(rows)
    data_rows = forest[forest["ARM"].notna()].reset_index(drop=True)
    disp = pd.DataFrame({
        "Subgroup": data_rows["label"],
        "Comparison": [f"{labels.get(a, a)} - {labels.get(ref, ref)}" for a in data_rows["ARM"]],
        f"Difference at {ep.visit} ({lvl} CI)": [fmt_estimate_ci(e, lo, hi) for e, lo, hi in zip(data_rows["estimate"], data_rows["conf_low"], data_rows["conf_high"])],
        "Interaction p": [fmt_pvalue(v) for v in data_rows["interaction_p"]],
    }, dtype=object)
    p.tables.append(Table("subgroups", f"Treatment effect on {ep.paramcd} change at {ep.visit} by subgroup (MMRM refitted within each subgroup)", data_rows, disp))
    if inter_rows:
        it = pd.DataFrame(inter_rows)
        p.tables.append(Table("subgroup_interactions", "Treatment-by-subgroup interaction: likelihood-ratio tests (ML)", it,
                              pd.DataFrame({"Subgroup": it["subgroup"], "Chi-square": [f"{s:.2f}" if np.isfinite(s) else "-" for s in it["statistic"]],
                                            "df": [f"{d:g}" if np.isfinite(d) else "-" for d in it["df"]], "p-value": [fmt_pvalue(v) for v in it["p_value"]]}, dtype=object)))
    plot_rows = forest.assign(ARM=forest["ARM"])
    fig, ax = new_figure(figsize=(8.0, 0.42 * forest["label"].nunique() * max(1, len(others) * 0.6) + 1.6))
    plot_forest(plot_rows, ax=ax, label="label", group="ARM" if len(others) > 1 else None, labels=legend_safe(labels),
                xlabel=f"Difference vs {labels.get(ref, ref)} in {ep.paramcd} change at {ep.visit} ({lvl} CI)")
    p.figures.append(Figure("subgroups_forest", f"Treatment effect at {ep.visit} by subgroup, with {lvl} intervals and interaction p-values in the headings.", fig))
    p.paragraphs.append(
        f"Each subgroup level's estimate comes from the primary MMRM ({plan.mmrm.formula}) refitted on "
        f"that level's subjects (covariance tried in the order {', '.join(order)}). Interaction p-values "
        "are likelihood-ratio tests (ML) of every treatment-by-subgroup term. Subgroup analyses are "
        "exploratory: no adjustment for multiplicity, and small subgroups give wide intervals."
    )
    if p.failures:
        p.notes.append("Some subgroup fits failed; their rows show NE: " + "; ".join(_one_line(Exception(f)) for f in p.failures[:3]))
    return p.section(KEY, TITLE)
