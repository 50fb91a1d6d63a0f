"""The statistical analysis plan as data: ``sap.toml`` → :class:`AnalysisPlan`.

A trial folder may hold a ``sap.toml`` that declares what the report executes. Every key is
optional; what is absent takes the documented default (the primary and relapse endpoints default
to those of ``trial.toml``). The report prints the plan it executed (:meth:`AnalysisPlan.to_toml`).

Example ``sap.toml``::

    seed = 301
    level = 0.95
    sensitivity = ["kenward-roger", "completers", "interval-censored"]

    [primary]
    paramcd = "TAHC"
    visit = "WEEK 24"

    [mmrm]
    formula = "CHG ~ ARM * AVISIT + BASE"
    covariance = ["us", "toeph", "ar1h", "cs"]   # tried in order until one converges
    df = "satterthwaite"
    method = "reml"

    [[secondary]]
    name = "TAHC week 12"
    paramcd = "TAHC"
    visit = "WEEK 12"

    [durability]
    paramcd = "TAHC"
    family = "poisson"
    correlation = "exchangeable"

    [relapse]
    paramcd = "RELAPSE"
    tau = 364                  # days, for the RMST
    landmarks = [91, 182, 364] # days
    strata = ["STAGEGR"]

    [longterm]
    horizon_years = 5
    distributions = ["exponential", "weibull", "lognormal", "loglogistic", "gompertz"]

    [subgroups]                # column = label, in display order
    SEX = "Sex"
    AGEGR1 = "Age band"
    STAGEGR = "Baseline stage"

    [safety]
    rd_method = "newcombe"     # or "wald"

    [multiplicity]
    strategy = "fixed-sequence" # or "holm"
    alpha = 0.05

    [[hypotheses]]             # in testing order
    endpoint = "primary"       # primary | secondary:<name> | rmst | cox
    arm = "EXOSOME"

A bad plan (unknown key, wrong type, unknown option, a number outside its range, a list too
long: see :mod:`trialstats.report._plan_limits`) raises :class:`PlanError` naming the key and
what is allowed. The file must be UTF-8 (a byte-order mark is accepted).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .._toml import TomlReadError, dump_toml_document, read_toml
from ..errors import ModelError, TrialstatsError
from ..formula import parse_formula
from ._plan_limits import check_columns, check_count, check_range, check_tau, follow_up_days

__all__ = [
    "AnalysisPlan",
    "COVARIANCES",
    "DF_METHODS",
    "DurabilitySpec",
    "Endpoint",
    "Hypothesis",
    "LongTermSpec",
    "MMRMSpec",
    "PlanError",
    "RelapseSpec",
    "SENSITIVITIES",
    "load_plan",
    "plan_for_trial",
]

COVARIANCES = ("us", "toep", "toeph", "ar1", "ar1h", "cs", "csh", "ad", "adh")
DF_METHODS = ("satterthwaite", "kenward-roger", "kenward-roger-linear", "residual", "between-within")
METHODS = ("reml", "ml")
STRATEGIES = ("fixed-sequence", "holm")
RD_METHODS = ("newcombe", "wald")
SENSITIVITIES = ("kenward-roger", "completers", "interval-censored")
FAMILIES = ("poisson", "negative-binomial")
CORRELATIONS = ("exchangeable", "independence", "ar1")
DISTRIBUTIONS = ("exponential", "weibull", "lognormal", "loglogistic", "gompertz", "gengamma")
HYPOTHESIS_ENDPOINTS = ("primary", "rmst", "cox")


class PlanError(TrialstatsError, ValueError):
    """An analysis plan that cannot be executed: names the key, what was found, what is valid."""


@dataclass(frozen=True)
class Endpoint:
    """An endpoint at one visit: a PARAMCD of ADEFF analysed at ``visit``."""

    paramcd: str = "TAHC"
    visit: str = "WEEK 24"
    name: str = ""

    @property
    def label(self) -> str:
        return self.name or f"{self.paramcd} at {self.visit}"


@dataclass(frozen=True)
class MMRMSpec:
    """MMRM specification; ``covariance`` is the fallback order tried until a fit converges."""

    formula: str = "CHG ~ ARM * AVISIT + BASE"
    covariance: tuple[str, ...] = ("us", "toeph", "ar1h", "cs")
    df: str = "satterthwaite"
    method: str = "reml"


@dataclass(frozen=True)
class DurabilitySpec:
    """Off-treatment durability: random-slope model and count model of the hair count."""

    paramcd: str = "TAHC"
    family: str = "poisson"
    correlation: str = "exchangeable"


@dataclass(frozen=True)
class RelapseSpec:
    """Time to relapse: ADTTE parameter, RMST horizon and landmark times (days), log-rank strata.

    ``tau=None`` (default) is resolved against the trial to the last day at which every arm still
    has follow-up (the minimum over arms of the largest follow-up time, rounded down), so the
    restricted mean is estimable in every arm.
    """

    paramcd: str = "RELAPSE"
    tau: float | None = None
    landmarks: tuple[float, ...] = (91.0, 182.0, 364.0)
    strata: tuple[str, ...] = ("STAGEGR",)


@dataclass(frozen=True)
class LongTermSpec:
    """Parametric extrapolation of relapse-free survival."""

    horizon_years: float = 5.0
    distributions: tuple[str, ...] = ("exponential", "weibull", "lognormal", "loglogistic", "gompertz")


@dataclass(frozen=True)
class Hypothesis:
    """One hypothesis of the testing sequence: an endpoint and the arm compared with the reference."""

    endpoint: str
    arm: str
    id: str = ""


_DEFAULT_SUBGROUPS = (("SEX", "Sex"), ("AGEGR1", "Age band"), ("STAGEGR", "Baseline stage"))


@dataclass(frozen=True)
class AnalysisPlan:
    """What the report executes. Frozen; every builder returns a copy.

    Attributes
    ----------
    primary : Endpoint or None
        Primary endpoint and visit; ``None`` = from trial.toml (default TAHC at WEEK 24).
    mmrm : MMRMSpec
        Formula, covariance fallback order (default us → toeph → ar1h → cs), df method
        (default Satterthwaite) and estimation method (REML).
    secondary : tuple of Endpoint
        Secondary endpoints, each analysed with the primary MMRM specification.
    durability, relapse, longterm : specs of sections 6, 7 and 8.
    subgroups : tuple of (column, label)
        Subgroup factors of the forest plot (default sex, age band, baseline stage).
    strategy : {"fixed-sequence", "holm"}
        Multiplicity strategy over ``hypotheses`` at two-sided ``alpha``.
    hypotheses : tuple of Hypothesis
        In testing order; empty = primary for every non-reference arm, then RMST likewise.
    sensitivity : tuple of str
        Sensitivity analyses: ``kenward-roger`` (df method of the primary MMRM), ``completers``
        (primary MMRM on completers), ``interval-censored`` (Turnbull / Weibull for relapse).
    rd_method : {"newcombe", "wald"}
        Interval of the risk differences of adverse events.
    level : float
        Confidence level of every interval.
    seed : int
        Seed passed to anything random (recorded in the appendix).
    source : str
        Where the plan came from (``"defaults"`` or the sap.toml file name).
    """

    primary: Endpoint | None = None
    mmrm: MMRMSpec = field(default_factory=MMRMSpec)
    secondary: tuple[Endpoint, ...] = ()
    durability: DurabilitySpec = field(default_factory=DurabilitySpec)
    relapse: RelapseSpec | None = None
    longterm: LongTermSpec = field(default_factory=LongTermSpec)
    subgroups: tuple[tuple[str, str], ...] = _DEFAULT_SUBGROUPS
    strategy: str = "fixed-sequence"
    alpha: float = 0.05
    hypotheses: tuple[Hypothesis, ...] = ()
    sensitivity: tuple[str, ...] = ("kenward-roger", "completers", "interval-censored")
    rd_method: str = "newcombe"
    level: float = 0.95
    seed: int = 20240601
    source: str = "defaults"

    # -- resolution against a trial ------------------------------------------------------------
    def resolve(self, trial) -> AnalysisPlan:
        """Fill trial-dependent defaults and check arms; the result is the plan executed.

        Raises
        ------
        PlanError
            A hypothesis names an arm that is not a non-reference arm of the trial, or a
            secondary endpoint that the plan does not declare; ``relapse.tau`` is beyond
            follow-up; a ``[relapse] strata`` or ``[subgroups]`` column the plan names is not
            in the data (default strata / subgroups the data lacks are dropped instead).
        """
        meta = trial.meta
        endpoints = dict(getattr(meta, "endpoints", {}) or {})
        primary = self.primary
        if primary is None:
            p = endpoints.get("primary") or {}
            primary = Endpoint(paramcd=str(p.get("paramcd", "TAHC")), visit=str(p.get("visit", "WEEK 24")))
        relapse = self.relapse
        if relapse is None:
            r = endpoints.get("relapse") or {}
            relapse = RelapseSpec(paramcd=str(r.get("paramcd", "RELAPSE")))
        follow_up = follow_up_days(trial, relapse.paramcd)
        if relapse.tau is None:
            relapse = replace(relapse, tau=follow_up)
        check_tau(relapse.tau, follow_up)
        strata, subgroups = check_columns(
            trial, relapse.strata, self.subgroups,
            strata_given=relapse.strata != RelapseSpec().strata,
            subgroups_given=self.subgroups != _DEFAULT_SUBGROUPS)
        relapse = replace(relapse, strata=strata)
        arms = list(trial.arms)
        reference = meta.reference
        others = [a for a in arms if a != reference]
        hyps = self.hypotheses
        if not hyps:
            hyps = tuple(Hypothesis("primary", a) for a in others) + tuple(
                Hypothesis("rmst", a) for a in others
            )
        names = {s.name or s.label for s in self.secondary}
        out = []
        for i, h in enumerate(hyps):
            if h.arm not in others:
                raise PlanError(
                    f"hypotheses[{i}].arm: {h.arm!r} is not a non-reference arm of trial "
                    f"{meta.id!r}; valid: {', '.join(others)}"
                )
            if h.endpoint.startswith("secondary:") and h.endpoint.split(":", 1)[1] not in names:
                raise PlanError(
                    f"hypotheses[{i}].endpoint: {h.endpoint!r} names no secondary endpoint of the "
                    f"plan; valid: {', '.join('secondary:' + n for n in sorted(names)) or '(none declared)'}"
                )
            out.append(replace(h, id=h.id or f"H{i + 1}"))
        return replace(self, primary=primary, relapse=relapse, subgroups=subgroups,
                       hypotheses=tuple(out))

    # -- printing ------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The plan as plain data, in sap.toml's layout."""
        d: dict[str, Any] = {
            "seed": self.seed,
            "level": self.level,
            "sensitivity": list(self.sensitivity),
        }
        if self.primary is not None:
            d["primary"] = {"paramcd": self.primary.paramcd, "visit": self.primary.visit}
        d["mmrm"] = {
            "formula": self.mmrm.formula,
            "covariance": list(self.mmrm.covariance),
            "df": self.mmrm.df,
            "method": self.mmrm.method,
        }
        d["secondary"] = [
            {"name": s.label, "paramcd": s.paramcd, "visit": s.visit} for s in self.secondary
        ]
        d["durability"] = {
            "paramcd": self.durability.paramcd,
            "family": self.durability.family,
            "correlation": self.durability.correlation,
        }
        if self.relapse is not None:
            d["relapse"] = {"paramcd": self.relapse.paramcd}
            if self.relapse.tau is not None:
                d["relapse"]["tau"] = self.relapse.tau
            d["relapse"]["landmarks"] = list(self.relapse.landmarks)
            d["relapse"]["strata"] = list(self.relapse.strata)
        d["longterm"] = {
            "horizon_years": self.longterm.horizon_years,
            "distributions": list(self.longterm.distributions),
        }
        d["subgroups"] = dict(self.subgroups)
        d["safety"] = {"rd_method": self.rd_method}
        d["multiplicity"] = {"strategy": self.strategy, "alpha": self.alpha}
        d["hypotheses"] = [
            {k: v for k, v in (("id", h.id), ("endpoint", h.endpoint), ("arm", h.arm)) if v}
            for h in self.hypotheses
        ]
        return d

    def to_toml(self) -> str:
        """The plan as TOML text (round-trips through :func:`load_plan`)."""
        return dump_toml_document(self.to_dict())


# ----------------------------------------------------------------------------------------------
# reading and validation
# ----------------------------------------------------------------------------------------------
def load_plan(source: str | Path | dict) -> AnalysisPlan:
    """Read an analysis plan from a ``sap.toml`` file, a trial folder holding one, or a dict.

    Parameters
    ----------
    source : path or dict
        A TOML file, a folder containing ``sap.toml``, or the already-parsed mapping.

    Returns
    -------
    AnalysisPlan

    Raises
    ------
    PlanError
        Unreadable TOML, an unknown key, a value of the wrong type, or an option outside its
        closed set; the message names the key (``mmrm.covariance``) and lists what is valid.
    """
    name = "dict"
    if isinstance(source, dict):
        data = source
    else:
        path = Path(source)
        if path.is_dir():
            path = path / "sap.toml"
        name = path.name
        if not path.is_file():
            raise PlanError(f"analysis plan {str(path)!r} does not exist")
        try:
            data = read_toml(path)
        except TomlReadError as e:
            raise PlanError(f"{name}: not valid TOML: {e.syntax}" if e.syntax else str(e)) from e
    return _parse(data, source=name)


def plan_for_trial(trial, plan=None) -> AnalysisPlan:
    """The plan to execute for ``trial``, resolved: ``plan`` if given, else the trial's sap.toml,
    else the defaults."""
    if plan is None:
        path = getattr(trial.meta, "path", None)
        if path is not None and (Path(path) / "sap.toml").is_file():
            _check_sap_inside(Path(path), getattr(trial, "allow_outside", False))
            plan = load_plan(Path(path) / "sap.toml")
        else:
            plan = AnalysisPlan()
    elif not isinstance(plan, AnalysisPlan):
        plan = load_plan(plan)
    return plan.resolve(trial)


def _check_sap_inside(folder: Path, allow_outside: bool) -> None:
    """A sap.toml that is a symbolic link leaving the trial folder is refused (as table files)."""
    sap = folder / "sap.toml"
    try:
        inside = sap.resolve().is_relative_to(folder.resolve())
    except (OSError, RuntimeError):
        inside = False
    if not inside and not allow_outside:
        raise PlanError(f"sap.toml in trial folder '{folder}' is a symbolic link leaving the "
                        "folder; the plan must be inside it (or load the trial with "
                        "allow_outside=True / --allow-outside)")


_TOP_KEYS = {
    "seed", "level", "sensitivity", "primary", "mmrm", "secondary", "durability", "relapse",
    "longterm", "subgroups", "safety", "multiplicity", "hypotheses", "version",
}


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
        m = _table(data, "mmrm", "")
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
        kw["mmrm"] = MMRMSpec(**mk)
    if "secondary" in data:
        items = check_count(_get(data, "secondary", list, ""), "secondary")
        sec = []
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                raise PlanError(f"secondary[{i}]: must be a table (use [[secondary]]); got {item!r}")
            sec.append(_endpoint(item, f"secondary[{i}]", need_name=True))
        names = [s.name for s in sec]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise PlanError(f"secondary: duplicate names {', '.join(dup)}; each name must be unique")
        kw["secondary"] = tuple(sec)
    if "durability" in data:
        d = _table(data, "durability", "")
        _no_unknown(d, {"paramcd", "family", "correlation"}, "durability.")
        dk: dict[str, Any] = {}
        if "paramcd" in d:
            dk["paramcd"] = _get(d, "paramcd", str, "durability.")
        if "family" in d:
            dk["family"] = _choice(d["family"], FAMILIES, "durability.family")
        if "correlation" in d:
            dk["correlation"] = _choice(d["correlation"], CORRELATIONS, "durability.correlation")
        kw["durability"] = DurabilitySpec(**dk)
    if "relapse" in data:
        r = _table(data, "relapse", "")
        _no_unknown(r, {"paramcd", "tau", "landmarks", "strata"}, "relapse.")
        rk: dict[str, Any] = {}
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
    if "longterm" in data:
        lt = _table(data, "longterm", "")
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
        kw["longterm"] = LongTermSpec(**lk)
    if "subgroups" in data:
        sg = _table(data, "subgroups", "")
        check_count(list(sg), "subgroups")
        kw["subgroups"] = tuple((_subgroup_column(k), _string(v, f"subgroups.{k}"))
                                for k, v in sg.items())
    if "safety" in data:
        s = _table(data, "safety", "")
        _no_unknown(s, {"rd_method"}, "safety.")
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
    if "hypotheses" in data:
        hs = []
        for i, h in enumerate(check_count(_get(data, "hypotheses", list, ""), "hypotheses")):
            key = f"hypotheses[{i}]"
            if not isinstance(h, dict):
                raise PlanError(f"{key}: must be a table (use [[hypotheses]]); got {h!r}")
            _no_unknown(h, {"id", "endpoint", "arm"}, key + ".")
            for req in ("endpoint", "arm"):
                if req not in h:
                    raise PlanError(f"{key}.{req}: required")
            endpoint = _string(h["endpoint"], f"{key}.endpoint")
            if endpoint not in HYPOTHESIS_ENDPOINTS and not endpoint.startswith("secondary:"):
                raise PlanError(
                    f"{key}.endpoint: unknown endpoint {endpoint!r}; valid: "
                    f"{', '.join(HYPOTHESIS_ENDPOINTS)}, secondary:<name>"
                )
            hs.append(
                Hypothesis(
                    endpoint=endpoint,
                    arm=_string(h["arm"], f"{key}.arm"),
                    id=_string(h.get("id", ""), f"{key}.id"),
                )
            )
        kw["hypotheses"] = tuple(hs)
    return AnalysisPlan(**kw)


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
    _no_unknown(d, {"paramcd", "visit", "name"}, key + ".")
    for req in ("paramcd", "visit") + (("name",) if need_name else ()):
        if req not in d:
            raise PlanError(f"{key}.{req}: required")
    return Endpoint(
        paramcd=_string(d["paramcd"], f"{key}.paramcd"),
        visit=_string(d["visit"], f"{key}.visit"),
        name=_string(d.get("name", ""), f"{key}.name"),
    )
