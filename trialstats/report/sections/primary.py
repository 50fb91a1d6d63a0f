"""Section 5 — Primary endpoint: MMRM of the change from baseline.

The MMRM of the plan (default ``CHG ~ ARM * AVISIT + BASE``, REML, Satterthwaite df) is fitted to
the post-baseline visits up to and including the primary visit, trying the plan's covariance
structures in order until one converges. The section shows LS means by visit and arm, each arm
minus the reference per visit, the sensitivity analyses of the plan (Kenward-Roger df, completers),
the secondary endpoints, the LS-mean profile, the observed means and the missing-data pattern.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...errors import ModelError
from ..tables import MISSING, fmt_estimate_ci, fmt_int, fmt_number, fmt_pvalue
from ._analysis import Results, section_of, single_step, table
from ._base import (
    Figure,
    Section,
    endpoint_name,
    fit_mmrm_with_fallback,
    legend_safe,
    new_figure,
    outcome_units,
    pct_level,
    visit_times,
)

KEY = "primary"
TITLE = "Primary endpoint"
#: Sections whose results this one reads (the registry computes them first).
NEEDS = ()


def is_baseline(frame: pd.DataFrame) -> pd.Series:
    """Baseline rows: ABLFL = "Y", else AVISITN <= 0."""
    if "ABLFL" in frame.columns:
        return frame["ABLFL"].astype(str) == "Y"
    return frame["AVISITN"] <= 0


def visit_number(frame: pd.DataFrame, visit: str) -> float:
    """AVISITN of a visit label, or a ModelError listing the visits present."""
    hit = frame.loc[frame["AVISIT"].astype(str) == visit, "AVISITN"]
    if hit.empty:
        valid = ", ".join(map(str, dict.fromkeys(frame["AVISIT"].astype(str))))
        raise ModelError(f"visit {visit!r} is not a visit of the data; visits: {valid}")
    return float(hit.iloc[0])


def analysis_rows(trial, paramcd: str, flag: str = "ANL01FL", population: str = "") -> tuple[pd.DataFrame, list[dict]]:
    """ADEFF rows of ``paramcd`` kept by the analysis flag and the population flag.

    Returns
    -------
    (frame, excluded) : the rows kept, and one record per exclusion rule that removed rows
        (``{"rule": "ANL01FL not Y", "rows": 12, "subjects": 9}``).

    Raises
    ------
    ModelError
        ``population`` names a column that ADSL does not have.
    """
    frame = trial.analysis_frame("adeff", paramcd=paramcd)
    excluded = []
    for col, where in ((flag, "ADEFF"), (population, "ADSL")):
        if not col:
            continue
        if col not in frame.columns:
            if where == "ADSL":
                raise ModelError(f"population flag {col!r} is not a column of ADSL; columns ending "
                                 f"in FL: {', '.join(c for c in trial.adsl.columns if c.endswith('FL')) or 'none'}")
            continue  # no analysis flag: every row is analysed
        out = frame[col].astype(str) != "Y"
        if out.any():
            excluded.append({"rule": f"{col} not Y ({where})", "rows": int(out.sum()),
                             "subjects": int(frame.loc[out, "USUBJID"].nunique())})
            frame = frame[~out].reset_index(drop=True)
    if isinstance(frame["AVISIT"].dtype, pd.CategoricalDtype):
        frame["AVISIT"] = frame["AVISIT"].cat.remove_unused_categories()
    return frame, excluded


def mmrm_frame(trial, paramcd: str, visit: str, flag: str = "ANL01FL", population: str = "") -> pd.DataFrame:
    """Post-baseline rows of ``paramcd`` up to and including ``visit`` (unused visit levels
    removed), kept by the analysis and population flags (see :func:`analysis_rows`)."""
    frame, _ = analysis_rows(trial, paramcd, flag, population)
    last = visit_number(frame, visit)
    frame = frame[~is_baseline(frame) & (frame["AVISITN"] <= last)].reset_index(drop=True)
    if isinstance(frame["AVISIT"].dtype, pd.CategoricalDtype):
        frame["AVISIT"] = frame["AVISIT"].cat.remove_unused_categories()
    return frame


def _require_outcome_at_visit(data: pd.DataFrame, formula: str, ep) -> None:
    """The outcome of the formula must be observed at the primary visit, else a ModelError."""
    outcome = formula.split("~", 1)[0].strip()
    if outcome not in data.columns:
        return  # the model reports an unknown column itself
    at = data[data["AVISIT"].astype(str) == ep.visit]
    if not at[outcome].notna().any():
        seen = data.loc[data[outcome].notna(), "AVISIT"].astype(str)
        valid = ", ".join(dict.fromkeys(seen)) or "none"
        raise ModelError(
            f"primary visit {ep.visit!r} of PARAMCD {ep.paramcd}: {outcome} is missing in all "
            f"{len(at)} rows, so the primary comparison cannot be estimated; visits with {outcome} "
            f"data: {valid} (the primary visit comes from trial.toml [endpoints] primary or "
            "sap.toml [primary])")


def arm_contrasts(fit, pairs=None) -> pd.DataFrame:
    """Differences in LS means between arms per visit, from the fit's comparisons frame
    (:meth:`MMRMResult.comparisons`): columns ``ARM, reference, AVISIT, estimate, std_error, df,
    statistic, p_value, conf_low, conf_high``; the arm and its comparator are columns, never
    parsed from a label. ``pairs`` as in :func:`trialstats.results.comparisons.mmrm_comparisons`
    (default each arm against the reference)."""
    c = fit.comparisons(pairs=pairs)
    c = c.rename(columns={"arm": "ARM", "visit": "AVISIT"})
    return c[["ARM", "reference", "AVISIT", "estimate", "std_error", "df", "statistic", "p_value",
              "conf_low", "conf_high"]].reset_index(drop=True)


def at_visit(frame: pd.DataFrame, visit: str) -> pd.DataFrame:
    return frame[frame["AVISIT"].astype(str) == visit].reset_index(drop=True)


def observed_means(frame: pd.DataFrame, value: str, level: float, arms: list[str]) -> pd.DataFrame:
    """Observed mean of ``value`` per ARM and AVISIT with a t interval (descriptive), by
    :func:`trialstats.mean_ci` (R ``t.test``); ARM in the order ``arms``, AVISIT in visit order."""
    from ...results.describe import mean_ci

    visits = frame["AVISIT"].cat.categories if isinstance(frame["AVISIT"].dtype, pd.CategoricalDtype) else sorted(set(frame["AVISIT"]))
    f = frame.assign(ARM=pd.Categorical(frame["ARM"].astype(str), categories=arms),
                     AVISIT=pd.Categorical(frame["AVISIT"].astype(str), categories=[str(v) for v in visits]))
    return mean_ci(f, value, ("ARM", "AVISIT"), level=level)


def completers(data: pd.DataFrame) -> tuple[pd.DataFrame | None, str]:
    """Rows of the subjects who completed: COMPLFL = "Y" when the column exists, else EOSSTT =
    "COMPLETED"; (None, "") when the data has neither column. The text names the rule used."""
    if "COMPLFL" in data.columns:
        return (data[data["COMPLFL"].astype(str) == "Y"].reset_index(drop=True),
                "completed the treatment period (COMPLFL = Y)")
    if "EOSSTT" in data.columns:
        return (data[data["EOSSTT"].astype(str) == "COMPLETED"].reset_index(drop=True),
                "completed the study (EOSSTT = COMPLETED)")
    return None, ""


def missing_pattern(trial, paramcd: str, arms: list[str], flag: str = "ANL01FL") -> pd.DataFrame:
    """Per arm and post-baseline visit: subjects randomised, with the outcome, missing (%)."""
    frame, _ = analysis_rows(trial, paramcd, flag)
    frame = frame[~is_baseline(frame)]
    value = "CHG" if "CHG" in frame.columns else "AVAL"
    present = set(frame["AVISIT"])
    levels = frame["AVISIT"].cat.categories if isinstance(frame["AVISIT"].dtype, pd.CategoricalDtype) else sorted(present)
    visits = [v for v in levels if v in present]
    adsl = trial.adsl
    rows = []
    for arm in arms:
        n_expected = int((adsl["ARM"] == arm).sum())
        for v in visits:
            sub = frame[(frame["ARM"] == arm) & (frame["AVISIT"] == v)]
            n_obs = int(sub.loc[sub[value].notna(), "USUBJID"].nunique())
            rows.append({"ARM": arm, "AVISIT": v, "n_expected": n_expected, "n_observed": n_obs,
                         "n_missing": n_expected - n_obs,
                         "pct_missing": 100.0 * (n_expected - n_obs) / n_expected if n_expected else np.nan})
    out = pd.DataFrame(rows)
    out["ARM"] = pd.Categorical(out["ARM"], categories=arms)
    out["AVISIT"] = pd.Categorical(out["AVISIT"], categories=visits)
    return out


def _est_rows(frame: pd.DataFrame, digits: int = 2) -> dict:
    return {
        "Estimate (CI)": [fmt_estimate_ci(e, lo, hi, digits) for e, lo, hi in zip(frame["estimate"], frame["conf_low"], frame["conf_high"])],
    }


def store(ctx, key: str, fit, visit: str, label: str, paramcd: str, name: str) -> None:
    """Store every pair of arms compared at ``visit`` (``fit.comparisons(pairs="all")``) in the
    typed estimates table, for the summary and the plan's hypotheses (any pair)."""
    c = fit.comparisons(pairs="all", analysis=key, endpoint=paramcd, param=name)
    ctx.estimates.add(key, c[c["visit"].astype(str) == visit], label, KEY)


def analyse(ctx):
    """The primary MMRM and its companions as frames: ``primary_lsmeans``, ``primary_contrasts``,
    ``primary_sensitivity``, ``secondary_endpoints`` (when the plan has any),
    ``primary_covariance_attempts``, ``primary_exclusions`` (rows the model dropped),
    ``primary_observed_means``, ``primary_flag_exclusions`` (rows the plan's flags dropped),
    ``missing_pattern`` and ``primary_fit`` (covariance used, observations, subjects)."""
    plan, trial = ctx.plan, ctx.trial
    ep = plan.primary
    p = Results()
    data = mmrm_frame(trial, ep.paramcd, ep.visit, ep.flag, ep.population)
    _, excluded = analysis_rows(trial, ep.paramcd, ep.flag, ep.population)
    if excluded:
        ctx.results["primary_flags"] = _flags_text(pd.DataFrame(excluded))
    _require_outcome_at_visit(data, plan.mmrm.formula, ep)
    fit, used, attempts = fit_mmrm_with_fallback(data, plan.mmrm, level=plan.level)
    ctx.results["primary_fit"] = fit
    ctx.results["primary_covariance"] = used
    ctx.results["primary_attempts"] = attempts
    p.add("primary_lsmeans", fit.lsmeans("ARM", by="AVISIT"))
    con = p.add("primary_contrasts", arm_contrasts(fit))
    _sensitivity(ctx, p, data, fit, used, con)
    _secondary(ctx, p, fit, used, con)
    p.add("primary_covariance_attempts", pd.DataFrame({
        "order": range(1, len(attempts) + 1), "covariance": [a.split(":")[0] for a in attempts],
        "outcome": [a.split(": ", 1)[1] for a in attempts]}))
    excl = getattr(fit, "exclusions", None)
    if isinstance(excl, pd.DataFrame) and len(excl):
        p.add("primary_exclusions", excl)
    elif excl is not None and not isinstance(excl, pd.DataFrame):
        p.notes.append(f"Rows excluded from the MMRM: {excl}.")
    p.add("primary_observed_means", observed_means(data, "CHG", plan.level, ctx.arms))
    if excluded:
        p.add("primary_flag_exclusions", pd.DataFrame(excluded))
    p.add("missing_pattern", missing_pattern(trial, ep.paramcd, ctx.arms, ep.flag))
    p.add("primary_fit", pd.DataFrame({"covariance": [used], "n_obs": [int(fit.n_obs)],
                                       "n_subjects": [int(fit.n_subjects)],
                                       "units": pd.Series([outcome_units(data)], dtype=object)}))
    times = visit_times(data)  # where each visit sits on the figures' time axis
    p.add("primary_visits", pd.DataFrame({"AVISIT": [str(v) for v in times], "AVISITN": list(times.values())}))
    return p.analysis(KEY)


def _flags_text(excluded: pd.DataFrame) -> str:
    """`` (excluding 12 rows of 9 subjects with ANL01FL not Y)`` for the methods and the text."""
    return " (" + "; ".join(
        f"excluding {int(e['rows'])} rows of {int(e['subjects'])} subjects with {str(e['rule']).rsplit(' (', 1)[0]}"
        for _, e in excluded.iterrows()) + ")"


def _sensitivity(ctx, p, data, fit, used, con) -> None:
    """Frame ``primary_sensitivity``: the primary comparison, then Kenward-Roger df and the
    completers as the plan asks; the estimates table gets ``primary`` and ``primary-kr``."""
    plan, ep = ctx.plan, ctx.plan.primary
    name = endpoint_name(ctx.trial, ep.paramcd)
    store(ctx, "primary", fit, ep.visit, f"{name} change at {ep.visit}", ep.paramcd, name)
    rows = [{"analysis": f"Primary: MMRM, {used}, {plan.mmrm.df}", **_pick(r)} for _, r in at_visit(con, ep.visit).iterrows()]
    if "kenward-roger" in plan.sensitivity and plan.mmrm.df != "kenward-roger":
        kr, _, _ = fit_mmrm_with_fallback(data, _with_cov(plan.mmrm, used), df="kenward-roger", level=plan.level)
        store(ctx, "primary-kr", kr, ep.visit, f"{name} change at {ep.visit} (Kenward-Roger)", ep.paramcd, name)
        rows += [{"analysis": f"Sensitivity: Kenward-Roger df ({used})", **_pick(r)}
                 for _, r in at_visit(arm_contrasts(kr), ep.visit).iterrows()]
    comp, rule = completers(data)
    if "completers" in plan.sensitivity and comp is None:
        p.notes.append("Completers sensitivity analysis not done: the data has neither COMPLFL nor EOSSTT.")
    if "completers" in plan.sensitivity and comp is not None:
        how = rule.split("(", 1)[1].rstrip(")")
        ctx.results["completers_rule"] = rule
        cf, cused, _ = fit_mmrm_with_fallback(comp, plan.mmrm, level=plan.level)
        rows += [{"analysis": f"Sensitivity: completers of treatment ({how}; {cused}, {cf.n_subjects} subjects)", **_pick(r)}
                 for _, r in at_visit(arm_contrasts(cf), ep.visit).iterrows()]
    p.add("primary_sensitivity", pd.DataFrame(rows))


def _secondary(ctx, p, fit, used, con) -> None:
    """Frame ``secondary_endpoints`` (when the plan names any), from the primary fit when the
    endpoint is the primary PARAMCD at one of its visits, else from a fit of its own."""
    plan, trial, ep = ctx.plan, ctx.trial, ctx.plan.primary
    rows = []
    for s in plan.secondary:
        if s.paramcd == ep.paramcd and s.visit in set(con["AVISIT"].astype(str)):
            sc, how, sfit = at_visit(con, s.visit), f"primary MMRM ({used})", fit
        else:
            sd = mmrm_frame(trial, s.paramcd, s.visit, s.flag, s.population)
            sfit, sused, _ = fit_mmrm_with_fallback(sd, plan.mmrm, level=plan.level)
            sc, how = at_visit(arm_contrasts(sfit), s.visit), f"MMRM ({sused})"
        store(ctx, f"secondary:{s.name or s.label}", sfit, s.visit, s.label, s.paramcd,
              endpoint_name(trial, s.paramcd))
        rows += [{"endpoint": s.label, "paramcd": s.paramcd, "visit": s.visit, "model": how, **_pick(r)}
                 for _, r in sc.iterrows()]
    if rows:
        p.add("secondary_endpoints", pd.DataFrame(rows))


def _figures(a, view, used: str) -> list:
    """The LS-mean profile, the observed means and the missing-data pattern, drawn from the
    frames (visit times and units from ``primary_visits`` / ``primary_fit``)."""
    from ...plots.longitudinal import plot_lsmeans, plot_missing_pattern, plot_observed_means

    plan = view.plan
    labels = legend_safe(view.labels)
    lvl = pct_level(plan.level)
    name = endpoint_name(view.trial, plan.primary.paramcd)
    visits = a.frame("primary_visits")
    units = a.frame("primary_fit")["units"].iloc[0]
    times = dict(zip(visits["AVISIT"], visits["AVISITN"].astype(float)))
    figs = []
    fig, ax = new_figure(figsize=(7.5, 4.2))
    plot_lsmeans(a.frame("primary_lsmeans"), ax=ax, labels=labels, ylabel=f"LS mean change in {_short(name)}", title=f"MMRM LS means ({lvl} CI)",
                 units=units, time=times)
    figs.append(Figure("primary_lsmeans", f"LS-mean change from baseline by visit and arm with {lvl} confidence intervals (MMRM, {used} covariance).", fig))
    fig, ax = new_figure(figsize=(7.5, 4.2))
    plot_observed_means(a.frame("primary_observed_means"), ax=ax, labels=labels, ylabel=f"Observed mean change in {_short(name)}", title=f"Observed means ({lvl} CI)",
                        units=units, time=times)
    figs.append(Figure("primary_observed", "Observed mean change from baseline by visit and arm (subjects observed at each visit).", fig))
    fig, ax = new_figure(figsize=(9.0, 3.0))
    plot_missing_pattern(a.frame("missing_pattern"), ax=ax, labels=labels, title="Missing outcome by arm and visit")
    figs.append(Figure("missing_pattern", f"Share of randomised subjects without a {name} value, by arm and visit (cells: % and missing/randomised).", fig))
    return figs


# ----------------------------------------------------------------------------------------------
# render: tables and sentences from the frames only
# ----------------------------------------------------------------------------------------------
def render(a, view) -> Section:
    """The section from the frames of :func:`analyse` (or read back from the ARD)."""
    plan, ep, ref = view.plan, view.plan.primary, view.reference
    lvl = pct_level(plan.level)
    name = endpoint_name(view.trial, ep.paramcd)
    fitted = a.frame("primary_fit").iloc[0]
    used = str(fitted["covariance"])
    tables = [_t_lsmeans(a, view, name, used, lvl),
              table("primary_contrasts", f"Difference in LS means vs {view.label(ref)} by visit", a, _comparisons(
                  a.frame("primary_contrasts"), view, lvl, {"Visit": a.frame("primary_contrasts")["AVISIT"].astype(str)},
                  se=True)),
              table("primary_sensitivity", f"Primary comparison at {ep.visit}: primary and sensitivity analyses", a,
                    _comparisons(a.frame("primary_sensitivity"), view, lvl, {"Analysis": a.frame("primary_sensitivity")["analysis"]}))]
    sec = a.frame("secondary_endpoints")
    if sec is not None:
        disp = _comparisons(sec, view, lvl, {"Endpoint": sec["endpoint"]}, df=False)
        disp["Model"] = list(sec["model"])
        tables.append(table("secondary_endpoints", "Secondary endpoints (unadjusted p-values)", a, disp))
    att = a.frame("primary_covariance_attempts")
    tables.append(table("primary_covariance_attempts", "Covariance structures tried, in the plan's order", a,
                        pd.DataFrame({"#": [fmt_int(i) for i in att["order"]], "Covariance": att["covariance"], "Outcome": att["outcome"]}, dtype=object)))
    if a.frame("primary_exclusions") is not None:
        tables.append(table("primary_exclusions", "Rows excluded from the MMRM, with the reason", a, a.frame("primary_exclusions").astype(str)))
    tables.append(_t_observed(a, view, lvl))
    ex = a.frame("primary_flag_exclusions")
    if ex is not None:
        tables.append(table("primary_flag_exclusions", "Records excluded from the primary analysis by the plan's flags", a,
                            pd.DataFrame({"Rule": ex["rule"], "Rows": [fmt_int(v) for v in ex["rows"]],
                                          "Subjects": [fmt_int(v) for v in ex["subjects"]]}, dtype=object)))
    tables.append(_t_missing(a, view))
    return section_of(a, TITLE, paragraphs=_paragraphs(a, view, name, used, att, ex, lvl), tables=tables,
                      figures=_figures(a, view, used))


def _paragraphs(a, view, name, used, att, ex, lvl) -> list[str]:
    plan, ep = view.plan, view.plan.primary
    fitted = a.frame("primary_fit").iloc[0]
    attempts = [f"{c}: {o}" for c, o in zip(att["covariance"], att["outcome"])]
    fallback = used != plan.mmrm.covariance[0]
    paras = [
        f"Change from baseline in {name} was analysed with an MMRM ({plan.mmrm.formula}; "
        f"{plan.mmrm.method.upper()}; {plan.mmrm.df} degrees of freedom) on the post-baseline visits up to "
        f"{ep.visit}{_flags_text(ex) if ex is not None else ''} ({int(fitted['n_obs'])} observations from "
        f"{int(fitted['n_subjects'])} subjects). The covariance structure actually used is {used}"
        + (f" (fallback: the earlier structures of the plan did not converge: {'; '.join(attempts[:-1])})." if fallback else ", the first of the plan's order.")
    ]
    for _, r in at_visit(a.frame("primary_contrasts"), ep.visit).iterrows():
        paras.append(
            f"At {ep.visit}, {view.label(r['ARM'])} minus {view.label(view.reference)}: "
            f"{fmt_estimate_ci(r['estimate'], r['conf_low'], r['conf_high'])} ({lvl} CI), {p_text(r['p_value'])}."
        )
    return paras


def _comparisons(frame, view, lvl, first: dict, *, se: bool = False, df: bool = True) -> pd.DataFrame:
    """Display columns of a frame of comparisons (ARM, reference, estimate, interval, df, p)."""
    cols = {**first, "Comparison": [f"{view.label(x)} - {view.label(r)}" for x, r in zip(frame["ARM"], frame["reference"])],
            f"Difference ({lvl} CI)": _est_rows(frame)["Estimate (CI)"]}
    if se:
        cols["SE"] = [fmt_number(s, 2) for s in frame["std_error"]]
    if df:
        cols["df"] = [fmt_number(d, 1) for d in frame["df"]]
    cols["p-value"] = [fmt_pvalue(v) for v in frame["p_value"]]
    return pd.DataFrame(cols, dtype=object)


def _t_lsmeans(a, view, name, used, lvl):
    lsm = a.frame("primary_lsmeans")
    disp = pd.DataFrame({
        "Visit": lsm["AVISIT"].astype(str),
        "Arm": [view.label(str(x)) for x in lsm["ARM"]],
        "LS mean (SE)": [f"{fmt_number(e, 2)} ({fmt_number(s, 2)})" for e, s in zip(lsm["estimate"], lsm["std_error"])],
        f"{lvl} CI": [fmt_estimate_ci(e, lo, hi).split(" ", 1)[1] for e, lo, hi in zip(lsm["estimate"], lsm["conf_low"], lsm["conf_high"])],
        "df": [fmt_number(d, 1) for d in lsm["df"]],
    }, dtype=object)
    return table("primary_lsmeans", f"LS means of {name} change from baseline by visit and arm (MMRM, {used} covariance, {view.plan.mmrm.df} df)", a, disp)


def _t_observed(a, view, lvl):
    obs = a.frame("primary_observed_means")
    disp = pd.DataFrame({"Visit": obs["AVISIT"].astype(str), "Arm": [view.labels[x] for x in obs["ARM"].astype(str)], "n": [fmt_int(n) for n in obs["n"]],
                         "Mean (SD)": [f"{fmt_number(m, 2)} ({fmt_number(s, 2)})" for m, s in zip(obs["mean"], obs["sd"])],
                         f"{lvl} CI": [f"({fmt_number(lo, 2)}, {fmt_number(hi, 2)})" for lo, hi in zip(obs["conf_low"], obs["conf_high"])]}, dtype=object)
    return table("primary_observed_means", f"Observed mean change from baseline ({lvl} t interval) by visit and arm", a, disp)


def _t_missing(a, view):
    pattern = a.frame("missing_pattern")
    disp = pd.DataFrame({"Arm": [view.labels[x] for x in pattern["ARM"].astype(str)], "Visit": pattern["AVISIT"].astype(str),
                         "Randomised": [fmt_int(n) for n in pattern["n_expected"]], "Observed": [fmt_int(n) for n in pattern["n_observed"]],
                         "Missing (%)": [f"{int(m)} ({fmt_number(p, 1)}%)" for m, p in zip(pattern["n_missing"], pattern["pct_missing"])]}, dtype=object)
    return table("missing_pattern", "Subjects with a missing outcome by arm and visit", a, disp)


def _short(name: str) -> str:
    """An axis label: the name without a trailing parenthesised unit when it is long."""
    return name if len(name) <= 28 else name.split(" (")[0][:40]


def p_text(p) -> str:
    """``"p = 0.012"`` or ``"p < 0.001"`` (never ``"p = <0.001"``)."""
    s = fmt_pvalue(p)
    if s == MISSING:
        return "p not available"
    return f"p {s[0]} {s[1:]}" if s[0] in "<>" else f"p = {s}"


def _pick(r) -> dict:
    return {k: r[k] for k in ("ARM", "reference", "estimate", "std_error", "df", "statistic", "p_value", "conf_low", "conf_high") if k in r}


def _with_cov(spec, cov):
    from dataclasses import replace

    return replace(spec, covariance=(cov,))


#: the older single-step contract (``compute(ctx) -> Section``), kept for one release
compute = single_step(analyse, render)
