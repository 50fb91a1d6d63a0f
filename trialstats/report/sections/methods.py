"""Section 2 — Methods, generated from the plan that was executed (and what the fits did)."""

from __future__ import annotations

import pandas as pd

from ..ard_long import SECTION_NAMES
from ._analysis import Analysis, single_step
from ._base import EventWords, Section, endpoint_name, pct_level
from .longterm import NOT_EVIDENCE
from .safety import RD_METHOD_NAMES

KEY = "methods"
TITLE = "Methods"
#: Sections whose results this one reads (the registry computes them first).
NEEDS = ("primary", "durability", "relapse", "longterm", "subgroups", "safety", "hypotheses",
         "estimands")


def methods_text(plan, results: dict, reference_label: str, ran: dict | None = None,
                 names: dict | None = None) -> list[str]:
    """Paragraphs describing the analyses of ``plan`` that ran (pure: plan + results → text).

    Parameters
    ----------
    plan : AnalysisPlan
        The resolved plan.
    results : dict
        What the sections recorded (``primary_covariance``, ``completers_rule``, ...).
    reference_label : str
        Display label of the reference arm.
    ran : dict, optional
        Section key -> "ok", "failed" or "not applicable"; a section that did not run is not
        described (a failed one is named as failed). Default: every section the plan does not
        skip ran.
    names : dict, optional
        ``{"primary": "<endpoint name>"}`` (ADEFF PARAM); default the PARAMCD.

    Returns
    -------
    list of str
    """
    ep, lt = plan.primary, plan.longterm
    lvl = pct_level(plan.level)
    ran = ran if ran is not None else {
        k: ("not applicable" if plan.skipped(k) else "ok")
        for k in ("primary", "durability", "relapse", "longterm", "subgroups", "safety")}
    names = names or {}
    w = EventWords.of(plan)

    def runs(key: str) -> bool:
        return ran.get(key, "ok") == "ok"

    paras = [
        f"Analysis plan: {plan.source}. All intervals are two-sided {lvl} confidence intervals; "
        f"comparisons are each arm versus the reference arm, {reference_label}.",
    ]
    failed = [k for k, v in ran.items() if v == "failed"]
    if runs("primary"):
        paras.append(_primary_text(plan, results, names))
    sens = _sensitivities(plan, results, runs, w)
    if sens:
        paras.append("Sensitivity analyses: " + "; ".join(sens) + ".")
    if plan.secondary and runs("primary"):
        paras.append("Secondary endpoints, with the primary MMRM specification: "
                     + "; ".join(s.label for s in plan.secondary) + ".")
    if runs("durability"):
        paras.append(
            f"Durability: {plan.durability.paramcd} from the end of treatment onwards, a linear mixed model with "
            "random intercept and slope per subject (AVAL ~ ARM * WEEK_OFF + BASE) and a GEE count model "
            f"(AVAL ~ ARM * YEARS_OFF + log BASE; {plan.durability.family}, {plan.durability.correlation} working "
            "correlation, robust standard errors)."
        )
    if runs("relapse"):
        paras += _time_to_event_text(plan, results, w)
    if runs("longterm"):
        paras.append(
            f"Long-term: parametric models ({', '.join(lt.distributions)}) extrapolated to {lt.horizon_years:g} years "
            "and compared by AIC and BIC. " + NOT_EVIDENCE.format(years=lt.horizon_years, event=w.event)
        )
    if runs("subgroups") and plan.subgroups:
        paras.append(
            "Subgroups (" + ", ".join(f"{label} [{col}]" for col, label in plan.subgroups) + "): the primary MMRM "
            f"refitted within each level; arm-by-subgroup interaction at {ep.visit} by a Wald F test. "
            "Exploratory, unadjusted."
        )
    if runs("safety"):
        pop = results.get("safety_population", "the safety population")
        paras.append(
            f"Safety: treatment-emergent adverse events in {pop} by system organ class and "
            f"preferred term; risk differences with {RD_METHOD_NAMES[plan.rd_method]} intervals."
        )
    strat = ("fixed-sequence testing in the order listed" if plan.strategy == "fixed-sequence"
             else "Holm's step-down procedure")
    if plan.hypotheses:
        paras.append(
            f"Multiplicity: {len(plan.hypotheses)} hypotheses ("
            + ", ".join(f"{h.id} {h.endpoint} {h.arm}" for h in plan.hypotheses)
            + f"), family-wise error rate controlled at two-sided alpha = {plan.alpha:g} by {strat}."
        )
    if runs("estimands") and results.get("estimands_methods"):
        paras.append(results["estimands_methods"])
    if failed:
        paras.append("Planned analyses that did not complete (see their sections): "
                     + ", ".join(failed) + ".")
    return paras


def _primary_text(plan, results: dict, names: dict) -> str:
    """The primary MMRM: endpoint, visits, flags, formula, estimation and covariance used."""
    ep, m = plan.primary, plan.mmrm
    used = results.get("primary_covariance")
    cov_text = (
        f"The covariance structures were tried in the order {' → '.join(m.covariance)} until a fit converged"
        + (f"; the structure used was {used}." if used else "; the primary fit did not complete (see section 5).")
    )
    flag = results.get("primary_flags", "")
    return (
        f"Primary endpoint: change from baseline in {names.get('primary', ep.paramcd)} at {ep.visit}, "
        f"analysed with a mixed model for repeated measures (MMRM) of all post-baseline visits up to "
        f"{ep.visit}{flag}: {m.formula}, estimated by "
        f"{m.method.upper()}, with {m.df} degrees of freedom. {cov_text} Missing outcomes are not imputed; the "
        "MMRM is valid when data are missing at random. LS means average over the covariates at their means.")


def _sensitivities(plan, results: dict, runs, w) -> list[str]:
    """The sensitivity analyses of the plan that ran."""
    sens = []
    if "kenward-roger" in plan.sensitivity and runs("primary"):
        sens.append("Kenward-Roger degrees of freedom and adjusted covariance (same covariance structure)")
    rule = results.get("completers_rule")
    if "completers" in plan.sensitivity and runs("primary") and rule:
        sens.append(f"the primary MMRM restricted to subjects who {rule}")
    if "interval-censored" in plan.sensitivity and runs("relapse") and results.get("interval_censored"):
        sens.append(f"interval-censored analyses of {w.event} (Turnbull NPMLE and Weibull interval regression)")
    return sens


def _time_to_event_text(plan, results: dict, w) -> list[str]:
    """One paragraph per time-to-event endpoint of the plan."""
    r = plan.relapse
    strata = ", ".join(r.strata) if r.strata else "none"
    competing = results.get("competing_events")
    paras = [
        f"{w.title} ({r.paramcd}, days {w.from_origin}): Kaplan-Meier estimates with log-log intervals, "
        f"medians (Brookmeyer-Crowley), landmark rates at days {', '.join(f'{x:g}' for x in r.landmarks)}, "
        f"log-rank tests unstratified" + (f" and stratified by {strata}" if r.strata else "")
        + ", Cox regression (Efron ties) with the "
        f"Grambsch-Therneau proportional-hazards check, the restricted mean survival time up to day {'(not resolved)' if r.tau is None else f'{r.tau:g}'}"
        + (f", and the cumulative incidence of {w.event} with {competing} "
           "(Aalen-Johansen, Gray's test)." if competing else ".")
    ]
    for spec in plan.more_events or ():
        w2 = EventWords.of_spec(spec)
        paras.append(
            f"{w2.title} ({spec.paramcd}, days {w2.from_origin}): the same analyses (Kaplan-Meier, "
            f"medians, landmark rates, log-rank tests, Cox regression, the restricted mean survival "
            f"time up to day {'(not resolved)' if spec.tau is None else f'{spec.tau:g}'})."
        )
    return paras


#: What the other sections recorded that the methods text reads (``ctx.results`` keys).
FACTS = ("primary_covariance", "primary_flags", "completers_rule", "interval_censored",
         "competing_events", "safety_population")


def analyse(ctx):
    """Frames ``methods_facts`` (what the fits did: :data:`FACTS`, missing when not recorded,
    and any other text or number an earlier section recorded in ``ctx.results``)
    and ``methods_ran`` (each section computed before this one: ok, failed or not applicable)."""
    # sections by their ARD names (the time-to-event section is "time_to_event", not "relapse")
    ran = [(SECTION_NAMES.get(k, k), "not applicable" if sec.not_applicable else "failed" if sec.error else "ok")
           for k, sec in ctx.sections.items()]
    # the known facts, then any other word or number a section recorded for the methods
    # (e.g. a section added later), never fits or paths
    keys = list(FACTS) + [k for k, v in ctx.results.items()
                          if k not in FACTS and isinstance(v, str | bool | int | float)]
    facts = pd.DataFrame({k: pd.Series([ctx.results.get(k)], dtype=object) for k in keys})
    return Analysis(KEY, {"methods_facts": facts,
                          "methods_ran": pd.DataFrame(ran, columns=["section", "status"])})


def render(a, view) -> Section:
    """The methods paragraphs from the plan and the frames of :func:`analyse`."""
    plan = view.plan
    facts = {k: v for k, v in a.frame("methods_facts").iloc[0].items() if v is not None}
    keys = {v: k for k, v in SECTION_NAMES.items()}
    ran = {keys.get(k, k): v for k, v in zip(a.frame("methods_ran")["section"], a.frame("methods_ran")["status"])}
    names = {"primary": endpoint_name(view.trial, plan.primary.paramcd)} if plan.primary else {}
    paras = methods_text(plan, facts, view.label(view.reference), ran=ran, names=names)
    paras.append("The plan executed, as TOML (a sap.toml in the trial folder with this content reproduces it):")
    return Section(key=KEY, title=TITLE, paragraphs=tuple(paras), preformatted=plan.to_toml(),
                   notes=a.notes, failures=a.failures)


#: the older single-step contract (``compute(ctx) -> Section``), kept for one release
compute = single_step(analyse, render)
