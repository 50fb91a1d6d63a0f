"""Argument checks of :func:`trialstats.simulate.simulate_trial` (closed sets, ranges, limits)."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from ..errors import ModelError
from ._model import _REFERENCE_ORDER, ARM_MODELS, DEFAULT_ARMS, FOLLOWUP_EVERY_WEEKS

# --------------------------------------------------------------------------------------------
# Argument checks
# --------------------------------------------------------------------------------------------

def _is_int(x) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, bool)


def _is_number(x) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool)


RELAPSE_DEFINITIONS = ("responder", "half-gain")


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
                     effects, n_sites, trial_id, seed, relapse="responder",
                     responder_gain=15.0, allocation=None) -> dict:
    """Validate simulate_trial's arguments; return them normalised (arms in level order)."""
    if not _is_int(n_per_arm) or n_per_arm < 2:
        raise ModelError(f"simulate_trial: n_per_arm must be an integer >= 2; got {n_per_arm!r}")
    valid = ", ".join(ARM_MODELS)
    if arms is None:
        arms = list(DEFAULT_ARMS)
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
    allocation = _check_allocation(allocation, arms)
    if n_per_arm * sum(allocation.values()) > SIMULATE_LIMITS["n_per_arm"] * len(arms):
        raise ModelError(f"simulate_trial: n_per_arm x allocation gives "
                         f"{n_per_arm * sum(allocation.values()):,} subjects; at most "
                         f"{SIMULATE_LIMITS['n_per_arm'] * len(arms):,} are allowed")
    out = dict(n_per_arm=int(n_per_arm), arms=arms, treatment_weeks=int(treatment_weeks),
                followup_weeks=int(followup_weeks), dropout=float(dropout),
                missed_visit=float(missed_visit),
                effects={k: float(v) for k, v in effects.items()}, n_sites=int(n_sites),
                trial_id=trial_id, seed=int(seed), relapse=relapse,
                responder_gain=float(responder_gain))
    if any(r != 1 for r in allocation.values()):   # recorded (and drawn) only when not 1:1
        out["allocation"] = allocation
    return out


#: Largest allocation ratio of one arm.
MAX_ALLOCATION_RATIO = 10


def _check_allocation(allocation, arms) -> dict:
    """Allocation ratios by arm (every simulated arm, default 1), validated."""
    if allocation is None:
        return {a: 1 for a in arms}
    if not isinstance(allocation, Mapping):
        raise ModelError(f"simulate_trial: allocation must be a mapping of arm code to a "
                         f"positive integer ratio (e.g. {{'EXOSOME': 2}}); got {allocation!r}")
    bad = [k for k in allocation if k not in arms]
    if bad:
        raise ModelError(f"simulate_trial: allocation has arm code(s) "
                         f"{', '.join(map(repr, bad))} that are not simulated arms; valid: "
                         f"{', '.join(arms)}")
    for k, v in allocation.items():
        if not _is_int(v) or not 1 <= v <= MAX_ALLOCATION_RATIO:
            raise ModelError(f"simulate_trial: allocation[{k!r}] must be an integer from 1 to "
                             f"{MAX_ALLOCATION_RATIO}; got {v!r}")
    return {a: int(allocation.get(a, 1)) for a in arms}
