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
from ._base import (
    Figure,
    Section,
    Table,
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


def compute(ctx) -> Section:
    from ...plots.longitudinal import plot_lsmeans, plot_missing_pattern, plot_observed_means

    plan, trial = ctx.plan, ctx.trial
    ep = plan.primary
    arms, ref = ctx.arms, ctx.reference
    labels = {a: ctx.label(a) for a in arms}
    lvl = pct_level(plan.level)
    name = endpoint_name(trial, ep.paramcd)
    data = mmrm_frame(trial, ep.paramcd, ep.visit, ep.flag, ep.population)
    _, excluded = analysis_rows(trial, ep.paramcd, ep.flag, ep.population)
    if excluded:
        ctx.results["primary_flags"] = " (" + "; ".join(
            f"excluding {e['rows']} rows of {e['subjects']} subjects with {e['rule'].rsplit(' (', 1)[0]}"
            for e in excluded) + ")"
    _require_outcome_at_visit(data, plan.mmrm.formula, ep)
    fit, used, attempts = fit_mmrm_with_fallback(data, plan.mmrm, level=plan.level)
    ctx.results["primary_fit"] = fit
    ctx.results["primary_covariance"] = used
    ctx.results["primary_attempts"] = attempts

    lsm = fit.lsmeans("ARM", by="AVISIT").reset_index(drop=True)
    con = arm_contrasts(fit)
    tables = []
    lsm_disp = pd.DataFrame({
        "Visit": lsm["AVISIT"].astype(str),
        "Arm": [labels.get(str(a), str(a)) for a in lsm["ARM"]],
        "LS mean (SE)": [f"{fmt_number(e, 2)} ({fmt_number(s, 2)})" for e, s in zip(lsm["estimate"], lsm["std_error"])],
        f"{lvl} CI": [fmt_estimate_ci(e, lo, hi).split(" ", 1)[1] for e, lo, hi in zip(lsm["estimate"], lsm["conf_low"], lsm["conf_high"])],
        "df": [fmt_number(d, 1) for d in lsm["df"]],
    }, dtype=object)
    tables.append(Table("primary_lsmeans", f"LS means of {name} change from baseline by visit and arm (MMRM, {used} covariance, {plan.mmrm.df} df)", lsm, lsm_disp))
    con_disp = pd.DataFrame({
        "Visit": con["AVISIT"].astype(str),
        "Comparison": [f"{labels.get(a, a)} - {labels.get(r, r)}" for a, r in zip(con["ARM"], con["reference"])],
        f"Difference ({lvl} CI)": _est_rows(con)["Estimate (CI)"],
        "SE": [fmt_number(s, 2) for s in con["std_error"]],
        "df": [fmt_number(d, 1) for d in con["df"]],
        "p-value": [fmt_pvalue(p) for p in con["p_value"]],
    }, dtype=object)
    tables.append(Table("primary_contrasts", f"Difference in LS means vs {labels.get(ref, ref)} by visit", con, con_disp))

    # primary estimate per arm + sensitivity analyses
    prim = at_visit(con, ep.visit)
    sens_rows = []
    store(ctx, "primary", fit, ep.visit, f"{name} change at {ep.visit}", ep.paramcd, name)
    for _, r in prim.iterrows():
        sens_rows.append({"analysis": f"Primary: MMRM, {used}, {plan.mmrm.df}", **_pick(r)})
    notes = []
    if "kenward-roger" in plan.sensitivity and plan.mmrm.df != "kenward-roger":
        kr, _, _ = fit_mmrm_with_fallback(data, _with_cov(plan.mmrm, used), df="kenward-roger", level=plan.level)
        kc = arm_contrasts(kr)
        store(ctx, "primary-kr", kr, ep.visit, f"{name} change at {ep.visit} (Kenward-Roger)", ep.paramcd, name)
        for _, r in at_visit(kc, ep.visit).iterrows():
            sens_rows.append({"analysis": f"Sensitivity: Kenward-Roger df ({used})", **_pick(r)})
    comp, rule = completers(data)
    if "completers" in plan.sensitivity and comp is None:
        notes.append("Completers sensitivity analysis not done: the data has neither COMPLFL nor EOSSTT.")
    if "completers" in plan.sensitivity and comp is not None:
        how = rule.split("(", 1)[1].rstrip(")")
        ctx.results["completers_rule"] = rule
        cf, cused, _ = fit_mmrm_with_fallback(comp, plan.mmrm, level=plan.level)
        cc = arm_contrasts(cf)
        for _, r in at_visit(cc, ep.visit).iterrows():
            sens_rows.append({"analysis": f"Sensitivity: completers of treatment ({how}; {cused}, {cf.n_subjects} subjects)", **_pick(r)})
    sens = pd.DataFrame(sens_rows)
    sens_disp = pd.DataFrame({
        "Analysis": sens["analysis"],
        "Comparison": [f"{labels.get(a, a)} - {labels.get(r, r)}" for a, r in zip(sens["ARM"], sens["reference"])],
        f"Difference ({lvl} CI)": _est_rows(sens)["Estimate (CI)"],
        "df": [fmt_number(d, 1) for d in sens["df"]],
        "p-value": [fmt_pvalue(p) for p in sens["p_value"]],
    }, dtype=object)
    tables.append(Table("primary_sensitivity", f"Primary comparison at {ep.visit}: primary and sensitivity analyses", sens, sens_disp))

    # secondary endpoints
    sec_rows = []
    for s in plan.secondary:
        if s.paramcd == ep.paramcd and s.visit in set(con["AVISIT"].astype(str)):
            sc = at_visit(con, s.visit)
            how = f"primary MMRM ({used})"
            sfit = fit
        else:
            sd = mmrm_frame(trial, s.paramcd, s.visit, s.flag, s.population)
            sf, sused, _ = fit_mmrm_with_fallback(sd, plan.mmrm, level=plan.level)
            sc = arm_contrasts(sf)
            sc = at_visit(sc, s.visit)
            how = f"MMRM ({sused})"
            sfit = sf
        store(ctx, f"secondary:{s.name or s.label}", sfit, s.visit, s.label, s.paramcd,
              endpoint_name(trial, s.paramcd))
        for _, r in sc.iterrows():
            sec_rows.append({"endpoint": s.label, "paramcd": s.paramcd, "visit": s.visit, "model": how, **_pick(r)})
    if sec_rows:
        sec = pd.DataFrame(sec_rows)
        sec_disp = pd.DataFrame({
            "Endpoint": sec["endpoint"],
            "Comparison": [f"{labels.get(a, a)} - {labels.get(r, r)}" for a, r in zip(sec["ARM"], sec["reference"])],
            f"Difference ({lvl} CI)": _est_rows(sec)["Estimate (CI)"],
            "p-value": [fmt_pvalue(p) for p in sec["p_value"]],
            "Model": sec["model"],
        }, dtype=object)
        tables.append(Table("secondary_endpoints", "Secondary endpoints (unadjusted p-values)", sec, sec_disp))

    # covariance attempts, exclusions
    att = pd.DataFrame({"order": range(1, len(attempts) + 1), "covariance": [a.split(":")[0] for a in attempts], "outcome": [a.split(": ", 1)[1] for a in attempts]})
    tables.append(Table("primary_covariance_attempts", "Covariance structures tried, in the plan's order", att, pd.DataFrame({"#": [fmt_int(i) for i in att["order"]], "Covariance": att["covariance"], "Outcome": att["outcome"]}, dtype=object)))
    excl = getattr(fit, "exclusions", None)
    if isinstance(excl, pd.DataFrame) and len(excl):
        tables.append(Table("primary_exclusions", "Rows excluded from the MMRM, with the reason", excl.reset_index(drop=True), excl.reset_index(drop=True).astype(str)))
    elif excl is not None and not isinstance(excl, pd.DataFrame):
        notes.append(f"Rows excluded from the MMRM: {excl}.")

    # figures
    obs = observed_means(data, "CHG", plan.level, arms)
    tables.append(Table("primary_observed_means", f"Observed mean change from baseline ({lvl} t interval) by visit and arm", obs,
                        pd.DataFrame({"Visit": obs["AVISIT"].astype(str), "Arm": [labels[a] for a in obs["ARM"].astype(str)], "n": [fmt_int(n) for n in obs["n"]],
                                      "Mean (SD)": [f"{fmt_number(m, 2)} ({fmt_number(s, 2)})" for m, s in zip(obs["mean"], obs["sd"])],
                                      f"{lvl} CI": [f"({fmt_number(lo, 2)}, {fmt_number(hi, 2)})" for lo, hi in zip(obs["conf_low"], obs["conf_high"])]}, dtype=object)))
    if excluded:
        ex = pd.DataFrame(excluded)
        tables.append(Table("primary_flag_exclusions", "Records excluded from the primary analysis by the plan's flags", ex,
                            pd.DataFrame({"Rule": ex["rule"], "Rows": [fmt_int(v) for v in ex["rows"]],
                                          "Subjects": [fmt_int(v) for v in ex["subjects"]]}, dtype=object)))
    pattern = missing_pattern(trial, ep.paramcd, arms, ep.flag)
    tables.append(Table("missing_pattern", "Subjects with a missing outcome by arm and visit", pattern,
                        pd.DataFrame({"Arm": [labels[a] for a in pattern["ARM"].astype(str)], "Visit": pattern["AVISIT"].astype(str),
                                      "Randomised": [fmt_int(n) for n in pattern["n_expected"]], "Observed": [fmt_int(n) for n in pattern["n_observed"]],
                                      "Missing (%)": [f"{int(m)} ({fmt_number(p, 1)}%)" for m, p in zip(pattern["n_missing"], pattern["pct_missing"])]}, dtype=object)))
    figs = []
    fig, ax = new_figure(figsize=(7.5, 4.2))
    units, times = outcome_units(data), visit_times(data)
    plot_lsmeans(lsm, ax=ax, labels=legend_safe(labels), ylabel=f"LS mean change in {_short(name)}", title=f"MMRM LS means ({lvl} CI)",
                 units=units, time=times)
    figs.append(Figure("primary_lsmeans", f"LS-mean change from baseline by visit and arm with {lvl} confidence intervals (MMRM, {used} covariance).", fig))
    fig, ax = new_figure(figsize=(7.5, 4.2))
    plot_observed_means(obs, ax=ax, labels=legend_safe(labels), ylabel=f"Observed mean change in {_short(name)}", title=f"Observed means ({lvl} CI)",
                        units=units, time=times)
    figs.append(Figure("primary_observed", "Observed mean change from baseline by visit and arm (subjects observed at each visit).", fig))
    fig, ax = new_figure(figsize=(9.0, 3.0))
    plot_missing_pattern(pattern, ax=ax, labels=legend_safe(labels), title="Missing outcome by arm and visit")
    figs.append(Figure("missing_pattern", f"Share of randomised subjects without a {name} value, by arm and visit (cells: % and missing/randomised).", fig))

    fallback = used != plan.mmrm.covariance[0]
    paras = [
        f"Change from baseline in {name} was analysed with an MMRM ({plan.mmrm.formula}; "
        f"{plan.mmrm.method.upper()}; {plan.mmrm.df} degrees of freedom) on the post-baseline visits up to "
        f"{ep.visit}{ctx.results.get('primary_flags', '')} ({fit.n_obs} observations from {fit.n_subjects} subjects). The covariance structure "
        f"actually used is {used}"
        + (f" (fallback: the earlier structures of the plan did not converge: {'; '.join(attempts[:-1])})." if fallback else ", the first of the plan's order.")
    ]
    for _, r in prim.iterrows():
        paras.append(
            f"At {ep.visit}, {labels.get(r['ARM'], r['ARM'])} minus {labels.get(ref, ref)}: "
            f"{fmt_estimate_ci(r['estimate'], r['conf_low'], r['conf_high'])} ({lvl} CI), {p_text(r['p_value'])}."
        )
    return Section(key=KEY, title=TITLE, paragraphs=tuple(paras), tables=tuple(tables), figures=tuple(figs), notes=tuple(notes))


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
