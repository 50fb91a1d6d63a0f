"""Generative-model constants and the deterministic parts of the model.

The arms, the hair-count model constants (each with its source in the docstring of
:func:`trialstats.simulate.simulate_trial`), the visit schedule, the treatment profile and the
expected change from baseline.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import ModelError

# --------------------------------------------------------------------------------------------
# Model constants (see the simulate_trial docstring for the source of each)
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ArmModel:
    """Generative parameters of one arm.

    Parameters
    ----------
    code, label : str
        Arm code (ADSL.ARM) and its label (trial.toml ``[arms] codes``).
    change_week48 : float
        Expected change from baseline in TAHC (hairs/cm²) at week 48 under continued treatment,
        :math:`\\Delta_a`.
    sd_change_week48 : float
        Between-subject SD of that change, :math:`S_a`.
    waning_weeks : float
        Weeks after treatment stops over which the treatment gain is lost, :math:`L_a`.
    durable_fraction : float
        Mean fraction of the gain that is never lost, :math:`\\bar\\pi_a`; each subject's
        fraction is Beta distributed around it (0 means the whole gain is lost).
    injected : bool
        The arm receives scalp injections (exosomes or saline) every 4 weeks on treatment.
    """

    code: str
    label: str
    change_week48: float
    sd_change_week48: float
    waning_weeks: float
    durable_fraction: float
    injected: bool


#: The arms simulate_trial knows, in level order. PLACEBO is the reference arm when simulated.
#: FINASTERIDE (issue 10): Delta = 25.2 so that E[CHG] at week 192 under continued treatment is
#: +7.2 % of the mean baseline 150 (Price 2006, 4-year extension: +7.2 %), with this model's
#: progression; its gain is lost within 52 weeks of stopping (DOMAIN.md: regrown hair lost
#: within about 12 months); SD as minoxidil (assumption); not injected.
ARM_MODELS: dict[str, ArmModel] = {
    "EXOSOME": ArmModel("EXOSOME", "Exosome injections", 15.0, 25.4, 36.0, 0.40, True),
    "MINOXIDIL": ArmModel("MINOXIDIL", "Minoxidil 5% topical", 18.6, 25.4, 24.0, 0.0, False),
    "PLACEBO": ArmModel("PLACEBO", "Placebo", 3.9, 21.7, 24.0, 0.0, True),
    "FINASTERIDE": ArmModel("FINASTERIDE", "Finasteride 1 mg oral", 25.2, 25.4, 52.0, 0.0,
                            False),
}
#: The arms simulated when ``arms`` is not given (finasteride only on request).
DEFAULT_ARMS = ("EXOSOME", "MINOXIDIL", "PLACEBO")
_REFERENCE_ORDER = ("PLACEBO", "MINOXIDIL", "FINASTERIDE", "EXOSOME")

BASELINE_MEAN = 150.0        # mu_0, hairs/cm2
BASELINE_SD = 30.0           # SD of an observed baseline count
RESIDUAL_SD = 9.0            # sigma_e = sqrt((1 - 0.91) * 30^2), TrichoScan ICC 0.91
RESIDUAL_RANGE_WEEKS = 12.0  # lambda: corr(e(t), e(s)) = exp(-|t - s| / lambda)
PROGRESSION_PER_WEEK = -0.10  # beta_1: natural progression, hairs/cm2 per week
PROGRESSION_SD = 0.10        # sigma_1
BUILDUP_WEEKS = 6.0          # tau: h(t) = 1 - exp(-t / tau) on treatment
DURABLE_CONCENTRATION = 2.0  # nu: pi_i ~ Beta(nu * pi_a, nu * (1 - pi_a))
SITE_SD = 5.0                # sigma_site
STAGE_SHIFT = 12.0           # moderate stage: 12 hairs/cm2 fewer than mild
P_MALE = 0.70
NORWOOD = (("II", 0.25), ("III", 0.35), ("IV", 0.30), ("V", 0.10))
LUDWIG = (("I", 0.55), ("II", 0.45))
MODERATE_STAGES = {"M": {"IV", "V"}, "F": {"II"}}
RACES = (("WHITE", 0.70), ("ASIAN", 0.15), ("BLACK OR AFRICAN AMERICAN", 0.10), ("OTHER", 0.05))
DROPOUT_HR_PER_10 = 0.80     # hazard ratio of dropout per +10 hairs/cm2 of last observed CHG
VISIT_WINDOW_DAYS = 3        # scheduled visits happen within +-3 days of the nominal day
FOLLOWUP_EVERY_WEEKS = 8
INJECTION_EVERY_WEEKS = 4

_ON_TREATMENT_WEEKS = (0, 4, 12)


# --------------------------------------------------------------------------------------------
# The generative model
# --------------------------------------------------------------------------------------------

def visit_weeks(treatment_weeks: int, followup_weeks: int) -> tuple[np.ndarray, int]:
    """Nominal visit weeks and the index of the end-of-treatment visit.

    Parameters
    ----------
    treatment_weeks, followup_weeks : int
        As in :func:`simulate_trial`.

    Returns
    -------
    weeks : ndarray of int
    eot : int
        Index of week ``treatment_weeks`` in ``weeks``.
    """
    on = {w for w in _ON_TREATMENT_WEEKS if w < treatment_weeks}
    on |= set(range(24, treatment_weeks, 12)) | {treatment_weeks}
    on = sorted(on)
    follow = list(range(treatment_weeks + FOLLOWUP_EVERY_WEEKS, followup_weeks + 1,
                        FOLLOWUP_EVERY_WEEKS))
    return np.array(on + follow, dtype=np.int64), len(on) - 1


def profile(t, arm: ArmModel, treatment_weeks: float, durable=None) -> np.ndarray:
    r"""The treatment profile :math:`h_a(t)` (0 at baseline, about 1 at plateau).

    Parameters
    ----------
    t : array_like
        Weeks since first dose.
    arm : ArmModel
    treatment_weeks : float
    durable : array_like, optional
        Durable fraction :math:`\pi_i` (broadcast against ``t``); default the arm's mean.

    Returns
    -------
    ndarray
    """
    t = np.asarray(t, dtype=float)
    pi = arm.durable_fraction if durable is None else np.asarray(durable, dtype=float)
    on = 1.0 - np.exp(-np.minimum(t, treatment_weeks) / BUILDUP_WEEKS)
    wane = np.clip(1.0 - (t - treatment_weeks) / arm.waning_weeks, 0.0, 1.0)
    off = pi + (1.0 - pi) * wane
    return np.where(t <= treatment_weeks, on, on * off)


def arm_gain(change_week48: float, sd_change_week48: float) -> tuple[float, float]:
    r"""Plateau gain :math:`G_a` and its between-subject SD :math:`\sigma_{g,a}`."""
    h48 = 1.0 - math.exp(-48.0 / BUILDUP_WEEKS)
    gain = (change_week48 - 48.0 * PROGRESSION_PER_WEEK) / h48
    resid = 2.0 * RESIDUAL_SD**2 * (1.0 - math.exp(-48.0 / RESIDUAL_RANGE_WEEKS))
    var = (sd_change_week48**2 - 48.0**2 * PROGRESSION_SD**2 - resid) / h48**2
    if var < 0:
        raise ModelError(f"simulate_trial: sd_change_week48 {sd_change_week48} is smaller than "
                         f"the SD implied by measurement error and progression alone")
    return gain, math.sqrt(var)


def split_gain_sd(sd_gain: float) -> tuple[float, float]:
    r"""Split an arm's between-subject SD of the gain into its treatment and natural parts.

    The natural part, :math:`\sigma_n` (:func:`natural_gain_sd`: all of the placebo arm's
    between-subject spread), is hair-cycle variation that treatment does not cause, so it does
    not wane when treatment stops; the treatment part
    :math:`\sigma_{r,a} = \sqrt{\sigma_{g,a}^2 - \sigma_n^2}` (response heterogeneity) wanes
    with the arm's mean gain. An arm whose spread is below :math:`\sigma_n` has only natural
    spread.

    Parameters
    ----------
    sd_gain : float
        :math:`\sigma_{g,a}` from :func:`arm_gain`.

    Returns
    -------
    sd_treatment, sd_natural : float
    """
    sd_nat = min(natural_gain_sd(), sd_gain)
    return math.sqrt(sd_gain**2 - sd_nat**2), sd_nat


def natural_gain_sd() -> float:
    r"""Between-subject SD :math:`\sigma_n` of the gain not caused by treatment (hairs/cm²).

    The placebo arm's :math:`\sigma_{g}` from Olsen 2002's placebo SD (21.7 at week 48): all of
    placebo's between-subject spread beyond measurement error and progression is natural.
    """
    placebo = ARM_MODELS["PLACEBO"]
    return arm_gain(placebo.change_week48, placebo.sd_change_week48)[1]


def expected_change(week: float, arm: str, *, treatment_weeks: int = 24,
                    change_week48: float | None = None) -> float:
    r"""Expected change from baseline :math:`\beta_1 t + G_a h_a(t)` at ``week`` for an arm.

    Parameters
    ----------
    week : float
        Weeks since first dose.
    arm : str
        Arm code in :data:`ARM_MODELS`.
    treatment_weeks : int, default 24
    change_week48 : float, optional
        Override of :math:`\Delta_a`.

    Returns
    -------
    float
        hairs/cm².
    """
    model = ARM_MODELS[arm]
    delta = model.change_week48 if change_week48 is None else change_week48
    gain, _ = arm_gain(delta, model.sd_change_week48)
    return float(PROGRESSION_PER_WEEK * week + gain * profile(week, model, treatment_weeks))
