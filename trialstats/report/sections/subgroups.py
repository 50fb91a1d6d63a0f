"""Section 9 — Subgroups: treatment effect at the primary visit by subgroup, forest plot.

For each subgroup factor of the plan (default: sex, and for the bundled trials age band and
baseline stage group, when those columns exist) and each of its levels, the primary MMRM is
refitted on that level's subjects and each arm's difference from the reference at the primary
visit is shown with its interval. The interaction p-value (:func:`trialstats.subgroup_interaction`)
tests whether the treatment effect at the primary visit differs between the levels: a Wald F test
of the (arms - 1) x (levels - 1) arm-by-subgroup contrasts at that visit, in the MMRM with the
subgroup, its visit interaction and the arm-by-subgroup terms added (the caption states the df
and the contrasts). Subgroup results are descriptive: the trial is not powered for them and no
multiplicity adjustment is made.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from ...errors import ModelError
from ...formula import quote_name
from ...results.interaction import subgroup_interaction
from ..tables import fmt_estimate_ci, fmt_pvalue
from ._analysis import Results, section_of, single_step, table
from ._base import (
    Figure,
    _one_line,
    endpoint_name,
    fit_mmrm_with_fallback,
    legend_safe,
    new_figure,
    pct_level,
)
from .primary import arm_contrasts, at_visit, mmrm_frame, p_text

KEY = "subgroups"
TITLE = "Subgroups"
#: Sections whose results this one reads (the registry computes them first).
NEEDS = ("primary",)


_SAFE = "TS_SUBGROUP"  # the subgroup column under a plain name: a column name is data, never code


def interaction_test(data, spec, covariance: str, column: str, visit: str | None = None,
                     test: str = "wald") -> pd.DataFrame:
    """Treatment-by-``column`` interaction by :func:`trialstats.subgroup_interaction`.

    ``test="wald"`` (the report's default): arm x subgroup at ``visit`` (the primary visit), a
    Wald F test of the (arms - 1) x (levels - 1) contrasts; ``test="lr"``: every arm x subgroup
    term at every visit (likelihood ratio, ML). Returns its one-row frame (statistic, num_df,
    den_df, p_value, terms, ...), the terms naming the real column.

    Raises
    ------
    ModelError
        A column name that a formula could not quote (refused before any fit), or any error
        of the fits.
    """
    quote_name(column)  # refuses a name that is code, before anything runs
    if _SAFE in data.columns:
        raise ModelError(f"subgroups: a column may not be named {_SAFE}")
    work = data.rename(columns={column: _SAFE})
    out = subgroup_interaction(work, _SAFE, formula=spec.formula, covariance=covariance, df=spec.df,
                               at=visit, test=test)
    out["subgroup"] = column
    out["terms"] = out["terms"].str.replace(_SAFE, column, regex=False)
    return out


def interaction_lrt(data, spec, covariance: str, column: str, level: float):
    """Likelihood-ratio test (ML) of every treatment-by-``column`` term over the visits.

    Returns (statistic, df, p_value); see :func:`interaction_test` (``test="lr"``).
    """
    r = interaction_test(data, spec, covariance, column, test="lr").iloc[0]
    return float(r["statistic"]), int(r["num_df"]), float(r["p_value"])


def analyse(ctx):
    """Frames ``subgroups`` (each arm's difference at the primary visit, overall and per level),
    ``subgroup_interactions`` (one Wald F test per subgroup factor) and ``subgroups_model``
    (covariance used, the order tried)."""
    plan, trial = ctx.plan, ctx.trial
    ep = plan.primary
    data = mmrm_frame(trial, ep.paramcd, ep.visit, ep.flag, ep.population)
    used = ctx.results.get("primary_covariance", plan.mmrm.covariance[0])
    order = (used,) + tuple(c for c in plan.mmrm.covariance if c != used)
    spec = replace(plan.mmrm, covariance=order)
    p = Results()
    overall = ctx.results.get("primary_fit")
    if overall is None:
        overall, _, _ = fit_mmrm_with_fallback(data, spec, level=plan.level)
    n_all = data["USUBJID"].nunique()
    rows = [{"subgroup": "Overall", "level": "", "label": f"All subjects (n={n_all})",
             "ARM": r["ARM"], "n": n_all, "estimate": r["estimate"], "conf_low": r["conf_low"],
             "conf_high": r["conf_high"], "p_value": r["p_value"], "interaction_p": np.nan}
            for _, r in at_visit(arm_contrasts(overall), ep.visit).iterrows()]
    inter_rows = []
    for column, sublabel in plan.subgroups:
        if column not in data.columns:
            p.notes.append(f"Subgroup {sublabel} ({column}): column not in the data; not analysed.")
            continue
        inter, level_rows = _one_factor(ctx, p, data, spec, used, column, sublabel)
        inter_rows.append(inter)
        rows += level_rows
    forest = pd.DataFrame(rows)
    p.add("subgroups", forest[forest["ARM"].notna()])
    if inter_rows:
        p.add("subgroup_interactions", pd.DataFrame(inter_rows))
    p.add("subgroups_model", pd.DataFrame({"covariance": [used], "order": [", ".join(order)]}))
    p.add("subgroups_forest", forest)  # the forest plot's rows: headings (no ARM) and estimates
    if p.failures:
        p.notes.append("Some subgroup fits failed; their rows show NE: " + "; ".join(_one_line(Exception(f)) for f in p.failures[:3]))
    return p.analysis(KEY)


def _one_factor(ctx, p, data, spec, used, column, sublabel) -> tuple[dict, list[dict]]:
    """The interaction test of one subgroup factor and the rows of its levels (a heading row,
    then each arm per level; NaN where a fit failed)."""
    plan, ep = ctx.plan, ctx.plan.primary
    others = [a for a in ctx.arms if a != ctx.reference]
    col = data[column].astype(str)
    levels = sorted(set(col[(col != "") & (col != "nan")]))
    it = p.attempt(f"Interaction test for {sublabel}", interaction_test, data[col.isin(levels)].reset_index(drop=True),
                   replace(spec, covariance=(used,)), used, column, ep.visit)
    if it is not None:
        r0 = it.iloc[0]
        stat, ndf, ddf, pint, terms = r0["statistic"], r0["num_df"], r0["den_df"], r0["p_value"], r0["terms"]
    else:
        stat = ndf = ddf = pint = np.nan
        terms = ""
    inter = {"subgroup": sublabel, "column": column, "statistic": stat, "num_df": ndf, "den_df": ddf,
             "p_value": pint, "terms": terms}
    rows = [{"subgroup": sublabel, "level": "", "label": f"{sublabel} (interaction {p_text(pint)})", "ARM": None,
             "n": np.nan, "estimate": np.nan, "conf_low": np.nan, "conf_high": np.nan, "p_value": np.nan,
             "interaction_p": pint}]
    for lev in levels:
        sub = data[col == lev].reset_index(drop=True)
        n = sub["USUBJID"].nunique()
        label = f"{sublabel}: {lev} (n={n})"
        res = p.attempt(f"MMRM in subgroup {sublabel} = {lev}", fit_mmrm_with_fallback, sub, spec, level=plan.level)
        if res is None:
            rows += [{"subgroup": sublabel, "level": lev, "label": label, "ARM": a, "n": n, "estimate": np.nan,
                      "conf_low": np.nan, "conf_high": np.nan, "p_value": np.nan, "interaction_p": pint} for a in others]
            continue
        rows += [{"subgroup": sublabel, "level": lev, "label": label, "ARM": r["ARM"], "n": n,
                  "estimate": r["estimate"], "conf_low": r["conf_low"], "conf_high": r["conf_high"],
                  "p_value": r["p_value"], "interaction_p": pint}
                 for _, r in at_visit(arm_contrasts(res[0]), ep.visit).iterrows()]
    return inter, rows


def _forest_plot(a, view) -> Figure:
    """The forest plot, drawn from the frame ``subgroups_forest``."""
    from ...plots.longitudinal import plot_forest

    plan, ep, ref = view.plan, view.plan.primary, view.reference
    others = [x for x in view.arms if x != ref]
    forest = a.frame("subgroups_forest")
    lvl = pct_level(plan.level)
    fig, ax = new_figure(figsize=(8.0, 0.42 * forest["label"].nunique() * max(1, len(others) * 0.6) + 1.6))
    plot_forest(forest, ax=ax, label="label", group="ARM" if len(others) > 1 else None, labels=legend_safe(view.labels),
                xlabel=f"Difference vs {view.label(ref)} in {endpoint_name(view.trial, ep.paramcd)} change at {ep.visit} ({lvl} CI)")
    return Figure("subgroups_forest", f"Treatment effect at {ep.visit} by subgroup, with {lvl} intervals and interaction p-values in the headings.", fig)


def render(a, view):
    """The section from the frames of :func:`analyse` (or read back from the ARD)."""
    plan, ep, ref = view.plan, view.plan.primary, view.reference
    lvl = pct_level(plan.level)
    model = a.frame("subgroups_model").iloc[0]
    data_rows = a.frame("subgroups")
    disp = pd.DataFrame({
        "Subgroup": data_rows["label"],
        "Comparison": [f"{view.label(x)} - {view.label(ref)}" for x in data_rows["ARM"]],
        f"Difference at {ep.visit} ({lvl} CI)": [fmt_estimate_ci(e, lo, hi) for e, lo, hi in zip(data_rows["estimate"], data_rows["conf_low"], data_rows["conf_high"])],
        "Interaction p": [fmt_pvalue(v) for v in data_rows["interaction_p"]],
    }, dtype=object)
    tables = [table("subgroups", f"Treatment effect on {endpoint_name(view.trial, ep.paramcd)} change at {ep.visit} by subgroup (MMRM refitted within each subgroup)", a, disp)]
    it = a.frame("subgroup_interactions")
    if it is not None:
        dfs = ", ".join(f"{r.subgroup}: {r.num_df:g}" for r in it.itertuples() if np.isfinite(r.num_df))
        tables.append(table(
            "subgroup_interactions",
            f"Treatment-by-subgroup interaction at {ep.visit}: Wald F tests (MMRM, {model['covariance']}, {plan.mmrm.df} df) of "
            f"the arm x subgroup contrasts at that visit only (numerator df = (arms - 1) x (levels - 1): {dfs or 'none'}); "
            "the terms tested are listed per row", a,
            pd.DataFrame({"Subgroup": it["subgroup"], "F": [f"{s:.2f}" if np.isfinite(s) else "-" for s in it["statistic"]],
                          "Numerator df": [f"{d:g}" if np.isfinite(d) else "-" for d in it["num_df"]],
                          "Denominator df": [f"{d:.1f}" if np.isfinite(d) else "-" for d in it["den_df"]],
                          "p-value": [fmt_pvalue(v) for v in it["p_value"]],
                          "Terms tested": it["terms"]}, dtype=object)))
    para = (
        f"Each subgroup level's estimate comes from the primary MMRM ({plan.mmrm.formula}) refitted on "
        f"that level's subjects (covariance tried in the order {model['order']}). Interaction p-values "
        f"are Wald F tests, at {ep.visit} only, of whether the difference between arms is the same in every "
        "level (trialstats.subgroup_interaction; the table lists each test's df and contrasts). Subgroup analyses are "
        "exploratory: no adjustment for multiplicity, and small subgroups give wide intervals."
    )
    return section_of(a, TITLE, paragraphs=[para], tables=tables, figures=[_forest_plot(a, view)])


#: the older single-step contract (``compute(ctx) -> Section``), kept for one release
compute = single_step(analyse, render)
