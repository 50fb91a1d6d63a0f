"""Plots of longitudinal results: LS-mean profiles, observed means, missing-data pattern, forest.

Each function takes a result (a tidy frame, or a fit that can produce one), accepts ``ax=None``
(a new figure is made when ``None``), returns the Axes, never calls ``plt.show()`` and computes no
statistics: it draws the numbers it is given.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from ._style import group_colors, group_markers, with_units
from ._style import new_axes as _new_ax
from ._style import text_safe as _text

__all__ = ["plot_forest", "plot_lsmeans", "plot_missing_pattern", "plot_observed_means"]


def _levels(series: pd.Series) -> list:
    if isinstance(series.dtype, pd.CategoricalDtype):
        present = set(series.dropna().unique())
        return [c for c in series.cat.categories if c in present]
    return list(dict.fromkeys(series.dropna().tolist()))


def _visit_times(frame, x: str, xs: list, time) -> dict:
    """Position of each visit on the x-axis: its real time when known, else its rank.

    ``time`` is a mapping visit -> time (e.g. AVISIT -> AVISITN), a column of ``frame``, or
    ``None``: then a column ``AVISITN`` of the frame is used when present, else visits are evenly
    spaced in their order.
    """
    if time is None and "AVISITN" in frame.columns and x != "AVISITN":
        time = "AVISITN"
    if time is None:
        return {v: float(i) for i, v in enumerate(xs)}
    if isinstance(time, str):
        if time not in frame.columns:
            raise ValueError(f"time={time!r} is not a column of the frame; it has {', '.join(map(str, frame.columns))}")
        time = frame.groupby(x, observed=True, sort=False)[time].first()
    time = dict(time.items()) if hasattr(time, "items") else dict(time)
    missing = [v for v in xs if v not in time]
    if missing:
        raise ValueError(f"time: no time for visit(s) {', '.join(map(str, missing))}; it has {', '.join(map(str, time))}")
    return {v: float(time[v]) for v in xs}


def _visit_axis(ax, pos: dict, xs: list) -> None:
    """Ticks at the visits' positions, labelled with the visits; rotated when they would touch."""
    ticks = [pos[v] for v in xs]
    span = (max(ticks) - min(ticks)) or 1.0
    gaps = np.diff(sorted(ticks)) / span if len(ticks) > 1 else np.array([1.0])
    crowded = len(xs) > 6 or float(gaps.min()) * 7.0 < max(len(str(v)) for v in xs) / 6.0
    ax.set_xticks(ticks)
    ax.set_xticklabels([_text(v) for v in xs], rotation=45 if crowded else 0,
                       ha="right" if crowded else "center")


def _profile(frame, ax, *, x, group, y, low, high, labels, xlabel, ylabel, title, dodge,
             time=None, marker_fill=True):
    required = {x, group, y, low, high}
    missing = required - set(frame.columns)
    if missing:
        raise ValueError(f"the frame lacks column(s) {', '.join(sorted(missing))}; it has {', '.join(map(str, frame.columns))}")
    ax = _new_ax(ax)
    xs = _levels(frame[x])
    groups = _levels(frame[group])
    pos = _visit_times(frame, x, xs, time)
    ticks = sorted(pos.values())
    step = float(np.min(np.diff(ticks))) if len(ticks) > 1 else 1.0  # dodge within the closest visits
    colors = group_colors(groups, labels, frame[group])
    markers = group_markers(groups, labels, frame[group])
    width = dodge * step * (len(groups) - 1)
    for k, g in enumerate(groups):
        sub = frame[frame[group] == g]
        sub = sub.assign(_pos=[pos[v] for v in sub[x]]).sort_values("_pos")
        offset = -width / 2 + k * dodge * step
        xpos = sub["_pos"].to_numpy(float) + offset
        yv = sub[y].to_numpy(float)
        err = np.vstack([yv - sub[low].to_numpy(float), sub[high].to_numpy(float) - yv])
        name = labels.get(g, g) if labels else g
        ax.errorbar(
            xpos, yv, yerr=err, color=colors[g], marker=markers[g], capsize=3,
            linewidth=1.5, markersize=5, label=_text(name),
            markerfacecolor=colors[g] if marker_fill else "white",
        )
    _visit_axis(ax, pos, xs)
    ax.set_xlabel(_text(xlabel))
    ax.set_ylabel(_text(ylabel))
    if title:
        ax.set_title(_text(title))
    ax.grid(axis="y", alpha=0.3)
    ax.legend(frameon=False, fontsize="small")
    return ax


def plot_lsmeans(
    result,
    ax=None,
    *,
    labels: Mapping[str, str] | None = None,
    x: str = "AVISIT",
    group: str = "ARM",
    ylabel: str = "LS mean change from baseline",
    title: str | None = None,
    zero_line: bool = True,
    units: str | None = None,
    time=None,
    xlabel: str = "Visit",
):
    """LS-mean profile: estimate and confidence interval per arm and visit.

    Parameters
    ----------
    result : DataFrame or MMRM fit
        ``fit.lsmeans("ARM", by="AVISIT")`` (columns ARM, AVISIT, estimate, conf_low,
        conf_high), or a fit whose ``lsmeans`` gives it.
    ax : matplotlib Axes, optional
    labels : mapping, optional
        Display label of each arm code, in the trial's arm order (reference first); it also
        fixes each arm's colour, so an arm has the same colour in every figure.
    units : str, optional
        Units of the outcome (e.g. from ADEFF's AVALU or PARAM), added to the y-axis label.
    time : mapping or str, optional
        Real time of each visit (visit -> AVISITN, or a column of the frame): visits are placed
        at their times on the x-axis. Default: the frame's ``AVISITN`` column when it has one,
        else evenly spaced visits.
    xlabel : str, default "Visit"

    Returns
    -------
    matplotlib.axes.Axes
    """
    frame = result if isinstance(result, pd.DataFrame) else result.lsmeans(group, by=x)
    ax = _profile(
        frame, ax, x=x, group=group, y="estimate", low="conf_low", high="conf_high",
        labels=labels, xlabel=xlabel, ylabel=with_units(ylabel, units), title=title, dodge=0.04,
        time=time,
    )
    if zero_line:
        ax.axhline(0.0, color="0.4", linewidth=0.8, linestyle="--", zorder=0)
    return ax


def plot_observed_means(
    frame: pd.DataFrame,
    ax=None,
    *,
    labels: Mapping[str, str] | None = None,
    x: str = "AVISIT",
    group: str = "ARM",
    ylabel: str = "Observed mean",
    title: str | None = None,
    units: str | None = None,
    time=None,
    xlabel: str = "Visit",
):
    """Observed (raw) means with their intervals per arm and visit.

    Parameters
    ----------
    frame : DataFrame
        Columns ``ARM, AVISIT, mean, conf_low, conf_high`` (as computed by the report from the
        observed data; this function only draws them).
    labels, units, time, xlabel
        As :func:`plot_lsmeans`: arm labels (and colours), units of the y-axis, real visit times.

    Returns
    -------
    matplotlib.axes.Axes
    """
    return _profile(
        frame, ax, x=x, group=group, y="mean", low="conf_low", high="conf_high", labels=labels,
        xlabel=xlabel, ylabel=with_units(ylabel, units), title=title, dodge=0.04, time=time,
        marker_fill=False,
    )


def plot_missing_pattern(
    frame: pd.DataFrame,
    ax=None,
    *,
    labels: Mapping[str, str] | None = None,
    x: str = "AVISIT",
    group: str = "ARM",
    value: str = "pct_missing",
    title: str | None = None,
):
    """Heat map of the share of missing outcomes by arm (rows) and visit (columns), annotated.

    Parameters
    ----------
    frame : DataFrame
        Columns ``ARM, AVISIT, pct_missing`` (0-100); ``n_missing``/``n_expected`` when present
        are printed in the cells.

    Returns
    -------
    matplotlib.axes.Axes
    """
    xs = _levels(frame[x])
    groups = _levels(frame[group])
    grid = np.full((len(groups), len(xs)), np.nan)
    text = [["" for _ in xs] for _ in groups]
    for _, row in frame.iterrows():
        i, j = groups.index(row[group]), xs.index(row[x])
        grid[i, j] = float(row[value])
        cell = f"{float(row[value]):.0f}%"
        if "n_missing" in frame.columns and "n_expected" in frame.columns:
            cell += f"\n{int(row['n_missing'])}/{int(row['n_expected'])}"
        text[i][j] = cell
    ax = _new_ax(ax, figsize=(max(6.0, 1.1 * len(xs) + 2.5), 0.9 * len(groups) + 1.8))
    im = ax.imshow(grid, cmap="Blues", vmin=0.0, vmax=max(50.0, float(np.nanmax(grid)) if np.isfinite(grid).any() else 50.0), aspect="auto")
    for i in range(len(groups)):
        for j in range(len(xs)):
            v = grid[i, j]
            ax.text(j, i, text[i][j], ha="center", va="center", fontsize=9,
                    color="white" if np.isfinite(v) and v > 30 else "black")
    ax.set_xticks(range(len(xs)))
    ax.set_xticklabels([_text(v) for v in xs], rotation=45 if len(xs) > 6 else 0, ha="right" if len(xs) > 6 else "center")
    ax.set_yticks(range(len(groups)))
    ax.set_yticklabels([_text(labels.get(g, g) if labels else g) for g in groups])
    ax.set_xlabel("Visit")
    ax.figure.colorbar(im, ax=ax, label="% missing", fraction=0.04, pad=0.02)
    if title:
        ax.set_title(_text(title))
    return ax


def plot_forest(
    frame: pd.DataFrame,
    ax=None,
    *,
    label: str = "label",
    group: str | None = None,
    labels: Mapping[str, str] | None = None,
    null: float = 0.0,
    xlabel: str = "Treatment difference (95% CI)",
    title: str | None = None,
    log: bool = False,
):
    """Forest plot: one row per ``label`` (top to bottom in frame order), point and interval.

    Parameters
    ----------
    frame : DataFrame
        Columns ``label, estimate, conf_low, conf_high``; with ``group`` (e.g. ``"ARM"``) the
        groups are drawn side by side within each row, in distinct colours and markers.
        Rows whose ``estimate`` is missing are labelled but not drawn (a heading row).
    null : float
        Where the vertical line of no effect is drawn (0 for differences, 1 with ``log=True``).

    Returns
    -------
    matplotlib.axes.Axes
    """
    rows = list(dict.fromkeys(frame[label].tolist()))
    groups = _levels(frame[group]) if group else [None]
    colors = group_colors(groups, labels, frame[group] if group else None) if group else {None: "#000000"}
    markers = group_markers(groups, labels, frame[group] if group else None) if group else {None: "o"}
    ax = _new_ax(ax, figsize=(7.0, 0.32 * len(rows) * max(1, len(groups) * 0.7) + 1.4))
    ypos = {r: len(rows) - 1 - i for i, r in enumerate(rows)}
    step = 0.5 / max(len(groups), 1)
    for k, g in enumerate(groups):
        sub = frame if g is None else frame[frame[group] == g]
        sub = sub[sub["estimate"].notna()]
        offset = (len(groups) - 1) * step / 2 - k * step
        y = np.array([ypos[r] for r in sub[label]], dtype=float) + offset
        est = sub["estimate"].to_numpy(float)
        lo = sub["conf_low"].to_numpy(float)
        hi = sub["conf_high"].to_numpy(float)
        ax.hlines(y, lo, hi, color=colors[g], linewidth=1.5)
        name = None if g is None else _text(labels.get(g, g) if labels else g)
        ax.plot(est, y, linestyle="none", marker=markers[g], color=colors[g], label=name)
    ax.axvline(null, color="0.4", linewidth=0.8, linestyle="--")
    if log:
        ax.set_xscale("log")
    ax.set_yticks([ypos[r] for r in rows])
    ax.set_yticklabels([_text(r) for r in rows])
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.set_xlabel(_text(xlabel))
    ax.grid(axis="x", alpha=0.3)
    if group:
        ax.legend(frameon=False, fontsize="small", loc="best")
    if title:
        ax.set_title(_text(title))
    return ax
