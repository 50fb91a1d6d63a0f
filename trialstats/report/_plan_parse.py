"""Reading ``sap.toml`` into an :class:`~trialstats.report.plan.AnalysisPlan`: every key checked
(type, closed set of options, range, list length), a :class:`~trialstats.report.plan.PlanError`
naming the key and what is valid otherwise. Used by :func:`trialstats.report.plan.load_plan`."""

from __future__ import annotations

import math
import re
from typing import Any

from ..errors import ModelError
from ..formula import parse_formula
from ._plan_estimands import parse_plan_estimands
from ._plan_limits import check_count, check_range
from ._plan_resolve import ORIGINS
from .plan import (
    BETTER,
    CORRELATIONS,
    COVARIANCES,
    DF_METHODS,
    DISTRIBUTIONS,
    FAMILIES,
    HYPOTHESIS_ENDPOINTS,
    METHODS,
    RD_METHODS,
    SENSITIVITIES,
    STRATEGIES,
    TESTS,
    AnalysisPlan,
    DurabilitySpec,
    Endpoint,
    Hypothesis,
    LongTermSpec,
    MMRMSpec,
    PlanError,
    RelapseSpec,
)

_TOP_KEYS = {
    "seed", "level", "sensitivity", "primary", "mmrm", "secondary", "durability", "relapse",
    "longterm", "subgroups", "safety", "multiplicity", "hypotheses", "version", "sections",
    "baseline", "time_to_event", "estimands",
}
#: sections that ``[sections] key = false`` can switch off
SECTION_KEYS = ("disposition", "baseline", "primary", "durability", "relapse", "longterm",
                "subgroups", "safety", "hypotheses", "estimands")


def _parse(data: dict, source: str) -> AnalysisPlan:
    if not isinstance(data, dict):
        raise PlanError(f"an analysis plan must be a table of keys; got {type(data).__name__}")
    _no_unknown(data, _TOP_KEYS, "")
    kw: dict[str, Any] = {"source": source}
    if "version" in data and _get(data, "version", int, "") != 1:
        raise PlanError("version: only version = 1 is known")
    if "seed" in data:
        kw["seed"] = check_range(_get(data, "seed", int, ""), "seed")
    if "level" in data:
        level = _get(data, "level", float, "")
        if not 0.0 < level < 1.0:
            raise PlanError(f"level: must be strictly between 0 and 1 (e.g. 0.95); got {level!r}")
        kw["level"] = check_range(level, "level")
    if "sensitivity" in data:
        kw["sensitivity"] = tuple(
            _choice(v, SENSITIVITIES, f"sensitivity[{i}]")
            for i, v in enumerate(check_count(_get(data, "sensitivity", list, ""), "sensitivity"))
        )
    if "primary" in data:
        kw["primary"] = _endpoint(_table(data, "primary", ""), "primary", need_name=False)
    if "mmrm" in data:
        kw["mmrm"] = _mmrm_spec(_table(data, "mmrm", ""))
    if "secondary" in data:
        kw["secondary"] = _secondary(check_count(_get(data, "secondary", list, ""), "secondary"))
    if "durability" in data:
        kw["durability"] = _durability_spec(_table(data, "durability", ""))
    kw.update(_time_to_event(data))
    if "longterm" in data:
        kw["longterm"] = _longterm_spec(_table(data, "longterm", ""))
    if "subgroups" in data:
        sg = _table(data, "subgroups", "")
        check_count(list(sg), "subgroups")
        kw["subgroups"] = tuple((_subgroup_column(k), _string(v, f"subgroups.{k}"))
                                for k, v in sg.items())
    if "safety" in data:
        s = _table(data, "safety", "")
        _no_unknown(s, {"rd_method", "population"}, "safety.")
        if "population" in s:
            kw["safety_population"] = _subgroup_column(_string(s["population"], "safety.population"))
        if "rd_method" in s:
            kw["rd_method"] = _choice(s["rd_method"], RD_METHODS, "safety.rd_method")
    if "multiplicity" in data:
        mu = _table(data, "multiplicity", "")
        _no_unknown(mu, {"strategy", "alpha"}, "multiplicity.")
        if "strategy" in mu:
            kw["strategy"] = _choice(mu["strategy"], STRATEGIES, "multiplicity.strategy")
        if "alpha" in mu:
            alpha = _get(mu, "alpha", float, "multiplicity.")
            if not 0.0 < alpha < 1.0:
                raise PlanError(f"multiplicity.alpha: must be strictly between 0 and 1; got {alpha!r}")
            kw["alpha"] = check_range(alpha, "multiplicity.alpha")
    if "sections" in data:
        sw = _table(data, "sections", "")
        _no_unknown(sw, set(SECTION_KEYS), "sections.")
        for k, v in sw.items():
            if not isinstance(v, bool):
                raise PlanError(f"sections.{k}: must be true or false; got {v!r}")
        kw["disabled"] = tuple(k for k in SECTION_KEYS if sw.get(k) is False)
    if "baseline" in data:
        b = _table(data, "baseline", "")
        _no_unknown(b, {"variables"}, "baseline.")
        v = b.get("variables", {})
        if isinstance(v, list):
            v = {str(k): str(k) for k in v}
        if not isinstance(v, dict):
            raise PlanError(f"baseline.variables: must be a list of ADSL columns or a table "
                            f"COLUMN = \"label\"; got {v!r}")
        check_count(list(v), "baseline.variables")
        kw["baseline"] = tuple((_subgroup_column(k), _string(lab, f"baseline.variables.{k}"))
                               for k, lab in v.items())
    if "estimands" in data:
        kw["estimands"] = parse_plan_estimands(data["estimands"])
    if "hypotheses" in data:
        hs = []
        for i, h in enumerate(check_count(_get(data, "hypotheses", list, ""), "hypotheses")):
            hs.append(_hypothesis(h, i))
        kw["hypotheses"] = tuple(hs)
    return AnalysisPlan(**kw)


def _secondary(items: list) -> tuple[Endpoint, ...]:
    """``[[secondary]]``: endpoints with unique names."""
    sec = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise PlanError(f"secondary[{i}]: must be a table (use [[secondary]]); got {item!r}")
        sec.append(_endpoint(item, f"secondary[{i}]", need_name=True))
    names = [s.name for s in sec]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise PlanError(f"secondary: duplicate names {', '.join(dup)}; each name must be unique")
    return tuple(sec)


def _durability_spec(d: dict) -> DurabilitySpec:
    """``[durability]``: PARAMCD, count family and working correlation."""
    _no_unknown(d, {"paramcd", "family", "correlation"}, "durability.")
    dk: dict[str, Any] = {}
    if "paramcd" in d:
        dk["paramcd"] = _get(d, "paramcd", str, "durability.")
    if "family" in d:
        dk["family"] = _choice(d["family"], FAMILIES, "durability.family")
    if "correlation" in d:
        dk["correlation"] = _choice(d["correlation"], CORRELATIONS, "durability.correlation")
    return DurabilitySpec(**dk)


def _longterm_spec(lt: dict) -> LongTermSpec:
    """``[longterm]``: extrapolation horizon and distributions."""
    _no_unknown(lt, {"horizon_years", "distributions"}, "longterm.")
    lk: dict[str, Any] = {}
    if "horizon_years" in lt:
        lk["horizon_years"] = check_range(_positive(_get(lt, "horizon_years", float, "longterm."), "longterm.horizon_years"),
                                          "longterm.horizon_years")
    if "distributions" in lt:
        ds = check_count(_get(lt, "distributions", list, "longterm."), "longterm.distributions")
        if not ds:
            raise PlanError("longterm.distributions: must name at least one distribution")
        lk["distributions"] = tuple(
            _choice(v, DISTRIBUTIONS, f"longterm.distributions[{i}]") for i, v in enumerate(ds)
        )
    return LongTermSpec(**lk)


def _mmrm_spec(m: dict) -> MMRMSpec:
    """``[mmrm]``: formula (checked), covariance order, df and estimation method."""
    _no_unknown(m, {"formula", "covariance", "df", "method"}, "mmrm.")
    mk: dict[str, Any] = {}
    if "formula" in m:
        formula = _get(m, "formula", str, "mmrm.")
        if "~" not in formula:
            raise PlanError(f"mmrm.formula: a formula needs '~' (e.g. 'CHG ~ ARM * AVISIT + BASE'); got {formula!r}")
        mk["formula"] = _safe_formula(formula, "mmrm.formula")
    if "covariance" in m:
        cov = m["covariance"]
        covs = [cov] if isinstance(cov, str) else cov
        if not isinstance(covs, list) or not covs:
            raise PlanError(
                f"mmrm.covariance: must be a string or a non-empty list of strings; got {cov!r}"
            )
        check_count(covs, "mmrm.covariance")
        mk["covariance"] = tuple(
            _choice(c, COVARIANCES, f"mmrm.covariance[{i}]" if isinstance(cov, list) else "mmrm.covariance")
            for i, c in enumerate(covs)
        )
    if "df" in m:
        mk["df"] = _choice(m["df"], DF_METHODS, "mmrm.df")
    if "method" in m:
        mk["method"] = _choice(m["method"], METHODS, "mmrm.method")
    return MMRMSpec(**mk)


def _time_to_event(data: dict) -> dict:
    """``[time_to_event]`` (or its older name ``[relapse]``): the RelapseSpec and the further
    endpoints of ``more``, as AnalysisPlan keywords."""
    kw: dict[str, Any] = {}
    if "relapse" in data and "time_to_event" in data:
        raise PlanError("relapse, time_to_event: give one of the two tables (they are the same "
                        "table; [relapse] is its older name)")
    tte = "time_to_event" if "time_to_event" in data else "relapse"
    if tte in data:
        r = _table(data, tte, "")
        _no_unknown(r, {"paramcd", "tau", "landmarks", "strata", "origin", "event", "more"}, tte + ".")
        rk: dict[str, Any] = {}
        if "origin" in r:
            rk["origin"] = _choice(r["origin"], ORIGINS, "relapse.origin")
        if "event" in r:
            rk["event"] = _string(r["event"], "relapse.event")[:80]
        if "paramcd" in r:
            rk["paramcd"] = _get(r, "paramcd", str, "relapse.")
        if "tau" in r:
            rk["tau"] = check_range(_positive(_get(r, "tau", float, "relapse."), "relapse.tau"), "relapse.tau")
        if "landmarks" in r:
            lm = check_count(_get(r, "landmarks", list, "relapse."), "relapse.landmarks")
            rk["landmarks"] = tuple(
                check_range(_positive(_number(v, f"relapse.landmarks[{i}]"), f"relapse.landmarks[{i}]"),
                            "relapse.landmarks", f"relapse.landmarks[{i}]")
                for i, v in enumerate(lm)
            )
        if "strata" in r:
            rk["strata"] = tuple(
                _string(v, f"relapse.strata[{i}]")
                for i, v in enumerate(check_count(_get(r, "strata", list, "relapse."), "relapse.strata"))
            )
        kw["relapse"] = RelapseSpec(**rk)
        if "more" in r:  # further ADTTE parameters, each analysed the same way
            more = check_count(_get(r, "more", list, tte + "."), "relapse.strata")
            kw["more_events"] = tuple(RelapseSpec(paramcd=_string(v, f"{tte}.more[{i}]"))
                                      for i, v in enumerate(more))
    return kw


def _hypothesis(h, i: int) -> Hypothesis:
    """One ``[[hypotheses]]`` entry (the ``i``-th)."""
    key = f"hypotheses[{i}]"
    if not isinstance(h, dict):
        raise PlanError(f"{key}: must be a table (use [[hypotheses]]); got {h!r}")
    _no_unknown(h, {"id", "endpoint", "arm", "reference", "test", "margin", "better"}, key + ".")
    for req in ("endpoint", "arm"):
        if req not in h:
            raise PlanError(f"{key}.{req}: required")
    endpoint = _string(h["endpoint"], f"{key}.endpoint")
    if endpoint not in HYPOTHESIS_ENDPOINTS and not endpoint.startswith("secondary:"):
        raise PlanError(
            f"{key}.endpoint: unknown endpoint {endpoint!r}; valid: "
            f"{', '.join(HYPOTHESIS_ENDPOINTS)}, secondary:<name>"
        )
    test = _choice(h.get("test", "superiority"), TESTS, f"{key}.test")
    margin = None
    if "margin" in h:
        margin = check_range(_number(h["margin"], f"{key}.margin"), "hypotheses.margin",
                             f"{key}.margin")
    if test == "non-inferiority" and margin is None:
        raise PlanError(f"{key}.margin: required for a non-inferiority test (the estimate's "
                        "value at the margin, e.g. -5 for a difference, 1.3 for a hazard ratio)")
    return Hypothesis(
        endpoint=endpoint,
        arm=_string(h["arm"], f"{key}.arm"),
        id=_string(h.get("id", ""), f"{key}.id"),
        reference=_string(h.get("reference", ""), f"{key}.reference"),
        test=test, margin=margin,
        better=_choice(h["better"], BETTER, f"{key}.better") if "better" in h else "",
    )


def _no_unknown(d: dict, known: set, prefix: str) -> None:
    unknown = sorted(set(d) - known)
    if unknown:
        raise PlanError(
            f"unknown key {', '.join(prefix + k for k in unknown)} in the analysis plan; "
            f"valid keys{' of ' + prefix.rstrip('.') if prefix else ''}: {', '.join(sorted(known))}"
        )


_TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", list: "a list", dict: "a table"}


def _get(d: dict, key: str, typ: type, prefix: str):
    v = d[key]
    name = prefix + key
    if typ is float:
        return _number(v, name)
    if typ is int and (isinstance(v, bool) or not isinstance(v, int)):
        raise PlanError(f"{name}: must be {_TYPE_NAMES[typ]}; got {v!r} ({type(v).__name__})")
    if not isinstance(v, typ):
        raise PlanError(f"{name}: must be {_TYPE_NAMES[typ]}; got {v!r} ({type(v).__name__})")
    return v


def _table(d: dict, key: str, prefix: str) -> dict:
    return _get(d, key, dict, prefix)


def _number(v, name: str) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise PlanError(f"{name}: must be a number; got {v!r} ({type(v).__name__})")
    return float(v)


def _positive(v: float, name: str) -> float:
    if v <= 0:
        raise PlanError(f"{name}: must be positive; got {v!r}")
    return v


def _safe_formula(formula: str, key: str) -> str:
    """The formula as given, once it passed the whitelist of :mod:`trialstats.formula`."""
    try:
        parse_formula(formula, where=key, sides="two")
    except ModelError as e:
        raise PlanError(str(e)) from None
    return formula


def _subgroup_column(key) -> str:
    """A ``[subgroups]`` key: a column name that a formula can quote (it becomes a model term)."""
    key = str(key)
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,63}", key) or "__" in key:
        raise PlanError(
            f"subgroups: key {key[:80]!r} is not a column name; subgroup keys are ADaM variable "
            "names (a letter, then letters, digits or single underscores), e.g. SEX = \"Sex\""
        )
    return key


def _string(v, name: str) -> str:
    if not isinstance(v, str):
        raise PlanError(f"{name}: must be a string; got {v!r} ({type(v).__name__})")
    return v


def _choice(v, valid: tuple[str, ...], name: str) -> str:
    s = _string(v, name)
    if s not in valid:
        what = name.split(".")[-1].split("[")[0]
        raise PlanError(f"{name}: unknown {what} {s!r}; valid: {', '.join(valid)}")
    return s


def _endpoint(d: dict, key: str, need_name: bool) -> Endpoint:
    if not isinstance(d, dict):
        raise PlanError(f"{key}: must be a table; got {d!r}")
    _no_unknown(d, {"paramcd", "visit", "name", "flag", "population"}, key + ".")
    for req in ("paramcd", "visit") + (("name",) if need_name else ()):
        if req not in d:
            raise PlanError(f"{key}.{req}: required")
    flag = _string(d.get("flag", "ANL01FL"), f"{key}.flag")
    if not re.fullmatch(r"ANL\d\dFL", flag):
        raise PlanError(f"{key}.flag: {flag!r} is not an ADaM analysis flag; valid: ANL01FL .. ANL99FL")
    pop = _string(d.get("population", ""), f"{key}.population")
    if pop:
        _subgroup_column(pop)
    return Endpoint(
        paramcd=_string(d["paramcd"], f"{key}.paramcd"),
        visit=_string(d["visit"], f"{key}.visit"),
        name=_string(d.get("name", ""), f"{key}.name"),
        flag=flag, population=pop,
    )
