"""Build the reproducible HTML report of a trial: one self-contained, deterministic file.

``build_report(trial, out_path)`` runs the sections (each a module of
:mod:`trialstats.report.sections` that asks the model modules for results and returns tidy
frames, display strings and figures), renders them with Jinja2 (autoescaped) into a single HTML
file with inline CSS and inline SVG figures, and writes every table as CSV into
``<out_stem>_ard/`` beside it (the analysis results data), safely: see
:mod:`trialstats.report._output` (checks before the build, atomic writes, a manifest of what
trialstats wrote, CSV cells neutralised against formula injection).

A section that fails shows a visible failure box with the reason; the rest of the report is
still built. The same inputs give a byte-identical file: no wall-clock time is written unless
``SOURCE_DATE_EPOCH`` is set, figures are SVG with a fixed hash salt and no date, and every
table keeps a stable order and number format.
"""

from __future__ import annotations

import functools
import io
import os
import re
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from .._blas import one_blas_thread
from ._output import OutputError, ard_dir, check_output, write_outputs
from .ard_long import long_ard, parquet_bytes
from .plan import AnalysisPlan, plan_for_trial
from .registry import compute_order
from .sections import (
    appendix,
    baseline,
    disposition,
    durability,
    estimands,
    hypotheses,
    longterm,
    methods,
    primary,
    relapse,
    safety,
    subgroups,
    summary,
)
from .sections._analysis import run_section
from .sections._base import Context, NotApplicable, Section, _one_line

__all__ = ["BuildResult", "build", "build_report", "render_report", "SECTIONS", "COMPUTE_ORDER",
           "OutputError"]

#: Sections in reading order (numbered 1..13 in the report).
SECTIONS = (summary, methods, disposition, baseline, primary, durability, relapse, longterm,
            subgroups, safety, hypotheses, estimands, appendix)
#: Order of computation, derived from each section's ``NEEDS`` (see :mod:`.registry`): the
#: summary, methods and appendix read what the others produced.
COMPUTE_ORDER = compute_order(SECTIONS)

#: matplotlib settings of every report figure (deterministic SVG).
RC = {
    "svg.hashsalt": "trialstats-report",
    "svg.fonttype": "none",  # text as <text>: smaller, searchable, faster; DejaVu Sans as drawn
    "font.family": "DejaVu Sans",
    "font.size": 9.0,
    "figure.dpi": 100,
    "savefig.bbox": "tight",
    "axes.spines.top": False,
    "axes.spines.right": False,
}


@dataclass(frozen=True)
class BuildResult:
    """What :func:`build` wrote, and which sections failed or did not apply.

    Attributes
    ----------
    path : Path
        The HTML file.
    failed : tuple of str
        Titles of the sections that failed or are incomplete (a failure box in the report).
    not_applicable : tuple of str
        Titles of the sections whose data is absent (no ADTTE, no ADAE): not failures.
    """

    path: Path
    failed: tuple[str, ...] = ()
    not_applicable: tuple[str, ...] = ()


@dataclass(frozen=True)
class Timing:
    """Wall time of one section."""

    key: str
    title: str
    seconds: float
    ok: bool


def build_report(trial, out_path, *, plan: AnalysisPlan | str | Path | dict | None = None,
                 progress: Callable[[str], None] | None = None, force: bool = False) -> Path:
    """Build the HTML report of ``trial`` and write it to ``out_path``.

    Parameters
    ----------
    trial : Trial
        A loaded (``ts.load_trial``) or in-memory trial.
    out_path : str or Path
        The HTML file to write. Tables are written as CSV into ``<stem>_ard/`` beside it.
    plan : AnalysisPlan, path or dict, optional
        The analysis plan; default: ``sap.toml`` of the trial folder when present, else the
        defaults of :class:`~trialstats.report.plan.AnalysisPlan`.
    progress : callable, optional
        Called once per section, in build order, with one line naming the trial and the section
        (the CLI passes a stderr writer).
    force : bool, default False
        Overwrite an existing ``out_path`` that is not a trialstats report, and CSVs in
        ``<stem>_ard/`` that trialstats did not write. Input files of the trial are never
        overwritten.

    Returns
    -------
    Path
        ``out_path``.

    Raises
    ------
    PlanError
        The plan is invalid for this trial (a failing *section* does not raise: it shows a
        failure box in the report).
    OutputError
        ``out_path`` is a folder, an input file of the trial, or an existing file that is not a
        trialstats report (without ``force``); checked before the build. The HTML and the
        CSVs are written to temporary files and renamed into place (see
        :mod:`trialstats.report._output`); text cells of the CSVs are neutralised against
        spreadsheet formula injection.
    """
    return build(trial, out_path, plan=plan, progress=progress, force=force).path


def build(trial, out_path, *, plan=None, progress=None, force: bool = False) -> BuildResult:
    """:func:`build_report`, returning which sections failed (the CLI's exit status uses it).

    Parameters and errors are those of :func:`build_report`.

    Returns
    -------
    BuildResult
    """
    import trialstats

    out_path = Path(out_path)
    check_output(trial, out_path, force=force, plan_path=_plan_path(trial, plan))
    html, ctx, _ = render_report(trial, out_path, plan=plan, progress=progress)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tables = {t.name: t.data for sec in ctx.sections.values() for t in sec.tables}
    ordered = [ctx.sections[m.KEY] for m in SECTIONS if m.KEY in ctx.sections]
    # every number and word of the report, one long table (CSV and Parquet)
    ard = long_ard(ctx.analyses[m.KEY] for m in SECTIONS if m.KEY in ctx.analyses)
    tables["ard"] = ard
    write_outputs(tables, html.encode("utf-8"), out_path, version=trialstats.__version__, force=force,
                  files={"ard.parquet": parquet_bytes(ard)})
    return BuildResult(
        path=out_path,
        failed=tuple(s.title for s in ordered if s.error or s.failures),
        not_applicable=tuple(s.title for s in ordered if s.not_applicable),
    )


def _plan_path(trial, plan) -> Path | None:
    """The sap.toml file the plan is read from, if any."""
    if plan is None and getattr(trial.meta, "path", None) and (Path(trial.meta.path) / "sap.toml").is_file():
        return Path(trial.meta.path) / "sap.toml"
    if isinstance(plan, str | Path):
        pp = Path(plan)
        return pp / "sap.toml" if pp.is_dir() else pp
    return None


@one_blas_thread  # the same bits on any machine and after any earlier call (byte-identical)
def render_report(trial, out_path, *, plan=None, progress=None, sections=None):
    """Compute the sections and render the HTML text (nothing is written).

    Returns
    -------
    (html, ctx, timings) : str, Context, list of Timing
    """
    import matplotlib

    out_path = Path(out_path)
    resolved = plan_for_trial(trial, plan)
    ctx = Context(trial=trial, plan=resolved)
    ctx.results["out_path"] = out_path
    ctx.results["ard_dir"] = ard_dir(out_path).name
    plan_path = _plan_path(trial, plan)
    if plan_path is not None:
        ctx.results["plan_path"] = plan_path
    modules = COMPUTE_ORDER if sections is None else tuple(m for m in COMPUTE_ORDER if m in sections)
    numbers = {m.KEY: i + 1 for i, m in enumerate(SECTIONS if sections is None else [m for m in SECTIONS if m in sections])}
    timings = []
    with matplotlib.rc_context(RC):
        for step, mod in enumerate(modules, start=1):
            t0 = time.perf_counter()
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    why = resolved.skipped(mod.KEY)
                    if why is not None:  # switched off in the plan, or its data is absent
                        raise NotApplicable(why)
                    sec, analysis = run_section(mod, ctx)
                    ctx.analyses[mod.KEY] = analysis
                    ok = sec.error is None
                except NotApplicable as e:
                    sec = Section(key=mod.KEY, title=_title(mod, resolved), not_applicable=_one_line(e))
                    ok = True
                except Exception as e:  # noqa: BLE001 - shown in the report, never swallowed
                    sec = Section(key=mod.KEY, title=_title(mod, resolved), error=f"{type(e).__name__}: {_one_line(e)}")
                    ok = False
            sec = _with_warnings(sec, caught)
            ctx.sections[mod.KEY] = sec
            dt = time.perf_counter() - t0
            timings.append(Timing(mod.KEY, _title(mod, resolved), dt, ok))
            if progress is not None:
                status = "ok" if ok and not sec.failures else ("FAILED: " + (sec.error or "; ".join(sec.failures)))[:200]
                if sec.not_applicable:
                    status = f"not applicable: {sec.not_applicable}"[:200]
                # in build order (not reading order), naming the trial
                progress(f"[{step:2d}/{len(modules)}] {trial.meta.id}: {_title(mod, resolved)} "
                         f"(section {numbers[mod.KEY]}): {status} ({dt:.1f} s)")
        ordered = [ctx.sections[m.KEY] for m in (SECTIONS if sections is None else [m for m in SECTIONS if m in sections])]
        rendered = [_render_figures(sec, i + 1) for i, sec in enumerate(ordered)]
    html = _render_html(trial, resolved, rendered, ctx)
    return html, ctx, timings


def _title(mod, plan) -> str:
    """A section's title: from the plan when the section words it from the data
    (``title(plan)``), else its ``TITLE``."""
    fn = getattr(mod, "title", None)
    return fn(plan) if fn is not None else mod.TITLE


_SHOWN_WARNINGS = ("ConvergenceWarning", "RuntimeWarning", "UserWarning", "ValueWarning")


def _with_warnings(sec: Section, caught) -> Section:
    """Add the model warnings raised while a section was computed as visible notes."""
    seen = []
    for w in caught:
        name = w.category.__name__
        if name not in _SHOWN_WARNINGS and not issubclass(w.category, UserWarning):
            continue
        text = f"Warning ({name}): {_one_line(w.message)}"
        if text not in seen:
            seen.append(text)
    return replace(sec, notes=sec.notes + tuple(seen)) if seen else sec


# ----------------------------------------------------------------------------------------------
# figures
# ----------------------------------------------------------------------------------------------
_ID = re.compile(r'\bid="([^"]+)"')


def figure_svg(fig, prefix: str) -> str:
    """Inline SVG text of a matplotlib figure: no XML prologue, no metadata, ids prefixed.

    A pyplot-managed figure is closed afterwards; the report's own figures live outside pyplot.
    """
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    svg = buf.getvalue()
    if getattr(fig, "number", None) is not None:  # a pyplot-managed figure: release it
        import matplotlib.pyplot as plt

        plt.close(fig)
    svg = svg[svg.index("<svg"):]
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, flags=re.S)
    svg = re.sub(r'\s+xmlns(:xlink)?="[^"]*"', "", svg)
    svg = _ID.sub(lambda m: f'id="{prefix}-{m.group(1)}"', svg)
    svg = svg.replace("url(#", f"url(#{prefix}-").replace('href="#', f'href="#{prefix}-')
    svg = svg.replace("<svg ", '<svg role="img" ', 1)
    return svg.strip()


def _render_figures(sec: Section, number: int) -> dict:
    figs = []
    failures = list(sec.failures)
    for k, f in enumerate(sec.figures):
        try:
            figs.append({"name": f.name, "caption": f.caption, "svg": figure_svg(f.figure, f"s{number}f{k + 1}")})
        except Exception as e:  # noqa: BLE001
            failures.append(f"Figure '{f.caption}' could not be drawn: {type(e).__name__}: {_one_line(e)}")
    return {"section": sec, "number": number, "figures": figs, "failures": failures}


# ----------------------------------------------------------------------------------------------
# HTML
# ----------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def _environment():
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    env = Environment(
        loader=FileSystemLoader(str(Path(__file__).parent / "templates")),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    return env


def _build_time() -> str | None:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if not epoch:
        return None
    try:
        return datetime.fromtimestamp(int(epoch), tz=UTC).strftime("%Y-%m-%d %H:%M UTC")
    except (ValueError, OverflowError):
        return None


_NUMERIC = re.compile(r"^([-<>]?\d|NE$|-$|Inf$)")


def _numeric_column(col) -> bool:
    """A display column is right-aligned when every value looks like a number."""
    vals = [str(v) for v in col if v is not None and str(v) != ""]
    return bool(vals) and all(_NUMERIC.match(v) for v in vals)


def _render_html(trial, plan, rendered: list[dict], ctx) -> str:
    from markupsafe import Markup

    import trialstats

    for r in rendered:
        for f in r["figures"]:
            f["svg"] = Markup(f["svg"])  # matplotlib's own escaped SVG, not data text
        sec = r["section"]
        r["tables"] = [
            {"name": t.name, "caption": t.caption, "note": t.note, "heading": t.heading, "lead": t.lead,
             "header": [str(c) for c in t.display.columns],
             "numeric": [_numeric_column(t.display[c]) for c in t.display.columns],
             "rows": [[("" if v is None else str(v)) for v in row] for row in t.display.itertuples(index=False, name=None)]}
            for t in sec.tables
        ]
    template = _environment().get_template("report.html.j2")
    n_fail = sum(1 for r in rendered if r["section"].error or r["failures"])
    return template.render(
        meta=trial.meta,
        title=(trial.meta.title if trial.meta.title.startswith(trial.meta.id)
               else f"{trial.meta.id}: {trial.meta.title}"),
        simulated=bool(getattr(trial.meta, "simulated", False)),
        sections=rendered,
        version=trialstats.__version__,
        built=_build_time(),
        plan_source=plan.source,
        n_failed=n_fail,
    )
