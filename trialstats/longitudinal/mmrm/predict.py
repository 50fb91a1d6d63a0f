"""Predictions, fitted values and residuals of a fitted MMRM (as R ``mmrm``).

Subject i's observed rows have covariance :math:`\\Sigma_i` (the visit-by-visit matrix of its
covariance group at its visits, scaled by its observation weights as
:math:`W_i^{-1/2}\\Sigma W_i^{-1/2}`).

* ``predict(conditional=False)`` and ``fitted()``: :math:`X\\hat\\beta`.
* ``predict(conditional=True)``: for a row whose outcome is missing, the conditional mean given
  the same subject's observed outcomes, :math:`x_u\\hat\\beta + \\Sigma_{uO}\\Sigma_{OO}^{-1}
  (y_O - X_O\\hat\\beta)`; a row with an observed outcome is predicted by that outcome (R mmrm's
  ``predict(conditional = TRUE)``). For a spatial fit (``coords=``) the block is the
  structure's at the rows' own times or points, which need not be among the fit's.
* ``residuals("response")``: :math:`y - X\\hat\\beta`; ``"pearson"``: divided by the row's
  standard deviation :math:`\\sqrt{(\\Sigma_i)_{jj}}`; ``"normalized"``: :math:`L_i^{-1} r_i`
  with :math:`\\Sigma_i = L_iL_i^\\top` (lower Cholesky factor), uncorrelated with unit variance
  under the model (R mmrm, nlme ``residuals.gls``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import linalg

from ...errors import ModelError
from ...formula import formula_context
from .._design import _row_list
from .spatial import point_labels

__all__ = ["fitted_values", "predict_rows", "residual_values", "RESIDUAL_TYPES"]

RESIDUAL_TYPES = ("response", "pearson", "normalized")


def _subject_covariances(fit, subj, visit, group, weights):
    """Yield (row indices, covariance) per subject of coded rows."""
    sigmas = fit.inference.sigmas
    order = np.argsort(subj, kind="stable")
    bounds = np.flatnonzero(np.diff(subj[order])) + 1
    for rows in np.split(order, bounds):
        if len(rows) == 0:
            continue
        v = visit[rows]
        S = sigmas[group[rows[0]]][np.ix_(v, v)]
        if weights is not None:
            s = 1.0 / np.sqrt(weights[rows])
            S = S * np.outer(s, s)
        yield rows, S


def _spatial_covariances(fit, frame, subj, group, weights):
    """Yield (row indices, covariance) per subject of a spatial fit, at the rows' own points.

    The structure (:mod:`.spatial`) gives the block at any times or points, so ``newdata`` rows
    need not lie at the fit's points (as R mmrm's ``predict``).
    """
    spec = fit.spec
    cols = list(spec.coords) if isinstance(spec.coords, tuple) else [spec.coords]
    pts = frame[cols].to_numpy(dtype=float)
    if len(cols) == 1:
        pts = pts[:, 0]
    ends = np.cumsum([st.n_theta for st in fit.structures])
    theta = np.asarray(fit.theta, dtype=float)
    order = np.argsort(subj, kind="stable")
    bounds = np.flatnonzero(np.diff(subj[order])) + 1
    for rows in np.split(order, bounds):
        if len(rows) == 0:
            continue
        g = int(group[rows[0]])
        st = fit.structures[g]
        th = theta[ends[g] - st.n_theta:ends[g]]
        S = st.batch_derivatives(th, st.batch_power(pts[rows][None]), order=0)[0][0]
        if weights is not None:
            s = 1.0 / np.sqrt(weights[rows])
            S = S * np.outer(s, s)
        yield rows, S


def _fit_rows(fit):
    """Codes of the fit's own rows: subject, visit, group per row, weights."""
    a = fit.arrays
    return a.subject, a.visit, a.group[a.subject], a.weights


def fitted_values(fit) -> np.ndarray:
    """:math:`X\\hat\\beta` for the rows used (order of ``fit.design.frame``)."""
    return fit.design.X @ fit.inference.beta


def residual_values(fit, type: str = "response") -> np.ndarray:  # noqa: A002 (R's name)
    """Residuals of the rows used, of the given type (see the module docstring)."""
    if not isinstance(type, str) or type.lower() not in RESIDUAL_TYPES:
        raise ModelError(f"unknown residual type {type!r}; valid: {', '.join(RESIDUAL_TYPES)}")
    r = fit.design.y - fitted_values(fit)
    if type.lower() == "response":
        return r
    out = np.empty_like(r)
    for rows, S in _subject_covariances(fit, *_fit_rows(fit)):
        if type.lower() == "pearson":
            out[rows] = r[rows] / np.sqrt(np.diag(S))
        else:
            L = linalg.cholesky(S, lower=True)
            out[rows] = linalg.solve_triangular(L, r[rows], lower=True)
    return out


def _codes(fit, frame: pd.DataFrame, column: str, levels, what: str, data) -> np.ndarray:
    """Index of each row's value in the fit's ``levels`` (ModelError naming unknown values)."""
    lookup = {lv: i for i, lv in enumerate(levels)}
    values = frame[column].tolist()
    codes = np.array([lookup.get(v, -1) for v in values], dtype=np.int64)
    bad = np.flatnonzero(codes < 0)
    if len(bad):
        shown = ", ".join(map(repr, dict.fromkeys(values[i] for i in bad[:10])))
        raise ModelError(
            f"predict: {what} column {column!r} has values {shown} not in the fit (rows "
            f"{_row_list(frame.index[bad], data, fit.spec.subject)}); valid: "
            f"{', '.join(map(str, levels))}")
    return codes


def _new_matrix(fit, newdata: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """Checked rows of ``newdata`` and their design matrix (the fit's columns, R order)."""
    if not isinstance(newdata, pd.DataFrame):
        raise ModelError(f"predict: newdata must be a pandas DataFrame; got "
                         f"{type(newdata).__name__}")
    design, spec = fit.design, fit.spec
    points = isinstance(spec.coords, tuple)  # several coordinates: spec.visit is their key
    time_cols = list(spec.coords) if points else [spec.visit]
    needed = list(dict.fromkeys([*design.variables, spec.subject, *time_cols]
                                + ([spec.group] if spec.group else [])))
    missing_cols = [c for c in needed if c not in newdata.columns]
    if missing_cols:
        raise ModelError(f"predict: newdata lacks columns {missing_cols}; it needs {needed}")
    frame = newdata.loc[:, needed].copy()
    na = frame.isna().any(axis=1)
    if na.any():
        raise ModelError(
            f"predict: newdata rows {_row_list(frame.index[na], newdata, spec.subject)} miss a "
            f"value of {', '.join(c for c in needed if frame[c].isna().any())}; covariates, "
            "subject and visit are needed for every row to predict")
    if points:
        frame[spec.visit] = point_labels(frame, spec.coords)[0]
    for col in design.variables:
        if col in design.levels:
            _codes(fit, frame, col, design.levels[col], "factor", newdata)
            frame[col] = pd.Categorical(frame[col], categories=design.levels[col])
        elif not pd.api.types.is_numeric_dtype(frame[col]):
            raise ModelError(f"predict: column {col!r} is numeric in the fit; newdata has "
                             f"dtype {frame[col].dtype}")
    X = np.asarray(design.model_spec.get_model_matrix(frame, context=formula_context()),
                   dtype=float)
    if design.column_order:
        X = X[:, list(design.column_order)]
    if fit.spec.aliasing is not None:  # the fitted (non-aliased) columns
        X = X[:, list(fit.spec.aliasing.kept)]
    return frame, X


def _new_weights(fit, newdata: pd.DataFrame) -> np.ndarray | None:
    """Observation weights of the newdata rows (needed for conditional predictions)."""
    col = fit.spec.weights
    if col is None:
        return None
    if col not in newdata.columns:
        raise ModelError(f"predict: the fit has weights {col!r}; newdata lacks that column")
    w = pd.to_numeric(newdata[col], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(w) | (w <= 0)
    if bad.any():
        raise ModelError(f"predict: weights column {col!r} must be positive and finite in rows "
                         f"{_row_list(newdata.index[bad], newdata, fit.spec.subject)}")
    return w


def predict_rows(fit, newdata: pd.DataFrame | None = None, conditional: bool = False):
    """Predictions for each row of ``newdata`` (default: the rows used by the fit).

    Returns
    -------
    numpy.ndarray
        One prediction per row, in the order of ``newdata`` (or ``fit.design.frame``).
    """
    beta = fit.inference.beta
    if newdata is None:
        if not conditional:
            return fitted_values(fit)
        return fit.design.y.astype(float).copy()  # every row used has an observed outcome
    frame, X = _new_matrix(fit, newdata)
    mean = X @ beta
    if not conditional:
        return mean
    spec = fit.spec
    outcome = fit.design.outcome
    if outcome not in newdata.columns:
        raise ModelError(f"predict: conditional predictions need the outcome column "
                         f"{outcome!r} in newdata (missing values where to predict)")
    y = pd.to_numeric(newdata[outcome], errors="coerce").to_numpy(dtype=float)
    spatial = spec.coords is not None  # any time or point: coded here for the checks only
    visit = (pd.factorize(frame[spec.visit], sort=False)[0].astype(np.int64) if spatial
             else _codes(fit, frame, spec.visit, fit.visit_levels, "visit", newdata))
    group = (_codes(fit, frame, spec.group, fit.group_levels, "group", newdata)
             if spec.group else np.zeros(len(frame), dtype=np.int64))
    subj = pd.factorize(frame[spec.subject], sort=False)[0].astype(np.int64)
    weights = _new_weights(fit, newdata)
    _check_subject_rows(fit, frame, newdata, subj, visit, group)
    out = np.where(np.isnan(y), mean, y)
    blocks = (_spatial_covariances(fit, frame, subj, group, weights) if spatial
              else _subject_covariances(fit, subj, visit, group, weights))
    for rows, S in blocks:
        obs = ~np.isnan(y[rows])
        if obs.all() or not obs.any():
            continue
        o, u = rows[obs], rows[~obs]
        r = y[o] - mean[o]
        out[u] = mean[u] + S[np.ix_(~obs, obs)] @ linalg.solve(S[np.ix_(obs, obs)], r,
                                                               assume_a="pos")
    return out


def _check_subject_rows(fit, frame, newdata, subj, visit, group) -> None:
    """Each subject has each visit at most once and one covariance group."""
    m = max(len(fit.visit_levels), int(visit.max(initial=-1)) + 1)  # spatial: new points too
    key = subj * m + visit
    dup = pd.Series(key).duplicated(keep=False).to_numpy()
    if dup.any():
        raise ModelError(
            f"predict: {fit.spec.subject} has the same {fit.spec.visit} twice in newdata rows "
            f"{_row_list(frame.index[dup], newdata, fit.spec.subject)}")
    g = pd.Series(group).groupby(subj).nunique().to_numpy()
    if (g > 1).any():
        raise ModelError(f"predict: group column {fit.spec.group!r} changes within a subject "
                         "in newdata")
