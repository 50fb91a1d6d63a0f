"""Estimands as data (ICH E9(R1)): the five attributes, and how each intercurrent event is found.

An :class:`Estimand` names its population (an ADSL flag), its variable (an ADEFF PARAMCD at a
visit), its intercurrent events (:class:`IntercurrentEvent`: how each is derived from the data
and the strategy that handles it) and its population-level summary. It is plain, frozen data:
``sap.toml``'s ``[[estimands]]`` tables are read by :func:`parse_estimands`, which checks every
key and collects every problem (``"estimands[0].events[1].strategy: unknown strategy ..."``)
before anything runs; :func:`trialstats.intercurrent_events` derives the events per subject and
:func:`trialstats.analyse_estimand` maps each strategy to its analysis.

Strategies (ICH E9(R1) section A.3.2) and the analysis each maps to:

* ``treatment policy``: the outcome whether or not the event occurred; every observed value is
  used (MMRM under MAR). When the plan says the off-treatment data are missing
  (``off_treatment = "missing"``), the missing values after the event are imputed by
  ``imputation`` (JR, CR or CIR, :func:`trialstats.rbmi`).
* ``hypothetical``: the outcome had the event not occurred; values from the event on are set
  missing and modelled under MAR (the MMRM; the reference-based sensitivity analyses impute them).
* ``composite``: the event is an unfavourable outcome: from the event on, the value is
  ``value`` (a number) or the rule ``"worst"`` (the least favourable observed value at that visit).
* ``while on treatment``: the outcome up to the event: values from the event on are replaced by
  the subject's last value observed before it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

__all__ = ["Estimand", "IntercurrentEvent", "STRATEGIES", "SUMMARIES", "SENSITIVITY_METHODS",
           "ICE_TABLES", "ROLES", "parse_estimands", "LIMITS"]

STRATEGIES = ("treatment policy", "hypothetical", "composite", "while on treatment")
SUMMARIES = ("difference in means",)
#: reference-based (and MAR / LMCF) imputation methods of :func:`trialstats.rbmi` a plan may list
SENSITIVITY_METHODS = ("MAR", "JR", "CR", "CIR", "LMCF")
ICE_TABLES = ("adsl", "adeff")
ROLES = ("primary", "supplementary")
COMPOSITE_RULES = ("worst",)
BETTER = ("higher", "lower")

#: Limits on what a plan may ask (each estimand is several imputation runs): list lengths and
#: numeric ranges, as :mod:`trialstats.report._plan_limits`.
LIMITS = {
    "estimands": 10,
    "events": 10,
    "values": 50,
    "sensitivity": 5,
    "deltas": 101,
    "delta_range": 1e6,
    "value_range": 1e9,
}

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")


@dataclass(frozen=True)
class IntercurrentEvent:
    """One intercurrent event: how it is found in the data, and its strategy.

    Attributes
    ----------
    name : str
        What the event is ("treatment discontinuation", "rescue medication").
    strategy : str
        One of :data:`STRATEGIES`.
    table : {"adsl", "adeff"}
        Where the flag is: a subject-level ADSL column (with an optional ``day`` column), or a
        record-level ADEFF column (the event is at the first visit whose record has the flag).
    flag : str
        The column (``EOSSTT``, ``COMPLFL``, ``ONTRTFL``, ``RESCUEFL``).
    values : tuple of str
        Values of ``flag`` that mean the event occurred (ADSL; default ``("Y",)``); for ADEFF,
        the values that mean the record is *affected* (an on-treatment flag such as ONTRTFL
        takes ``values = [""]`` or ``["N"]``: records not on treatment).
    day : str
        ADSL column with the study day of the event (``TRTDURD``: the last dose day); the
        first affected visit is the first visit after it. "" = the visit after the subject's
        last observed value.
    off_treatment : {"observed", "missing"}
        Treatment policy only: whether values after the event were collected ("observed": use
        them, MAR for the rest) or are missing by design ("missing": impute by ``imputation``).
    imputation : str
        Treatment policy with missing off-treatment data: JR, CR or CIR (default JR).
    value : float or None
        Composite: the value given from the event on.
    rule : str
        Composite: ``"worst"`` = the least favourable observed value at that visit.
    """

    name: str
    strategy: str
    table: str = "adsl"
    flag: str = ""
    values: tuple[str, ...] = ("Y",)
    day: str = ""
    off_treatment: str = "observed"
    imputation: str = "JR"
    value: float | None = None
    rule: str = ""


@dataclass(frozen=True)
class Estimand:
    """An estimand with the five attributes of ICH E9(R1), as data.

    Attributes
    ----------
    id : str
        Short name ("E1").
    name : str
        The question in words.
    role : {"primary", "supplementary"}
    population : str
        ADSL population flag (ITTFL, FASFL, ...); "" = every randomised subject.
    paramcd, visit : str
        The variable: ADEFF PARAMCD, change from baseline at ``visit``.
    events : tuple of IntercurrentEvent
    summary : str
        Population-level summary (:data:`SUMMARIES`): difference in means of each arm vs the
        trial's reference at ``visit``.
    sensitivity : tuple of str
        Imputation methods (:data:`SENSITIVITY_METHODS`) of the missing values after the events,
        by conditional mean imputation with jackknife (:func:`trialstats.rbmi`).
    tipping_arm : str
        Arm whose imputed values are shifted in the tipping-point analysis ("" = none).
    tipping_deltas : tuple of float
    better : {"higher", "lower"}
        Which direction is favourable (the composite ``"worst"`` rule uses it).
    formula : str
        Imputation model; "" = the plan's MMRM formula.
    """

    id: str
    name: str
    paramcd: str
    visit: str
    events: tuple[IntercurrentEvent, ...] = ()
    role: str = "primary"
    population: str = ""
    summary: str = "difference in means"
    sensitivity: tuple[str, ...] = ()
    tipping_arm: str = ""
    tipping_deltas: tuple[float, ...] = ()
    better: str = "higher"
    formula: str = ""

    def to_dict(self) -> dict:
        """The estimand in sap.toml's layout (round-trips through :func:`parse_estimands`)."""
        d: dict = {"id": self.id, "name": self.name, "role": self.role}
        if self.population:
            d["population"] = self.population
        d.update(paramcd=self.paramcd, visit=self.visit, summary=self.summary)
        if self.better != "higher":
            d["better"] = self.better
        if self.formula:
            d["formula"] = self.formula
        if self.sensitivity:
            d["sensitivity"] = list(self.sensitivity)
        if self.tipping_arm:
            d["tipping_point"] = {"arm": self.tipping_arm, "deltas": list(self.tipping_deltas)}
        d["events"] = [_event_dict(e) for e in self.events]
        return d


def _event_dict(e: IntercurrentEvent) -> dict:
    d: dict = {"name": e.name, "strategy": e.strategy, "table": e.table, "flag": e.flag,
               "values": list(e.values)}
    if e.day:
        d["day"] = e.day
    if e.strategy == "treatment policy":
        d["off_treatment"] = e.off_treatment
        if e.off_treatment == "missing":
            d["imputation"] = e.imputation
    if e.strategy == "composite":
        if e.value is not None:
            d["value"] = e.value
        if e.rule:
            d["rule"] = e.rule
    return d


# ----------------------------------------------------------------------------------------------
# reading sap.toml's [[estimands]]: every problem collected
# ----------------------------------------------------------------------------------------------
class _Problems(list):
    def add(self, key: str, text: str) -> None:
        self.append(f"{key}: {text}")


def _text(d: dict, key: str, where: str, problems: _Problems, default=None, limit: int = 200):
    if key not in d:
        if default is None:
            problems.add(f"{where}.{key}", "required")
        return default if default is not None else ""
    v = d[key]
    if not isinstance(v, str):
        problems.add(f"{where}.{key}", f"must be a string; got {v!r} ({type(v).__name__})")
        return ""
    if len(v) > limit:
        problems.add(f"{where}.{key}", f"at most {limit} characters; got {len(v)}")
        return v[:limit]
    return v


def _choice(d: dict, key: str, valid: tuple, where: str, problems: _Problems, default: str):
    v = _text(d, key, where, problems, default=default)
    if key in d and isinstance(d[key], str) and v not in valid:
        problems.add(f"{where}.{key}", f"unknown {key} {v!r}; valid: {', '.join(valid)}")
        return default
    return v


def _column(d: dict, key: str, where: str, problems: _Problems, required: bool) -> str:
    v = _text(d, key, where, problems, default=None if required else "", limit=64)
    if v and (not _NAME.fullmatch(v) or "__" in v):
        problems.add(f"{where}.{key}", f"{v[:80]!r} is not an ADaM column name (a letter, then "
                                        "letters, digits or single underscores)")
        return ""
    return v


def _unknown(d: dict, known: set, where: str, problems: _Problems) -> None:
    extra = sorted(set(d) - known)
    if extra:
        problems.add(where, f"unknown key {', '.join(map(str, extra))}; valid keys: "
                            f"{', '.join(sorted(known))}")


def _number(v, key: str, bound: float, problems: _Problems):
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        problems.add(key, f"must be a number; got {v!r} ({type(v).__name__})")
        return None
    if abs(v) > bound:
        problems.add(key, f"{v!r} is outside the allowed range [-{bound:g}, {bound:g}]")
        return None
    return float(v)


def _list(d: dict, key: str, where: str, problems: _Problems, limit: int) -> list:
    v = d.get(key, [])
    if not isinstance(v, list):
        problems.add(f"{where}.{key}", f"must be a list; got {v!r} ({type(v).__name__})")
        return []
    if len(v) > limit:
        problems.add(f"{where}.{key}", f"{len(v)} entries; at most {limit} are allowed")
        return v[:limit]
    return v


_EVENT_KEYS = {"name", "strategy", "table", "flag", "values", "day", "off_treatment",
               "imputation", "value", "rule"}
_ESTIMAND_KEYS = {"id", "name", "role", "population", "paramcd", "visit", "summary", "events",
                  "sensitivity", "tipping_point", "better", "formula"}


def _event(d, where: str, problems: _Problems) -> IntercurrentEvent | None:
    if not isinstance(d, dict):
        problems.add(where, f"must be a table (use [[estimands.events]]); got {d!r}")
        return None
    _unknown(d, _EVENT_KEYS, where, problems)
    strategy = _choice(d, "strategy", STRATEGIES, where, problems, default="")
    if "strategy" not in d:
        problems.add(f"{where}.strategy", f"required; valid: {', '.join(STRATEGIES)}")
    table = _choice(d, "table", ICE_TABLES, where, problems, default="adsl")
    flag = _column(d, "flag", where, problems, required=True)
    values = []
    for i, v in enumerate(_list(d, "values", where, problems, LIMITS["values"])):
        if not isinstance(v, str) or len(v) > 80:
            problems.add(f"{where}.values[{i}]", f"must be a string of at most 80 characters; "
                                                 f"got {v!r}")
        else:
            values.append(v)
    if "values" in d and not values and isinstance(d["values"], list) and not d["values"]:
        problems.add(f"{where}.values", "must list at least one value")
    day = _column(d, "day", where, problems, required=False)
    if day and table != "adsl":
        problems.add(f"{where}.day", "only for table = \"adsl\" (an ADEFF flag is per visit)")
    off = _choice(d, "off_treatment", ("observed", "missing"), where, problems, "observed")
    imputation = _choice(d, "imputation", ("JR", "CR", "CIR"), where, problems, "JR")
    for key, only in (("off_treatment", "treatment policy"), ("imputation", "treatment policy"),
                      ("value", "composite"), ("rule", "composite")):
        if key in d and strategy and strategy != only:
            problems.add(f"{where}.{key}", f"applies to strategy {only!r} only (this event's "
                                           f"strategy is {strategy!r})")
    if "imputation" in d and off != "missing":
        problems.add(f"{where}.imputation", "needs off_treatment = \"missing\" (observed "
                                            "off-treatment values are used as they are)")
    value = None
    if "value" in d:
        value = _number(d["value"], f"{where}.value", LIMITS["value_range"], problems)
    rule = _choice(d, "rule", COMPOSITE_RULES, where, problems, "") if "rule" in d else ""
    if strategy == "composite" and ("value" in d) == ("rule" in d):
        problems.add(where, "a composite strategy needs exactly one of value (a number: the "
                            "outcome given from the event on) or rule = \"worst\"")
    return IntercurrentEvent(
        name=_text(d, "name", where, problems, limit=80), strategy=strategy, table=table,
        flag=flag, values=tuple(values) if values else ("Y",), day=day, off_treatment=off,
        imputation=imputation, value=value, rule=rule)


def _tipping(d: dict, where: str, problems: _Problems) -> tuple[str, tuple]:
    tp = d.get("tipping_point")
    if tp is None:
        return "", ()
    key = f"{where}.tipping_point"
    if not isinstance(tp, dict):
        problems.add(key, f"must be a table {{ arm = \"...\", deltas = [...] }}; got {tp!r}")
        return "", ()
    _unknown(tp, {"arm", "deltas"}, key, problems)
    arm = _text(tp, "arm", key, problems, limit=80)
    raw = _list(tp, "deltas", key, problems, LIMITS["deltas"])
    deltas = [_number(v, f"{key}.deltas[{i}]", LIMITS["delta_range"], problems)
              for i, v in enumerate(raw)]
    deltas = [x for x in deltas if x is not None]
    if len(set(deltas)) < 2 and len(deltas) == len(raw):
        problems.add(f"{key}.deltas", "needs at least two different numbers")
    return arm, tuple(deltas)


def _estimand(d, where: str, problems: _Problems) -> Estimand | None:
    if not isinstance(d, dict):
        problems.add(where, f"must be a table (use [[estimands]]); got {d!r}")
        return None
    _unknown(d, _ESTIMAND_KEYS, where, problems)
    events = [_event(e, f"{where}.events[{i}]", problems)
              for i, e in enumerate(_list(d, "events", where, problems, LIMITS["events"]))]
    if "events" not in d:
        problems.add(f"{where}.events", "required: at least one intercurrent event "
                                        "([[estimands.events]])")
    sens = []
    for i, s in enumerate(_list(d, "sensitivity", where, problems, LIMITS["sensitivity"])):
        if s not in SENSITIVITY_METHODS:
            problems.add(f"{where}.sensitivity[{i}]", f"unknown method {s!r}; valid: "
                                                      f"{', '.join(SENSITIVITY_METHODS)}")
        else:
            sens.append(s)
    formula = _text(d, "formula", where, problems, default="", limit=500)
    if formula:
        from ..errors import ModelError
        from ..formula import parse_formula

        try:
            parse_formula(formula, where=f"{where}.formula", sides="two")
        except ModelError as e:
            problems.append(str(e))
            formula = ""
    arm, deltas = _tipping(d, where, problems)
    return Estimand(
        id=_text(d, "id", where, problems, limit=40), name=_text(d, "name", where, problems),
        role=_choice(d, "role", ROLES, where, problems, "primary"),
        population=_column(d, "population", where, problems, required=False),
        paramcd=_text(d, "paramcd", where, problems, limit=80),
        visit=_text(d, "visit", where, problems, limit=80),
        summary=_choice(d, "summary", SUMMARIES, where, problems, SUMMARIES[0]),
        events=tuple(e for e in events if e is not None), sensitivity=tuple(sens),
        tipping_arm=arm, tipping_deltas=deltas,
        better=_choice(d, "better", BETTER, where, problems, "higher"), formula=formula)


def parse_estimands(items, where: str = "estimands") -> tuple[tuple[Estimand, ...], list[str]]:
    """Read sap.toml's ``[[estimands]]`` array: every key checked, every problem collected.

    Parameters
    ----------
    items : list of dict
        The parsed TOML array of tables.
    where : str
        Key prefix of the messages.

    Returns
    -------
    (estimands, problems) : tuple of Estimand, list of str
        ``problems`` holds one line per problem (``"estimands[0].events[1].strategy: unknown
        strategy 'hypothetic'; valid: ..."``); the estimands are only meaningful when it is
        empty.
    """
    problems = _Problems()
    if not isinstance(items, list):
        problems.add(where, f"must be an array of tables ([[estimands]]); got {items!r}")
        return (), problems
    if len(items) > LIMITS["estimands"]:
        problems.add(where, f"{len(items)} estimands; at most {LIMITS['estimands']} are allowed")
        items = items[:LIMITS["estimands"]]
    out = [_estimand(d, f"{where}[{i}]", problems) for i, d in enumerate(items)]
    out = [e for e in out if e is not None]
    ids = [e.id for e in out if e.id]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        problems.add(where, f"duplicate ids {', '.join(dup)}; each estimand id must be unique")
    return tuple(out), list(problems)
