"""A section as two steps: ``analyse(ctx) -> Analysis`` and ``render(analysis, view) -> Section``.

``analyse`` asks the library for results and keeps them as named tidy frames (the section's
analysis results data, written into the report's long ARD ``ard.csv`` / ``ard.parquet`` by
:mod:`trialstats.report.ard_long`), plus its figures and the analyses that failed. ``render``
builds every table and sentence from those frames only, with the plan's and the trial
metadata's words (:class:`View`: arm labels, plan keys, PARAM names): it computes no statistic
and reads no result object. Because the long ARD keeps each cell with its type, the frames read
back from ``ard.parquet`` (:func:`trialstats.report.ard_long.frames_from_ard`) render the same
HTML.

A section module declares ``KEY``, ``TITLE``, ``NEEDS`` and either ``analyse`` + ``render`` or,
for one more release, the older single ``compute(ctx) -> Section`` (:func:`run_section` adapts
it: its tables' tidy frames become its ARD).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ._base import Figure, Parts, Section, Table, arm_label

__all__ = ["Analysis", "Results", "View", "run_section", "single_step"]


@dataclass(frozen=True)
class Analysis:
    """What ``analyse`` returns.

    Attributes
    ----------
    key : str
        The section key.
    frames : dict of str -> DataFrame
        Named tidy frames (numbers and their labels, no display strings), in the order made.
    figures : tuple of Figure
        The section's figures, drawn from the results.
    failures : tuple of str
        One line per analysis that failed ("Cox model failed: ModelError: ...").
    notes : tuple of str
        Further notes shown under the section.
    """

    key: str
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    figures: tuple[Figure, ...] = ()
    failures: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def frame(self, name: str) -> pd.DataFrame | None:
        """The frame ``name``, or None when the analysis that makes it failed."""
        return self.frames.get(name)


class Results(Parts):
    """:class:`Parts` for ``analyse``: frames by name instead of display tables."""

    def __init__(self):
        super().__init__()
        self.frames: dict[str, pd.DataFrame] = {}

    def add(self, name: str, frame: pd.DataFrame) -> pd.DataFrame:
        """Keep ``frame`` under ``name`` (index dropped) and return it."""
        self.frames[name] = frame.reset_index(drop=True)
        return self.frames[name]

    def analysis(self, key: str) -> Analysis:
        return Analysis(key=key, frames=dict(self.frames), figures=tuple(self.figures),
                        failures=tuple(self.failures), notes=tuple(self.notes))


@dataclass(frozen=True)
class View:
    """What ``render`` may read besides the frames: the resolved plan and the trial's metadata
    (arm codes and labels, PARAM names), never data or results."""

    trial: Any
    plan: Any

    @classmethod
    def of(cls, ctx) -> View:
        return cls(trial=ctx.trial, plan=ctx.plan)

    @property
    def arms(self) -> list[str]:
        return list(self.trial.arms)

    @property
    def reference(self) -> str:
        return self.trial.meta.reference

    def label(self, arm: str) -> str:
        return arm_label(self.trial, arm)

    @property
    def labels(self) -> dict[str, str]:
        return {a: self.label(a) for a in self.arms}


def table(name: str, caption: str, analysis: Analysis, display: pd.DataFrame, note: str = "") -> Table:
    """A report table: the frame ``name`` of ``analysis`` with its display strings."""
    return Table(name, caption, analysis.frames[name], display, note)


def section_of(analysis: Analysis, title: str, *, paragraphs=(), tables=(), preformatted: str = "",
               figures=()) -> Section:
    """The Section of a rendered analysis: its failures and notes carried over; its figures are
    those ``analyse`` drew (from result objects) followed by ``figures`` drawn by ``render``
    from the frames."""
    return Section(key=analysis.key, title=title, paragraphs=tuple(paragraphs), tables=tuple(tables),
                   figures=tuple(analysis.figures) + tuple(figures), notes=analysis.notes,
                   failures=analysis.failures, preformatted=preformatted)


def single_step(analyse, render):
    """``compute(ctx) = render(analyse(ctx), View.of(ctx))``: the older single-step entry point
    of a converted section (``module.compute(ctx)`` keeps working for one release)."""

    def compute(ctx) -> Section:
        """``analyse`` then ``render`` in one step (the older contract, kept for one release)."""
        return render(analyse(ctx), View.of(ctx))

    compute.single_step = True  # run_section calls analyse and render itself
    return compute


def run_section(mod, ctx) -> tuple[Section, Analysis]:
    """Run one section module: ``analyse`` then ``render``, or the older ``compute``.

    A ``compute``-style module (kept for one release), or one whose ``compute`` is not the
    :func:`single_step` of its ``analyse`` and ``render`` (replaced, e.g. in a test), gives its
    Section from ``compute``; its ARD is then the tidy frames of its tables.

    Returns
    -------
    (Section, Analysis)
    """
    own = getattr(mod, "compute", None)
    if hasattr(mod, "analyse") and (own is None or getattr(own, "single_step", False)):
        analysis = mod.analyse(ctx)
        return mod.render(analysis, View.of(ctx)), analysis
    sec = mod.compute(ctx)
    frames = {t.name: t.data.reset_index(drop=True) for t in sec.tables}
    return sec, Analysis(key=sec.key, frames=frames, figures=sec.figures, failures=sec.failures,
                         notes=sec.notes)
