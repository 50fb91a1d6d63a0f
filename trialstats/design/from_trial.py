r"""Scenario parameters from a fitted trial: ``from_trial = "path/to/trial-folder"`` in design.toml.

A design scenario may take its assumptions from a trial already run (a pilot, an earlier phase):
the trial folder is loaded (:func:`trialstats.load_trial`), analysed with the design's own plan,
and its estimates become the scenario's parameters. Which estimates, by scenario model:

``"trial"`` (:func:`trialstats.simulate_trial`)
    ``effects``: for every arm of the trial, the MMRM LS-mean change from baseline at the plan's
    primary visit :math:`w` (the plan's formula, covariance structures tried in order as the
    report), :math:`m_a`, mapped to the simulator's parameter :math:`\Delta_a` (expected change
    at week 48 under continued treatment) through the simulator's own mean curve
    :math:`E[\mathrm{CHG}(w)] = \beta_1 w + G_a (1 - e^{-w/\tau})`,
    :math:`\Delta_a = 48\beta_1 + (m_a - \beta_1 w)\,h(48)/h(w)`
    (:func:`trialstats.simulate.expected_change` inverted; needs :math:`w \le T`); ``arms``:
    the trial's arms. Everything else (SDs, waning, dropout) keeps the simulator's defaults or
    the scenario's own values.
``"exponential-relapse"``
    ``median_reference``: :math:`\log 2 / \hat\lambda_0` with :math:`\hat\lambda_0` = events /
    total follow-up time of the reference arm (exponential maximum likelihood);
    ``hazard_ratio``: :math:`\exp(\hat\beta)` of an unstratified Cox model (Efron ties) of the
    relapse endpoint on ARM for the scenario's active arm (``arms = [reference, active]``, by
    default the trial's reference and its first other arm).

Keys the scenario also gives itself win over the derived ones. The derived values are written
into the scenario (and so into the design's fingerprint and its report).
"""

from __future__ import annotations

import math
from pathlib import Path

from ..errors import TrialstatsError

__all__ = ["DERIVED_KEYS", "derive"]

#: Model -> the parameters :func:`derive` sets.
DERIVED_KEYS = {"trial": ("arms", "effects"),
                "exponential-relapse": ("arms", "median_reference", "hazard_ratio")}


def derive(model: str, path: Path, plan, params: dict, *, allow_outside: bool = False) -> dict:
    """Scenario parameters estimated from the trial folder ``path`` (see the module docstring).

    Parameters
    ----------
    model : {"trial", "exponential-relapse"}
    path : Path
        Trial folder (``trial.toml`` and its tables).
    plan : AnalysisPlan
        The design's analysis plan (its primary endpoint, MMRM and relapse parameter).
    params : dict
        The scenario's own parameters (``treatment_weeks``, ``arms``).
    allow_outside : bool, default False
        Passed to :func:`trialstats.load_trial`.

    Returns
    -------
    dict
        The derived parameters (keys of :data:`DERIVED_KEYS` for ``model``).

    Raises
    ------
    TrialstatsError
        A model without derivation, an unreadable trial, a failed fit, an arm the simulator
        does not know, or a primary visit after the end of treatment.
    """
    if model not in DERIVED_KEYS:
        raise TrialstatsError(f"model {model!r} cannot take parameters from a trial; valid: "
                              f"{', '.join(DERIVED_KEYS)}")
    from ..data import load_trial

    trial = load_trial(path, allow_outside=allow_outside)
    resolved = plan.resolve(trial)
    if model == "trial":
        return _trial_effects(trial, resolved, params)
    return _relapse_rates(trial, resolved, params)


def _trial_effects(trial, plan, params) -> dict:
    from ..simulate import ARM_MODELS, BUILDUP_WEEKS, PROGRESSION_PER_WEEK

    unknown = [a for a in trial.arms if a not in ARM_MODELS]
    if unknown:
        raise TrialstatsError(f"arm(s) {', '.join(unknown)} of trial {trial.meta.id!r} are not "
                              f"arms of simulate_trial; valid: {', '.join(ARM_MODELS)}")
    lsm, visit_week = _primary_lsmeans(trial, plan)
    t_weeks = int(params.get("treatment_weeks", 24))
    if not 0 < visit_week <= t_weeks:
        raise TrialstatsError(f"primary visit {plan.primary.visit!r} (week {visit_week:g}) is not "
                              f"on treatment (weeks 1..{t_weeks}): its LS means cannot be mapped "
                              "to simulate_trial effects")
    b1 = PROGRESSION_PER_WEEK
    h_w = 1.0 - math.exp(-visit_week / BUILDUP_WEEKS)
    h48 = 1.0 - math.exp(-48.0 / BUILDUP_WEEKS)
    effects = {a: float(48.0 * b1 + (m - b1 * visit_week) * h48 / h_w) for a, m in lsm.items()}
    return {"arms": list(trial.arms), "effects": effects}


def _primary_lsmeans(trial, plan) -> tuple[dict, float]:
    """LS-mean change per arm at the primary visit, and that visit's week (AVISITN)."""
    from .analysis import fit_primary, primary_rows

    where = f"trial {trial.meta.id!r}"
    frame, week = primary_rows(trial.efficacy(plan.primary.paramcd), plan, where)
    fit, _ = fit_primary(frame, plan, where=f"{where}: ")
    lsm = fit.lsmeans("ARM", by="AVISIT")
    lsm = lsm[lsm["AVISIT"].astype(str) == plan.primary.visit]
    return {str(a): float(v) for a, v in zip(lsm["ARM"], lsm["estimate"], strict=True)}, week


def _relapse_rates(trial, plan, params) -> dict:
    from ..survival import cox

    tte = trial.analysis_frame("adtte", paramcd=plan.relapse.paramcd)
    arms = list(params.get("arms") or [trial.arms[0], trial.arms[1]])
    if len(arms) != 2 or any(a not in trial.arms for a in arms):
        raise TrialstatsError(f"arms {arms!r}: need [reference, active], two arms of trial "
                              f"{trial.meta.id!r}; valid: {', '.join(trial.arms)}")
    tte = tte[tte["ARM"].astype(str).isin(arms)].copy()
    tte["ARM"] = tte["ARM"].astype(str).astype("category").cat.set_categories(arms)
    ref = tte[tte["ARM"] == arms[0]]
    events = int((ref["CNSR"] == 0).sum())
    if events == 0:
        raise TrialstatsError(f"trial {trial.meta.id!r}: no relapse in reference arm "
                              f"{arms[0]!r}; its median cannot be estimated")
    rate = events / float(ref["AVAL"].sum())
    coef = cox("ARM", tte, time="AVAL", censor="CNSR").coef
    return {"arms": arms, "median_reference": math.log(2.0) / rate,
            "hazard_ratio": float(math.exp(coef["estimate"].iloc[0]))}
