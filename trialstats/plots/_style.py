"""One look for every figure: the arm palette, the colour of each arm, units on axis labels, and
the small helpers every plot module shares (safe data text, an arm's display name, a new Axes).

The arm palette is Okabe & Ito's colour-blind-safe set ("Color Universal Design", 2008), the one
recommended by Wong, *Nature Methods* 8:441 (2011). An arm keeps its colour in every figure: the
colour is taken from the arm's position in the trial's arm order (the ``labels`` mapping that the
report passes, reference first), not from the groups a particular figure happens to draw, so the
forest plot (no reference arm) colours EXOSOME as the LS-mean profile does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

# Okabe-Ito, in the order used for arms: the reference arm (first) is black
OKABE_ITO = ("#000000", "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#F0E442")
# marker of each arm, in the same order (shape distinguishes arms in greyscale print too)
MARKERS = ("o", "s", "^", "D", "v", "P", "X")


def palette(n: int) -> list[str]:
    """``n`` colours of the arm palette (cycled beyond eight)."""
    return [OKABE_ITO[i % len(OKABE_ITO)] for i in range(max(n, 1))]


def arm_order(groups: Sequence, labels: Mapping | None = None, series: pd.Series | None = None) -> list:
    """The full group order that fixes each group's colour.

    ``labels`` (arm code -> label, in the trial's arm order) when it names every group; else the
    categories of ``series`` when it is categorical (absent arms keep their place); else ``groups``.
    """
    if labels and all(g in labels for g in groups):
        return list(labels)
    if series is not None and isinstance(series.dtype, pd.CategoricalDtype):
        return list(series.cat.categories)
    return list(groups)


def group_colors(groups: Sequence, labels: Mapping | None = None, series: pd.Series | None = None) -> dict:
    """Group -> colour, stable across figures (see :func:`arm_order`)."""
    order = arm_order(groups, labels, series)
    colors = palette(len(order))
    return {g: colors[order.index(g)] for g in groups}


def group_markers(groups: Sequence, labels: Mapping | None = None, series: pd.Series | None = None) -> dict:
    """Group -> marker, stable across figures like :func:`group_colors`."""
    order = arm_order(groups, labels, series)
    return {g: MARKERS[order.index(g) % len(MARKERS)] for g in groups}


def with_units(label: str, units: str | None) -> str:
    """``"LS mean change (hairs/cm²)"``: the axis label with its units in brackets, if given."""
    return f"{label} ({units})" if units else label


def text_safe(s) -> str:
    """Data text safe for matplotlib: a literal ``$`` must not start mathtext."""
    return str(s).replace("$", r"\$")


def display_name(group, labels: Mapping | None) -> str:
    """The display name of a group (its label when ``labels`` has one, else the value), safe
    for matplotlib."""
    return text_safe(labels.get(group, group) if labels else group)


def new_axes(ax, figsize=(7.0, 4.0)):
    """``ax`` itself, or the Axes of a new pyplot figure of ``figsize`` when ``ax`` is None."""
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=figsize)
    return ax
