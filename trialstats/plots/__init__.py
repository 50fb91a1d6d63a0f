"""trialstats.plots: figures drawn from results.

Every function takes a result, accepts ``ax=None``, returns the matplotlib Axes, never calls
``plt.show()`` and computes no statistics. matplotlib and seaborn are imported only inside this
package, and only when a plot function is first used, so ``import trialstats`` stays light.

Survival: plot_km, plot_cumulative_incidence, plot_extrapolation, plot_loglog
(:mod:`trialstats.plots.survival`). Longitudinal: plot_lsmeans, plot_observed_means,
plot_missing_pattern, plot_forest (:mod:`trialstats.plots.longitudinal`). Estimands:
plot_tipping_point (:mod:`trialstats.plots.estimands`). Design:
plot_power_curve (:mod:`trialstats.plots.design`).
"""

from __future__ import annotations

from .._lazy import lazy_attributes

# public name -> submodule that defines it (add new plot modules here)
_LAZY = {
    "plot_km": "survival",
    "plot_cumulative_incidence": "survival",
    "plot_extrapolation": "survival",
    "plot_loglog": "survival",
    "plot_lsmeans": "longitudinal",
    "plot_observed_means": "longitudinal",
    "plot_missing_pattern": "longitudinal",
    "plot_forest": "longitudinal",
    "plot_tipping_point": "estimands",
    "plot_power_curve": "design",
}

__all__ = sorted(_LAZY)


__getattr__, __dir__ = lazy_attributes(__name__, globals(), _LAZY)
