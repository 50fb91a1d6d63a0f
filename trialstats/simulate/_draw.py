"""One draw of a simulated trial: randomisation, covariates, counts, visits, dropout, tables."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ._adverse import _adverse_events
from ._model import (
    ARM_MODELS,
    BASELINE_MEAN,
    BASELINE_SD,
    BUILDUP_WEEKS,
    DROPOUT_HR_PER_10,
    DURABLE_CONCENTRATION,
    LUDWIG,
    MODERATE_STAGES,
    NORWOOD,
    P_MALE,
    PROGRESSION_PER_WEEK,
    PROGRESSION_SD,
    RACES,
    RESIDUAL_RANGE_WEEKS,
    RESIDUAL_SD,
    SITE_SD,
    STAGE_SHIFT,
    VISIT_WINDOW_DAYS,
    arm_gain,
    profile,
    split_gain_sd,
    visit_weeks,
)
from ._relapse import _relapse, _relapse_responders


def _categorical(rng, n, choices):
    """Draw ``n`` labels from ``choices``, a sequence of (label, weight) pairs."""
    labels = np.array([c for c, _ in choices])
    p = np.array([q for _, q in choices])
    return labels[rng.choice(len(labels), size=n, p=p / p.sum())]


def _randomise(rng, n_per_arm, arms, n_sites, allocation=None):
    """Site and arm of each subject: permuted blocks of 2 x ratio of each arm within site."""
    ratio = [int((allocation or {}).get(a, 1)) for a in arms]
    n = n_per_arm * sum(ratio)
    site_p = rng.dirichlet(np.full(n_sites, 5.0))
    site = np.sort(rng.choice(n_sites, size=n, p=site_p))
    arm = np.empty(n, dtype=object)
    block = np.repeat(np.arange(len(arms)), [2 * r for r in ratio])
    for k in range(n_sites):
        idx = np.flatnonzero(site == k)
        if idx.size == 0:  # a site that enrolled nobody
            continue
        n_blocks = -(-idx.size // block.size)
        seq = np.concatenate([rng.permutation(block) for _ in range(n_blocks)])[: idx.size]
        arm[idx] = np.asarray(arms, dtype=object)[seq]
    return site, arm


def _covariates(rng, n):
    """Sex, age, hair-loss stage (moderate or mild), race and the expected share of moderate."""
    male = rng.random(n) < P_MALE
    age = np.where(male, rng.normal(38.0, 9.0, n), rng.normal(45.0, 10.0, n))
    age = np.clip(np.round(age), 18, 65).astype(np.int64)
    stage = np.where(male, _categorical(rng, n, NORWOOD), _categorical(rng, n, LUDWIG))
    moderate = np.array([s in MODERATE_STAGES["M" if m else "F"] for s, m in zip(stage, male)])
    race = _categorical(rng, n, RACES)
    p_mod = P_MALE * sum(p for s, p in NORWOOD if s in MODERATE_STAGES["M"]) + (1 - P_MALE) * sum(
        p for s, p in LUDWIG if s in MODERATE_STAGES["F"])
    return male, age, stage, moderate, race, p_mod


def _visit_days(rng, n, weeks):
    """Nominal study day of each visit, jittered actual days (n x visits) and weeks since day 1."""
    nominal_day = 7 * weeks + 1
    jitter = rng.integers(-VISIT_WINDOW_DAYS, VISIT_WINDOW_DAYS + 1, size=(n, weeks.size))
    jitter[:, 0] = 0
    day = nominal_day[None, :] + jitter
    t = (day - 1) / 7.0
    return nominal_day, day, t


def _treatment_profiles(rng, arm, arms, effects, t, treatment_weeks):
    """Per-subject treatment gain, natural deviation and gain profile ``h`` (n x visits)."""
    n = arm.size
    gain = np.empty(n)
    natural = np.empty(n)
    h = np.empty(t.shape)
    z = rng.standard_normal(n)
    z_natural = rng.standard_normal(n)
    for code in arms:
        model = ARM_MODELS[code]
        g, sd_g = arm_gain(effects.get(code, model.change_week48), model.sd_change_week48)
        sd_treat, sd_nat = split_gain_sd(sd_g)
        rows = arm == code
        gain[rows] = g + sd_treat * z[rows]
        natural[rows] = sd_nat * z_natural[rows]
        pi_bar = model.durable_fraction
        durable = (rng.beta(DURABLE_CONCENTRATION * pi_bar, DURABLE_CONCENTRATION * (1 - pi_bar),
                            size=int(rows.sum())) if pi_bar > 0 else np.zeros(int(rows.sum())))
        h[rows] = profile(t[rows], model, treatment_weeks, durable[:, None])
    return gain, natural, h


def _residuals(rng, t):
    """Within-subject residuals: exponential (continuous-time AR(1)) correlation in ``t``."""
    n, n_visits = t.shape
    eps = np.empty((n, n_visits))
    eps[:, 0] = RESIDUAL_SD * rng.standard_normal(n)
    for j in range(1, n_visits):
        rho = np.exp(-(t[:, j] - t[:, j - 1]) / RESIDUAL_RANGE_WEEKS)
        eps[:, j] = rho * eps[:, j - 1] + np.sqrt(1 - rho**2) * RESIDUAL_SD * rng.standard_normal(n)
    return eps


def _latent_counts(rng, *, site, n_sites, moderate, p_mod, arm, arms, effects, t,
                   treatment_weeks):
    """Hair counts (n x visits, non-negative integers) from the latent growth model."""
    n = arm.size
    site_effect = rng.normal(0.0, SITE_SD, n_sites)[site]
    sd0 = math.sqrt(BASELINE_SD**2 - RESIDUAL_SD**2 - SITE_SD**2
                    - STAGE_SHIFT**2 * p_mod * (1 - p_mod))
    beta0 = (BASELINE_MEAN - STAGE_SHIFT * (moderate - p_mod) + site_effect
             + rng.normal(0.0, sd0, n))
    beta1 = PROGRESSION_PER_WEEK + rng.normal(0.0, PROGRESSION_SD, n)
    gain, natural, h = _treatment_profiles(rng, arm, arms, effects, t, treatment_weeks)
    eps = _residuals(rng, t)
    buildup = 1.0 - np.exp(-t / BUILDUP_WEEKS)      # the natural deviation never wanes
    latent = (beta0[:, None] + beta1[:, None] * t + gain[:, None] * h
              + natural[:, None] * buildup + eps)
    return np.maximum(0, np.round(latent)).astype(np.int64)


def _observe(rng, *, count, weeks, eot, day, nominal_day, missed_visit, dropout, followup_weeks):
    """Missed visits (MCAR) and monotone MAR dropout: ``observed``, dropout visit and day."""
    n, n_visits = count.shape
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
    return observed, drop_visit, disc_day


def _adeff_frame(usubjid, count, observed, weeks, day, treatment_weeks):
    """ADEFF: one row per held visit (hair count, baseline, change, flags)."""
    ii, jj = np.nonzero(observed)
    avisit = np.array(["BASELINE"] + [f"WEEK {w}" for w in weeks[1:]])
    return pd.DataFrame({
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


def _discontinuation_reasons(rng, drop_visit, n_visits, eot):
    """DCSREAS of each subject: on- or off-treatment reasons for dropouts, else empty."""
    n = drop_visit.size
    discontinued = drop_visit < n_visits
    on_trt_drop = drop_visit <= eot
    reason = np.full(n, "", dtype=object)
    r_on = _categorical(rng, n, (("WITHDRAWAL BY SUBJECT", 0.35), ("LOST TO FOLLOW-UP", 0.25),
                                 ("LACK OF EFFICACY", 0.25), ("ADVERSE EVENT", 0.15)))
    r_off = _categorical(rng, n, (("WITHDRAWAL BY SUBJECT", 0.55), ("LOST TO FOLLOW-UP", 0.45)))
    reason[discontinued & on_trt_drop] = r_on[discontinued & on_trt_drop]
    reason[discontinued & ~on_trt_drop] = r_off[discontinued & ~on_trt_drop]
    return discontinued, reason


def _simulate_tables(*, n_per_arm, arms, treatment_weeks, followup_weeks, dropout, missed_visit,
                     effects, n_sites, trial_id, seed, relapse="responder",
                     responder_gain=15.0, allocation=None) -> dict[str, pd.DataFrame]:
    """Draw one trial; return ``{"adsl": ..., "adeff": ..., "adtte": ..., "adae": ...}``."""
    rng = np.random.default_rng(seed)
    site, arm = _randomise(rng, n_per_arm, arms, n_sites, allocation)
    n = arm.size
    male, age, stage, moderate, race, p_mod = _covariates(rng, n)
    weeks, eot = visit_weeks(treatment_weeks, followup_weeks)
    n_visits = weeks.size
    nominal_day, day, t = _visit_days(rng, n, weeks)
    count = _latent_counts(rng, site=site, n_sites=n_sites, moderate=moderate, p_mod=p_mod,
                           arm=arm, arms=arms, effects=effects, t=t,
                           treatment_weeks=treatment_weeks)
    observed, drop_visit, disc_day = _observe(
        rng, count=count, weeks=weeks, eot=eot, day=day, nominal_day=nominal_day,
        missed_visit=missed_visit, dropout=dropout, followup_weeks=followup_weeks)

    site_ids = np.array([f"{k + 1:02d}" for k in range(n_sites)])[site]
    subjid = np.array([f"{i + 1:04d}" for i in range(n)])
    usubjid = np.array([f"{trial_id}-{s}-{i}" for s, i in zip(site_ids, subjid)])
    adeff = _adeff_frame(usubjid, count, observed, weeks, day, treatment_weeks)

    # --- ADTTE: relapse after the end-of-treatment visit
    if relapse == "responder":
        adtte = _relapse_responders(usubjid, count, observed, day, eot, drop_visit, disc_day,
                                    responder_gain)
    else:
        adtte = _relapse(usubjid, count, observed, day, eot, drop_visit, disc_day)

    # --- ADSL
    completed_trt = observed[:, eot]
    discontinued, reason = _discontinuation_reasons(rng, drop_visit, n_visits, eot)
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
