"""Plots of estimand / missing-data results: the tipping-point plot.

Takes a result, accepts ``ax=None`` (a new figure is made when ``None``), returns the Axes, never
calls ``plt.show()`` and computes no statistics: it draws the numbers it is given.
"""

from __future__ import annotations

from ._style import new_axes
from ._style import text_safe as _text

__all__ = ["plot_tipping_point"]


def plot_tipping_point(tp, ax=None, title: str | None = None, xlabel: str | None = None,
                       ylabel: str | None = None):
    """Estimate and confidence interval against the delta, with the tipping point marked.

    Parameters
    ----------
    tp : TippingPointResult
        From :func:`trialstats.tipping_point`.
    ax : matplotlib Axes, optional
    title, xlabel, ylabel : str, optional
        Default: the comparison, "delta added to imputed values (<arms>)", "<arm> - <ref>".

    Returns
    -------
    matplotlib.axes.Axes
        The line is the estimate, the band its ``level`` interval; filled markers are deltas
        at which the difference is significant, open markers those at which it is not; the
        horizontal line is no difference and the dashed vertical line the tipping delta.
    """
    import seaborn as sns

    ax = new_axes(ax, figsize=(7.0, 4.2))
    t = tp.table
    color = sns.color_palette("colorblind", 3)
    x = t["delta"].to_numpy(float)
    ax.fill_between(x, t["conf_low"], t["conf_high"], color=color[0], alpha=0.2, lw=0,
                    label=f"{tp.level:.0%} CI")
    ax.plot(x, t["estimate"], color=color[0], lw=1.8, label="estimate")
    sig = t["significant"].to_numpy(bool)
    ax.scatter(x[sig], t["estimate"].to_numpy()[sig], color=color[0], zorder=3, s=28,
               label=f"significant (p < {1 - tp.level:.2g})")
    ax.scatter(x[~sig], t["estimate"].to_numpy()[~sig], facecolor="white",
               edgecolor=color[0], zorder=3, s=28, label="not significant")
    ax.axhline(0.0, color="0.3", lw=0.9)
    for k, flip in enumerate(tp.flips):
        ax.axvline(flip, color=color[1], ls="--", lw=1.3,
                   label=f"tipping point: delta = {flip:.3g}" if k == 0 else None)
    arms = "/".join(map(_text, tp.delta_arms))
    ax.set_xlabel(xlabel or f"delta added to imputed values ({arms})")
    ax.set_ylabel(ylabel or f"{_text(tp.arm)} - {_text(tp.reference)} at visit {_text(tp.visit)}")
    ax.set_title(title or "Tipping-point analysis")
    ax.legend(frameon=False, fontsize=8, loc="best")
    ax.margins(x=0.03)
    return ax
