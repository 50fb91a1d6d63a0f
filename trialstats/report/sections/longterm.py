"""Section 8 — Long-term: parametric extrapolation of relapse-free survival to the plan's horizon.

Parametric survival models (the plan's distributions) are fitted per arm to the observed
relapse times and extended to ``horizon_years``. The model-comparison table (AIC, BIC) is shown
next to the curves. The section says plainly that extrapolation beyond follow-up is an
assumption, not evidence.
"""

from __future__ import annotations

import pandas as pd

from ..tables import fmt_number
from ._base import Figure, Parts, Table, new_figure
from .relapse import _generic_display, relapse_frame

KEY = "longterm"
TITLE = "Long-term extrapolation"

NOT_EVIDENCE = (
    "Extrapolation is not evidence. Beyond the last observed relapse time the curves show what "
    "each parametric model assumes, not what was observed; models that fit the observed period "
    "equally well can disagree widely at {years:g} years. Use these curves for planning and "
    "sensitivity, never as a finding of the trial."
)


def compute(ctx):
    import trialstats as ts

    plan, trial = ctx.plan, ctx.trial
    spec = plan.longterm
    labels = {a: ctx.label(a) for a in ctx.arms}
    data = relapse_frame(trial, plan.relapse.paramcd)
    p = Parts()
    horizon = spec.horizon_years * 365.25
    follow = float(data["AVAL"].max())
    p.paragraphs.append(NOT_EVIDENCE.format(years=spec.horizon_years))
    p.paragraphs.append(
        f"Observed follow-up after the end of treatment reaches day {follow:g} "
        f"({follow / 365.25:.1f} years); the curves are extended to {spec.horizon_years:g} years "
        f"(day {horizon:g}). Distributions compared: {', '.join(spec.distributions)}."
    )
    ex = ts.extrapolate(data, time="AVAL", censor="CNSR", by="ARM", distributions=list(spec.distributions), horizon=horizon)
    comp = getattr(ex, "comparison", None)
    if comp is None:
        comp = ex.table
    comp = comp.reset_index(drop=True)
    p.tables.append(Table("longterm_model_comparison", "Parametric models of relapse-free survival: fit to the observed data (lower AIC / BIC = better fit within follow-up only)", comp, _generic_display(comp, labels)))
    pred = getattr(ex, "predictions", None)
    if isinstance(pred, pd.DataFrame) and "time" in pred.columns:
        yearly = pred[pred["time"].round(2).isin([round(365.25 * y, 2) for y in range(1, int(spec.horizon_years) + 1)])]
        if len(yearly):
            p.tables.append(Table("longterm_yearly", "Extrapolated relapse-free survival at whole years (model assumption, not evidence)", yearly.reset_index(drop=True), _generic_display(yearly.reset_index(drop=True), labels)))

    def plot():
        from ...plots.survival import plot_extrapolation

        fig, ax = new_figure(figsize=(8.0, 5.0))
        plot_extrapolation(ex, ax=ax)
        ax.axvline(follow, color="0.3", linestyle=":", linewidth=1)
        ax.set_title(f"Extrapolated relapse-free survival to {spec.horizon_years:g} years (assumption, not evidence)")
        p.figures.append(Figure("longterm_extrapolation", f"Kaplan-Meier (observed) and parametric extrapolations to {spec.horizon_years:g} years; the dotted line marks the end of observed follow-up (day {fmt_number(follow, 0)}).", fig))

    p.attempt("Extrapolation plot", plot)
    return p.section(KEY, TITLE)
