"""Figures of a simulation-based design (:func:`trialstats.design.run`): power curves."""

from __future__ import annotations

from ._style import new_axes

__all__ = ["plot_power_curve"]


def plot_power_curve(result, hypothesis: str, ax=None):
    """Rejection rate against n per arm for one hypothesis, per non-null scenario.

    Points are the simulated rejection rates with their Monte-Carlo (Wilson) intervals; the line
    and band are the fitted probit-in-sqrt(n) curve and its pointwise interval
    (``result.curves``); the dashed line is the power target and the dotted line the chosen n
    (``result.sample_size``), when present.

    Parameters
    ----------
    result : DesignResult
    hypothesis : str
        Hypothesis id (``"H1"``).
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib

    ax = new_axes(ax, figsize=(6.0, 3.6))
    nulls = {s.name for s in result.spec.scenarios if s.null}
    summ = result.summary[(result.summary["hypothesis"] == hypothesis)
                          & ~result.summary["scenario"].isin(nulls)]
    colours = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
    for k, (name, g) in enumerate(summ.groupby("scenario", sort=False)):
        c = colours[k % len(colours)]
        yerr = [(g["rejection_rate"] - g["conf_low"]).clip(lower=0),   # Wilson limits can
                (g["conf_high"] - g["rejection_rate"]).clip(lower=0)]  # round past the rate
        ax.errorbar(g["n_per_arm"], g["rejection_rate"], yerr=yerr, fmt="o", color=c,
                    capsize=3, label=f"{name} (simulated, MC interval)")
        cv = result.curves[(result.curves["scenario"] == name)
                           & (result.curves["hypothesis"] == hypothesis)]
        if len(cv):
            ax.plot(cv["n_per_arm"], cv["power"], color=c, lw=1.5, label=f"{name} (fitted)")
            ax.fill_between(cv["n_per_arm"], cv["conf_low"], cv["conf_high"], color=c,
                            alpha=0.18, lw=0)
        ss = result.sample_size[(result.sample_size["scenario"] == name)
                                & (result.sample_size["hypothesis"] == hypothesis)]
        for _, r in ss.iterrows():
            if r["n_chosen"] == r["n_chosen"]:
                ax.axvline(r["n_chosen"], color=c, ls=":", lw=1.2)
    target = result.spec.power_targets.get(hypothesis)
    if target is not None:
        ax.axhline(target, color="0.35", ls="--", lw=1.0, label=f"target {target:g}")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("subjects per arm")
    ax.set_ylabel("rejection rate (power)")
    ax.set_title(hypothesis, loc="left")
    ax.legend(frameon=False, fontsize="small", loc="best")
    return ax
