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

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .._toml import TomlReadError, dump_toml_document, read_toml
from ..errors import TrialstatsError
from ._plan_estimands import check_estimands
from ._plan_limits import check_columns, check_tau, follow_up_days
from ._plan_resolve import (
    _absent_sections,
    _first_adeff_paramcd,
    _first_paramcd,
    _last_visit,
    _resolve_event,
)

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
HYPOTHESIS_ENDPOINTS = ("primary", "rmst", "cox", "slope", "ae")
TESTS = ("superiority", "non-inferiority")
BETTER = ("higher", "lower")
#: which direction favours ``arm`` by default, per hypothesis endpoint (a plan key overrides)
DEFAULT_BETTER = {"primary": "higher", "rmst": "higher", "cox": "lower", "slope": "higher",
                  "ae": "lower"}


class PlanError(TrialstatsError, ValueError):
    """An analysis plan that cannot be executed: names the key, what was found, what is valid."""


@dataclass(frozen=True)
class Endpoint:
    """An endpoint at one visit: a PARAMCD of ADEFF analysed at ``visit``."""

    paramcd: str = "TAHC"
    visit: str = "WEEK 24"
    name: str = ""
    #: ADEFF analysis flag: rows with another value than "Y" are excluded (when the column exists)
    flag: str = "ANL01FL"
    #: ADSL population flag (ITTFL, FASFL, PPROTFL, ...); "" = every randomised subject
    population: str = ""

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
    #: time origin, "randomisation" or "end of treatment"; "" = from ADTTE PARAM (resolved)
    origin: str = ""
    #: name of the event ("relapse", "recurrence"); "" = from ADTTE EVNTDESC / PARAM (resolved)
    event: str = ""


@dataclass(frozen=True)
class LongTermSpec:
    """Parametric extrapolation of relapse-free survival."""

    horizon_years: float = 5.0
    distributions: tuple[str, ...] = ("exponential", "weibull", "lognormal", "loglogistic", "gompertz")


@dataclass(frozen=True)
class Hypothesis:
    """One hypothesis of the testing sequence: an endpoint, the arm, and what it is compared with.

    ``reference`` "" = the trial's reference arm; any other arm gives a head-to-head comparison.
    ``test`` "superiority" (two-sided, null 0 or 1) or "non-inferiority" (one-sided against
    ``margin`` on the estimate's scale: a difference of -5, a hazard ratio of 1.3; ``better``
    says which direction favours ``arm``: "higher" or "lower", default by endpoint).
    """

    endpoint: str
    arm: str
    id: str = ""
    reference: str = ""
    test: str = "superiority"
    margin: float | None = None
    better: str = ""


#: Units of the bundled trials' parameters, used when ADEFF has no AVALU (plan defaults that
#: only apply when that PARAMCD is analysed)
DEFAULT_UNITS = {"TAHC": "hairs/cm²"}

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
    #: sections switched off in the plan ([sections] durability = false)
    disabled: tuple[str, ...] = ()
    #: (section key, reason) of sections whose data is absent; filled by :meth:`resolve`
    not_applicable: tuple[tuple[str, str], ...] = ()
    #: Table 1 variables (column, label); empty = defaults (see the baseline section)
    baseline: tuple[tuple[str, str], ...] = ()
    #: ADSL population flag of the safety analyses ("" = SAFFL when present)
    safety_population: str = ""
    #: estimands of ICH E9(R1) ([[estimands]]; :class:`trialstats.estimands.Estimand`)
    estimands: tuple = ()
    #: further time-to-event endpoints (ADTTE PARAMCDs) analysed like ``relapse`` in the same
    #: section (``[time_to_event] more = ["DEATH"]``); None = every other ADTTE PARAMCD that
    #: trial.toml [endpoints] names
    more_events: tuple[RelapseSpec, ...] | None = None

    def skipped(self, key: str) -> str | None:
        """Why section ``key`` does not run ("switched off in the analysis plan", "no ADTTE ..."),
        or None when it runs."""
        if key in self.disabled:
            return "switched off in the analysis plan ([sections] " + key + " = false)"
        return dict(self.not_applicable).get(key)

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
            paramcd = str(p.get("paramcd", "")) or _first_adeff_paramcd(trial, "TAHC")
            visit = str(p.get("visit", "")) or _last_visit(trial, paramcd, "WEEK 24")
            primary = Endpoint(paramcd=paramcd, visit=visit)
        relapse = self.relapse
        if relapse is None:
            r = endpoints.get("relapse") or {}
            relapse = RelapseSpec(paramcd=str(r.get("paramcd", _first_paramcd(trial, "RELAPSE"))))
        relapse = _resolve_event(trial, relapse, endpoints)
        follow_up = follow_up_days(trial, relapse.paramcd)
        if relapse.landmarks == RelapseSpec().landmarks and follow_up and follow_up > 3 * 365:
            # default landmarks of long follow-up: whole years (up to 5) rather than 3, 6, 12 months
            relapse = replace(relapse, landmarks=tuple(
                365.0 * k for k in range(1, min(5, int(follow_up // 365)) + 1)))
        if relapse.tau is None:
            relapse = replace(relapse, tau=follow_up)
        check_tau(relapse.tau, follow_up)
        absent = _absent_sections(trial, primary, relapse, self)
        strata, subgroups = check_columns(
            trial, relapse.strata, self.subgroups,
            strata_given=relapse.strata != RelapseSpec().strata,
            subgroups_given=self.subgroups != _DEFAULT_SUBGROUPS)
        relapse = replace(relapse, strata=strata)
        more_events = _resolve_more_events(trial, self.more_events, relapse, endpoints)
        if not subgroups and "subgroups" not in {k for k, _ in absent}:
            absent = absent + (("subgroups", "no subgroup column of the plan is in ADSL (the "
                                "defaults are SEX, AGEGR1 and STAGEGR; name others in [subgroups])"),)
        arms = list(trial.arms)
        reference = meta.reference
        others = [a for a in arms if a != reference]
        hyps = self.hypotheses
        if not hyps:  # only for the data present and the sections that run
            off = set(self.disabled) | {k for k, _ in absent}
            hyps = tuple(Hypothesis("primary", a) for a in others if "primary" not in off) + tuple(
                Hypothesis("rmst", a) for a in others if "relapse" not in off
            )
        names = {s.name or s.label for s in self.secondary}
        out = []
        for i, h in enumerate(hyps):
            if h.reference and h.reference not in arms:
                raise PlanError(f"hypotheses[{i}].reference: {h.reference!r} is not an arm of trial "
                                f"{meta.id!r}; valid: {', '.join(arms)}")
            valid = [a for a in arms if a != (h.reference or reference)]
            if h.arm not in valid:
                what = (f"an arm of trial {meta.id!r} other than its reference {h.reference!r}"
                        if h.reference else f"a non-reference arm of trial {meta.id!r}")
                raise PlanError(f"hypotheses[{i}].arm: {h.arm!r} is not {what}; valid: {', '.join(valid)}")
            if h.endpoint.startswith("secondary:") and h.endpoint.split(":", 1)[1] not in names:
                raise PlanError(
                    f"hypotheses[{i}].endpoint: {h.endpoint!r} names no secondary endpoint of the "
                    f"plan; valid: {', '.join('secondary:' + n for n in sorted(names)) or '(none declared)'}"
                )
            out.append(replace(h, id=h.id or f"H{i + 1}"))
        absent = absent + check_estimands(trial, self.estimands, self.disabled, absent)
        return replace(self, primary=primary, relapse=relapse, subgroups=subgroups,
                       hypotheses=tuple(out), not_applicable=absent, more_events=more_events)

    # -- printing ------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The plan as plain data, in sap.toml's layout."""
        d: dict[str, Any] = {
            "seed": self.seed,
            "level": self.level,
            "sensitivity": list(self.sensitivity),
        }
        runs = {k: self.skipped(k) is None for k in ("primary", "durability", "relapse", "longterm",
                                                      "safety", "subgroups")}
        if self.primary is not None and runs["primary"]:
            d["primary"] = {"paramcd": self.primary.paramcd, "visit": self.primary.visit}
            if self.primary.flag != "ANL01FL":
                d["primary"]["flag"] = self.primary.flag
            if self.primary.population:
                d["primary"]["population"] = self.primary.population
        d["mmrm"] = {
            "formula": self.mmrm.formula,
            "covariance": list(self.mmrm.covariance),
            "df": self.mmrm.df,
            "method": self.mmrm.method,
        }
        d["secondary"] = [
            {"name": s.label, "paramcd": s.paramcd, "visit": s.visit} for s in self.secondary
        ]
        if runs["durability"]:
            d["durability"] = {
                "paramcd": self.durability.paramcd,
                "family": self.durability.family,
                "correlation": self.durability.correlation,
            }
        if self.relapse is not None and runs["relapse"]:
            # [time_to_event] is the general name of the table; [relapse] (the same keys) is kept
            # for an event named relapse, as in the bundled plans
            key = "relapse" if self.relapse.event in ("", "relapse") else "time_to_event"
            d[key] = {"paramcd": self.relapse.paramcd}
            if self.relapse.tau is not None:
                d[key]["tau"] = self.relapse.tau
            d[key]["landmarks"] = list(self.relapse.landmarks)
            d[key]["strata"] = list(self.relapse.strata)
            if key != "relapse":
                d[key]["origin"] = self.relapse.origin
                d[key]["event"] = self.relapse.event
            if self.more_events:
                d[key]["more"] = [s.paramcd for s in self.more_events]
        if runs["longterm"] and runs["relapse"]:
            d["longterm"] = {
                "horizon_years": self.longterm.horizon_years,
                "distributions": list(self.longterm.distributions),
            }
        if runs["subgroups"]:
            d["subgroups"] = dict(self.subgroups)
        if self.baseline:
            d["baseline"] = {"variables": dict(self.baseline)}
        if runs["safety"]:
            d["safety"] = {"rd_method": self.rd_method}
            if self.safety_population:
                d["safety"]["population"] = self.safety_population
        if self.estimands and self.skipped("estimands") is None:
            d["estimands"] = [e.to_dict() for e in self.estimands]
        if self.disabled:
            d["sections"] = {k: False for k in self.disabled}
        d["multiplicity"] = {"strategy": self.strategy, "alpha": self.alpha}
        d["hypotheses"] = [
            {k: v for k, v in (("id", h.id), ("endpoint", h.endpoint), ("arm", h.arm),
                               ("reference", h.reference),
                               ("test", h.test if h.test != "superiority" else ""),
                               ("margin", h.margin), ("better", h.better)) if v not in ("", None)}
            for h in self.hypotheses
        ]
        return d

    def to_toml(self) -> str:
        """The plan as TOML text (round-trips through :func:`load_plan`)."""
        return dump_toml_document(self.to_dict())


def _resolve_more_events(trial, more, relapse: RelapseSpec, endpoints: dict) -> tuple[RelapseSpec, ...]:
    """The further time-to-event endpoints, resolved like ``relapse`` (event, origin, landmarks,
    tau = follow-up; the strata of ``relapse``).

    Raises
    ------
    PlanError
        A PARAMCD the plan names in ``more`` is not in ADTTE.
    """
    adtte = getattr(trial, "adtte", None)
    codes = [] if adtte is None or "PARAMCD" not in adtte.columns else list(dict.fromkeys(adtte["PARAMCD"].astype(str)))
    if more is None:  # the defaults: what trial.toml names
        named = [str(v.get("paramcd")) for k, v in endpoints.items()
                 if k != "primary" and isinstance(v, dict) and v.get("paramcd")]
        more = tuple(RelapseSpec(paramcd=c) for c in dict.fromkeys(named) if c in codes and c != relapse.paramcd)
    out = []
    for i, spec in enumerate(more):
        if spec.paramcd not in codes:
            raise PlanError(f"time_to_event.more[{i}]: PARAMCD {spec.paramcd!r} is not in ADTTE; "
                            f"valid: {', '.join(c for c in codes if c != relapse.paramcd) or '(none)'}")
        if spec.paramcd == relapse.paramcd or spec.paramcd in {s.paramcd for s in out}:
            continue
        spec = _resolve_event(trial, spec, endpoints)
        follow_up = follow_up_days(trial, spec.paramcd)
        landmarks = relapse.landmarks
        if follow_up and follow_up > 3 * 365 and relapse.landmarks == RelapseSpec().landmarks:
            landmarks = tuple(365.0 * k for k in range(1, min(5, int(follow_up // 365)) + 1))
        out.append(replace(spec, tau=follow_up, landmarks=landmarks, strata=relapse.strata))
    return tuple(out)


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
    from ._plan_parse import _parse

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
