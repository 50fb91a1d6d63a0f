"""Plots of survival results: Kaplan-Meier with a risk table, cumulative incidence,
parametric extrapolation, and the log(-log) diagnostic of proportional hazards.

Each function takes a result from :mod:`trialstats.survival`, accepts ``ax=None`` (a new figure
is made when ``None``), returns the Axes, never calls ``plt.show()`` and computes no statistics:
it draws the numbers the result gives (``table``, ``risk_table()``, ``predict()``).
"""

from __future__ import annotations

import numpy as np
from matplotlib import transforms

from ._style import display_name as _name
from ._style import group_colors, new_axes, palette
from ._style import text_safe as _text

__all__ = ["plot_km", "plot_cumulative_incidence", "plot_extrapolation", "plot_loglog"]

_LINESTYLES = ("-", "--", "-.", ":", (0, (5, 1)), (0, (3, 1, 1, 1)))




def _new_ax(ax, figsize=(7.5, 4.5)):
    return new_axes(ax, figsize)


def _steps(times, values, start_value):
    """Step coordinates starting at time 0."""
    t = np.concatenate([[0.0], np.asarray(times, dtype=float)])
    v = np.concatenate([[start_value], np.asarray(values, dtype=float)])
    return t, v


def _step_curve(ax, sub, column: str, start: float, color, label: str, conf_int: bool) -> None:
    """One group's step curve from time 0 and, optionally, its pointwise band."""
    t, v = _steps(sub["time"], sub[column], start)
    ax.step(t, v, where="post", color=color, label=label, lw=1.8)
    if conf_int:
        _, lo = _steps(sub["time"], sub["conf_low"].fillna(sub[column]), start)
        _, hi = _steps(sub["time"], sub["conf_high"].fillna(sub[column]), start)
        ax.fill_between(t, lo, hi, step="post", color=color, alpha=0.15, lw=0)


def plot_km(km, ax=None, at_risk: bool = True, times=None, conf_int: bool = True,
            censor_marks: bool = True, title: str | None = None, labels: dict | None = None):
    """Kaplan-Meier curves with pointwise bands and a number-at-risk table under the axis.

    Parameters
    ----------
    km : KaplanMeierResult
        From :func:`trialstats.kaplan_meier`.
    ax : matplotlib Axes, optional
    at_risk : bool, default True
        Draw the numbers at risk at the x ticks, one row per group, under the axis.
    times : sequence of float, optional
        Tick times for the risk table (default: the axis' ticks within the data range).
    conf_int, censor_marks : bool
        Draw the confidence bands and "+" marks at censoring times.
    title : str, optional
    labels : dict, optional
        Display name of each group (e.g. arm code -> label); default the group values.

    Returns
    -------
    matplotlib Axes
    """
    made_here = ax is None
    ax = _new_ax(ax, figsize=(7.5, 4.5 + (0.35 * len(km.levels) + 0.6 if at_risk else 0)))
    colors = [group_colors(km.levels, labels)[g] for g in km.levels]
    tab = km.table
    for color, g in zip(colors, km.levels):
        sub = tab[tab[km.group] == g]
        _step_curve(ax, sub, "survival", 1.0, color, _name(g, labels), conf_int)
        if censor_marks:
            cens = sub[sub["n_censor"] > 0]
            ax.plot(cens["time"], cens["survival"], ls="none", marker="+", ms=7,
                    color=color)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlim(left=0)
    ax.set_xlabel(f"Time ({km.time_unit})")
    ax.set_ylabel("Survival probability")
    if title:
        ax.set_title(_text(title))
    if len(km.levels) > 1 or km.levels[0] != "all":
        ax.legend(title=_text(km.group), frameon=False)
    if at_risk:
        if times is None:
            tmax = float(tab["time"].max())
            ticks = [x for x in ax.get_xticks() if 0 <= x <= tmax]
        else:
            ticks = list(times)
        ax.set_xticks(ticks)
        rt = km.risk_table(ticks)
        trans = transforms.blended_transform_factory(ax.transData, ax.transAxes)
        label_trans = ax.transAxes
        ax.text(-0.05, -0.20, "At risk", transform=label_trans, ha="right", va="center",
                fontsize=8, fontweight="bold")
        for i, (color, g) in enumerate(zip(colors, km.levels)):
            y = -0.27 - 0.07 * i
            ax.text(-0.05, y, _name(g, labels), transform=label_trans, ha="right", va="center",
                    fontsize=8, color=color)
            rows = rt[rt[km.group] == g]
            for tick, n in zip(rows["time"], rows["n_risk"]):
                ax.text(tick, y, f"{int(n)}", transform=trans, ha="center", va="center",
                        fontsize=8)
        if made_here:  # leave room for the table under the axis
            ax.figure.subplots_adjust(bottom=0.22 + 0.07 * len(km.levels), left=0.2)
    return ax


def plot_cumulative_incidence(ci, ax=None, conf_int: bool = True, title: str | None = None,
                              labels: dict | None = None):
    """Cumulative incidence curves (Aalen-Johansen) with pointwise bands.

    Parameters
    ----------
    ci : CumulativeIncidenceResult
        From :func:`trialstats.cumulative_incidence`.
    ax : matplotlib Axes, optional
    conf_int : bool, default True
    title : str, optional
    labels : dict, optional
        Display name of each group; default the group values.

    Returns
    -------
    matplotlib Axes
    """
    ax = _new_ax(ax)
    colors = [group_colors(ci.levels, labels)[g] for g in ci.levels]
    for color, g in zip(colors, ci.levels):
        sub = ci.table[ci.table[ci.group] == g]
        _step_curve(ax, sub, "estimate", 0.0, color, _name(g, labels), conf_int)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlim(left=0)
    ax.set_xlabel(f"Time ({ci.time_unit})")
    ax.set_ylabel(f"Cumulative incidence (cause {ci.cause})")
    if title:
        ax.set_title(_text(title))
    ax.legend(title=_text(ci.group), frameon=False)
    return ax


def plot_extrapolation(ext, ax=None, arm=None, max_years: float = 5.0, n_points: int = 200,
                       title: str | None = None, labels: dict | None = None,
                       ylabel: str = "Survival proportion"):
    """Kaplan-Meier (steps) against the fitted parametric curves (lines), per arm.

    Parameters
    ----------
    ext : ExtrapolationResult
        From :func:`trialstats.extrapolate`.
    ax : matplotlib Axes, optional
    arm : str, optional
        Draw one arm only (colours then distinguish distributions); default all arms (colour =
        arm, line style = distribution).
    max_years : float, default 5
        Right end of the time axis.
    n_points : int, default 200
        Points per fitted curve.
    title : str, optional
    labels : dict, optional
        Display name of each arm; default the arm values.
    ylabel : str, default "Survival proportion"
        The y-axis label (the report names the event: "Relapse-free proportion").

    Returns
    -------
    matplotlib Axes
    """
    ax = _new_ax(ax)
    arms = list(ext.levels) if arm is None else [arm]
    days = 365.25
    grid = np.linspace(0.0, max_years * days, n_points)
    pred = ext.predict(grid)
    km_tab = ext.km.table
    arm_colors = group_colors(ext.levels, labels)
    dist_colors = dict(zip(ext.distributions, palette(len(ext.distributions) + 1)[1:]))
    for a in arms:
        sub = km_tab[km_tab[ext.km.group] == a]
        t, s = _steps(sub["time"] / days, sub["survival"], 1.0)
        ax.step(t, s, where="post", color="black" if arm is not None else arm_colors[a],
                lw=2.0, label=f"{_name(a, labels)} Kaplan-Meier")
        for k, dist in enumerate(ext.distributions):
            p = pred[(pred[ext.group] == a) & (pred["distribution"] == dist)]
            if arm is None:
                style = dict(color=arm_colors[a], ls=_LINESTYLES[k % len(_LINESTYLES)], lw=1.0)
                label = f"{_name(a, labels)} {dist}"
            else:
                style = dict(color=dist_colors[dist], lw=1.4)
                label = dist
            ax.plot(p["time"] / days, p["survival"], label=label, **style)
    ax.set_xlim(0, max_years)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("Time (years)")
    ax.set_ylabel(_text(ylabel))
    if title:
        ax.set_title(_text(title))
    ax.legend(frameon=False, fontsize=7, ncol=2 if arm is None else 1)
    return ax


def plot_loglog(km, ax=None, title: str | None = None, labels: dict | None = None):
    """log(-log S(t)) against log t per group: parallel curves support proportional hazards.

    Parameters
    ----------
    km : KaplanMeierResult
    ax : matplotlib Axes, optional
    title : str, optional
    labels : dict, optional
        Display name of each group; default the group values.

    Returns
    -------
    matplotlib Axes
    """
    ax = _new_ax(ax)
    colors = [group_colors(km.levels, labels)[g] for g in km.levels]
    for color, g in zip(colors, km.levels):
        sub = km.table[(km.table[km.group] == g) & (km.table["n_event"] > 0)]
        sub = sub[(sub["survival"] > 0) & (sub["survival"] < 1) & (sub["time"] > 0)]
        with np.errstate(divide="ignore", invalid="ignore"):
            y = np.log(-np.log(sub["survival"].to_numpy()))
        ax.step(np.log(sub["time"].to_numpy()), y, where="post", color=color, label=_name(g, labels))
    ax.set_xlabel(f"log time ({km.time_unit})")
    ax.set_ylabel("log(-log S(t))")
    if title:
        ax.set_title(_text(title))
    ax.legend(title=_text(km.group), frameon=False)
    return ax
