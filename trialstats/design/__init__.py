"""Simulation-based trial design: power, type I error and sample size by simulation.

>>> import trialstats as ts
>>> spec = ts.design.load("datasets/designs/exo-longterm.toml")     # doctest: +SKIP
>>> res = ts.design.run(spec, engine="local")                       # doctest: +SKIP
>>> res.summary                                                     # doctest: +SKIP

Modules: :mod:`~.spec` (design.toml as data, validated), :mod:`~.models` (data-generating
models), :mod:`~.analysis` (one replicate's analysis → ARD rows), :mod:`~.run` (engines,
seeds, checkpoints), :mod:`~.summary` (operating characteristics, sample-size search),
:mod:`~.closed_form` (reference power formulas used by the tests).
"""

from __future__ import annotations

from .run import DesignResult, replicate_seed, run
from .spec import DesignError, DesignSpec, Scenario, load

__all__ = ["DesignError", "DesignResult", "DesignSpec", "Scenario", "load", "replicate_seed",
           "run"]
