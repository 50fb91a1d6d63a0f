"""Superiority and non-inferiority tests of one arm against another, from a comparisons frame.

:func:`compare` picks the rows of ``arm`` against ``reference`` (turning ``reference`` against
``arm`` rows round when only those exist), and tests the estimate against a margin on the
estimate's own scale, one- or two-sided:

.. math::

    z = \\frac{g(\\hat\\theta) - g(\\delta)}{\\mathrm{SE}(g(\\hat\\theta))},\\qquad
    g = \\mathrm{identity}\\ \\text{(difference)}\\ \\text{or}\\ \\log\\ \\text{(ratio)},

with ``t`` in place of ``z`` where the row has finite ``df``. ``alternative="greater"`` tests
:math:`H_1: \\theta > \\delta` (higher is better: e.g. a hair-count difference with a
non-inferiority margin :math:`\\delta = -\\Delta`), ``"less"`` tests :math:`H_1: \\theta < \\delta`
(lower is better: e.g. a hazard ratio with margin 1.3). The one-sided interval has the same
``level``: non-inferiority at a one-sided 2.5% is ``level=0.975``, which gives the lower limit of
the two-sided 95% interval.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from .._inference import check_level
from ..errors import ModelError
from .ard import comparisons_frame

__all__ = ["ALTERNATIVES", "compare"]

ALTERNATIVES = ("two-sided", "greater", "less")


def _flip(rows: pd.DataFrame) -> pd.DataFrame:
    """``reference`` vs ``arm`` rows turned into ``arm`` vs ``reference``."""
    out = rows.copy()
    out["arm"], out["reference"] = rows["reference"], rows["arm"]
    ratio = rows["scale"] == "ratio"
    out["estimate"] = np.where(ratio, 1.0 / rows["estimate"], -rows["estimate"])
    out["null"] = np.where(ratio, 1.0 / rows["null"], -rows["null"])
    out["conf_low"] = np.where(ratio, 1.0 / rows["conf_high"], -rows["conf_high"])
    out["conf_high"] = np.where(ratio, 1.0 / rows["conf_low"], -rows["conf_low"])
    out["statistic"] = -rows["statistic"]
    return out


def _conclusion(rejected, alternative, margin_vs_natural, arm, reference):
    if alternative == "two-sided":
        return f"{arm} differs from {reference}" if rejected else "no difference shown"
    better = (margin_vs_natural == 0) or (
        (margin_vs_natural > 0) == (alternative == "greater"))
    kind = "superior" if better else "non-inferior"
    return f"{arm} {kind} to {reference}" if rejected else f"{kind.replace('ior', 'iority')} not shown"


def _test(rows: pd.DataFrame, margin, alternative: str, level: float) -> pd.DataFrame:
    ratio = (rows["scale"] == "ratio").to_numpy()
    natural = np.where(ratio, 1.0, 0.0)
    null = rows["null"].to_numpy(float) if margin is None else np.full(len(rows), float(margin))
    if margin is not None and ratio.any() and margin <= 0:
        raise ModelError(f"compare: a margin on a ratio scale must be > 0; got {margin!r}")
    g = np.log if ratio.all() else (lambda x: x)
    if ratio.any() and not ratio.all():
        raise ModelError("compare: rows mix difference and ratio scales; choose one measure=")
    est = rows["estimate"].to_numpy(float)
    se = rows["std_error"].to_numpy(float)
    df = rows["df"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = (g(est) - g(null)) / se
    dist_sf = np.where(np.isfinite(df), stats.t.sf(stat, np.where(np.isfinite(df), df, 1.0)),
                       stats.norm.sf(stat))
    dist_cdf = np.where(np.isfinite(df), stats.t.cdf(stat, np.where(np.isfinite(df), df, 1.0)),
                        stats.norm.cdf(stat))
    one = alternative != "two-sided"
    q = level if one else 0.5 + level / 2.0
    crit = np.where(np.isfinite(df), stats.t.ppf(q, np.where(np.isfinite(df), df, 1.0)),
                    stats.norm.ppf(q))
    inv = np.exp if ratio.all() else (lambda x: x)
    low, high = inv(g(est) - crit * se), inv(g(est) + crit * se)
    if alternative == "greater":
        p, high = dist_sf, np.full(len(rows), np.inf)
    elif alternative == "less":
        p, low = dist_cdf, np.full(len(rows), 0.0 if ratio.all() else -np.inf)
    else:
        p = 2.0 * np.minimum(dist_sf, dist_cdf)
        no_est = ~np.isfinite(est)  # a log-rank row: keep its own two-sided test
        p = np.where(no_est & (null == natural), rows["p_value"].to_numpy(float), p)
        stat = np.where(no_est, rows["statistic"].to_numpy(float), stat)
    out = rows.copy()
    out["null"], out["statistic"], out["p_value"] = null, stat, p
    out["conf_low"], out["conf_high"], out["level"] = low, high, level
    out["alternative"] = alternative
    out["rejected"] = np.where(np.isfinite(p), p < 1.0 - level, False)
    out["conclusion"] = [
        _conclusion(r, alternative, float(np.sign(n - m)), a, b) if np.isfinite(pv)
        else "not tested"
        for r, n, m, a, b, pv in zip(out["rejected"], null, natural, out["arm"], out["reference"], p)
    ]
    return out


def compare(comparisons, arm: str, reference: str, *, margin: float | None = None,
            alternative: str = "two-sided", level: float | None = None, measure: str | None = None,
            visit: str | None = None) -> pd.DataFrame:
    """Test ``arm`` against ``reference``: superiority, non-inferiority or a two-sided difference.

    Parameters
    ----------
    comparisons : DataFrame
        A comparisons frame (any result's ``comparisons()``), holding ``arm`` vs ``reference``
        rows or ``reference`` vs ``arm`` rows (turned round: a difference changes sign, a ratio is
        inverted).
    arm, reference : str
        The arms compared.
    margin : float, optional
        Value of the estimate under the null hypothesis, on the estimate's scale (a difference
        of -1.5, a hazard ratio of 1.3). Default: the row's ``null`` (0 or 1: superiority).
    alternative : {"two-sided", "greater", "less"}
        The alternative hypothesis: "greater" when higher estimates favour ``arm``.
    level : float, optional
        Confidence level of the (one- or two-sided) interval; the test rejects when
        ``p_value < 1 - level``. Default: the rows' level.
    measure, visit : str, optional
        Keep only rows of this measure / visit.

    Returns
    -------
    pandas.DataFrame
        The selected rows (comparisons-frame columns, ``null`` = the margin, ``statistic``,
        ``p_value``, ``conf_low``, ``conf_high`` recomputed for the hypothesis; a one-sided
        interval has an infinite limit, 0 for a ratio's lower one) plus ``alternative``,
        ``rejected`` (bool) and ``conclusion`` ("EXOSOME non-inferior to MINOXIDIL",
        "superiority not shown", ...).

    Raises
    ------
    ModelError
        No row for the pair, an unknown alternative, a non-positive margin for a ratio, rows of
        both scales.
    """
    if alternative not in ALTERNATIVES:
        raise ModelError(f"compare: alternative must be one of {', '.join(ALTERNATIVES)}; "
                         f"got {alternative!r}")
    frame = comparisons_frame(comparisons)
    if measure is not None:
        frame = frame[frame["measure"] == measure]
    if visit is not None:
        frame = frame[frame["visit"] == str(visit)]
    direct = frame[(frame["arm"] == arm) & (frame["reference"] == reference)]
    turned = frame[(frame["arm"] == reference) & (frame["reference"] == arm)]
    rows = pd.concat([direct, _flip(turned)], ignore_index=True) if len(turned) else \
        direct.reset_index(drop=True)
    if rows.empty:
        pairs = sorted(set(zip(frame["arm"], frame["reference"])))
        raise ModelError(f"compare: no row of {arm!r} against {reference!r}"
                         + (f" (measure {measure!r})" if measure else "")
                         + (f" (visit {visit!r})" if visit else "")
                         + f"; pairs present: {', '.join(f'{a} vs {b}' for a, b in pairs) or 'none'}")
    if level is None:
        levels = rows["level"].unique()
        level = float(levels[0]) if len(levels) == 1 else 0.95
    return _test(rows, margin, alternative, check_level(level))
