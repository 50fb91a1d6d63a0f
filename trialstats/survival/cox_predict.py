"""Cox model residuals, baseline survival and predictions, as R ``residuals.coxph``,
``survfit.coxph`` and ``predict.coxph``.

Residuals (one per row analysed; Schoenfeld ones per event):

- martingale :math:`M_i = \\delta_i - e^{\\eta_i} \\hat\\Lambda_0(t_i)` (Efron: an event's own
  tie group counts with weight :math:`1 - f_l`); deviance
  :math:`\\operatorname{sign}(M_i) \\sqrt{-2 (M_i + \\delta_i \\log(\\delta_i - M_i))}`;
- score (:func:`._cox_engine.score_residuals`); dfbeta = score residuals times the case
  weight, times the model-based covariance; dfbetas = dfbeta / model SE;
- Schoenfeld :math:`x_i - \\bar x(t_i)` per event, ordered by stratum then time (R's order);
  scaled Schoenfeld :math:`\\hat\\beta + d\\, V r_i` with :math:`d` the number of events.

Curves: at covariates :math:`x_0`, with :math:`z = x_0 - \\bar x` and risk :math:`e^{z\\beta}`,
:math:`\\hat\\Lambda(t \\mid x_0) = e^{z\\beta} \\sum_{t_j \\le t} d\\hat\\Lambda_0(t_j)`, where the
increment is Breslow's :math:`\\sum w_{\\text{events}} / S_0` or, for Efron fits, Efron's
:math:`\\sum_l \\bar w / D_l` (R ``survfit.coxph``'s default ``ctype`` for each). Its variance
(Tsiatis) is :math:`e^{2 z\\beta} [\\sum_j \\sum_l \\bar w / D_l^2 + q(t)^T V q(t)]` with
:math:`q(t) = \\sum_{t_j \\le t} (\\bar x_j - z) d\\hat\\Lambda_0(t_j)`. Survival is
:math:`\\exp(-\\hat\\Lambda)` with R's default "log" interval :math:`S e^{\\pm z_{\\alpha}
\\mathrm{se}}` (upper limit at most 1). The default covariates are R's ``fit$means``: the
(weighted) column means, except 0 for columns whose values are all in {-1, 0, 1} (R's
``nocenter``), so factor indicators are at their reference level.

All of this is ours on the engine's arrays: lifelines' ``CoxPHFitter`` has residuals and
baseline curves, but for Efron fits its score and martingale residuals ignore the tie
correction ("doesn't handle ties"), its baseline hazard is Breslow's for every fit, it has no
curve standard errors, and it does not take weights or (start, stop] rows the way R does.
statsmodels' ``PHReg`` has ``baseline_cumulative_hazard`` but Breslow's only and without
Efron-adjusted residuals.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import ModelError
from . import _cox_engine as engine
from ._input import check_choice

RESIDUAL_TYPES = ("martingale", "deviance", "score", "schoenfeld", "scaledsch", "dfbeta",
                  "dfbetas")
PREDICT_TYPES = ("lp", "risk", "survival")

__all__ = ["residuals", "baseline_survival", "predict", "r_means"]


def residuals(fit, type: str = "martingale"):  # noqa: A002 - R's argument name
    """Residuals of a fitted Cox model, as R ``residuals(fit, type=)``.

    Parameters
    ----------
    fit : CoxResult
        The fitted model.
    type : {"martingale", "deviance", "score", "schoenfeld", "scaledsch", "dfbeta", "dfbetas"}
        Residual type.

    Returns
    -------
    Series or DataFrame
        martingale / deviance: a Series indexed by the rows analysed. score / dfbeta /
        dfbetas: a DataFrame (rows analysed x terms). schoenfeld / scaledsch: a DataFrame
        with ``time`` (and the strata column) and one column per term, one row per event.
    """
    check_choice("type", type, RESIDUAL_TYPES)
    if fit.ties == "exact" and type != "martingale" and type != "deviance":
        raise ModelError(f"{type} residuals are not available for ties=\"exact\" (as in R); "
                         "refit with ties=\"efron\" or \"breslow\"")
    s = fit._state
    data = fit._engine_data
    beta = s["beta"]
    index = s["index"]
    if type in ("martingale", "deviance"):
        m = engine.martingale_residuals(data, beta)
        if type == "deviance":
            ev = data.event
            with np.errstate(divide="ignore", invalid="ignore"):
                inner = m + np.where(ev > 0, ev * np.log(np.where(ev > 0, ev - m, 1.0)), 0.0)
            m = np.sign(m) * np.sqrt(-2.0 * inner)
        return pd.Series(m, index=index, name=type)
    names = s["names"]
    if type in ("score", "dfbeta", "dfbetas"):
        r = engine.score_residuals(data, beta)
        if type != "score":
            v = s["naive_vcov"]
            r = (data.w[:, None] * r) @ v
            if type == "dfbetas":
                r = r / np.sqrt(np.diag(v))
        return pd.DataFrame(r, index=index, columns=names)
    r, rows = engine.schoenfeld_residuals(data, beta)
    if type == "scaledsch":
        r = r @ s["naive_vcov"] * len(rows) + beta
    out = pd.DataFrame(r, columns=names)
    out.insert(0, "time", s["time"][rows])
    if fit.strata is not None:
        out.insert(0, fit.strata, np.asarray(s["strata_levels"], dtype=object)[
            s["strata_codes"][rows]])
    return out


def r_means(x: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    """R ``fit$means``: weighted column means, 0 for columns with values all in {-1, 0, 1}."""
    w = np.ones(len(x)) if weights is None else weights
    means = w @ x / w.sum()
    binary = np.all(np.isin(x, (-1.0, 0.0, 1.0)), axis=0)
    return np.where(binary, 0.0, means)


def _curve_terms(fit) -> dict:
    """Per cell: time, stratum, counts, baseline hazard increment and variance pieces (at z=0)."""
    s = fit._state
    data = fit._engine_data
    c = engine._cell_sums(data, s["beta"], second=False)
    m = data.n_cells
    time = np.zeros(m)
    time[data.cell] = s["time"]
    stratum = np.zeros(m, dtype=np.int64)
    if s["strata_codes"] is not None:
        stratum[data.cell] = s["strata_codes"]
    n_risk = engine.risk_sums(data.w, data)
    n_event = np.bincount(data.death_cell, weights=data.w[data.death_rows], minlength=m)
    return {
        "time": time, "stratum": stratum, "n_risk": n_risk, "n_event": n_event,
        "haz": engine._cum_strata(c["A"], data),
        "var1": engine._cum_strata(c["C"], data),
        "xhaz": engine._cum_strata(c["s1"] * c["C"][:, None] - c["e1"] * c["G"][:, None], data),
        "data": data,
    }


def _curve(fit, terms: dict, z: np.ndarray, cells: np.ndarray) -> dict:
    """Cumulative hazard, survival and SE of the curve at centred covariates z, on ``cells``."""
    s = fit._state
    beta = s["beta"]
    risk = float(np.exp(z @ beta))
    cumhaz = risk * terms["haz"][cells]
    q = terms["xhaz"][cells] - np.outer(terms["haz"][cells], z)
    # R survfit.coxph uses fit$var: the robust covariance when the fit is robust
    var = risk**2 * (terms["var1"][cells] + np.einsum("ij,jk,ik->i", q, s["vcov"], q))
    se = np.sqrt(var)
    surv = np.exp(-cumhaz)
    zq = stats.norm.ppf(0.5 + fit.level / 2.0)
    return {"cumhaz": cumhaz, "survival": surv, "std_error": se,
            "conf_low": surv * np.exp(-zq * se), "conf_high": np.minimum(surv * np.exp(zq * se),
                                                                         1.0)}


def _curve_frame(fit, terms, z, stratum: int | None) -> pd.DataFrame:
    cells = np.arange(len(terms["time"]))
    if stratum is not None:
        cells = cells[terms["stratum"] == stratum]
    out = pd.DataFrame({"time": terms["time"][cells], "n_risk": terms["n_risk"][cells],
                        "n_event": terms["n_event"][cells], **_curve(fit, terms, z, cells)})
    if fit.strata is not None:
        out.insert(0, fit.strata, fit._state["strata_levels"][stratum])
    return out


def baseline_survival(fit) -> pd.DataFrame:
    """Survival curve(s) at R's ``fit$means``, as R ``survfit(fit)``.

    Returns
    -------
    DataFrame
        [strata column], time, n_risk, n_event, cumhaz, survival, std_error (of the
        cumulative hazard, R's ``std.err``), conf_low, conf_high ("log" interval at
        ``fit.level``): one row per distinct time (event or censoring) of each stratum.
    """
    s = fit._state
    terms = _curve_terms(fit)
    z = s["r_means"] - s["center"]
    levels = [None] if fit.strata is None else range(len(s["strata_levels"]))
    return pd.concat([_curve_frame(fit, terms, z, k) for k in levels], ignore_index=True)


def _new_x(fit, newdata: pd.DataFrame) -> np.ndarray:
    s = fit._state
    if not isinstance(newdata, pd.DataFrame):
        raise ModelError(f"newdata must be a pandas DataFrame; got {type(newdata).__name__}")
    try:
        mm = s["spec"].get_model_matrix(newdata, na_action="raise")
    except Exception as e:  # formulaic raises many types; report them as a model error
        raise ModelError(f"cannot build the design matrix of '{fit.formula}' for newdata "
                         f"(columns {', '.join(map(str, newdata.columns))}): {e}") from e
    return pd.DataFrame(mm)[s["columns"]].to_numpy(dtype=float)


def predict(fit, newdata: pd.DataFrame, type: str = "lp"):  # noqa: A002 - R's argument name
    """Predictions for new rows, as R ``predict.coxph`` / ``survfit(fit, newdata)``.

    Parameters
    ----------
    fit : CoxResult
        The fitted model.
    newdata : DataFrame
        Covariate columns of the formula (and the strata column for ``type="survival"`` in a
        stratified model).
    type : {"lp", "risk", "survival"}
        Linear predictor (R ``type="lp"``), its exponential (``"risk"``), or each row's
        survival curve. As R's default ``reference="strata"``, the linear predictor is
        centred at ``fit$means``, or in a stratified model at the (weighted) covariate means
        of the row's stratum.

    Returns
    -------
    Series or DataFrame
        lp / risk: a Series indexed as ``newdata``. survival: a long DataFrame with ``row``
        (the ``newdata`` index), [strata column], time, n_risk, n_event, cumhaz, survival,
        std_error, conf_low, conf_high.
    """
    check_choice("type", type, PREDICT_TYPES)
    s = fit._state
    x = _new_x(fit, newdata)
    strata_codes = [None] * len(newdata)
    if fit.strata is not None:
        if fit.strata not in newdata.columns:
            raise ModelError(f"newdata needs the strata column {fit.strata} for predictions "
                             "of a stratified model")
        levels = s["strata_levels"]
        bad = ~newdata[fit.strata].isin(levels).to_numpy()
        if bad.any():
            raise ModelError(f"newdata column {fit.strata}: values "
                             f"{sorted(map(str, set(newdata[fit.strata][bad])))} are not strata "
                             f"of the fit; valid: {', '.join(map(str, levels))}")
        strata_codes = [levels.index(v) for v in newdata[fit.strata]]
    if type in ("lp", "risk"):
        if fit.strata is None:
            center = s["r_means"]
        else:  # R reference="strata": the weighted means of the row's stratum
            w = fit._engine_data.w
            codes = s["strata_codes"]
            k = len(s["strata_levels"])
            sums = np.column_stack([np.bincount(codes, weights=w * (s["x"][:, j] + s["center"][j]),
                                                minlength=k) for j in range(x.shape[1])])
            center = (sums / np.bincount(codes, weights=w, minlength=k)[:, None])[strata_codes]
        lp = (x - center) @ s["beta"]
        return pd.Series(lp if type == "lp" else np.exp(lp), index=newdata.index, name=type)
    terms = _curve_terms(fit)
    frames = []
    for i, (label, k) in enumerate(zip(newdata.index, strata_codes)):
        f = _curve_frame(fit, terms, x[i] - s["center"], k)
        f.insert(0, "row", label)
        frames.append(f)
    return pd.concat(frames, ignore_index=True)
