"""Type II and type III tests of each model term of a fitted MMRM.

Each term's hypothesis is a contrast matrix :math:`L` over the coefficients, tested with
:meth:`MMRMResult.f_test` (the fit's df method: Satterthwaite, Kenward-Roger, residual,
between-within). Two sets of hypotheses (``hypotheses=``):

* ``"mmrm"`` (default): R ``mmrm``'s ``Anova.mmrm`` (interop-car.R, mmrm 0.3.18).

  - type III: the term's coefficients in the design re-coded with sum-to-zero contrasts for
    every factor (``h_type3_contrasts``): with :math:`X_s` that design,
    :math:`\beta_s = (X_s^\top X_s)^{-1}X_s^\top X\beta`, so the rows are those of
    :math:`(X_s^\top X_s)^{-1}X_s^\top X` for the term's columns of :math:`X_s`. The result does
    not depend on the coding of the fit; there is no intercept row.
  - type II (``h_type2_contrast``): identity rows on the term's own columns :math:`X_1`; for
    each term containing it (same variables and more factors only) with columns :math:`X_2`,
    the block :math:`(X_1^\top M X_1)^{-1}X_1^\top M X_2`, :math:`M` the residual projection on
    the other columns :math:`X_0` (the design, not the covariance, defines the hypothesis).

* ``"car"``: ``car::Anova`` on a linear model fitted by GLS (e.g. ``nlme::gls``): type III the
  identity rows of the term's own coefficients in the fit's coding (a main effect in an
  interaction is tested at the reference level of the other factor under treatment coding), with
  an intercept row; type II the rows supported on the term and its higher-order relatives
  :math:`R` with :math:`l^\top V e_r = 0` for every relative coefficient (car's ``ConjComp``,
  :math:`V` the covariance of the estimates).
"""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
import pandas as pd
from scipy import linalg

from ..._coding import names_text, uncoded
from ...errors import ModelError

__all__ = ["ANOVA_TYPES", "HYPOTHESES", "anova_table", "term_columns"]

ANOVA_TYPES = ("II", "III")
HYPOTHESES = ("mmrm", "car")


def term_columns(design, aliasing=None, full: bool = False) -> list[tuple[str, frozenset, list[int]]]:
    """(label, factor names, positions among the fitted coefficients) of each model term.

    With ``aliasing`` (rank_deficient="drop"), aliased columns are left out and a term with
    no fitted column is omitted (as car::Anova on a rank-deficient fit). ``full``: positions in
    a design that still has its aliased columns (``design.X`` as built).
    """
    spec = design.model_spec
    if spec is None:
        raise ModelError("anova needs the fit's formula design (model_spec) to find its terms")
    n_full = design.X.shape[1] if full else (
        len(aliasing.full_terms) if aliasing is not None else len(design.terms))
    where = {f: r for r, f in enumerate(design.column_order or range(n_full))}
    fitted = ({full: k for k, full in enumerate(aliasing.kept)} if aliasing is not None
              else {r: r for r in range(n_full)})
    out = []
    for term, cols in spec.term_indices.items():
        names = frozenset(uncoded(str(f)) for f in term.factors if str(f) != "1")
        positions = sorted(fitted[where[c]] for c in cols if where[c] in fitted)
        if not positions:
            continue
        label = "(Intercept)" if not names else _r_label(term, names_text(
            spec, design.formula, design.variable_order))
        out.append((label, names, positions))
    out.sort(key=lambda t: t[2][0])
    return out


def _r_label(term, formula: str) -> str:
    """R's label of a term: its variables in order of first appearance in ``formula`` (the text
    of :func:`trialstats._coding.names_text`)."""
    parts = [uncoded(str(f)) for f in term.factors if str(f) != "1"]

    def position(var: str) -> int:
        m = re.search(r"(?<![\w.])" + re.escape(var) + r"(?![\w])", formula)
        return m.start() if m else len(formula)

    return ":".join(sorted(parts, key=position))


def _type2_matrix(p: int, own: list[int], relatives: list[int], V: np.ndarray) -> np.ndarray:
    """Rows of the type II hypothesis of a term (see the module docstring)."""
    if not relatives:
        return np.eye(p)[own]
    support = own + relatives
    Z = np.eye(p)[support].T  # p x (own + relatives)
    constraint = np.eye(p)[relatives] @ V @ Z  # r' V z = 0 for each relative coefficient r
    coef = linalg.null_space(constraint)  # (own + relatives) x len(own)
    return (Z @ coef).T


def anova_table(fit, type: str = "III", hypotheses: str = "mmrm") -> pd.DataFrame:  # noqa: A002
    """Type II or III F tests of each term: term, num_df, den_df, statistic, p_value."""
    if not isinstance(type, str) or type.upper() not in ANOVA_TYPES:
        raise ModelError(f"unknown anova type {type!r}; valid: {', '.join(ANOVA_TYPES)}")
    if not isinstance(hypotheses, str) or hypotheses.lower() not in HYPOTHESES:
        raise ModelError(f"unknown anova hypotheses {hypotheses!r}; valid: "
                         f"{', '.join(HYPOTHESES)}")
    kind = type.upper()
    if hypotheses.lower() == "mmrm":
        matrices = _mmrm_type3(fit) if kind == "III" else _mmrm_type2(fit)
    else:
        matrices = _car_matrices(fit, kind)
    rows = []
    for label, L in matrices:
        test = fit.f_test(L)
        test.insert(0, "term", label)
        rows.append(test)
    return pd.concat(rows, ignore_index=True)


def _car_matrices(fit, kind: str) -> list:
    terms = term_columns(fit.design, fit.spec.aliasing)
    p = len(fit.design.terms)
    V = fit.inference.vcov
    out = []
    for label, names, own in terms:
        if not names and kind == "II":
            continue  # car reports no intercept row in type II
        relatives = sorted(c for lab, other, cols in terms
                           if names and names < other for c in cols)
        out.append((label, np.eye(p)[own] if kind == "III"
                    else _type2_matrix(p, own, relatives, V)))
    return out


def _full_design(fit):
    """(X with the aliased columns, the fitted columns' positions in it)."""
    al = fit.spec.aliasing
    if al is None:
        return fit.design.X, list(range(fit.design.X.shape[1]))
    X = np.zeros((fit.design.X.shape[0], len(al.full_terms)))
    X[:, list(al.kept)] = fit.design.X
    for j, name in enumerate(al.full_terms):  # aliased columns: X_K c_j (null space vectors)
        if j not in al.kept:
            a = list(al.dropped).index(name)
            X[:, j] = -fit.design.X @ al.null[list(al.kept), a]
    return X, list(al.kept)


def _mmrm_type2(fit) -> list:
    """R mmrm's type II hypotheses (``h_type2_contrast``), one per term without the intercept."""
    design = fit.design
    X, kept = _full_design(fit)
    full = term_columns(replace(design, X=X), None, full=True)
    factors = set(design.levels)
    out = []
    for label, names, cols in full:
        if not names:
            continue
        L = np.zeros((len(cols), X.shape[1]))
        L[:, cols] = np.eye(len(cols))
        for _, other, cols_i in full:
            if other == names or not names <= other or not (other - names) <= factors:
                continue
            rest = [j for j in range(X.shape[1]) if j not in set(cols) | set(cols_i)]
            X0 = X[:, rest]
            coef0 = np.linalg.pinv(X0.T @ X0) @ X0.T

            def resid(A, X0=X0, coef0=coef0):
                return A - X0 @ (coef0 @ A)

            M1 = resid(X[:, cols])
            L[:, cols_i] = np.linalg.solve(M1.T @ X[:, cols], M1.T @ X[:, cols_i])
        L = L[:, kept]
        L[np.abs(L) < _TOL] = 0.0
        out.append((label, L))
    return out


def _mmrm_type3(fit) -> list:
    """R mmrm's type III hypotheses (``h_type3_contrasts``): sum-to-zero coded coefficients."""
    from .._design import build_design

    design = fit.design
    codes = tuple((f, "contr.sum") for f in design.levels if f in design.variables)
    summed = build_design(design.formula, design.frame, where="anova", aliased="keep",
                          contrasts=codes, variable_order=design.variable_order)
    Xs = summed.X
    keep_s = [j for j in range(Xs.shape[1]) if j not in set(summed.aliased)]
    Xs = Xs[:, keep_s]
    T = np.linalg.solve(Xs.T @ Xs, Xs.T @ design.X)  # beta_sum = T beta
    pos = {j: k for k, j in enumerate(keep_s)}
    out = []
    for label, names, cols in term_columns(summed, None, full=True):
        if not names:
            continue
        rows = [pos[c] for c in cols if c in pos]
        if not rows:
            continue
        L = T[rows]
        L[np.abs(L) < _TOL] = 0.0
        out.append((label, L))
    return out


_TOL = np.sqrt(np.finfo(float).eps)  # R mmrm's tol: entries below are set to 0
