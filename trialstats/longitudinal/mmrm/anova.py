"""Type II and type III tests of each model term of a fitted MMRM (as ``car::Anova``).

Each term's hypothesis is a contrast matrix :math:`L` over the coefficients, tested with
:meth:`MMRMResult.f_test` (the fit's df method: Satterthwaite, Kenward-Roger, residual,
between-within). The matrices are those of ``car::Anova`` (and R ``mmrm``'s ``Anova.mmrm``):

* type III: the identity rows of the term's own coefficients (so, as in car, the result for a
  main effect that is in an interaction depends on the contrast coding: treatment coding tests it
  at the reference level of the other factor); the intercept gets a row.
* type II: the term's coefficients after the other terms, respecting marginality: with
  :math:`R` the coefficients of the terms that contain the term (its higher-order relatives) and
  :math:`V` the covariance of the estimates, the rows span the vectors :math:`l` supported on the
  term and its relatives with :math:`l^\\top V e_r = 0` for every relative coefficient
  :math:`r` (car's ``ConjComp``); a term with no relatives is tested as in type III.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import linalg

from ...errors import ModelError
from .._design import uncoded

__all__ = ["ANOVA_TYPES", "anova_table", "term_columns"]

ANOVA_TYPES = ("II", "III")


def term_columns(design, aliasing=None) -> list[tuple[str, frozenset, list[int]]]:
    """(label, factor names, positions among the fitted coefficients) of each model term.

    With ``aliasing`` (rank_deficient="drop"), aliased columns are left out and a term with
    no fitted column is omitted (as car::Anova on a rank-deficient fit).
    """
    spec = design.model_spec
    if spec is None:
        raise ModelError("anova needs the fit's formula design (model_spec) to find its terms")
    n_full = len(aliasing.full_terms) if aliasing is not None else len(design.terms)
    where = {f: r for r, f in enumerate(design.column_order or range(n_full))}
    fitted = ({full: k for k, full in enumerate(aliasing.kept)} if aliasing is not None
              else {r: r for r in range(n_full)})
    out = []
    for term, cols in spec.term_indices.items():
        names = frozenset(uncoded(str(f)) for f in term.factors if str(f) != "1")
        positions = sorted(fitted[where[c]] for c in cols if where[c] in fitted)
        if not positions:
            continue
        label = "(Intercept)" if not names else uncoded(str(term))
        out.append((label, names, positions))
    out.sort(key=lambda t: t[2][0])
    return out


def _type2_matrix(p: int, own: list[int], relatives: list[int], V: np.ndarray) -> np.ndarray:
    """Rows of the type II hypothesis of a term (see the module docstring)."""
    if not relatives:
        return np.eye(p)[own]
    support = own + relatives
    Z = np.eye(p)[support].T  # p x (own + relatives)
    constraint = np.eye(p)[relatives] @ V @ Z  # r' V z = 0 for each relative coefficient r
    coef = linalg.null_space(constraint)  # (own + relatives) x len(own)
    return (Z @ coef).T


def anova_table(fit, type: str = "III") -> pd.DataFrame:  # noqa: A002 (R's name)
    """Type II or III F tests of each term: term, num_df, den_df, statistic, p_value."""
    if not isinstance(type, str) or type.upper() not in ANOVA_TYPES:
        raise ModelError(f"unknown anova type {type!r}; valid: {', '.join(ANOVA_TYPES)}")
    kind = type.upper()
    terms = term_columns(fit.design, fit.spec.aliasing)
    p = len(fit.design.terms)
    V = fit.inference.vcov
    rows = []
    for label, names, own in terms:
        if not names and kind == "II":
            continue  # car reports no intercept row in type II
        relatives = sorted(c for lab, other, cols in terms
                           if names and names < other for c in cols)
        L = np.eye(p)[own] if kind == "III" else _type2_matrix(p, own, relatives, V)
        test = fit.f_test(L)
        test.insert(0, "term", label)
        rows.append(test)
    return pd.concat(rows, ignore_index=True)
