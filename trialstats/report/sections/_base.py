"""What a report section returns, and the context sections share.

A section module exposes ``KEY``, ``TITLE``, ``NEEDS`` and ``analyse(ctx) -> Analysis`` (the
results as named tidy frames: the analysis results data) with ``render(analysis, view) ->
Section`` (tables, sentences and figures from those frames only); see
:mod:`trialstats.report.sections._analysis`. The older single ``compute(ctx) -> Section`` still
runs for one release. Neither writes HTML; :mod:`trialstats.report.build` renders.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

__all__ = [
    "Context", "Figure", "NotApplicable", "Parts", "Section", "Table", "arm_label", "arm_order",
    "fit_mmrm_with_fallback", "legend_safe", "new_figure", "pct_level", "EventWords",
    "endpoint_name", "endpoint_unit", "time_grid", "Estimates",
]


class NotApplicable(Exception):  # noqa: N818 - a state, not an error
    """Raised by a section whose data is absent (no ADTTE, no ADAE): the report says "not
    applicable: <reason>" instead of a failure box, and the build does not count it as failed."""


@dataclass(frozen=True)
class Table:
    """One table: ``data`` is the tidy numeric frame (CSV), ``display`` its strings (HTML).

    ``heading`` (a sub-heading) and ``lead`` (a paragraph) are shown before the table, for a
    section in parts (one per time-to-event endpoint)."""

    name: str
    caption: str
    data: pd.DataFrame
    display: pd.DataFrame
    note: str = ""
    heading: str = ""
    lead: str = ""


@dataclass(frozen=True)
class Figure:
    """One matplotlib figure (rendered to inline SVG by the builder, then closed)."""

    name: str
    caption: str
    figure: Any


@dataclass(frozen=True)
class Section:
    """A rendered-to-be section: text, tables, figures, and the failure reason if it failed."""

    key: str
    title: str
    paragraphs: tuple[str, ...] = ()
    tables: tuple[Table, ...] = ()
    figures: tuple[Figure, ...] = ()
    notes: tuple[str, ...] = ()
    error: str | None = None
    preformatted: str = ""
    failures: tuple[str, ...] = ()
    flow: tuple = ()
    not_applicable: str | None = None


class Parts:
    """Collects a section's pieces; :meth:`attempt` runs one analysis and records its failure.

    A failed analysis inside a section becomes a visible failure box in that section (with the
    reason) while the section's other analyses are still shown.
    """

    def __init__(self):
        self.paragraphs: list[str] = []
        self.tables: list[Table] = []
        self.figures: list[Figure] = []
        self.notes: list[str] = []
        self.failures: list[str] = []

    def attempt(self, what: str, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as e:  # noqa: BLE001 - any failure is shown, never swallowed silently
            self.failures.append(f"{what} failed: {type(e).__name__}: {_one_line(e)}")
            return None

    def section(self, key: str, title: str) -> Section:
        return Section(
            key=key, title=title, paragraphs=tuple(self.paragraphs), tables=tuple(self.tables),
            figures=tuple(self.figures), notes=tuple(self.notes), failures=tuple(self.failures),
        )


@dataclass
class Context:
    """What sections share while a report is built.

    ``results`` is filled by earlier sections for later ones (the summary and the hypotheses read
    the primary contrast, the RMST difference and the Cox hazard ratios from it); a missing entry
    means the section that makes it failed, and readers say so.
    """

    trial: Any
    plan: Any
    results: dict[str, Any] = field(default_factory=dict)
    sections: dict[str, Section] = field(default_factory=dict)
    estimates: Estimates = field(default_factory=lambda: Estimates())
    #: section key -> its Analysis (the frames of the ARD), filled by the build
    analyses: dict[str, Any] = field(default_factory=dict)

    def sections_ok(self) -> set[str]:
        """Keys of the sections that completed without any failure (their estimates may be
        used by the summary and the hypotheses)."""
        return {k for k, s in self.sections.items() if not (s.error or s.failures or s.not_applicable)}

    @property
    def level(self) -> float:
        return self.plan.level

    @property
    def arms(self) -> list[str]:
        return arm_order(self.trial)

    @property
    def reference(self) -> str:
        return self.trial.meta.reference

    def label(self, arm: str) -> str:
        return arm_label(self.trial, arm)


def arm_order(trial) -> list[str]:
    """Arm codes in level order (reference first)."""
    return list(trial.arms)


def arm_label(trial, arm: str) -> str:
    """Display label of an arm code (the code itself when trial.toml gives none)."""
    return str(trial.meta.arms.get(arm, arm))


def legend_safe(labels: dict) -> dict:
    """Arm labels for figures: matplotlib leaves labels starting with ``_`` out of legends, so
    such a label gets an invisible zero-width space in front (it still reads ``_Placebo``)."""
    return {k: ("\u200b" + v if isinstance(v, str) and v.startswith("_") else v)
            for k, v in labels.items()}


def new_figure(figsize=(7.5, 4.2), nrows: int = 1, ncols: int = 1, **kwargs):
    """A matplotlib Figure and its Axes outside pyplot (no backend, no global state).

    Returns (fig, ax) — ``ax`` an array of Axes when ``nrows * ncols > 1``.
    """
    from matplotlib.figure import Figure as MplFigure

    fig = MplFigure(figsize=figsize)
    return fig, fig.subplots(nrows, ncols, **kwargs)


def pct_level(level: float) -> str:
    """``0.95`` → ``"95%"``."""
    s = f"{100 * level:.1f}".rstrip("0").rstrip(".")
    return f"{s}%"


def fit_mmrm_with_fallback(data, spec, *, df: str | None = None, level: float = 0.95):
    """Fit ``spec.formula`` trying each covariance of ``spec.covariance`` until one converges.

    Returns
    -------
    (fit, used, attempts) : the converged fit, the covariance used, and one line per attempt
        ("us: did not converge (...)", "toeph: converged").

    Raises
    ------
    ModelError
        No covariance structure converged; the message lists every attempt.
    """
    from ... import mmrm
    from ...errors import ConvergenceWarning, ModelError, TrialstatsError

    attempts: list[str] = []
    for cov in spec.covariance:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                fit = mmrm(
                    spec.formula,
                    data,
                    subject="USUBJID",
                    visit="AVISIT",
                    covariance=cov,
                    df=df or spec.df,
                    method=spec.method,
                    level=level,
                    # a pre-specified analysis with an aliased column (an empty arm x visit cell)
                    # fails loudly instead of printing NA for the non-estimable contrasts
                    rank_deficient="error",
                )
        except TrialstatsError as e:
            attempts.append(f"{cov}: failed ({_one_line(e)})")
            continue
        if getattr(fit, "converged", True):
            attempts.append(f"{cov}: converged")
            return fit, cov, attempts
        attempts.append(f"{cov}: did not converge")
    raise ModelError(
        "no covariance structure of the plan converged: " + "; ".join(attempts)
    )


def _one_line(e: BaseException) -> str:
    return re.sub(r"\s+", " ", str(e)).strip()[:300]


def outcome_units(frame: pd.DataFrame) -> str | None:
    """Units of an ADEFF parameter, from the metadata: AVALU when present, else the bracketed
    tail of PARAM (``"Target-area hair count (/cm2)"`` → ``"/cm2"``); None when neither says."""
    for column in ("AVALU", "PARAM"):
        if column not in frame.columns:
            continue
        values = [str(v).strip() for v in pd.unique(frame[column].dropna()) if str(v).strip()]
        if column == "PARAM":
            values = [m.group(1).strip() for v in values if (m := re.search(r"\(([^()]+)\)\s*$", v))]
        if len(set(values)) == 1:
            return values[0]
    return None


def visit_times(frame: pd.DataFrame) -> dict:
    """AVISIT -> AVISITN: where each visit sits on the time axis of a figure."""
    return frame.groupby("AVISIT", observed=True, sort=False)["AVISITN"].first().astype(float).to_dict()
# ----------------------------------------------------------------------------------------------
# wording from the data and the plan (never from the bundled trials)
# ----------------------------------------------------------------------------------------------
def endpoint_name(trial, paramcd: str) -> str:
    """How an ADEFF parameter is named in text: its PARAM (``"HAMD-17 total score"``), else the
    PARAMCD itself."""
    adeff = getattr(trial, "adeff", None)
    if adeff is None or "PARAM" not in adeff.columns or "PARAMCD" not in adeff.columns:
        return paramcd
    param = adeff.loc[adeff["PARAMCD"] == paramcd, "PARAM"].astype(str)
    param = param[param.str.strip() != ""]
    return paramcd if param.empty else str(param.iloc[0])


def endpoint_unit(trial, paramcd: str) -> str:
    """The unit of an ADEFF parameter: AVALU, else the parenthesised unit of PARAM, else ""."""
    adeff = getattr(trial, "adeff", None)
    if adeff is None or "PARAMCD" not in adeff.columns:
        return ""
    rows = adeff[adeff["PARAMCD"] == paramcd]
    for col in ("AVALU",):
        if col in rows.columns:
            u = rows[col].astype(str).str.strip()
            u = u[u != ""]
            if len(u):
                return str(u.iloc[0])
    if "PARAM" in rows.columns and len(rows):
        m = re.search(r"\(([^()]+)\)\s*$", str(rows["PARAM"].iloc[0]))
        if m:
            return m.group(1)
    return ""


@dataclass(frozen=True)
class EventWords:
    """Words for a time-to-event endpoint, from the resolved plan (event from ADTTE EVNTDESC /
    PARAM or ``[relapse] event``; origin from ``[relapse] origin`` or PARAM).

    ``EventWords("recurrence", "randomisation").free`` is ``"recurrence-free"``; an event named
    death reads as overall survival (``free`` is ``"alive"``-based wording).
    """

    event: str = "event"
    origin: str = "randomisation"

    @classmethod
    def of(cls, plan) -> EventWords:
        """The words of the plan's (first) time-to-event endpoint."""
        return cls.of_spec(plan.relapse)

    @classmethod
    def of_spec(cls, r) -> EventWords:
        """The words of one time-to-event endpoint of the plan (a resolved RelapseSpec)."""
        return cls(event=(r.event or "event").lower(), origin=r.origin or "randomisation")

    @property
    def death(self) -> bool:
        return self.event in ("death", "death from any cause", "died")

    @property
    def Event(self) -> str:  # noqa: N802 - capitalised form for titles and column heads
        return self.event[:1].upper() + self.event[1:]

    @property
    def events(self) -> str:
        """Plural noun ("relapses", "deaths")."""
        return self.event if self.event.endswith("s") else self.event + "s"

    @property
    def free(self) -> str:
        """``"relapse-free"``; ``"overall"`` for death."""
        return "overall" if self.death else f"{self.event}-free"

    @property
    def Free(self) -> str:  # noqa: N802
        return self.free[:1].upper() + self.free[1:]

    @property
    def free_pct(self) -> str:
        return "Alive %" if self.death else f"{self.Free} %"

    @property
    def free_time(self) -> str:
        """What the RMST measures: "relapse-free time", "survival time"."""
        return "survival time" if self.death else f"{self.free} time"

    @property
    def days_free(self) -> str:
        return "days alive" if self.death else f"days {self.free}"

    @property
    def since(self) -> str:
        """``"since the end of treatment"`` / ``"since randomisation"``."""
        return f"since {'the ' if self.origin == 'end of treatment' else ''}{self.origin}"

    @property
    def from_origin(self) -> str:
        return f"from {'the ' if self.origin == 'end of treatment' else ''}{self.origin}"

    @property
    def after(self) -> str:
        """``"after treatment stops"`` / ``"from randomisation"`` (figure titles)."""
        return "after treatment stops" if self.origin == "end of treatment" else self.from_origin

    @property
    def title(self) -> str:
        """Section title: "Relapse" for an event named relapse, else "Time to <event>"."""
        return self.Event if self.event == "relapse" else f"Time to {self.event}"


#: Candidate steps (days) of a time grid: round numbers of days, weeks, months and years.
_GRID_STEPS = (1, 2, 5, 7, 14, 28, 50, 91, 100, 182, 365, 730, 1826, 3652)


def time_grid(horizon: float, max_columns: int = 10) -> list[float]:
    """Round times from 0 to ``horizon`` with at most ``max_columns`` points (about 6-10): the
    smallest step of :data:`_GRID_STEPS` that fits (91 days for 1.5 years of follow-up, 365
    for 9 years)."""
    import numpy as np

    horizon = max(float(horizon), 1.0)
    step = next((s for s in _GRID_STEPS if horizon // s + 1 <= max_columns), _GRID_STEPS[-1])
    return list(np.arange(0.0, horizon + 1.0, float(step)))


# ----------------------------------------------------------------------------------------------
# the typed table of estimates the sections share (replaces a string-keyed dict)
# ----------------------------------------------------------------------------------------------
class Estimates:
    """Comparisons between arms that sections make for later ones (summary, hypotheses).

    One row per (endpoint, arm, reference): the comparisons-frame columns
    (:mod:`trialstats.results.ard`: measure, scale, null, estimate, std_error, df, statistic,
    p_value, conf_low, conf_high, level, method) plus ``key`` (the hypothesis endpoint:
    ``primary``, ``secondary:<name>``, ``rmst``, ``cox``, ``slope``, ``ae``), ``label`` (the
    words of the summary) and ``section`` (the section that made it). The hypotheses section
    passes the rows to :func:`trialstats.compare`, so any pair of arms a section stored can be
    tested, for superiority or non-inferiority.
    """

    COLUMNS = ("key", "label", "section", "analysis", "endpoint", "param", "visit", "arm",
               "reference", "measure", "scale", "null", "estimate", "std_error", "df",
               "statistic", "p_value", "conf_low", "conf_high", "level", "method")

    def __init__(self):
        self._parts: list[pd.DataFrame] = []

    def add(self, key: str, comparisons: pd.DataFrame, label: str, section: str) -> None:
        """Store the rows of a comparisons frame under ``key``."""
        from ...results.ard import comparisons_frame

        rows = comparisons_frame(comparisons[[c for c in comparisons.columns
                                              if c in self.COLUMNS and c not in ("key", "label", "section")]])
        rows.insert(0, "section", section)
        rows.insert(0, "label", label)
        rows.insert(0, "key", key)
        self._parts.append(rows)

    def frame(self, sections_ok=None) -> pd.DataFrame:
        """Every row, or only those of the sections in ``sections_ok``."""
        if not self._parts:
            return pd.DataFrame(columns=list(self.COLUMNS))
        out = pd.concat(self._parts, ignore_index=True)
        if sections_ok is not None:
            out = out[out["section"].isin(list(sections_ok))].reset_index(drop=True)
        return out

    def get(self, key: str, arm: str, reference: str, sections_ok=None) -> pd.DataFrame:
        """The rows of ``arm`` vs ``reference`` (either way round) for ``key``."""
        f = self.frame(sections_ok)
        hit = (f["key"] == key) & (((f["arm"] == arm) & (f["reference"] == reference))
                                   | ((f["arm"] == reference) & (f["reference"] == arm)))
        return f[hit].reset_index(drop=True)
