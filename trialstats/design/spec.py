"""The design specification as data: ``design.toml`` → :class:`DesignSpec`.

A design file says what to simulate (scenarios), at which sample sizes, how each simulated
trial is analysed (a ``sap.toml`` read by :func:`trialstats.report.plan.load_plan`, the same
code path as the report), how many replicates, the seed and the targets::

    title = "Long-term exosome vs minoxidil"
    plan = "exo-longterm.sap.toml"      # relative to the design file
    seed = 2026
    replicates = 1000
    n_per_arm = [60, 80, 100, 120]
    chunk_size = 20                     # replicates per task and per checkpoint file

    [simulation]                        # defaults shared by every scenario
    arms = ["MINOXIDIL", "EXOSOME"]
    dropout = 0.30

    [[scenarios]]
    name = "expected"
    effects = { EXOSOME = 30.0 }

    [[scenarios]]
    name = "null"
    null = true                         # family-wise error is measured here
    effects = { EXOSOME = 18.6 }

    [targets]
    power = { H1 = 0.80 }               # per hypothesis id of the plan
    fwer = 0.05                         # family-wise type I error under the null scenarios

Scenario ``model`` (default ``"trial"``) selects the generator: ``"trial"`` is
:func:`trialstats.simulate_trial`; ``"normal"`` and ``"exponential-relapse"`` are the simple
generators of :mod:`trialstats.design.models` whose power has a closed form.

More keys:

* ``allocation = { EXOSOME = 2, MINOXIDIL = 1 }`` (model ``"trial"``): allocation ratio, integer
  per arm (``simulate_trial(allocation=)``); ``n_per_arm`` is then subjects per allocation unit
  (arm :math:`a` gets ``n_per_arm * ratio``). Default 1:1 (also ``allocation = "1:1"``).
* ``nonresponders = "exclude" | "composite"`` (the relapse endpoint's intercurrent event, model
  ``"trial"``): ``"exclude"`` (default) analyses relapse among responders only, as the
  simulated ADTTE holds it; ``"composite"`` counts a non-responder at the end of treatment as
  relapsed at day 0 of follow-up (:data:`trialstats.design.models.NONRESPONDER_STRATEGIES`).
* ``from_trial = "../exo-hair-301"`` in a scenario: its parameters are estimated from that
  trial folder with the design's plan (:mod:`trialstats.design.from_trial` says which: MMRM
  LS means -> ``effects`` for ``"trial"``; reference-arm exponential rate and Cox hazard ratio
  for ``"exponential-relapse"``). The folder must lie inside the design's folder unless
  ``allow_outside=True``; keys the scenario or ``[simulation]`` gives win.

Validation is declarative (as :mod:`trialstats.data.schema`): every problem is collected and one
:class:`DesignError` lists them all, each naming its key and what is valid.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._toml import TomlReadError, read_toml
from ..errors import TrialstatsError
from ..report.plan import AnalysisPlan, PlanError, load_plan
from . import models

__all__ = ["DesignError", "DesignSpec", "Scenario", "load"]


class DesignError(TrialstatsError, ValueError):
    """A design that cannot be run: lists every problem, each naming its key and what is valid."""

    def __init__(self, message: str, problems: list[str] | None = None):
        super().__init__(message)
        self.problems = list(problems or [])


@dataclass(frozen=True)
class Scenario:
    """One data-generating scenario.

    Attributes
    ----------
    name : str
    model : {"trial", "normal", "exponential-relapse"}
    params : dict
        Generator parameters (``simulate_trial`` keywords for ``"trial"``), without
        ``n_per_arm`` and ``seed``, which the engine sets per replicate.
    null : bool
        A null scenario: family-wise type I error is measured here.
    null_hypotheses : tuple of str
        Ids of the hypotheses that are true nulls in this scenario (empty = all of them).
        TOML: ``null = true`` (all) or ``null = ["H1"]`` (only those).
    from_trial : str
        The trial folder (as written in design.toml) whose estimates set some of ``params``
        (:mod:`trialstats.design.from_trial`); empty when none.
    """

    name: str
    model: str
    params: dict
    null: bool = False
    null_hypotheses: tuple[str, ...] = ()
    from_trial: str = ""


@dataclass(frozen=True)
class DesignSpec:
    """A validated design. Frozen; built by :func:`load`.

    Attributes
    ----------
    title : str
    scenarios : tuple of Scenario
    n_per_arm : tuple of int
        Sample-size grid (subjects per arm), increasing.
    plan : AnalysisPlan
        The analysis of each simulated trial.
    replicates, seed, chunk_size : int
    power_targets : dict
        Target power per hypothesis id.
    fwer_target : float or None
        Largest acceptable family-wise type I error under the null scenarios.
    source : str
        File the design was read from (``"dict"`` otherwise).
    nonresponders : {"exclude", "composite"}
        Non-responders in the relapse endpoint (module docstring).
    """

    title: str
    scenarios: tuple[Scenario, ...]
    n_per_arm: tuple[int, ...]
    plan: AnalysisPlan
    replicates: int
    seed: int
    chunk_size: int = 20
    power_targets: dict = field(default_factory=dict)
    fwer_target: float | None = None
    source: str = "dict"
    raw: dict = field(default_factory=dict, repr=False, compare=False)
    nonresponders: str = "exclude"

    def fingerprint(self) -> str:
        """SHA-256 of everything that determines the per-replicate results (not replicates)."""
        data = {
            "scenarios": [(s.name, s.model, s.params, s.null, s.null_hypotheses)
                          for s in self.scenarios],
            "plan": self.plan.to_dict(),
            "seed": self.seed,
            "chunk_size": self.chunk_size,
        }
        if self.nonresponders != "exclude":   # absent by default: older checkpoints stay valid
            data["nonresponders"] = self.nonresponders
        return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()

    def with_replicates(self, replicates: int) -> DesignSpec:
        """A copy with another replicate count (validated)."""
        if isinstance(replicates, bool) or not isinstance(replicates, int) or replicates < 1:
            raise DesignError(f"replicates: must be an integer >= 1; got {replicates!r}")
        from dataclasses import replace

        return replace(self, replicates=replicates)


# ----------------------------------------------------------------------------------------------
# declarative checks
# ----------------------------------------------------------------------------------------------
def _int_at_least(lo: int) -> Callable[[Any], str | None]:
    def check(v):
        if isinstance(v, bool) or not isinstance(v, int) or v < lo:
            return f"must be an integer >= {lo}; got {v!r}"
        return None
    return check


def _string(v):
    return None if isinstance(v, str) and v.strip() else f"must be a non-empty string; got {v!r}"


def _probability_open(v):
    if isinstance(v, bool) or not isinstance(v, int | float) or not 0.0 < float(v) < 1.0:
        return f"must be a number strictly between 0 and 1; got {v!r}"
    return None


#: Top-level keys: name -> (required, check).
TOP_KEYS: dict[str, tuple[bool, Callable | None]] = {
    "title": (False, _string),
    "plan": (True, _string),
    "seed": (True, _int_at_least(0)),
    "replicates": (True, _int_at_least(1)),
    "n_per_arm": (True, None),
    "chunk_size": (False, _int_at_least(1)),
    "allocation": (False, None),
    "nonresponders": (False, None),
    "simulation": (False, None),
    "scenarios": (True, None),
    "targets": (False, None),
}
SCENARIO_KEYS = ("name", "model", "null", "from_trial")
TARGET_KEYS = ("power", "fwer")


def load(source: str | Path | dict, *, base: str | Path | None = None,
         allow_outside: bool = False) -> DesignSpec:
    """Read and validate a design from a ``design.toml`` file or an already-parsed mapping.

    Parameters
    ----------
    source : path or dict
        The design file, or its content as a dict.
    base : path, optional
        Folder against which ``plan`` is resolved when ``source`` is a dict (default: the
        current directory); a file's own folder otherwise.
    allow_outside : bool, default False
        Read a ``plan`` that resolves outside that folder (``../``, absolute, a symbolic link
        leaving it); refused otherwise, as the tables of a trial folder.

    Returns
    -------
    DesignSpec

    Raises
    ------
    DesignError
        Every problem at once: unknown keys, wrong types, bad ranges, unknown scenario
        parameters, hypotheses or endpoints, infeasible targets (power 1.0), an unreadable plan.
    """
    name = "dict"
    if isinstance(source, dict):
        data, folder = source, Path(base or ".")
    else:
        path = Path(source)
        name, folder = path.name, path.resolve().parent
        if not path.exists():
            raise DesignError(f"design file {str(path)!r} does not exist")
        try:  # the reader of trial.toml and sap.toml: size, encoding and nesting limits
            data = read_toml(path)
        except TomlReadError as e:
            raise DesignError(str(e)) from e
    problems: list[str] = []
    spec = _parse(data, folder, name, problems, allow_outside)
    if problems:
        head = f"{len(problems)} problem{'s' if len(problems) > 1 else ''} in design {name!r}:"
        raise DesignError("\n  ".join([head, *problems]), problems)
    return spec


def _parse(data: dict, folder: Path, name: str, problems: list[str],
           allow_outside: bool = False) -> DesignSpec | None:
    for key in sorted(set(data) - set(TOP_KEYS)):
        problems.append(f"{key}: unknown key; valid: {', '.join(TOP_KEYS)}")
    for key, (required, check) in TOP_KEYS.items():
        if key not in data:
            if required:
                problems.append(f"{key}: required")
            continue
        msg = check(data[key]) if check else None
        if msg:
            problems.append(f"{key}: {msg}")
    grid = _grid(data.get("n_per_arm"), problems) if "n_per_arm" in data else ()
    allocation = _allocation(data.get("allocation"), problems)
    nonresp = data.get("nonresponders", "exclude")
    if nonresp not in models.NONRESPONDER_STRATEGIES:
        problems.append(f"nonresponders: unknown strategy {nonresp!r}; valid: "
                        f"{', '.join(models.NONRESPONDER_STRATEGIES)}")
    plan = _plan(data.get("plan"), folder, problems, allow_outside)
    shared = data.get("simulation", {})
    if not isinstance(shared, dict):
        problems.append(f"simulation: must be a table of scenario parameters; got {shared!r}")
        shared = {}
    ctx = {"folder": folder, "plan": plan, "allow_outside": allow_outside}
    scenarios = _scenarios(data.get("scenarios"), shared, problems, ctx)
    for s in scenarios:
        if allocation and "allocation" not in s.params:
            if s.model != "trial":
                problems.append(f"allocation: scenario {s.name!r} (model {s.model!r}) is "
                                "simulated 1:1; allocation ratios need model 'trial'")
            else:
                s.params["allocation"] = dict(allocation)
                problems.extend(f"allocation: {m}"
                                for m in models.check_params(s.model, s.params)
                                if "allocation" in m)
        if nonresp == "composite" and (s.model != "trial"
                                       or s.params.get("relapse", "responder") != "responder"):
            problems.append(f"nonresponders: 'composite' needs responders, model 'trial' with "
                            f"relapse = 'responder'; scenario {s.name!r} has model {s.model!r}")
    power, fwer = _targets(data.get("targets", {}), plan, scenarios, problems)
    if problems:
        return None
    return DesignSpec(
        title=str(data.get("title", "Simulation-based trial design")), scenarios=scenarios,
        n_per_arm=grid, plan=plan, replicates=int(data["replicates"]), seed=int(data["seed"]),
        chunk_size=int(data.get("chunk_size", 20)), power_targets=power, fwer_target=fwer,
        source=name, raw=data, nonresponders=str(nonresp),
    )


def _allocation(v, problems) -> dict:
    """Top-level ``allocation``: {} for 1:1, else the table of integer ratios by arm."""
    if v is None or v in (1, "1:1") and not isinstance(v, bool):
        return {}
    if isinstance(v, dict) and v:
        return dict(v)
    problems.append(f"allocation: a table of integer ratios by arm (e.g. {{ EXOSOME = 2 }}) or "
                    f"\"1:1\"; got {v!r}")
    return {}


def _inside(v, folder: Path, key: str, problems, allow_outside: bool) -> Path | None:
    """``folder / v`` resolved, when it stays inside ``folder`` (or ``allow_outside``)."""
    try:
        path = (folder / v).resolve()
        inside = path.is_relative_to(folder.resolve())
    except (OSError, RuntimeError, ValueError) as e:
        problems.append(f"{key}: {v!r} cannot be resolved ({e})")
        return None
    if not inside and not allow_outside:
        problems.append(f"{key}: {v!r} resolves outside the design's folder ({path}); keep it "
                        "beside the design file, or pass allow_outside=True / --allow-outside")
        return None
    return path


def _grid(v, problems) -> tuple[int, ...]:
    items = v if isinstance(v, list) else [v]
    bad = [x for x in items if isinstance(x, bool) or not isinstance(x, int) or x < 2]
    if not items or bad:
        problems.append(f"n_per_arm: must be an integer >= 2 or a non-empty list of them; "
                        f"got {v!r}")
        return ()
    from ..simulate import SIMULATE_LIMITS

    top = SIMULATE_LIMITS["n_per_arm"]
    if any(x > top for x in items):
        problems.append(f"n_per_arm: sample sizes above {top:,} per arm are not simulated; got "
                        f"{max(items)}")
        return ()
    if len(set(items)) != len(items):
        problems.append(f"n_per_arm: duplicate sample sizes in {v!r}")
    return tuple(sorted(set(items)))


def _plan(v, folder: Path, problems, allow_outside: bool = False) -> AnalysisPlan | None:
    if not isinstance(v, str) or not v.strip():
        return None
    path = _inside(v, folder, "plan", problems, allow_outside)
    if path is None:
        return None
    try:
        return load_plan(path)
    except PlanError as e:
        problems.append(f"plan: {e}")
        return None


def _scenarios(v, shared: dict, problems, ctx: dict) -> tuple[Scenario, ...]:
    if not isinstance(v, list) or not v or not all(isinstance(s, dict) for s in v):
        if v is not None:
            problems.append("scenarios: must be a non-empty array of tables ([[scenarios]])")
        return ()
    out, names = [], []
    for i, s in enumerate(v):
        key = f"scenarios[{i}]"
        name = s.get("name", "")
        if _string(name):
            problems.append(f"{key}.name: {_string(name)}")
        names.append(name)
        model = s.get("model", shared.get("model", "trial"))
        if model not in models.MODELS:
            problems.append(f"{key}.model: unknown model {model!r}; valid: "
                            f"{', '.join(models.MODELS)}")
            continue
        null = s.get("null", False)
        null_ids: tuple[str, ...] = ()
        if isinstance(null, list) and null and all(isinstance(h, str) for h in null):
            null, null_ids = True, tuple(null)
        elif not isinstance(null, bool):
            problems.append(f"{key}.null: must be true, false or a list of hypothesis ids "
                            f"that are null in this scenario; got {null!r}")
        params = {k: val for k, val in shared.items() if k != "model"}
        params.update({k: val for k, val in s.items() if k not in SCENARIO_KEYS})
        source = s.get("from_trial", "")
        if source:
            params = _from_trial(source, model, params, f"{key}.from_trial", problems, ctx)
            if params is None:
                continue
        for msg in models.check_params(model, params):
            problems.append(f"{key}.{msg}")
        out.append(Scenario(name=str(name), model=model, params=params, null=bool(null),
                            null_hypotheses=null_ids, from_trial=str(source)))
    dup = sorted({n for n in names if isinstance(n, str) and names.count(n) > 1})
    if dup:
        problems.append(f"scenarios: duplicate names {', '.join(dup)}; each name must be unique")
    return tuple(out)


def _from_trial(source, model, params, key, problems, ctx) -> dict | None:
    """``params`` completed with the estimates of the trial folder ``source``; None on error."""
    from .from_trial import derive

    if _string(source):
        problems.append(f"{key}: {_string(source)}")
        return None
    path = _inside(source, ctx["folder"], key, problems, ctx["allow_outside"])
    if path is None or ctx["plan"] is None:
        return None
    try:
        derived = derive(model, path, ctx["plan"], params, allow_outside=ctx["allow_outside"])
    except (TrialstatsError, OSError) as e:
        problems.append(f"{key}: {e}")
        return None
    out = {**derived, **params}               # the scenario's own keys win
    if isinstance(out.get("effects"), dict) and isinstance(out.get("arms"), list):
        out["effects"] = {**{a: v for a, v in derived.get("effects", {}).items()
                             if a in out["arms"]}, **params.get("effects", {})}
    return out


def hypothesis_ids(plan: AnalysisPlan, arms: list[str]) -> list[tuple[str, str, str]]:
    """(id, endpoint, arm) of the plan's hypotheses, defaults as :meth:`AnalysisPlan.resolve`."""
    hyps = plan.hypotheses or tuple(
        h for ep in ("primary", "rmst") for h in _default_hyps(ep, arms))
    return [(h.id or f"H{i + 1}", h.endpoint, h.arm) for i, h in enumerate(hyps)]


def _default_hyps(endpoint, arms):
    from ..report.plan import Hypothesis

    return [Hypothesis(endpoint, a) for a in arms[1:]]


def _targets(t, plan, scenarios, problems) -> tuple[dict, float | None]:
    if not isinstance(t, dict):
        problems.append(f"targets: must be a table with keys {', '.join(TARGET_KEYS)}")
        return {}, None
    for key in sorted(set(t) - set(TARGET_KEYS)):
        problems.append(f"targets.{key}: unknown key; valid: {', '.join(TARGET_KEYS)}")
    alpha = plan.alpha if plan is not None else 0.05
    ids = None
    if plan is not None and scenarios:
        ids = {}
        for s in scenarios:
            arms = models.scenario_arms(s.model, s.params)
            own = hypothesis_ids(plan, arms)
            for hid, endpoint, arm in own:
                ids[hid] = (endpoint, arm)
                for msg in models.check_hypothesis(s.model, endpoint, arm, arms):
                    problems.append(f"plan hypothesis {hid} in scenario {s.name!r}: {msg}")
            for hid in s.null_hypotheses:
                if hid not in {h[0] for h in own}:
                    problems.append(f"scenario {s.name!r}: null names unknown hypothesis "
                                    f"{hid!r}; valid: {', '.join(h[0] for h in own)}")
    power = t.get("power", {})
    if not isinstance(power, dict):
        problems.append(f"targets.power: must be a table of hypothesis id = power; got {power!r}")
        power = {}
    for hid, p in power.items():
        if ids is not None and hid not in ids:
            problems.append(f"targets.power.{hid}: unknown hypothesis; valid: "
                            f"{', '.join(ids) or '(none)'}")
        if _probability_open(p):
            problems.append(f"targets.power.{hid}: infeasible target: {_probability_open(p)} "
                            "(power 1.0 needs infinitely many subjects)")
        elif p <= alpha:
            problems.append(f"targets.power.{hid}: {p!r} is not above the plan's alpha "
                            f"{alpha:g}: any test meets it")
    fwer = t.get("fwer")
    if fwer is not None:
        if _probability_open(fwer):
            problems.append(f"targets.fwer: {_probability_open(fwer)}")
        if not any(s.null for s in scenarios):
            problems.append("targets.fwer: needs at least one scenario with null = true")
    if power and not any(not s.null for s in scenarios):
        problems.append("targets.power: needs at least one scenario that is not null")
    return {str(k): float(v) for k, v in power.items() if not _probability_open(v)}, (
        float(fwer) if fwer is not None and not _probability_open(fwer) else None)

