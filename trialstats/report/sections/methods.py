"""Section 2 — Methods, generated from the plan that was executed (and what the fits did)."""

from __future__ import annotations

from ._base import Section, pct_level
from .longterm import NOT_EVIDENCE
from .safety import RD_METHOD_NAMES

KEY = "methods"
TITLE = "Methods"


def methods_text(plan, results: dict, reference_label: str) -> list[str]:
    """Paragraphs describing the analyses of ``plan`` (pure: plan + results → text)."""
    ep, m, r, lt = plan.primary, plan.mmrm, plan.relapse, plan.longterm
    lvl = pct_level(plan.level)
    used = results.get("primary_covariance")
    cov_text = (
        f"The covariance structures were tried in the order {' → '.join(m.covariance)} until a fit converged"
        + (f"; the structure used was {used}." if used else "; the primary fit did not complete (see section 5).")
    )
    paras = [
        f"Analysis plan: {plan.source}. All intervals are two-sided {lvl} confidence intervals; "
        f"comparisons are each arm versus the reference arm, {reference_label}.",
        f"Primary endpoint: change from baseline in {ep.paramcd} at {ep.visit}, analysed with a mixed model for "
        f"repeated measures (MMRM) of all post-baseline visits up to {ep.visit}: {m.formula}, estimated by "
        f"{m.method.upper()}, with {m.df} degrees of freedom. {cov_text} Missing outcomes are not imputed; the "
        "MMRM is valid when data are missing at random. LS means average over the covariates at their means.",
    ]
    sens = []
    if "kenward-roger" in plan.sensitivity:
        sens.append("Kenward-Roger degrees of freedom and adjusted covariance (same covariance structure)")
    if "completers" in plan.sensitivity:
        sens.append("the primary MMRM restricted to subjects who completed the treatment period (COMPLFL = Y)")
    if "interval-censored" in plan.sensitivity:
        sens.append("interval-censored analyses of relapse (Turnbull NPMLE and Weibull interval regression)")
    if sens:
        paras.append("Sensitivity analyses: " + "; ".join(sens) + ".")
    if plan.secondary:
        paras.append("Secondary endpoints, with the primary MMRM specification: "
                     + "; ".join(s.label for s in plan.secondary) + ".")
    paras.append(
        f"Durability: {plan.durability.paramcd} from the end of treatment onwards, a linear mixed model with "
        "random intercept and slope per subject (AVAL ~ ARM * WEEK_OFF + BASE) and a GEE count model "
        f"(AVAL ~ ARM * YEARS_OFF + log BASE; {plan.durability.family}, {plan.durability.correlation} working "
        "correlation, robust standard errors)."
    )
    strata = ", ".join(r.strata) if r.strata else "none"
    paras.append(
        f"Relapse ({r.paramcd}, days from the end of treatment): Kaplan-Meier estimates with log-log intervals, "
        f"medians (Brookmeyer-Crowley), landmark rates at days {', '.join(f'{x:g}' for x in r.landmarks)}, "
        f"log-rank tests unstratified and stratified by {strata}, Cox regression (Efron ties) with the "
        f"Grambsch-Therneau proportional-hazards check, the restricted mean survival time up to day {'(not resolved)' if r.tau is None else f'{r.tau:g}'}, "
        "and the cumulative incidence of relapse with discontinuation before relapse as a competing event "
        "(Aalen-Johansen, Gray's test)."
    )
    paras.append(
        f"Long-term: parametric models ({', '.join(lt.distributions)}) extrapolated to {lt.horizon_years:g} years "
        "and compared by AIC and BIC. " + NOT_EVIDENCE.format(years=lt.horizon_years)
    )
    paras.append(
        "Subgroups (" + ", ".join(f"{label} [{col}]" for col, label in plan.subgroups) + "): the primary MMRM "
        "refitted within each level; interaction by likelihood-ratio test (ML). Exploratory, unadjusted."
    )
    paras.append(
        "Safety: treatment-emergent adverse events in the safety population by system organ class and "
        f"preferred term; risk differences with {RD_METHOD_NAMES[plan.rd_method]} intervals."
    )
    strat = ("fixed-sequence testing in the order listed" if plan.strategy == "fixed-sequence"
             else "Holm's step-down procedure")
    paras.append(
        f"Multiplicity: {len(plan.hypotheses)} hypotheses ("
        + ", ".join(f"{h.id} {h.endpoint} {h.arm}" for h in plan.hypotheses)
        + f"), family-wise error rate controlled at two-sided alpha = {plan.alpha:g} by {strat}."
    )
    return paras


def compute(ctx) -> Section:
    plan = ctx.plan
    paras = methods_text(plan, ctx.results, ctx.label(ctx.reference))
    paras.append("The plan executed, as TOML (a sap.toml in the trial folder with this content reproduces it):")
    return Section(key=KEY, title=TITLE, paragraphs=tuple(paras), preformatted=plan.to_toml())
