"""Simulate an androgenetic-alopecia trial from a documented generative model.

:func:`simulate_trial` returns a :class:`~trialstats.data.trial.Trial` with the four ADaM-style
tables of docs/CONTRACTS.md (ADSL, ADEFF, ADTTE, ADAE). The model, every default and the
published figure behind it are written out in its docstring; the defaults live in the
constants of ``trialstats.simulate._model`` (re-exported here) so that tests and the
bundled-trial script read the same numbers.
All randomness goes through one ``numpy.random.default_rng(seed)``.
"""

from __future__ import annotations

from ._adverse import (  # noqa: F401
    AE_PER_24_WEEKS,
    AE_PER_INJECTION,
    AE_PRETREATMENT,
    AE_SERIOUS_IF_SEVERE,
    AE_SEVERITY,
    AE_SEVERITY_DEFAULT,
    AE_TERMS,
    _adverse_events,
)
from ._checks import RELAPSE_DEFINITIONS, SIMULATE_LIMITS, _check_arguments  # noqa: F401
from ._draw import _randomise, _simulate_tables  # noqa: F401
from ._model import (  # noqa: F401
    _REFERENCE_ORDER,
    ARM_MODELS,
    BASELINE_MEAN,
    BASELINE_SD,
    BUILDUP_WEEKS,
    DEFAULT_ARMS,
    DROPOUT_HR_PER_10,
    DURABLE_CONCENTRATION,
    FOLLOWUP_EVERY_WEEKS,
    INJECTION_EVERY_WEEKS,
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
    ArmModel,
    arm_gain,
    expected_change,
    natural_gain_sd,
    profile,
    split_gain_sd,
    visit_weeks,
)
from ._relapse import _relapse, _relapse_responders  # noqa: F401
from .api import simulate_trial

__all__ = ["ARM_MODELS", "ArmModel", "expected_change", "simulate_trial", "visit_weeks"]
