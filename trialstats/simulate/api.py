"""The public entry point :func:`simulate_trial` and its wiring to :class:`~trialstats.data.trial.Trial`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from ._checks import _check_arguments
from ._draw import _simulate_tables
from ._model import ARM_MODELS


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
    relapse: str = "responder",
    responder_gain: float = 15.0,
    allocation: Mapping[str, int] | None = None,
):
    r"""Simulate a randomised androgenetic-alopecia trial (hair counts, relapse, adverse events).

    Parameters
    ----------
    n_per_arm : int, default 150
        Subjects per arm (at least 2); with ``allocation``, subjects per allocation unit: arm
        :math:`a` gets about ``n_per_arm * allocation[a]``. In all ``n_per_arm * sum(ratios)``
        subjects are randomised in
        permuted blocks within site, so arms are balanced by randomisation, not exactly.
    arms : sequence of str, optional
        Arm codes, at least two of ``"EXOSOME"``, ``"MINOXIDIL"``, ``"PLACEBO"``,
        ``"FINASTERIDE"`` (default: the first three). The reference arm is PLACEBO when
        present, else MINOXIDIL, else FINASTERIDE (standard care).
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
    relapse : {"responder", "half-gain"}, default "responder"
        Relapse definition (ADTTE), see Notes. ``"responder"``: relapse as clinicians mean it,
        defined among responders only, a confirmed loss of at least half the gain.
        ``"half-gain"`` (the definition before version 2 of the bundled trials, kept for
        comparison): every subject with an end-of-treatment count, first visit at or below
        half the gain, unconfirmed. The draws are the same under both definitions: only ADTTE
        differs.
    responder_gain : float, default 15.0
        Responder threshold of ``relapse="responder"``: a subject responds when the change
        from baseline at the end-of-treatment visit, :math:`D_i`, exceeds it (hairs/cm²).
        Assumption: 15 is 10 % of the mean baseline count and 1.3 times the SD of a measured
        change due to measurement error alone (:math:`\sigma_e\sqrt{2(1 - e^{-T/\lambda})}`
        = 11.9 at :math:`T` = 24 weeks).
    allocation : mapping of str to int, optional
        Allocation ratio: a positive integer (at most 10) per simulated arm code, e.g.
        ``{"EXOSOME": 2, "MINOXIDIL": 1}`` for 2:1; arms left out get 1. Default 1:1. The
        permuted blocks within site hold ``2 * ratio`` subjects of each arm.

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

        Y^*_i(t) = \beta_{0i} + \beta_{1i}\, t + g_i\, h_a(t) + n_i (1 - e^{-t/\tau})
                   + \varepsilon_i(t),

    .. math::

        \beta_{0i} = \mu_0 - \delta\,(M_i - p_M) + s_{k(i)} + u_{0i},\quad
        \beta_{1i} = \beta_1 + u_{1i},\quad g_i = G_a + v_i,

    with :math:`u_{0i} \sim N(0, \sigma_0^2)`, :math:`u_{1i} \sim N(0, \sigma_1^2)`,
    :math:`v_i \sim N(0, \sigma_{g,a}^2 - \sigma_n^2)` (treatment-response heterogeneity),
    :math:`n_i \sim N(0, \sigma_n^2)` (the natural part of the gain: hair-cycle variation
    that treatment does not cause, so it does not wane when treatment stops; :math:`\sigma_n`
    is all of the placebo arm's spread, :func:`~trialstats.simulate.natural_gain_sd`), site effects :math:`s_k \sim N(0, \sigma_s^2)`,
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
    from baseline at week 48 has mean :math:`\Delta_a` and SD :math:`S_a` (as published;
    :math:`\sigma_{g,a}^2` is the variance of :math:`v_i + n_i`):

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

    **Off treatment.** Mean gains are lost as published: minoxidil's (and placebo's) within
    :math:`L` = 24 weeks of stopping, so E[CHG] of MINOXIDIL and PLACEBO are equal from week
    :math:`T + 24` on (Price 1999: back to placebo levels within 24 weeks); finasteride's
    within 52 weeks (its gain is lost within about 12 months of stopping). Exosome: no trial
    has reported off-treatment data (DOMAIN.md); the assumption is a partly durable gain,
    40 % kept on average, the rest lost over 36 weeks. A design should vary it.

    **Relapse** (ADTTE, PARAMCD ``RELAPSE``), ``relapse="responder"`` (default): only
    responders, subjects with an end-of-treatment count whose gain :math:`D_i` (CHG at week
    :math:`T`) exceeds ``responder_gain``, enter ADTTE; non-responders have no relapse time
    (the analysis plan says whether they are excluded from the relapse endpoint or an
    intercurrent event). Relapse is a loss of at least half the gain, CHG :math:`\le D_i/2`,
    at two consecutive attended follow-up visits, dated at the first of them: AVAL = TUPPER =
    days from the end-of-treatment visit to that visit, TLOWER = days to the last attended
    relapse-free visit, CNSR = 0, EVENTCD = 1. A loss seen at the last attended visit only is
    not confirmed (censored at the last relapse-free visit). Discontinuation first is a
    competing event (EVENTCD = 2, CNSR = 1, AVAL = days to discontinuation); otherwise the
    subject is censored (EVENTCD = 0, CNSR = 1). With the defaults and no dropout, by the end
    of follow-up to week 104 about 85 % of minoxidil responders, 65 % of exosome responders
    and 65 % of placebo responders have relapsed (placebo: mostly the disease's progression,
    8 hairs/cm² in 80 weeks).

    ``relapse="half-gain"``, for subjects with an end-of-treatment count: relapse is the first
    follow-up visit with
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
    :math:`\Delta`, FINASTERIDE   25.2 hairs/cm²   Price 2006: +7.2 % of baseline at week 192
                                                   (continued), with this :math:`\beta_1`
    :math:`L`, FINASTERIDE        52 weeks         DOMAIN.md: regrown hair lost within about
                                                   12 months of stopping
    :math:`S`, FINASTERIDE        25.4             assumption (as minoxidil)
    :math:`\bar\pi` EXO / others  0.40 / 0         assumption / Price 1999 (all lost)
    :math:`\sigma_n`              17.0             Olsen 2002 placebo SD (all natural)
    responder_gain                15 hairs/cm²     assumption (10 % of baseline)
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
        responder_gain=responder_gain, allocation=allocation,
    )
    tables = _simulate_tables(**params)
    return _as_trial(tables, params, title)



# --------------------------------------------------------------------------------------------
# Wiring to Trial
# --------------------------------------------------------------------------------------------

def _as_trial(tables: dict[str, pd.DataFrame], params: dict, title: str | None):
    """Wrap the tables in a Trial with simulated=True and the generator record."""
    from ..data.trial import Trial, TrialMeta

    arms = params["arms"]
    if title is None:
        title = ("Simulated trial: " + " vs ".join(ARM_MODELS[a].label for a in arms[1:])
                 + f" vs {ARM_MODELS[arms[0]].label.lower()}")
    generator = {"function": "trialstats.simulate.simulate_trial", "seed": params["seed"],
                 "parameters": {k: v for k, v in params.items() if k != "seed"}}
    meta = TrialMeta(
        id=params["trial_id"], title=title, simulated=True,
        arms={a: ARM_MODELS[a].label for a in arms}, reference=arms[0],
        tables={k: f"{k}.csv" for k in ("adsl", "adeff", "adtte", "adae")},
        endpoints={"primary": {"paramcd": "TAHC", "visit": f"WEEK {params['treatment_weeks']}"},
                   "relapse": {"paramcd": "RELAPSE"}},
        path=None, extra={"generator": generator},
    )
    return Trial(meta, tables["adsl"], tables["adeff"], tables["adtte"], tables["adae"])
