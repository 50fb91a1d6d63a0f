"""Section 8 — Long-term: parametric extrapolation of relapse-free survival to the plan's horizon.

Parametric survival models (the plan's distributions) are fitted per arm to the observed
relapse times and extended to ``horizon_years``. The model-comparison table (AIC, BIC) is shown
next to the curves. The section says plainly that extrapolation beyond follow-up is an
assumption, not evidence.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from ..tables import fmt_estimate_ci, fmt_number
from ._analysis import Results, section_of, single_step, table
from ._base import (
    EventWords,
    Figure,
    NotApplicable,
    _one_line,
    legend_safe,
    new_figure,
    pct_level,
)
from .relapse import relapse_frame

KEY = "longterm"
TITLE = "Long-term extrapolation"
#: Sections whose results this one reads (the registry computes them first).
NEEDS = ("relapse",)

NOT_EVIDENCE = (
    "Extrapolation is not evidence. Beyond the last observed {event} time the curves show what "
    "each parametric model assumes, not what was observed; models that fit the observed period "
    "equally well can disagree widely at {years:g} years. Use these curves for planning and "
    "sensitivity, never as a finding of the trial."
)


def _require_subjects_per_arm(data, labels) -> None:
    """Parametric fits need at least two subjects per arm (lifelines fails on one with
    ``TypeError: len() of unsized object``); a ModelError names the arms instead."""
    from ...errors import ModelError

    counts = data.groupby("ARM", observed=True)["USUBJID"].nunique()
    few = [f"{labels.get(str(a), str(a))} ({int(n)})" for a, n in counts.items() if n < 2]
    if few:
        raise ModelError(f"parametric curves need at least 2 subjects per arm in the relapse data; "
                         f"subjects per arm: {', '.join(few)}")


def analyse(ctx):
    """Frames ``longterm_model_comparison`` (fit of each distribution per arm),
    ``longterm_survival`` (extrapolated proportions at whole years) and ``longterm_followup``
    (last observed day, horizon day). Not applicable when the horizon lies within follow-up."""
    import trialstats as ts

    plan, trial = ctx.plan, ctx.trial
    spec = plan.longterm
    labels = {a: ctx.label(a) for a in ctx.arms}
    data = relapse_frame(trial, plan.relapse.paramcd)
    p = Results()
    horizon = spec.horizon_years * 365.25
    follow = float(data["AVAL"].max())
    if horizon <= follow:
        raise NotApplicable(
            f"the horizon of {spec.horizon_years:g} years (day {horizon:g}) lies within the observed "
            f"follow-up (day {follow:g}, {follow / 365.25:.1f} years), so there is nothing to "
            "extrapolate: the observed Kaplan-Meier estimates are in the previous section "
            f"([longterm] horizon_years must exceed {follow / 365.25:.1f})")
    p.add("longterm_followup", pd.DataFrame({"follow_up_day": [follow], "horizon_day": [horizon]}))
    _require_subjects_per_arm(data, labels)
    years = sorted({float(y) for y in range(1, int(spec.horizon_years) + 1)} | {float(spec.horizon_years)})
    ex = ts.extrapolate(data, time="AVAL", censor="CNSR", by="ARM", distributions=list(spec.distributions),
                        times_years=years, level=plan.level)
    p.add("longterm_model_comparison", ex.fits.rename(columns={ex.group: "ARM"}))
    p.add("longterm_survival", ex.survival.rename(columns={ex.group: "ARM"}))

    # the figure's curves (drawn by render): each model's prediction on the plot's grid
    grid = np.linspace(0.0, spec.horizon_years * 365.25, _N_POINTS)
    p.add("longterm_curves", ex.predict(grid).rename(columns={ex.group: "ARM"}))
    p.add("longterm_km", ex.km.table.rename(columns={ex.km.group: "ARM"}))
    p.add("longterm_levels", pd.DataFrame({"ARM": list(ex.levels)}))
    return p.analysis(KEY)


#: points per fitted curve in the figure (plot_extrapolation's default)
_N_POINTS = 200


@dataclass(frozen=True)
class _Extrapolation:
    """An extrapolation result as :func:`~trialstats.plots.plot_extrapolation` reads it,
    rebuilt from the ARD frames (``predict`` returns the curves made on the plot's grid)."""

    curves: pd.DataFrame
    km: Any
    levels: tuple
    distributions: tuple
    group: str = "ARM"

    def predict(self, grid) -> pd.DataFrame:
        times = np.unique(self.curves["time"].to_numpy(float))
        grid = np.asarray(grid, dtype=float)
        if not np.array_equal(times, np.unique(np.where(grid <= 0, 1e-12, grid))):  # as predict()
            raise ValueError("the extrapolated curves were not made on this grid")
        return self.curves


def _figure(a, view) -> Figure:
    """Per arm: Kaplan-Meier and every fitted curve to the horizon, from the frames."""
    from ...plots.survival import plot_extrapolation
    from .relapse import Curves

    spec, w = view.plan.longterm, EventWords.of(view.plan)
    labels = legend_safe(view.labels)
    follow = float(a.frame("longterm_followup")["follow_up_day"].iloc[0])
    levels = tuple(a.frame("longterm_levels")["ARM"])
    curves = a.frame("longterm_curves")
    km = Curves(a.frame("longterm_km"), "ARM", levels, "days")
    ex = _Extrapolation(curves, km, levels, tuple(pd.unique(curves["distribution"])))
    fig, axes = new_figure(figsize=(4.2 * len(levels), 4.4), ncols=len(levels), squeeze=False, sharey=True)
    for ax, arm in zip(axes[0], levels):
        plot_extrapolation(ex, ax=ax, arm=arm, max_years=spec.horizon_years, n_points=_N_POINTS, labels=labels,
                           ylabel="Proportion alive" if w.death else f"{w.Free} proportion")
        ax.axvline(follow / 365.25, color="0.3", linestyle=":", linewidth=1)
        ax.set_title(labels.get(str(arm), str(arm)).replace("$", r"\$"))
    fig.suptitle(f"Extrapolated {w.free} survival to {spec.horizon_years:g} years (assumption, not evidence)")
    return Figure("longterm_extrapolation", f"Per arm: Kaplan-Meier (observed, black) and the fitted parametric curves extended to {spec.horizon_years:g} years; the dotted line marks the end of observed follow-up (day {fmt_number(follow, 0)}). Beyond it the curves are model assumptions.", fig)


def render(a, view):
    """The section from the frames of :func:`analyse` (or read back from the ARD)."""
    spec, w = view.plan.longterm, EventWords.of(view.plan)
    fu = a.frame("longterm_followup").iloc[0]
    follow, horizon = float(fu["follow_up_day"]), float(fu["horizon_day"])
    paras = [NOT_EVIDENCE.format(years=spec.horizon_years, event=w.event),
             f"Observed follow-up {w.since} reaches day {follow:g} "
             f"({follow / 365.25:.1f} years); the curves are extended to {spec.horizon_years:g} years "
             f"(day {horizon:g}). Distributions compared: {', '.join(spec.distributions)}."]
    tables = []
    fits = a.frame("longterm_model_comparison")
    if fits is not None:
        tables.append(table("longterm_model_comparison", f"Parametric models of {w.free} survival per arm: fit to the observed data (lower AIC / BIC = better fit within follow-up only)", a,
                            pd.DataFrame({"Arm": [view.label(str(x)) for x in fits["ARM"]], "Distribution": fits["distribution"].astype(str),
                                          "Parameters": [f"{int(k)}" for k in fits["n_params"]], "Log-likelihood": [fmt_number(v, 2) for v in fits["loglik"]],
                                          "AIC": [fmt_number(v, 2) for v in fits["aic"]], "BIC": [fmt_number(v, 2) for v in fits["bic"]],
                                          "Delta AIC": [fmt_number(v, 2) for v in fits["delta_aic"]],
                                          "Converged": ["yes" if c else "NO" for c in fits["converged"]]}, dtype=object)))
    surv = a.frame("longterm_survival")
    if surv is not None:
        tables.append(table("longterm_survival", f"Extrapolated {w.free} proportion at whole years (model assumptions, not evidence)", a,
                            pd.DataFrame({"Arm": [view.label(str(x)) for x in surv["ARM"]], "Distribution": surv["distribution"].astype(str),
                                          "Year": [fmt_number(y, 0) for y in surv["years"]],
                                          f"{w.free_pct} ({pct_level(view.plan.level)} CI)": [fmt_estimate_ci(100 * s, 100 * lo, 100 * hi, 1) for s, lo, hi in zip(surv["survival"], surv["conf_low"], surv["conf_high"])]}, dtype=object),
                            note="Intervals (delta method) reflect the sampling error of each model only, not the uncertainty in the choice of model."))
    figures, failures = [], []
    if a.frame("longterm_curves") is not None:
        try:
            figures.append(_figure(a, view))
        except Exception as e:  # noqa: BLE001 - shown in the section, never swallowed
            failures.append(f"Extrapolation plot failed: {type(e).__name__}: {_one_line(e)}")
    sec = section_of(a, TITLE, paragraphs=paras, tables=tables, figures=figures)
    return replace(sec, failures=sec.failures + tuple(failures))


#: the older single-step contract (``compute(ctx) -> Section``), kept for one release
compute = single_step(analyse, render)
