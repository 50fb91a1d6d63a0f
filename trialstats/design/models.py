r"""Data-generating models of the design engine: what one simulated trial looks like.

``"trial"``
    :func:`trialstats.simulate_trial` (the documented alopecia-trial model); its parameters are
    ``simulate_trial`` keywords. The true primary contrast at week :math:`w` is
    :func:`trialstats.simulate.expected_change` of each arm minus the reference's; relapse has
    no closed-form hazard ratio (it is not proportional), so Cox and RMST truths are unknown.
``"normal"``
    Changes from baseline at visits :math:`w_1 < \dots < w_J` are multivariate normal,
    :math:`N(\mu_a, \Sigma)`, :math:`\Sigma_{jk} = s_j s_k \rho_{jk}` with
    :math:`\rho_{jk} = \rho^{|j-k|}` (``"ar1"``) or :math:`\rho` (``"cs"``); the mean of the
    reference arm is 0 and the other arm's is ``mean_difference``; monotone dropout completely
    at random: a subject is observed at visit :math:`j` with probability ``retention[j]``
    (non-increasing), and ``BASE`` is drawn independently, :math:`N(150, 30^2)`. This is the
    model of Lu, Luo & Chen (2008), so the MMRM's power has a closed form
    (:func:`trialstats.design.closed_form.llc_power`).
``"exponential-relapse"``
    Time to relapse (days) is exponential with median ``median_reference`` in the reference arm
    and hazard ratio ``hazard_ratio`` in the other; entry is uniform over ``accrual_days`` and
    every subject is censored ``followup_days`` after the last entry (so followed between
    ``followup_days`` and ``followup_days + accrual_days``); optional exponential dropout with
    ``dropout`` = probability of dropping out within 365 days. This is the model of
    Schoenfeld's formula and of R rpact's ``getPowerSurvival``. True log hazard ratio and RMST
    difference are closed forms: :math:`\mathrm{RMST}(\tau) = (1 - e^{-\lambda\tau})/\lambda`.

Each generator takes a ``numpy.random.Generator``-compatible seed and returns a
:class:`Simulated` holding analysis frames only (never written out).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import pandas as pd

from ..errors import TrialstatsError

__all__ = ["MODELS", "Simulated", "check_hypothesis", "check_params", "generate", "scenario_arms"]

_TRIAL_KEYS = ("arms", "treatment_weeks", "followup_weeks", "dropout", "missed_visit", "effects",
               "n_sites", "trial_id", "relapse", "responder_gain", "allocation")
#: How non-responders enter the relapse endpoint (design.toml ``nonresponders``): "exclude"
#: (no relapse time: the endpoint is among responders, as ADTTE holds it) or "composite" (an
#: intercurrent event handled by the composite strategy: a non-responder at the end of treatment
#: counts as relapsed at day 0 of follow-up).
NONRESPONDER_STRATEGIES = ("exclude", "composite")
_NORMAL_KEYS = ("arms", "visits", "mean_difference", "sd", "correlation", "structure",
                "retention")
_EXP_KEYS = ("arms", "median_reference", "hazard_ratio", "accrual_days", "followup_days",
             "dropout")
#: model -> (parameter names, endpoints it can test)
MODELS = {
    "trial": (_TRIAL_KEYS, ("primary", "rmst", "cox")),
    "normal": (_NORMAL_KEYS, ("primary",)),
    "exponential-relapse": (_EXP_KEYS, ("rmst", "cox")),
}
_DEFAULT_ARMS = ["CONTROL", "ACTIVE"]


@dataclass(frozen=True)
class Simulated:
    """One simulated trial, as the analysis needs it.

    Attributes
    ----------
    efficacy : DataFrame or None
        ADEFF rows with ADSL columns merged (``Trial.analysis_frame``).
    relapse : DataFrame or None
        ADTTE relapse rows with ADSL columns merged.
    trial : object
        What :meth:`AnalysisPlan.resolve` reads (a Trial, or a stand-in with meta/arms/adtte).
    truth : dict
        ``(endpoint, arm) -> true value`` on the estimate's scale (NaN when unknown).
    """

    efficacy: pd.DataFrame | None
    relapse: pd.DataFrame | None
    trial: object
    truth: dict


def _is_num(v) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def scenario_arms(model: str, params: dict) -> list[str]:
    """Arm codes of a scenario, reference first (as the generator orders them)."""
    if model == "trial":
        from ..simulate import _REFERENCE_ORDER, ARM_MODELS, DEFAULT_ARMS

        arms = list(params.get("arms") or DEFAULT_ARMS)
        if not all(a in ARM_MODELS for a in arms):
            return arms
        ref = next((a for a in _REFERENCE_ORDER if a in arms), arms[0])
        return [ref] + [a for a in ARM_MODELS if a in arms and a != ref]
    return list(params.get("arms") or _DEFAULT_ARMS)


def check_params(model: str, params: dict) -> list[str]:
    """Problems with a scenario's parameters (``"key: message"``); empty when valid."""
    keys, _ = MODELS[model]
    out = [f"{k}: unknown parameter of model {model!r}; valid: {', '.join(keys)}"
           for k in sorted(set(params) - set(keys))]
    if out:
        return out
    if model == "trial":
        from ..errors import ModelError
        from ..simulate import _check_arguments

        kw = {k: params[k] for k in _TRIAL_KEYS if k in params}
        kw.setdefault("arms", None)
        base = dict(treatment_weeks=24, followup_weeks=104, dropout=0.30, missed_visit=0.05,
                    effects=None, n_sites=6, trial_id="SIM-HAIR")
        try:
            _check_arguments(n_per_arm=2, seed=0, **{**base, **kw})
        except ModelError as e:
            out.append(str(e).replace("simulate_trial: ", ""))
        return out
    arms = params.get("arms", _DEFAULT_ARMS)
    if (not isinstance(arms, list) or len(arms) != 2 or len(set(map(str, arms))) != 2
            or not all(isinstance(a, str) and a for a in arms)):
        out.append(f"arms: model {model!r} takes two distinct arm codes, reference first; "
                   f"got {arms!r}")
    if model == "normal":
        out += _check_normal(params)
    else:
        out += _check_exponential(params)
    return out


def _check_normal(p: dict) -> list[str]:
    out = []
    visits = p.get("visits")
    if (not isinstance(visits, list) or not visits
            or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in visits)
            or visits != sorted(set(visits))):
        return [f"visits: required, increasing positive integer weeks; got {visits!r}"]
    j = len(visits)
    for key, lo, hi in (("mean_difference", -math.inf, math.inf), ("sd", 0.0, math.inf),
                        ("retention", 0.0, 1.0)):
        v = p.get(key)
        vals = v if isinstance(v, list) else [v] * j
        if len(vals) != j or not all(_is_num(x) and lo <= x <= hi for x in vals) or (
                key != "mean_difference" and not all(x > 0 for x in vals)):
            out.append(f"{key}: required, a number or a list of {j} numbers (one per visit)"
                       + ("" if key == "mean_difference" else f" in ({lo:g}, {hi:g}]")
                       + f"; got {v!r}")
        elif key == "retention" and any(a < b for a, b in zip(vals, vals[1:])):
            out.append(f"retention: must not increase over visits (monotone dropout); got {v!r}")
    rho = p.get("correlation", 0.0)
    if not _is_num(rho) or not -1.0 / max(j - 1, 1) < rho < 1.0:
        out.append(f"correlation: must be a number in (-1/(J-1), 1); got {rho!r}")
    if p.get("structure", "ar1") not in ("ar1", "cs"):
        out.append(f"structure: unknown {p.get('structure')!r}; valid: ar1, cs")
    return out


def _check_exponential(p: dict) -> list[str]:
    out = []
    for key, required in (("median_reference", True), ("hazard_ratio", True),
                          ("followup_days", True), ("accrual_days", False)):
        v = p.get(key)
        if v is None and not required:
            continue
        if not _is_num(v) or v <= 0 and not (key == "accrual_days" and v == 0):
            out.append(f"{key}: {'required, ' if required else ''}a positive number; got {v!r}")
    d = p.get("dropout", 0.0)
    if not _is_num(d) or not 0.0 <= d < 1.0:
        out.append(f"dropout: a probability in [0, 1) of dropping out within 365 days; got {d!r}")
    return out


def check_hypothesis(model: str, endpoint: str, arm: str, arms: list[str]) -> list[str]:
    """Problems with testing ``endpoint`` for ``arm`` on data from ``model``."""
    valid = MODELS[model][1]
    out = []
    if endpoint not in valid:
        out.append(f"endpoint {endpoint!r} is not produced by model {model!r}; valid: "
                   f"{', '.join(valid)}")
    if arm not in arms[1:]:
        out.append(f"arm {arm!r} is not a non-reference arm of the scenario; valid: "
                   f"{', '.join(arms[1:])}")
    return out


# ----------------------------------------------------------------------------------------------
# generators
# ----------------------------------------------------------------------------------------------
def generate(model: str, params: dict, n_per_arm: int, seed: int, plan, *,
             nonresponders: str = "exclude") -> Simulated:
    """Simulate one trial of ``model`` with ``n_per_arm`` subjects per arm from ``seed``.

    ``nonresponders`` (model ``"trial"`` only): one of :data:`NONRESPONDER_STRATEGIES`.
    """
    if model == "trial":
        return _trial(params, n_per_arm, seed, plan, nonresponders)
    if model == "normal":
        return _normal(params, n_per_arm, seed)
    if model == "exponential-relapse":
        return _exponential(params, n_per_arm, seed, plan)
    raise TrialstatsError(f"unknown model {model!r}; valid: {', '.join(MODELS)}")


def _trial(params, n_per_arm, seed, plan, nonresponders="exclude") -> Simulated:
    from ..simulate import expected_change, simulate_trial

    trial = simulate_trial(n_per_arm=n_per_arm, seed=seed, **params)
    arms = list(trial.arms)
    t_weeks = int(params.get("treatment_weeks", 24))
    effects = params.get("effects") or {}
    visit = plan.primary.visit if plan.primary is not None else f"WEEK {t_weeks}"
    week = float(visit.split()[-1]) if visit.split()[-1].isdigit() else float("nan")
    truth = {}
    for a in arms[1:]:
        diff = (expected_change(week, a, treatment_weeks=t_weeks, change_week48=effects.get(a))
                - expected_change(week, arms[0], treatment_weeks=t_weeks,
                                  change_week48=effects.get(arms[0])))
        truth[("primary", a)] = diff
        truth[("cox", a)] = truth[("rmst", a)] = float("nan")
    relapse = trial.analysis_frame("adtte", paramcd=(plan.relapse.paramcd if plan.relapse
                                                    else "RELAPSE"))
    if nonresponders == "composite":
        relapse = _with_nonresponders(trial, relapse, t_weeks)
    return Simulated(trial.analysis_frame("adeff"), relapse, trial, truth)


def _with_nonresponders(trial, relapse: pd.DataFrame, t_weeks: int) -> pd.DataFrame:
    """Composite strategy: subjects seen at the end-of-treatment visit without a relapse row
    (non-responders) relapse at day 0 of follow-up (AVAL = TLOWER = TUPPER = 0, CNSR = 0)."""
    eff = trial.adeff
    seen = eff.loc[eff["AVISITN"] == t_weeks, "USUBJID"]
    extra = trial.adsl[trial.adsl["USUBJID"].isin(set(seen) - set(relapse["USUBJID"]))]
    rows = extra.assign(PARAMCD="RELAPSE", AVAL=0, CNSR=0, EVNTDESC="NON-RESPONDER (COMPOSITE)",
                        TLOWER=0, TUPPER=0.0, EVENTCD=1)
    rows = rows[[c for c in relapse.columns if c in rows.columns]]
    out = pd.concat([relapse, rows], ignore_index=True)
    out["ARM"] = pd.Categorical(out["ARM"].astype(str), categories=list(trial.arms))
    return out


def _arm_column(arms, n_per_arm) -> pd.Categorical:
    return pd.Categorical(np.repeat(arms, n_per_arm), categories=arms)


def _stand_in(arms, relapse=None, primary=None):
    meta = SimpleNamespace(id="SIM", reference=arms[0], endpoints={
        "primary": primary or {}, "relapse": {"paramcd": "RELAPSE"}})
    return SimpleNamespace(meta=meta, arms=arms, adtte=relapse, adsl=None)


def _normal(p, n_per_arm, seed) -> Simulated:
    rng = np.random.default_rng(seed)
    arms = list(p.get("arms", _DEFAULT_ARMS))
    visits = list(p["visits"])
    j = len(visits)
    diff = np.broadcast_to(np.asarray(p["mean_difference"], float), (j,))
    sd = np.broadcast_to(np.asarray(p["sd"], float), (j,))
    retention = np.broadcast_to(np.asarray(p["retention"], float), (j,))
    cov = covariance_matrix(sd, float(p.get("correlation", 0.0)), p.get("structure", "ar1"))
    n = 2 * n_per_arm
    chg = rng.multivariate_normal(np.zeros(j), cov, size=n, method="cholesky")
    chg[n_per_arm:] += diff
    base = rng.normal(150.0, 30.0, n)
    u = rng.random(n)
    observed = u[:, None] < retention[None, :]       # monotone: retention non-increasing
    ii, jj = np.nonzero(observed)
    labels = [f"WEEK {w}" for w in visits]
    frame = pd.DataFrame({
        "USUBJID": np.array([f"S{i + 1:05d}" for i in range(n)])[ii],
        "ARM": _arm_column(arms, n_per_arm)[ii],
        "AVISIT": pd.Categorical(np.asarray(labels)[jj], categories=labels),
        "AVISITN": np.asarray(visits)[jj],
        "CHG": chg[ii, jj],
        "BASE": base[ii],
        "ABLFL": "",
    })
    truth = {("primary", arms[1]): float(diff[-1])}
    return Simulated(frame, None, _stand_in(arms, primary={"visit": labels[-1]}), truth)


def covariance_matrix(sd, rho: float, structure: str) -> np.ndarray:
    """:math:`\\Sigma_{jk} = s_j s_k \\rho_{jk}` for an AR(1) or compound-symmetric correlation."""
    sd = np.asarray(sd, float)
    lag = np.abs(np.subtract.outer(np.arange(sd.size), np.arange(sd.size)))
    corr = rho**lag if structure == "ar1" else np.where(lag == 0, 1.0, rho)
    return corr * np.outer(sd, sd)


def _exponential(p, n_per_arm, seed, plan) -> Simulated:
    rng = np.random.default_rng(seed)
    arms = list(p.get("arms", _DEFAULT_ARMS))
    lam0 = math.log(2.0) / float(p["median_reference"])
    hr = float(p["hazard_ratio"])
    rates = np.repeat([lam0, lam0 * hr], n_per_arm)
    n = rates.size
    event = rng.exponential(1.0 / rates)
    accrual = float(p.get("accrual_days", 0.0))
    censor = float(p["followup_days"]) + accrual * (1.0 - rng.random(n))
    drop = float(p.get("dropout", 0.0))
    if drop > 0:
        censor = np.minimum(censor, rng.exponential(365.0 / -math.log1p(-drop), n))
    frame = pd.DataFrame({
        "USUBJID": [f"S{i + 1:05d}" for i in range(n)],
        "PARAMCD": "RELAPSE",
        "ARM": _arm_column(arms, n_per_arm),
        "AVAL": np.minimum(event, censor),
        "CNSR": (event > censor).astype(np.int64),
    })
    tau = plan.relapse.tau if plan.relapse is not None else None
    truth = {("cox", arms[1]): math.log(hr), ("rmst", arms[1]): float("nan")}
    if tau is not None:
        lam1 = lam0 * hr
        truth[("rmst", arms[1])] = (-math.expm1(-lam1 * tau) / lam1
                                    + math.expm1(-lam0 * tau) / lam0)
    return Simulated(None, frame, _stand_in(arms, relapse=frame), truth)
