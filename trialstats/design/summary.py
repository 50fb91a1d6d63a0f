r"""Operating characteristics of a design from its replicate rows, and the sample-size search.

Per scenario, n per arm and hypothesis (:func:`summarise`), over :math:`R` replicates:

* rejection rate :math:`\hat p` (after the plan's multiplicity adjustment; power under an
  alternative, type I error under a null) with Monte-Carlo SE :math:`\sqrt{\hat p(1-\hat p)/R}`
  and a Wilson interval (:func:`statsmodels.stats.proportion.proportion_confint`), and the
  unadjusted rate (:math:`p \le \alpha`);
* bias of the estimate against the scenario's true value, with its MC SE
  (empirical SE :math:`/\sqrt{m}`); empirical SE (SD of the estimates) against the mean model SE;
* coverage of the confidence intervals with its MC SE;
* convergence rate (the analysis produced an estimate) and the fallback rate (the MMRM needed a
  covariance structure after the plan's first).

Family-wise error (:func:`family_wise`): under each null scenario, the share of replicates that
reject at least one hypothesis.

Sample size (:func:`sample_size`): for each power target, power is modelled as
:math:`\Phi(a + b\sqrt n)`, a binomial GLM with probit link in :math:`\sqrt n` fitted to the
rejection counts over the grid (statsmodels ``GLM``). This is the shape of a z-test's power,
:math:`\Phi(\delta\sqrt{n/2}/\sigma - z_{1-\alpha/2})`, and of Schoenfeld's for a fixed event
fraction; it is monotone when :math:`b > 0` and it pools the MC error of every grid point.
``n_point`` is the smallest integer n whose fitted power reaches the target; ``n_chosen``, the
smallest whose lower confidence limit (the plan's level, delta method on :math:`a + b\sqrt n`)
reaches it, so the MC error is accounted for. When the GLM cannot be fitted (every replicate
rejects, or none does) or :math:`b \le 0`, the search falls back to the grid: the smallest grid n
whose Wilson lower limit reaches the target (``method = "grid"``).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

__all__ = ["curve_band", "family_wise", "power_curve", "power_curves", "sample_size", "summarise"]

_KEYS = ["scenario", "n_per_arm", "hypothesis"]


def summarise(replicates: pd.DataFrame, *, level: float = 0.95, alpha: float = 0.05,
              first_covariance: str | None = None) -> pd.DataFrame:
    """Operating characteristics per scenario, n per arm and hypothesis.

    Parameters
    ----------
    replicates : DataFrame
        ARD rows of :func:`trialstats.design.run`.
    level : float, default 0.95
        Level of the Wilson interval of the rejection rate.
    alpha : float, default 0.05
        Two-sided level of the unadjusted rejection rate.
    first_covariance : str, optional
        The plan's first covariance structure; others count as fallbacks (default: the most
        frequent structure is not assumed, the fallback rate is NaN).

    Returns
    -------
    DataFrame
        ``scenario, n_per_arm, hypothesis, endpoint, arm, measure, n_replicates, n_converged,
        rejections, rejection_rate, mc_se, conf_low, conf_high, rejection_rate_unadjusted,
        true_value, mean_estimate, bias, bias_mc_se, empirical_se, mean_model_se, coverage,
        coverage_mc_se, convergence_rate, fallback_rate``, in the replicates' order.
    """
    rows = []
    for key, g in replicates.groupby(_KEYS, sort=False):
        rows.append({**dict(zip(_KEYS, key)), **_characteristics(g, level, alpha,
                                                                 first_covariance)})
    return pd.DataFrame(rows)


def _characteristics(g: pd.DataFrame, level, alpha, first_cov) -> dict:
    r = len(g)
    k = int(g["reject"].sum())
    p = k / r
    lo, hi = proportion_confint(k, r, alpha=1 - level, method="wilson")
    ok = g[g["converged"]]
    est = ok["estimate"].to_numpy(float)
    m = est.size
    truth = float(g["true_value"].iloc[0])
    emp = float(np.std(est, ddof=1)) if m > 1 else math.nan
    covered = (ok["conf_low"] <= truth) & (truth <= ok["conf_high"])
    cov = float(covered.mean()) if m and math.isfinite(truth) else math.nan
    used = ok["covariance_used"]
    fallback = (float((used != first_cov).mean()) if first_cov and m and (used != "").all()
                else math.nan)
    return {
        "endpoint": g["endpoint"].iloc[0], "arm": g["arm"].iloc[0],
        "measure": g["measure"].iloc[0], "n_replicates": r, "n_converged": m,
        "rejections": k, "rejection_rate": p, "mc_se": math.sqrt(p * (1 - p) / r),
        "conf_low": lo, "conf_high": hi,
        "rejection_rate_unadjusted": float((g["p_value"] <= alpha).mean()),
        "true_value": truth,
        "mean_estimate": float(est.mean()) if m else math.nan,
        "bias": float(est.mean() - truth) if m else math.nan,
        "bias_mc_se": emp / math.sqrt(m) if m > 1 else math.nan,
        "empirical_se": emp,
        "mean_model_se": float(ok["std_error"].mean()) if m else math.nan,
        "coverage": cov,
        "coverage_mc_se": math.sqrt(cov * (1 - cov) / m) if math.isfinite(cov) else math.nan,
        "convergence_rate": m / r, "fallback_rate": fallback,
    }


def family_wise(replicates: pd.DataFrame, spec) -> pd.DataFrame:
    """Family-wise rejection rate under each null scenario and n per arm.

    Only the scenario's true null hypotheses count (``null_hypotheses``; all when empty).

    Returns
    -------
    DataFrame
        ``scenario, n_per_arm, n_replicates, fwer, mc_se, conf_low, conf_high, target,
        meets_target`` (``meets_target``: the Wilson interval's lower limit is not above the
        target, i.e. the data do not show the FWER to exceed it).
    """
    nulls = {s.name: s.null_hypotheses for s in spec.scenarios if s.null}
    level = spec.plan.level
    rows = []
    sub = replicates[replicates["scenario"].isin(list(nulls))]
    for (sc, n), g in sub.groupby(["scenario", "n_per_arm"], sort=False):
        if nulls[sc]:
            g = g[g["hypothesis"].isin(nulls[sc])]
        anyrej = g.groupby("replicate")["reject"].any()
        r, k = len(anyrej), int(anyrej.sum())
        lo, hi = proportion_confint(k, r, alpha=1 - level, method="wilson")
        target = spec.fwer_target if spec.fwer_target is not None else spec.plan.alpha
        rows.append({"scenario": sc, "n_per_arm": int(n), "n_replicates": r, "fwer": k / r,
                     "mc_se": math.sqrt(k / r * (1 - k / r) / r), "conf_low": lo,
                     "conf_high": hi, "target": target, "meets_target": bool(lo <= target)})
    return pd.DataFrame(rows, columns=["scenario", "n_per_arm", "n_replicates", "fwer", "mc_se",
                                       "conf_low", "conf_high", "target", "meets_target"])


def power_curve(summary: pd.DataFrame, scenario: str, hypothesis: str):
    """Probit fit of the rejection rate in sqrt(n): ``(a, b, cov)`` or None when not estimable."""
    import statsmodels.api as sm
    from statsmodels.tools.sm_exceptions import PerfectSeparationWarning

    g = summary[(summary["scenario"] == scenario) & (summary["hypothesis"] == hypothesis)]
    k = g["rejections"].to_numpy(float)
    r = g["n_replicates"].to_numpy(float)
    if len(g) < 2 or k.sum() == 0 or k.sum() == r.sum():
        return None
    x = sm.add_constant(np.sqrt(g["n_per_arm"].to_numpy(float)))
    fam = sm.families.Binomial(link=sm.families.links.Probit())
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", PerfectSeparationWarning)
            warnings.simplefilter("ignore", RuntimeWarning)  # scale with 0 residual df
            fit = sm.GLM(np.column_stack([k, r - k]), x, family=fam).fit()
    except (PerfectSeparationWarning, np.linalg.LinAlgError, ValueError):
        return None
    a, b = fit.params
    if not (np.isfinite(a) and np.isfinite(b)) or b <= 0:
        return None
    return float(a), float(b), np.asarray(fit.cov_params())


def curve_band(a, b, cov, n, level=0.95):
    """Fitted power and its pointwise ``level`` interval at ``n`` (delta method on the probit)."""
    n = np.asarray(n, float)
    s = np.sqrt(n)
    eta = a + b * s
    se = np.sqrt(cov[0, 0] + 2 * s * cov[0, 1] + s**2 * cov[1, 1])
    z = stats.norm.ppf(0.5 + level / 2)
    return stats.norm.cdf(eta), stats.norm.cdf(eta - z * se), stats.norm.cdf(eta + z * se)


def sample_size(summary: pd.DataFrame, spec) -> pd.DataFrame:
    """Smallest n per arm meeting each power target, per non-null scenario.

    Returns
    -------
    DataFrame
        ``scenario, hypothesis, target, n_point, n_chosen, method, fitted_power`` (the fitted
        power at ``n_chosen``); ``n_point`` / ``n_chosen`` are NaN when the target is not
        reached within the grid (the fit is not extrapolated).
    """
    rows = []
    lo_n, hi_n = min(spec.n_per_arm), max(spec.n_per_arm)
    grid = np.arange(lo_n, hi_n + 1)
    for sc in (s for s in spec.scenarios if not s.null):
        for hid, target in spec.power_targets.items():
            fit = power_curve(summary, sc.name, hid)
            row = {"scenario": sc.name, "hypothesis": hid, "target": target}
            if fit is not None:
                est, low, _ = curve_band(*fit, grid, level=spec.plan.level)
                n_point = _first(grid, est >= target)
                n_chosen = _first(grid, low >= target)
                fitted = (float(est[grid == n_chosen][0]) if math.isfinite(n_chosen)
                          else math.nan)
                rows.append({**row, "n_point": n_point, "n_chosen": n_chosen,
                             "method": "probit in sqrt(n)", "fitted_power": fitted})
                continue
            g = summary[(summary["scenario"] == sc.name) & (summary["hypothesis"] == hid)]
            meets = g[g["conf_low"] >= target]
            n_chosen = float(meets["n_per_arm"].min()) if len(meets) else math.nan
            n_point = g.loc[g["rejection_rate"] >= target, "n_per_arm"]
            rows.append({**row, "n_point": float(n_point.min()) if len(n_point) else math.nan,
                         "n_chosen": n_chosen, "method": "grid",
                         "fitted_power": math.nan})
    return pd.DataFrame(rows, columns=["scenario", "hypothesis", "target", "n_point",
                                       "n_chosen", "method", "fitted_power"])


def _first(grid, mask) -> float:
    idx = np.flatnonzero(mask)
    return float(grid[idx[0]]) if idx.size else math.nan


def power_curves(summary: pd.DataFrame, spec, points: int = 60) -> pd.DataFrame:
    """Fitted power curve with its pointwise band, per non-null scenario and hypothesis.

    Returns
    -------
    DataFrame
        ``scenario, hypothesis, n_per_arm, power, conf_low, conf_high`` on ``points`` values of
        n from the smallest to the largest of the grid (empty for a pair whose fit is not
        estimable).
    """
    rows = []
    grid = np.linspace(min(spec.n_per_arm), max(spec.n_per_arm), points)
    hyps = list(dict.fromkeys(summary["hypothesis"])) if len(summary) else []
    for sc in (s for s in spec.scenarios if not s.null):
        for hid in hyps:
            fit = power_curve(summary, sc.name, hid)
            if fit is None:
                continue
            est, lo, hi = curve_band(*fit, grid, level=spec.plan.level)
            rows += [{"scenario": sc.name, "hypothesis": hid, "n_per_arm": float(n),
                      "power": float(e), "conf_low": float(a), "conf_high": float(b)}
                     for n, e, a, b in zip(grid, est, lo, hi)]
    return pd.DataFrame(rows, columns=["scenario", "hypothesis", "n_per_arm", "power",
                                       "conf_low", "conf_high"])
