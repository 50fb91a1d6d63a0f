"""Simulate an androgenetic-alopecia trial from a documented generative model.

:func:`simulate_trial` returns a :class:`~trialstats.data.trial.Trial` with the four ADaM-style
tables of docs/CONTRACTS.md (ADSL, ADEFF, ADTTE, ADAE). The model, every default and the
published figure behind it are written out in its docstring; the defaults live in the
module-level constants below so that tests and the bundled-trial script read the same numbers.
All randomness goes through one ``numpy.random.default_rng(seed)``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .errors import ModelError

__all__ = ["ARM_MODELS", "ArmModel", "expected_change", "simulate_trial", "visit_weeks"]


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


#: The arms simulate_trial knows, in default order. PLACEBO is the reference arm.
ARM_MODELS: dict[str, ArmModel] = {
    "EXOSOME": ArmModel("EXOSOME", "Exosome injections", 15.0, 25.4, 36.0, 0.40, True),
    "MINOXIDIL": ArmModel("MINOXIDIL", "Minoxidil 5% topical", 18.6, 25.4, 24.0, 0.0, False),
    "PLACEBO": ArmModel("PLACEBO", "Placebo", 3.9, 21.7, 24.0, 0.0, True),
}
_REFERENCE_ORDER = ("PLACEBO", "MINOXIDIL", "EXOSOME")

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

# Adverse events: (AEDECOD, AEBODSYS)
_GENERAL = "General disorders and administration site conditions"
AE_TERMS = {
    "Injection site pain": _GENERAL,
    "Injection site erythema": _GENERAL,
    "Injection site swelling": _GENERAL,
    "Headache": "Nervous system disorders",
    "Pruritus": "Skin and subcutaneous tissue disorders",
}
#: Probability per injection of an injection-site event, by arm (arms without injections: none).
AE_PER_INJECTION = {
    "EXOSOME": {"Injection site pain": 0.15, "Injection site erythema": 0.10,
                "Injection site swelling": 0.06},
    "PLACEBO": {"Injection site pain": 0.12, "Injection site erythema": 0.05,
                "Injection site swelling": 0.03},
}
#: Expected number of events per subject per 24 weeks on treatment (Poisson), by arm.
AE_PER_24_WEEKS = {
    "EXOSOME": {"Headache": 0.06, "Pruritus": 0.05},
    "MINOXIDIL": {"Headache": 0.08, "Pruritus": 0.12},
    "PLACEBO": {"Headache": 0.05, "Pruritus": 0.03},
}
#: Expected number of pre-treatment events (screening, days -28..-1; TRTEMFL = "N").
AE_PRETREATMENT = {"Headache": 0.03, "Pruritus": 0.02}
#: Severity probabilities (MILD, MODERATE, SEVERE) by (arm, term); default when absent.
AE_SEVERITY_DEFAULT = (0.80, 0.18, 0.02)
AE_SEVERITY = {
    ("EXOSOME", "Injection site pain"): (0.65, 0.30, 0.05),
    ("EXOSOME", "Injection site erythema"): (0.65, 0.30, 0.05),
    ("EXOSOME", "Injection site swelling"): (0.65, 0.30, 0.05),
    ("MINOXIDIL", "Pruritus"): (0.60, 0.35, 0.05),
}
AE_SERIOUS_IF_SEVERE = 0.10
_SEVERITIES = np.array(["MILD", "MODERATE", "SEVERE"])

_ON_TREATMENT_WEEKS = (0, 4, 12)


# --------------------------------------------------------------------------------------------
# Public function
# --------------------------------------------------------------------------------------------

def simulate_trial(
    *,
    n_per_arm: int = 150,
    arms: Sequence[str] | None = None,
    treatment_weeks: int = 24,
    followup_weeks: int = 104,
    dropout: float = 0.30,
    missed_visit: float = 0.05,
    effects: Mapping[str, float] | None = None,
    n_sites: int = 6,
    trial_id: str = "SIM-HAIR",
    title: str | None = None,
    seed: int,
    relapse: str = "half-gain",
    responder_gain: float = 10.0,
):
    r"""Simulate a randomised androgenetic-alopecia trial (hair counts, relapse, adverse events).

    Parameters
    ----------
    n_per_arm : int, default 150
        Subjects per arm (at least 2). ``n_per_arm * len(arms)`` subjects are randomised in
        permuted blocks within site, so arms are balanced by randomisation, not exactly.
    arms : sequence of str, optional
        Arm codes, at least two of ``"EXOSOME"``, ``"MINOXIDIL"``, ``"PLACEBO"`` (default: all
        three). The reference arm is PLACEBO when present, else MINOXIDIL (standard care).
    treatment_weeks : int, default 24
        Weeks on treatment, :math:`T` (at least 4). Visits on treatment at weeks 0, 4, 12, then
        every 12 weeks from week 24, and at week :math:`T` (the primary endpoint, end of
        treatment).
    followup_weeks : int, default 104
        Study week of the last follow-up visit (at least ``treatment_weeks + 8``). Off-treatment
        follow-up visits every 8 weeks after :math:`T` up to this week.
    dropout : float, default 0.30
        Probability, in ``[0, 1)``, that a subject whose count stays at baseline discontinues
        before the last follow-up visit, :math:`d`.
    missed_visit : float, default 0.05
        Probability, in ``[0, 1)``, that a subject still in the study misses a scheduled visit
        (missing completely at random; never baseline nor end of treatment).
    effects : mapping of str to float, optional
        Overrides of :math:`\Delta_a`, the expected change from baseline at week 48 under
        continued treatment (hairs/cm²), by arm code.
    n_sites : int, default 6
        Number of sites (at least 1).
    trial_id : str, default "SIM-HAIR"
        Trial id (trial.toml ``id``); also the prefix of USUBJID.
    title : str, optional
        Trial title; a default naming the arms when omitted.
    seed : int
        Seed of ``numpy.random.default_rng``; the same seed gives the same trial.
    relapse : {"half-gain", "responder"}, default "half-gain"
        Relapse definition (ADTTE). ``"half-gain"``: the definition below (every subject with
        an end-of-treatment count). ``"responder"`` (opt-in): only responders, subjects whose
        end-of-treatment gain :math:`D_i` exceeds ``responder_gain``, enter ADTTE; relapse is a
        loss of at least half the gain (CHG :math:`\le D_i/2`) at two consecutive attended
        follow-up visits, dated at the first of them; a loss seen at the last attended visit
        only is not confirmed (censored at the last relapse-free visit). The draws are the
        same under both definitions: only ADTTE differs.
    responder_gain : float, default 10.0
        Responder threshold of ``relapse="responder"``, hairs/cm² gained at the end of
        treatment (assumption: about 0.4 between-subject SD of the change).

    Returns
    -------
    Trial
        ``meta.simulated`` is True and ``meta.extra["generator"]`` records the function, seed
        and every parameter. Tables as in docs/CONTRACTS.md.

    Raises
    ------
    ModelError
        An argument outside its valid range, an unknown arm code or an unknown ``effects`` key.

    Notes
    -----
    **Hair counts.** For subject :math:`i` in arm :math:`a`, at time :math:`t` weeks since the
    first dose (the actual visit day: :math:`t = (\mathrm{ADY} - 1)/7`), the latent target-area
    hair count (TAHC, hairs/cm²) is

    .. math::

        Y^*_i(t) = \beta_{0i} + \beta_{1i}\, t + g_i\, h_a(t) + \varepsilon_i(t),

    .. math::

        \beta_{0i} = \mu_0 - \delta\,(M_i - p_M) + s_{k(i)} + u_{0i},\quad
        \beta_{1i} = \beta_1 + u_{1i},\quad g_i = G_a + v_i,

    with :math:`u_{0i} \sim N(0, \sigma_0^2)`, :math:`u_{1i} \sim N(0, \sigma_1^2)`,
    :math:`v_i \sim N(0, \sigma_{g,a}^2)`, site effects :math:`s_k \sim N(0, \sigma_s^2)`,
    :math:`M_i = 1` for a moderate stage (Norwood IV–V, Ludwig II), :math:`p_M` its population
    probability, and a continuous-time AR(1) residual

    .. math::

        \operatorname{Var} \varepsilon_i(t) = \sigma_e^2,\quad
        \operatorname{corr}\{\varepsilon_i(t), \varepsilon_i(s)\} = e^{-|t - s|/\lambda}.

    The treatment profile builds up on treatment and wanes linearly after it stops at :math:`T`:

    .. math::

        h_a(t) = \begin{cases} 1 - e^{-t/\tau} & t \le T \\
        (1 - e^{-T/\tau})\,\bigl[\pi_i + (1 - \pi_i)\max\{0, 1 - (t - T)/L_a\}\bigr] & t > T,
        \end{cases}

    where the durable fraction of subject :math:`i` is
    :math:`\pi_i \sim \mathrm{Beta}(\nu\bar\pi_a, \nu(1 - \bar\pi_a))` (:math:`\pi_i = 0` when
    :math:`\bar\pi_a = 0`).

    :math:`G_a` and :math:`\sigma_{g,a}` are set so that under continued treatment the change
    from baseline at week 48 has mean :math:`\Delta_a` and SD :math:`S_a` (as published):

    .. math::

        G_a = \frac{\Delta_a - 48\beta_1}{h(48)},\quad
        \sigma_{g,a}^2 = \frac{S_a^2 - 48^2\sigma_1^2 - 2\sigma_e^2(1 - e^{-48/\lambda})}{h(48)^2},

    so on treatment :math:`E[\mathrm{CHG}(t)] = \beta_1 t + G_a (1 - e^{-t/\tau})`. The
    observed count is ``AVAL = max(0, round(Y*))`` (whole hairs/cm²); ``BASE`` is the observed
    week-0 count and ``CHG = AVAL - BASE``. :math:`\sigma_0^2 = 30^2 - \sigma_e^2 -
    \sigma_s^2 - \delta^2 p_M (1 - p_M)`, so observed baseline counts have SD 30.

    **Visits and dropout.** Visits are held within ±3 days of the nominal day ``7 * week + 1``.
    Monotone dropout is missing at random: the probability of discontinuing between visits
    :math:`j-1` and :math:`j`, :math:`\Delta w_j` weeks apart, given the last observed change
    from baseline :math:`c`, is

    .. math::

        P = 1 - \exp\{-\kappa\, \Delta w_j\, \theta^{c/10}\},\quad
        \kappa = -\log(1 - d) / W,

    with :math:`W` = ``followup_weeks`` and :math:`\theta` the hazard ratio per 10 hairs/cm²
    gained; the discontinuation day is uniform between the two visits. Intermittently missed
    visits (``missed_visit``) are missing completely at random.

    **Relapse** (ADTTE, PARAMCD ``RELAPSE``), for subjects with an end-of-treatment count: with
    :math:`D_i` = CHG at week :math:`T`, relapse is the first follow-up visit with
    CHG :math:`\le D_i/2` (loss of at least half the gain) when :math:`D_i > 0`, or with
    CHG :math:`< 0` (return below baseline) when :math:`D_i \le 0`. It is seen only at attended
    visits: AVAL = TUPPER = days from the end-of-treatment visit to that visit, TLOWER = days to
    the last attended relapse-free visit, CNSR = 0, EVENTCD = 1. Discontinuation first is a
    competing event (EVENTCD = 2, CNSR = 1, AVAL = days to discontinuation); otherwise the
    subject is censored at the last attended visit (EVENTCD = 0, CNSR = 1).

    **Adverse events** (ADAE): injected arms (EXOSOME, saline PLACEBO) have injection-site pain,
    erythema and swelling with a per-injection probability (injections every 4 weeks on
    treatment, onset on the day or the day after, lasting 0–2 days); headache and pruritus are
    Poisson per 24 weeks on treatment; arm-specific severities; a severe event is serious with
    probability 0.10; a few pre-treatment events (screening, TRTEMFL = "N").

    **Defaults and their sources** (DOMAIN.md sources; "assumption" = no published figure):

    ============================  ===============  =============================================
    parameter                     default          source
    ============================  ===============  =============================================
    :math:`\Delta`, MINOXIDIL     18.6 hairs/cm²   Olsen 2002, minoxidil 5%, week 48
    :math:`\Delta`, PLACEBO       3.9 hairs/cm²    Olsen 2002, placebo, week 48
    :math:`\Delta`, EXOSOME       15.0 hairs/cm²   assumption (about 3/4 of minoxidil's effect
                                                   over placebo); no published RCT figure
    :math:`S` MINOXIDIL/PLACEBO   25.4 / 21.7      Olsen 2002 SDs (pooled SD ≈ 24)
    :math:`S`, EXOSOME            25.4             assumption (as minoxidil)
    :math:`L` MINOXIDIL/PLACEBO   24 weeks         Price 1999: gain lost within 24 weeks of
                                                   stopping minoxidil
    :math:`L`, EXOSOME            36 weeks         assumption (more durable)
    :math:`\bar\pi` EXO / others  0.40 / 0         assumption / Price 1999 (all lost)
    :math:`\nu`                   2                assumption (wide spread of durability)
    :math:`\tau`                  6 weeks          Olsen 2007: foam gain 20.9 already at week 16
                                                   (:math:`h(16) = 0.93`)
    :math:`\beta_1`               −0.10 /week      Price 2006: placebo −13 % of ~150 hairs/cm²
                                                   over 192 weeks
    :math:`\sigma_1`              0.10 /week       assumption
    :math:`\mu_0`, baseline SD    150, 30          trial-design assumption (issue 2 brief)
    :math:`\sigma_e`              9 hairs/cm²      TrichoScan ICC 0.91 (Hoffmann 2005):
                                                   :math:`\sqrt{0.09 \cdot 30^2}`
    :math:`\lambda`               12 weeks         assumption
    :math:`\sigma_s` (sites)      5 hairs/cm²      assumption
    :math:`\delta` (stage)        12 hairs/cm²     assumption (fewer hairs at moderate stages)
    stages                        Norwood II–V,    DOMAIN.md: exosome trials enrol mostly
                                  Ludwig I–II      Norwood 2–4 / Ludwig I–II
    sex, age, race                70 % men;        assumption
                                  men N(38, 9),
                                  women N(45, 10)
    :math:`d`, :math:`\theta`     0.30, 0.80       assumption
    missed visits, window         5 %, ±3 days     assumption
    injections                    every 4 weeks    DOMAIN.md: every 2–4 weeks in registered
                                                   exosome trials
    AE types, transience          see above        DOMAIN.md (exosome registrations);
                                                   rates and severities are assumptions
                                                   (``AE_PER_INJECTION``, ``AE_PER_24_WEEKS``,
                                                   ``AE_SEVERITY``)
    ============================  ===============  =============================================

    With these defaults the expected change at week 24 is 20.6 (MINOXIDIL), 17.0 (EXOSOME)
    and 6.1 (PLACEBO) hairs/cm².

    Examples
    --------
    >>> import trialstats as ts
    >>> trial = ts.simulate_trial(n_per_arm=40, seed=1)
    >>> trial.arms
    ['PLACEBO', 'EXOSOME', 'MINOXIDIL']
    """
    params = _check_arguments(
        n_per_arm=n_per_arm, arms=arms, treatment_weeks=treatment_weeks,
        followup_weeks=followup_weeks, dropout=dropout, missed_visit=missed_visit,
        effects=effects, n_sites=n_sites, trial_id=trial_id, seed=seed, relapse=relapse,
        responder_gain=responder_gain,
    )
    tables = _simulate_tables(**params)
    return _as_trial(tables, params, title)


# --------------------------------------------------------------------------------------------
# Argument checks
# --------------------------------------------------------------------------------------------

def _is_int(x) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, bool)


def _is_number(x) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool)


RELAPSE_DEFINITIONS = ("half-gain", "responder")


#: Upper bounds of simulate_trial's size arguments: far above any alopecia trial (a few hundred
#: subjects per arm over one to two years), low enough that no argument can exhaust the machine.
SIMULATE_LIMITS = {"n_per_arm": 20_000, "treatment_weeks": 520, "followup_weeks": 1040,
                   "n_sites": 10_000, "trial_id": 64}


def _check_limits(n_per_arm, treatment_weeks, followup_weeks, n_sites, trial_id) -> None:
    """Upper bounds (:data:`SIMULATE_LIMITS`), checked after the lower bounds and types."""
    for name, value in (("n_per_arm", n_per_arm), ("treatment_weeks", treatment_weeks),
                        ("followup_weeks", followup_weeks), ("n_sites", n_sites)):
        if value > SIMULATE_LIMITS[name]:
            raise ModelError(f"simulate_trial: {name} is {value}; at most "
                             f"{SIMULATE_LIMITS[name]:,} is allowed")
    if len(trial_id) > SIMULATE_LIMITS["trial_id"] or not trial_id.isprintable():
        raise ModelError(f"simulate_trial: trial_id must be printable text of at most "
                         f"{SIMULATE_LIMITS['trial_id']} characters; got {trial_id[:40]!r}"
                         f"{'...' if len(trial_id) > 40 else ''}")


def _check_arguments(*, n_per_arm, arms, treatment_weeks, followup_weeks, dropout, missed_visit,
                     effects, n_sites, trial_id, seed, relapse="half-gain",
                     responder_gain=10.0) -> dict:
    """Validate simulate_trial's arguments; return them normalised (arms in level order)."""
    if not _is_int(n_per_arm) or n_per_arm < 2:
        raise ModelError(f"simulate_trial: n_per_arm must be an integer >= 2; got {n_per_arm!r}")
    valid = ", ".join(ARM_MODELS)
    if arms is None:
        arms = list(ARM_MODELS)
    if isinstance(arms, str):
        raise ModelError(f"simulate_trial: arms must be a sequence of arm codes (e.g. "
                         f"['EXOSOME', 'PLACEBO']), not the string {arms!r}; valid: {valid}")
    arms = list(arms)
    unknown = [a for a in arms if a not in ARM_MODELS]
    if unknown:
        raise ModelError(f"simulate_trial: unknown arm code(s) {', '.join(map(repr, unknown))}; "
                         f"valid: {valid}")
    if len(set(arms)) != len(arms) or len(arms) < 2:
        raise ModelError(f"simulate_trial: arms must list at least two distinct arm codes; "
                         f"got {arms!r}; valid: {valid}")
    reference = next(a for a in _REFERENCE_ORDER if a in arms)
    arms = [reference] + [a for a in ARM_MODELS if a in arms and a != reference]
    if not _is_int(treatment_weeks) or treatment_weeks < 4:
        raise ModelError(f"simulate_trial: treatment_weeks must be an integer >= 4 (weeks on "
                         f"treatment); got {treatment_weeks!r}")
    if treatment_weeks > SIMULATE_LIMITS["treatment_weeks"]:
        raise ModelError(f"simulate_trial: treatment_weeks is {treatment_weeks}; at most "
                         f"{SIMULATE_LIMITS['treatment_weeks']:,} is allowed")
    if not _is_int(followup_weeks) or followup_weeks < treatment_weeks + FOLLOWUP_EVERY_WEEKS:
        raise ModelError(
            f"simulate_trial: followup_weeks (study week of the last follow-up visit) must be an "
            f"integer >= treatment_weeks + {FOLLOWUP_EVERY_WEEKS} = "
            f"{treatment_weeks + FOLLOWUP_EVERY_WEEKS}; got {followup_weeks!r}")
    for name, value in (("dropout", dropout), ("missed_visit", missed_visit)):
        if not _is_number(value) or not 0.0 <= float(value) < 1.0:
            raise ModelError(f"simulate_trial: {name} must be a probability in [0, 1); "
                             f"got {value!r}")
    effects = dict(effects or {})
    bad = [k for k in effects if k not in arms]
    if bad:
        raise ModelError(f"simulate_trial: effects has arm code(s) {', '.join(map(repr, bad))} "
                         f"that are not simulated arms; valid: {', '.join(arms)}")
    for k, v in effects.items():
        if not _is_number(v) or not math.isfinite(float(v)):
            raise ModelError(f"simulate_trial: effects[{k!r}] must be a finite number "
                             f"(hairs/cm² at week 48); got {v!r}")
    if not _is_int(n_sites) or n_sites < 1:
        raise ModelError(f"simulate_trial: n_sites must be an integer >= 1; got {n_sites!r}")
    if not isinstance(trial_id, str) or not trial_id.strip():
        raise ModelError(f"simulate_trial: trial_id must be a non-empty string; got {trial_id!r}")
    if not _is_int(seed) or seed < 0:
        raise ModelError(f"simulate_trial: seed must be a non-negative integer; got {seed!r}")
    _check_limits(n_per_arm, treatment_weeks, followup_weeks, n_sites, trial_id)
    if relapse not in RELAPSE_DEFINITIONS:
        raise ModelError(f"simulate_trial: unknown relapse definition {relapse!r}; valid: "
                         f"{', '.join(RELAPSE_DEFINITIONS)}")
    if not _is_number(responder_gain) or not 0.0 <= float(responder_gain) < math.inf:
        raise ModelError(f"simulate_trial: responder_gain must be a finite number >= 0 "
                         f"(hairs/cm²); got {responder_gain!r}")
    return dict(n_per_arm=int(n_per_arm), arms=arms, treatment_weeks=int(treatment_weeks),
                followup_weeks=int(followup_weeks), dropout=float(dropout),
                missed_visit=float(missed_visit),
                effects={k: float(v) for k, v in effects.items()}, n_sites=int(n_sites),
                trial_id=trial_id, seed=int(seed), relapse=relapse,
                responder_gain=float(responder_gain))


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


def _categorical(rng, n, choices):
    labels = np.array([c for c, _ in choices])
    p = np.array([q for _, q in choices])
    return labels[rng.choice(len(labels), size=n, p=p / p.sum())]


def _randomise(rng, n_per_arm, arms, n_sites):
    """Site and arm of each subject: permuted blocks of 2 x arms within site."""
    n = n_per_arm * len(arms)
    site_p = rng.dirichlet(np.full(n_sites, 5.0))
    site = np.sort(rng.choice(n_sites, size=n, p=site_p))
    arm = np.empty(n, dtype=object)
    block = np.repeat(np.arange(len(arms)), 2)
    for k in range(n_sites):
        idx = np.flatnonzero(site == k)
        if idx.size == 0:  # a site that enrolled nobody
            continue
        n_blocks = -(-idx.size // block.size)
        seq = np.concatenate([rng.permutation(block) for _ in range(n_blocks)])[: idx.size]
        arm[idx] = np.asarray(arms, dtype=object)[seq]
    return site, arm


def _simulate_tables(*, n_per_arm, arms, treatment_weeks, followup_weeks, dropout, missed_visit,
                     effects, n_sites, trial_id, seed, relapse="half-gain",
                     responder_gain=10.0) -> dict[str, pd.DataFrame]:
    """Draw one trial; return ``{"adsl": ..., "adeff": ..., "adtte": ..., "adae": ...}``."""
    rng = np.random.default_rng(seed)
    site, arm = _randomise(rng, n_per_arm, arms, n_sites)
    n = arm.size

    # --- covariates
    male = rng.random(n) < P_MALE
    age = np.where(male, rng.normal(38.0, 9.0, n), rng.normal(45.0, 10.0, n))
    age = np.clip(np.round(age), 18, 65).astype(np.int64)
    stage = np.where(male, _categorical(rng, n, NORWOOD), _categorical(rng, n, LUDWIG))
    moderate = np.array([s in MODERATE_STAGES["M" if m else "F"] for s, m in zip(stage, male)])
    race = _categorical(rng, n, RACES)
    p_mod = P_MALE * sum(p for s, p in NORWOOD if s in MODERATE_STAGES["M"]) + (1 - P_MALE) * sum(
        p for s, p in LUDWIG if s in MODERATE_STAGES["F"])

    # --- visits
    weeks, eot = visit_weeks(treatment_weeks, followup_weeks)
    n_visits = weeks.size
    nominal_day = 7 * weeks + 1
    jitter = rng.integers(-VISIT_WINDOW_DAYS, VISIT_WINDOW_DAYS + 1, size=(n, n_visits))
    jitter[:, 0] = 0
    day = nominal_day[None, :] + jitter
    t = (day - 1) / 7.0

    # --- latent counts
    site_effect = rng.normal(0.0, SITE_SD, n_sites)[site]
    sd0 = math.sqrt(BASELINE_SD**2 - RESIDUAL_SD**2 - SITE_SD**2
                    - STAGE_SHIFT**2 * p_mod * (1 - p_mod))
    beta0 = (BASELINE_MEAN - STAGE_SHIFT * (moderate - p_mod) + site_effect
             + rng.normal(0.0, sd0, n))
    beta1 = PROGRESSION_PER_WEEK + rng.normal(0.0, PROGRESSION_SD, n)
    gain = np.empty(n)
    h = np.empty((n, n_visits))
    z = rng.standard_normal(n)
    for code in arms:
        model = ARM_MODELS[code]
        g, sd_g = arm_gain(effects.get(code, model.change_week48), model.sd_change_week48)
        rows = arm == code
        gain[rows] = g + sd_g * z[rows]
        pi_bar = model.durable_fraction
        durable = (rng.beta(DURABLE_CONCENTRATION * pi_bar, DURABLE_CONCENTRATION * (1 - pi_bar),
                            size=int(rows.sum())) if pi_bar > 0 else np.zeros(int(rows.sum())))
        h[rows] = profile(t[rows], model, treatment_weeks, durable[:, None])
    eps = np.empty((n, n_visits))
    eps[:, 0] = RESIDUAL_SD * rng.standard_normal(n)
    for j in range(1, n_visits):
        rho = np.exp(-(t[:, j] - t[:, j - 1]) / RESIDUAL_RANGE_WEEKS)
        eps[:, j] = rho * eps[:, j - 1] + np.sqrt(1 - rho**2) * RESIDUAL_SD * rng.standard_normal(n)
    latent = beta0[:, None] + beta1[:, None] * t + gain[:, None] * h + eps
    count = np.maximum(0, np.round(latent)).astype(np.int64)

    # --- missed visits (MCAR) and monotone MAR dropout
    missed = rng.random((n, n_visits)) < missed_visit
    missed[:, [0, eot]] = False
    kappa = -math.log1p(-dropout) / followup_weeks
    in_study = np.ones(n, dtype=bool)
    drop_visit = np.full(n, n_visits)          # first visit not held because of dropout
    disc_day = np.full(n, -1, dtype=np.int64)
    last_chg = np.zeros(n)
    observed = np.zeros((n, n_visits), dtype=bool)
    observed[:, 0] = True
    u_drop = rng.random((n, n_visits))
    u_day = rng.random((n, n_visits))
    for j in range(1, n_visits):
        dw = weeks[j] - weeks[j - 1]
        p = 1.0 - np.exp(-kappa * dw * DROPOUT_HR_PER_10 ** (last_chg / 10.0))
        drops = in_study & (u_drop[:, j] < p)
        drop_visit[drops] = j
        lo = day[drops, j - 1] + 1
        hi = nominal_day[j]
        disc_day[drops] = lo + np.floor(u_day[drops, j] * (hi - lo + 1)).astype(np.int64)
        in_study &= ~drops
        observed[:, j] = in_study & ~missed[:, j]
        last_chg = np.where(observed[:, j], count[:, j] - count[:, 0], last_chg)

    site_ids = np.array([f"{k + 1:02d}" for k in range(n_sites)])[site]
    subjid = np.array([f"{i + 1:04d}" for i in range(n)])
    usubjid = np.array([f"{trial_id}-{s}-{i}" for s, i in zip(site_ids, subjid)])

    # --- ADEFF
    ii, jj = np.nonzero(observed)
    avisit = np.array(["BASELINE"] + [f"WEEK {w}" for w in weeks[1:]])
    adeff = pd.DataFrame({
        "USUBJID": usubjid[ii],
        "PARAMCD": "TAHC",
        "PARAM": "Target-area hair count (/cm2)",
        "AVISIT": avisit[jj],
        "AVISITN": weeks[jj],
        "ADY": day[ii, jj],
        "AVAL": count[ii, jj],
        "BASE": count[ii, 0],
        "CHG": count[ii, jj] - count[ii, 0],
        "ABLFL": np.where(jj == 0, "Y", ""),
        "ONTRTFL": np.where(weeks[jj] <= treatment_weeks, "Y", ""),
    })

    # --- ADTTE: relapse after the end-of-treatment visit
    if relapse == "responder":
        adtte = _relapse_responders(usubjid, count, observed, day, eot, drop_visit, disc_day,
                                    responder_gain)
    else:
        adtte = _relapse(usubjid, count, observed, day, eot, drop_visit, disc_day)

    # --- ADSL
    completed_trt = observed[:, eot]
    discontinued = drop_visit < n_visits
    on_trt_drop = drop_visit <= eot
    reason = np.full(n, "", dtype=object)
    r_on = _categorical(rng, n, (("WITHDRAWAL BY SUBJECT", 0.35), ("LOST TO FOLLOW-UP", 0.25),
                                 ("LACK OF EFFICACY", 0.25), ("ADVERSE EVENT", 0.15)))
    r_off = _categorical(rng, n, (("WITHDRAWAL BY SUBJECT", 0.55), ("LOST TO FOLLOW-UP", 0.45)))
    reason[discontinued & on_trt_drop] = r_on[discontinued & on_trt_drop]
    reason[discontinued & ~on_trt_drop] = r_off[discontinued & ~on_trt_drop]
    trt_end = np.where(completed_trt, day[:, eot], disc_day)
    trtdurd = np.maximum(trt_end - 1, 1)
    adsl = pd.DataFrame({
        "USUBJID": usubjid,
        "SUBJID": subjid,
        "SITEID": site_ids,
        "ARM": arm.astype(str),
        "ARMCD": arm.astype(str),
        "AGE": age,
        "AGEGR1": np.where(age < 40, "<40", ">=40"),
        "SEX": np.where(male, "M", "F"),
        "RACE": race,
        "STAGE": stage,
        "STAGEGR": np.where(moderate, "moderate", "mild"),
        "BASETAHC": count[:, 0],
        "ITTFL": "Y",
        "SAFFL": "Y",
        "COMPLFL": np.where(completed_trt, "Y", "N"),
        "EOSSTT": np.where(discontinued, "DISCONTINUED", "COMPLETED"),
        "DCSREAS": reason.astype(str),
        "TRTDURD": trtdurd,
    })

    adae = _adverse_events(rng, usubjid, arm, trtdurd, treatment_weeks)
    return {"adsl": adsl, "adeff": adeff, "adtte": adtte, "adae": adae}


def _relapse(usubjid, count, observed, day, eot, drop_visit, disc_day) -> pd.DataFrame:
    """ADTTE rows (PARAMCD RELAPSE) for subjects with an end-of-treatment count."""
    n, n_visits = count.shape
    chg = count - count[:, [0]]
    gain = chg[:, eot]
    threshold_hit = np.where(gain[:, None] > 0, chg <= gain[:, None] / 2.0, chg < 0)
    after = np.arange(n_visits) > eot
    relapse = observed & threshold_hit & after[None, :]
    has_relapse = relapse.any(axis=1)
    first = np.where(has_relapse, relapse.argmax(axis=1), n_visits)
    # last attended visit strictly before the relapse visit (or overall when none)
    cols = np.arange(n_visits)[None, :]
    attended_before = observed & (cols < first[:, None])
    last_free = np.where(attended_before, cols, -1).max(axis=1)
    rows = np.flatnonzero(observed[:, eot])
    eot_day = day[rows, eot]
    tlower = day[rows, last_free[rows]] - eot_day
    is_event = has_relapse[rows]
    is_drop = ~is_event & (drop_visit[rows] < n_visits)
    tupper = np.where(is_event, day[rows, np.minimum(first[rows], n_visits - 1)] - eot_day, -1)
    aval = np.where(is_event, tupper, np.where(is_drop, disc_day[rows] - eot_day, tlower))
    eventcd = np.where(is_event, 1, np.where(is_drop, 2, 0))
    below = gain[rows] <= 0
    desc = np.select(
        [is_event & ~below, is_event & below, is_drop],
        ["RELAPSE: LOST >=50% OF GAIN", "RELAPSE: BELOW BASELINE", "DISCONTINUED BEFORE RELAPSE"],
        "NO RELAPSE BY END OF FOLLOW-UP",
    )
    return pd.DataFrame({
        "USUBJID": usubjid[rows],
        "PARAMCD": "RELAPSE",
        "PARAM": "Days from end of treatment to relapse",
        "AVAL": aval.astype(np.int64),
        "CNSR": np.where(is_event, 0, 1).astype(np.int64),
        "EVNTDESC": desc,
        "TLOWER": tlower.astype(np.int64),
        "TUPPER": np.where(is_event, tupper, np.nan),
        "EVENTCD": eventcd.astype(np.int64),
    })


def _relapse_responders(usubjid, count, observed, day, eot, drop_visit, disc_day,
                        threshold) -> pd.DataFrame:
    """ADTTE rows for responders (gain > threshold): confirmed loss of half the gain."""
    n, n_visits = count.shape
    chg = count - count[:, [0]]
    gain = chg[:, eot]
    rows_all = np.flatnonzero(observed[:, eot] & (gain > threshold))
    out = {k: [] for k in ("USUBJID", "AVAL", "CNSR", "EVNTDESC", "TLOWER", "TUPPER", "EVENTCD")}
    for i in rows_all:
        visits = [j for j in range(eot + 1, n_visits) if observed[i, j]]
        lost = [chg[i, j] <= gain[i] / 2.0 for j in visits]
        eot_day = day[i, eot]
        onset = next((k for k in range(len(visits) - 1) if lost[k] and lost[k + 1]), None)
        if onset is not None:
            first = visits[onset]
            last_free = visits[onset - 1] if onset > 0 else eot
            rec = (day[i, first] - eot_day, 0, "RELAPSE: LOST >=50% OF GAIN (CONFIRMED)",
                   day[i, last_free] - eot_day, day[i, first] - eot_day, 1)
        else:
            # relapse-free throughout; an unconfirmed loss at the last visit is not counted
            k = len(visits) - (2 if visits and lost[-1] else 1)
            tl = day[i, visits[k] if k >= 0 else eot] - eot_day
            if drop_visit[i] < n_visits:
                rec = (disc_day[i] - eot_day, 1, "DISCONTINUED BEFORE RELAPSE", tl, np.nan, 2)
            else:
                rec = (tl, 1, "NO RELAPSE BY END OF FOLLOW-UP", tl, np.nan, 0)
        for k, v in zip(("AVAL", "CNSR", "EVNTDESC", "TLOWER", "TUPPER", "EVENTCD"), rec):
            out[k].append(v)
        out["USUBJID"].append(usubjid[i])
    return pd.DataFrame({
        "USUBJID": np.asarray(out["USUBJID"], dtype=object).astype(str),
        "PARAMCD": "RELAPSE",
        "PARAM": "Days from end of treatment to confirmed relapse (responders)",
        "AVAL": np.asarray(out["AVAL"], dtype=np.int64),
        "CNSR": np.asarray(out["CNSR"], dtype=np.int64),
        "EVNTDESC": np.asarray(out["EVNTDESC"], dtype=object).astype(str),
        "TLOWER": np.asarray(out["TLOWER"], dtype=np.int64),
        "TUPPER": np.asarray(out["TUPPER"], dtype=float),
        "EVENTCD": np.asarray(out["EVENTCD"], dtype=np.int64),
    })


def _adverse_events(rng, usubjid, arm, trtdurd, treatment_weeks) -> pd.DataFrame:
    """ADAE: injection-site events per injection, systemic events per exposure, screening AEs."""
    n = usubjid.size
    records = []   # (subject index, ASTDY, AEDECOD, duration days)
    inj_days = np.arange(1, 7 * treatment_weeks + 1, 7 * INJECTION_EVERY_WEEKS)
    for code in sorted(set(arm)):
        idx = np.flatnonzero(arm == code)
        if ARM_MODELS[code].injected:
            for term, q in AE_PER_INJECTION[code].items():
                hit = rng.random((idx.size, inj_days.size)) < q
                onset = rng.integers(0, 2, size=hit.shape)
                dur = rng.integers(0, 3, size=hit.shape)
                hit &= inj_days[None, :] <= trtdurd[idx, None]
                for a, b in zip(*np.nonzero(hit)):
                    records.append((idx[a], inj_days[b] + onset[a, b], term, dur[a, b]))
        for term, rate in AE_PER_24_WEEKS[code].items():
            k = rng.poisson(rate * trtdurd[idx] / (7 * 24))
            for a in np.flatnonzero(k):
                starts = rng.integers(1, trtdurd[idx[a]] + 1, size=k[a])
                durs = rng.integers(0, 2 if term == "Headache" else 15, size=k[a])
                records.extend((idx[a], s, term, d) for s, d in zip(starts, durs))
    for term, rate in AE_PRETREATMENT.items():
        k = rng.poisson(rate, size=n)
        for a in np.flatnonzero(k):
            starts = rng.integers(-28, 0, size=k[a])
            records.extend((a, s, term, 0) for s in starts)
    cols = ["USUBJID", "AESEQ", "AEBODSYS", "AEDECOD", "AESEV", "AESER", "TRTEMFL", "ASTDY",
            "AENDY"]
    if not records:
        return pd.DataFrame({c: pd.Series(dtype=object if c[:2] != "AS" else np.int64)
                             for c in cols})
    rec = pd.DataFrame(records, columns=["i", "ASTDY", "AEDECOD", "DUR"])
    rec = rec.sort_values(["i", "ASTDY", "AEDECOD"], kind="mergesort").reset_index(drop=True)
    sev = np.empty(len(rec), dtype=object)
    u = rng.random(len(rec))
    for r, (i, term) in enumerate(zip(rec["i"], rec["AEDECOD"])):
        p = AE_SEVERITY.get((arm[i], term), AE_SEVERITY_DEFAULT)
        cum = np.cumsum(p) / np.sum(p)
        sev[r] = _SEVERITIES[min(int(np.searchsorted(cum, u[r], side="right")), 2)]
    serious = (sev == "SEVERE") & (rng.random(len(rec)) < AE_SERIOUS_IF_SEVERE)
    astdy = rec["ASTDY"].to_numpy(np.int64)
    aendy = astdy + rec["DUR"].to_numpy(np.int64)
    aendy = np.where((astdy < 0) & (aendy >= 0), aendy + 1, aendy)   # no study day 0
    return pd.DataFrame({
        "USUBJID": usubjid[rec["i"].to_numpy()],
        "AESEQ": rec.groupby("i").cumcount().to_numpy(np.int64) + 1,
        "AEBODSYS": rec["AEDECOD"].map(AE_TERMS).to_numpy(),
        "AEDECOD": rec["AEDECOD"].to_numpy(),
        "AESEV": sev.astype(str),
        "AESER": np.where(serious, "Y", "N"),
        "TRTEMFL": np.where(astdy >= 1, "Y", "N"),
        "ASTDY": astdy,
        "AENDY": aendy,
    })


# --------------------------------------------------------------------------------------------
# Wiring to Trial
# --------------------------------------------------------------------------------------------

def _as_trial(tables: dict[str, pd.DataFrame], params: dict, title: str | None):
    """Wrap the tables in a Trial with simulated=True and the generator record."""
    from .data.trial import Trial, TrialMeta

    arms = params["arms"]
    if title is None:
        title = ("Simulated trial: " + " vs ".join(ARM_MODELS[a].label for a in arms[1:])
                 + f" vs {ARM_MODELS[arms[0]].label.lower()}")
    defaults = {"relapse": "half-gain", "responder_gain": 10.0}  # recorded only when changed
    generator = {"function": "trialstats.simulate.simulate_trial", "seed": params["seed"],
                 "parameters": {k: v for k, v in params.items() if k not in ("seed",)
                                and not (k in defaults and v == defaults[k])}}
    meta = TrialMeta(
        id=params["trial_id"], title=title, simulated=True,
        arms={a: ARM_MODELS[a].label for a in arms}, reference=arms[0],
        tables={k: f"{k}.csv" for k in ("adsl", "adeff", "adtte", "adae")},
        endpoints={"primary": {"paramcd": "TAHC", "visit": f"WEEK {params['treatment_weeks']}"},
                   "relapse": {"paramcd": "RELAPSE"}},
        path=None, extra={"generator": generator},
    )
    return Trial(meta, tables["adsl"], tables["adeff"], tables["adtte"], tables["adae"])
