"""Risk differences between arms with Newcombe (hybrid score) or Wald intervals.

The interval is :func:`statsmodels.stats.proportion.confint_proportions_2indep`
(``method="newcomb"``: Newcombe's method 10, from the two Wilson score intervals,
:math:`[d - \\sqrt{(p_1 - l_1)^2 + (u_2 - p_2)^2},\\ d + \\sqrt{(u_1 - p_1)^2 + (p_2 - l_2)^2}]`).
The p-value is the score test of equal proportions,
:func:`statsmodels.stats.proportion.test_proportions_2indep` (``method="score"``,
``correction=False``), which is the Pearson chi-square test without continuity correction (R
``prop.test(correct = FALSE)``); ``statistic`` is its z. ``std_error`` is the unpooled Wald SE
:math:`\\sqrt{p_1(1-p_1)/n_1 + p_2(1-p_2)/n_2}`, reported for information (the Newcombe interval
does not use it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._inference import check_level
from ..errors import ModelError
from .comparisons import _frame, resolve_pairs

__all__ = ["RiskDifferenceResult", "risk_difference"]

_METHODS = {"newcombe": "newcomb", "wald": "wald"}
_METHOD_TEXT = {"newcombe": "Newcombe hybrid score interval", "wald": "Wald interval"}


@dataclass(frozen=True)
class RiskDifferenceResult:
    """Proportions per arm and the risk differences between arms.

    Attributes
    ----------
    per_arm : DataFrame
        arm, n_event, n, risk.
    pairs : tuple of (arm, reference)
    method : str
        "newcombe" or "wald".
    level : float
    analysis, endpoint, param : str
    """

    per_arm: pd.DataFrame
    pairs: tuple
    method: str
    level: float
    analysis: str = ""
    endpoint: str = ""
    param: str = ""

    def __repr__(self) -> str:
        return (f"<RiskDifferenceResult: {len(self.pairs)} comparisons of {len(self.per_arm)} "
                f"arms, {_METHOD_TEXT[self.method]}, level {self.level:g}>")

    def comparisons(self) -> pd.DataFrame:
        """The risk differences as a comparisons frame (see :mod:`trialstats.results.ard`)."""
        return _rd_rows(self)


def _rd_rows(res: RiskDifferenceResult) -> pd.DataFrame:
    from statsmodels.stats.proportion import confint_proportions_2indep, test_proportions_2indep

    per = res.per_arm.set_index("arm")
    rows = {k: [] for k in ("estimate", "std_error", "statistic", "p_value", "conf_low",
                            "conf_high")}
    for a, r in res.pairs:
        x1, n1 = int(per.at[a, "n_event"]), int(per.at[a, "n"])
        x2, n2 = int(per.at[r, "n_event"]), int(per.at[r, "n"])
        p1, p2 = x1 / n1, x2 / n2
        # statsmodels also computes ratios and odds ratios, which divide by zero at 0 events
        with np.errstate(divide="ignore", invalid="ignore"):
            lo, hi = confint_proportions_2indep(x1, n1, x2, n2, method=_METHODS[res.method],
                                                compare="diff", alpha=1.0 - res.level)
            if x1 + x2 in (0, n1 + n2):  # no variability: the score test is undefined
                stat, p = np.nan, 1.0
            else:
                test = test_proportions_2indep(x1, n1, x2, n2, method="score", compare="diff",
                                               correction=False)
                stat, p = float(test.statistic), float(test.pvalue)
        rows["estimate"].append(p1 - p2)
        rows["std_error"].append(np.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2))
        rows["statistic"].append(stat)
        rows["p_value"].append(p)
        rows["conf_low"].append(float(lo))
        rows["conf_high"].append(float(hi))
    rows.update({"visit": "", "arm": [a for a, _ in res.pairs],
                 "reference": [r for _, r in res.pairs], "measure": "risk difference",
                 "scale": "difference", "null": 0.0, "df": np.inf, "level": res.level,
                 "method": f"{_METHOD_TEXT[res.method]}; score (chi-square) test"})
    return _frame(rows, analysis=res.analysis, endpoint=res.endpoint, param=res.param)


def _counts(name, values) -> dict:
    if isinstance(values, pd.Series):
        values = values.to_dict()
    if not isinstance(values, dict) or not values:
        raise ModelError(f"risk_difference: {name} must be a mapping arm -> count; got {values!r}")
    out = {}
    for arm, v in values.items():
        try:
            f = float(v)
        except (TypeError, ValueError) as e:
            raise ModelError(f"risk_difference: {name}[{arm!r}] must be a whole number; "
                             f"got {v!r}") from e
        if not np.isfinite(f) or f < 0 or f != int(f):
            raise ModelError(f"risk_difference: {name}[{arm!r}] must be a whole number >= 0; "
                             f"got {v!r}")
        out[str(arm)] = int(f)
    return out


def risk_difference(events, totals, *, reference: str | None = None, pairs=None,
                    method: str = "newcombe", level: float = 0.95, analysis: str = "",
                    endpoint: str = "", param: str = "") -> RiskDifferenceResult:
    """Risk (proportion) differences between arms.

    Parameters
    ----------
    events, totals : mapping of arm -> int (dict or Series)
        Subjects with the event, and subjects at risk, per arm; the order of ``totals`` is the
        arm order (first = reference unless ``reference`` is given). Arms missing from
        ``events`` have 0 events.
    reference : str, optional
        Comparator of the default pairs.
    pairs : None, "all" or list of (arm, reference)
        See :func:`trialstats.results.comparisons.resolve_pairs`.
    method : {"newcombe", "wald"}
        Confidence interval of the difference.
    level : float, default 0.95
    analysis, endpoint, param : str
        Copied into the comparisons frame.

    Returns
    -------
    RiskDifferenceResult
        ``.per_arm`` and ``.comparisons()`` (measure "risk difference", ``arm`` minus
        ``reference``).

    Raises
    ------
    ModelError
        Unknown method, counts that are not whole numbers, events above totals, an arm with no
        subjects, events for an arm absent from ``totals``.
    """
    level = check_level(level)
    if method not in _METHODS:
        raise ModelError(f"risk_difference: method must be one of {', '.join(_METHODS)}; "
                         f"got {method!r}")
    n = _counts("totals", totals)
    x = _counts("events", events)
    unknown = [a for a in x if a not in n]
    if unknown:
        raise ModelError(f"risk_difference: events for arms not in totals: {', '.join(unknown)}; "
                         f"arms: {', '.join(n)}")
    bad = [f"{a} ({x.get(a, 0)} of {n[a]})" for a in n if n[a] == 0 or x.get(a, 0) > n[a]]
    if bad:
        raise ModelError("risk_difference: each arm needs events <= subjects and at least one "
                         f"subject; check {', '.join(bad)}")
    levels = list(n)
    per_arm = pd.DataFrame({"arm": levels, "n_event": [x.get(a, 0) for a in levels],
                            "n": [n[a] for a in levels]})
    per_arm["risk"] = per_arm["n_event"] / per_arm["n"]
    chosen = resolve_pairs(levels, pairs, reference=reference, where="risk_difference")
    return RiskDifferenceResult(per_arm, tuple(chosen), method, level, analysis, endpoint, param)
