"""Multiplicity: adjusted p-values (Holm, Hochberg, Bonferroni, fixed sequence, serial gatekeeping).

Holm, Hochberg, Bonferroni and Benjamini-Hochberg are
:func:`statsmodels.stats.multitest.multipletests` (``"holm"``, ``"simes-hochberg"``,
``"bonferroni"``, ``"fdr_bh"``), whose adjusted p-values are R's ``p.adjust``. Fixed sequence and
serial gatekeeping are not in statsmodels and are written here; they are the closed-testing
adjusted p-values of a hierarchical procedure:

* fixed sequence: :math:`\\tilde p_k = \\max_{j \\le k} p_j` (hypothesis :math:`k` is tested at the
  full alpha only if every earlier one was rejected; a missing p-value stops the sequence, so
  every later adjusted p-value is missing too);
* serial gatekeeping over ordered families: within family :math:`f` the ``within`` method
  (Holm or Bonferroni), and family :math:`f` is open only when every hypothesis of the earlier
  families was rejected, so :math:`\\tilde p = \\max(\\tilde p_\\text{within}, \\max \\tilde p_\\text{earlier})`.

A missing p-value (an analysis that did not run) is left out of Holm / Hochberg / Bonferroni /
BH, as ``p.adjust`` does with ``NA`` (the number of hypotheses is the number of p-values present).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._inference import check_level
from ..errors import ModelError

__all__ = ["METHODS", "adjust_p", "multiplicity"]

_STATSMODELS = {"holm": "holm", "hochberg": "simes-hochberg", "bonferroni": "bonferroni",
                "bh": "fdr_bh"}
METHODS = ("holm", "hochberg", "bonferroni", "bh", "fixed-sequence", "gatekeeping")


def _check_p(p_values) -> np.ndarray:
    try:
        p = np.asarray(p_values, dtype=float).ravel()
    except (TypeError, ValueError) as e:
        raise ModelError(f"adjust_p: p-values must be numbers; got {p_values!r}") from e
    bad = np.flatnonzero(np.isfinite(p) & ((p < 0) | (p > 1)))
    if len(bad):
        raise ModelError(f"adjust_p: p-values must lie in [0, 1]; positions {bad[:10].tolist()} "
                         f"hold {p[bad[:10]].tolist()}")
    return p


def _statsmodels(p: np.ndarray, method: str) -> np.ndarray:
    from statsmodels.stats.multitest import multipletests

    out = np.full(len(p), np.nan)
    ok = np.isfinite(p)
    if ok.any():
        out[ok] = multipletests(p[ok], method=_STATSMODELS[method])[1]
    return out


def _fixed_sequence(p: np.ndarray) -> np.ndarray:
    out = np.maximum.accumulate(np.where(np.isfinite(p), p, np.inf))
    return np.where(np.isfinite(out), out, np.nan)


def _gatekeeping(p: np.ndarray, families, within: str) -> np.ndarray:
    if families is None:
        raise ModelError("adjust_p: method='gatekeeping' needs families= (one family label per "
                         "p-value, families tested in order of first appearance)")
    fam = list(families)
    if len(fam) != len(p):
        raise ModelError(f"adjust_p: families has {len(fam)} labels for {len(p)} p-values")
    if within not in ("holm", "bonferroni"):
        raise ModelError(f"adjust_p: within must be 'holm' or 'bonferroni'; got {within!r}")
    out = np.full(len(p), np.nan)
    gate = 0.0
    for f in dict.fromkeys(fam):
        idx = np.array([i for i, g in enumerate(fam) if g == f])
        adj = _statsmodels(p[idx], within)
        adj = np.maximum(adj, gate)
        out[idx] = adj
        if not np.isfinite(adj).all():  # an untested hypothesis closes the gate
            break
        gate = np.max(adj)
    return out


def adjust_p(p_values, method: str = "holm", *, families=None, within: str = "holm") -> np.ndarray:
    """Adjusted p-values for a set of hypotheses.

    Parameters
    ----------
    p_values : array_like
        Unadjusted p-values, in the testing order for "fixed-sequence" / "gatekeeping"; NaN for a
        hypothesis whose analysis did not run.
    method : {"holm", "hochberg", "bonferroni", "bh", "fixed-sequence", "gatekeeping"}
        See the module docstring; "bh" is Benjamini-Hochberg (false discovery rate).
    families : sequence, optional
        For "gatekeeping": the family of each p-value; families are tested in order of first
        appearance.
    within : {"holm", "bonferroni"}
        For "gatekeeping": the procedure within a family.

    Returns
    -------
    numpy.ndarray
        Adjusted p-values (NaN where the hypothesis is not tested). Reject at level alpha where
        the adjusted p-value is <= alpha.

    Raises
    ------
    ModelError
        Unknown method (the valid ones are listed), p-values outside [0, 1], missing families.
    """
    if method not in METHODS:
        raise ModelError(f"adjust_p: unknown method {method!r}; valid: {', '.join(METHODS)}")
    p = _check_p(p_values)
    if method in _STATSMODELS:
        return _statsmodels(p, method)
    if method == "fixed-sequence":
        return _fixed_sequence(p)
    return _gatekeeping(p, families, within)


def multiplicity(comparisons: pd.DataFrame, method: str = "holm", *, alpha: float = 0.05,
                 families=None, within: str = "holm") -> pd.DataFrame:
    """Add multiplicity-adjusted p-values and decisions to a comparisons frame.

    Parameters
    ----------
    comparisons : DataFrame
        Rows with a ``p_value`` column (e.g. a comparisons frame), in testing order for the
        hierarchical methods.
    method : str
        As in :func:`adjust_p`.
    alpha : float, default 0.05
        Family-wise error rate (false discovery rate for "bh").
    families : str or sequence, optional
        For "gatekeeping": a column name of ``comparisons`` or one label per row.
    within : {"holm", "bonferroni"}

    Returns
    -------
    pandas.DataFrame
        A copy with ``p_adjusted``, ``rejected`` (bool; False where not tested), ``adjustment``
        (the method) and ``alpha`` added.
    """
    if "p_value" not in comparisons.columns:
        raise ModelError("multiplicity: the frame has no p_value column; columns: "
                         f"{', '.join(map(str, comparisons.columns))}")
    check_level(1.0 - alpha)
    if isinstance(families, str):
        if families not in comparisons.columns:
            raise ModelError(f"multiplicity: families column {families!r} is not in the frame")
        families = comparisons[families].tolist()
    adj = adjust_p(comparisons["p_value"].to_numpy(float), method, families=families,
                   within=within)
    out = comparisons.copy()
    out["p_adjusted"] = adj
    out["rejected"] = np.where(np.isfinite(adj), adj <= alpha, False)
    out["adjustment"] = method
    out["alpha"] = float(alpha)
    return out
