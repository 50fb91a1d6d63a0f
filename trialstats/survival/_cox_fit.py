"""The two steps of :func:`trialstats.survival.cox.cox` between the checked input and the result:
the covariate matrix (formulaic, rows kept, R-style names) and the partial-likelihood fit (R's
exact ties, lifelines' Efron finished by our Newton step, or our engine). See the module
docstring of :mod:`trialstats.survival.cox` for what is lifelines and what is ours.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd

from ..errors import ConvergenceWarning, ModelError
from ..formula import formula_context
from . import _cox_engine as engine
from . import _cox_exact as exact
from ._cox_checks import _inverse
from ._cox_lifelines import _fit_efron_lifelines

__all__ = ["_design", "_fit"]


def _r_name(column: str) -> str:
    """formulaic's ``ARM[T.EXOSOME]:AGE`` -> R's ``ARMEXOSOME:AGE``."""
    return re.sub(r"\[T\.([^\]]*)\]", r"\1", column)


def _design(rhs: str, frame: pd.DataFrame, strata: str | None, cluster: str | None):
    """The covariate matrix of a checked right-hand side, and the rows it keeps.

    Returns
    -------
    (work, mm, keep, excluded, x, names, columns, term_names, term_columns)
        ``work`` the frame (index reset, unused categories dropped), ``mm`` formulaic's model
        matrix, ``keep`` the rows used (no missing covariate, stratum or subject), ``excluded``
        the count of rows dropped per reason, ``x`` the covariates of the kept rows, ``names``
        their R-style names (``columns`` formulaic's), and the columns of each term.

    Raises
    ------
    ModelError
        The design matrix cannot be built, has no covariate, or has infinite values.
    """
    import formulaic  # imported here: formula parsing is only needed by cox()

    from .._materializer import MATERIALIZER  # R's model.matrix coding of factors

    work = frame.reset_index(drop=True)
    for col in work.columns:
        if isinstance(work[col].dtype, pd.CategoricalDtype):
            codes = work[col].cat.codes.to_numpy()
            used = np.bincount(codes[codes >= 0], minlength=len(work[col].cat.categories))
            if (used == 0).any():  # copying a 1e6-row column costs 5 % of a fit: only if needed
                work[col] = work[col].cat.remove_unused_categories()
    try:
        mm = formulaic.model_matrix(rhs, work, na_action="drop", context=formula_context(),
                                     materializer=MATERIALIZER)
    except Exception as e:  # formulaic raises many types; report them as a model error
        raise ModelError(f"cannot build the design matrix for '{rhs}': {e}") from e
    excluded = {}
    if len(mm) < len(work):
        excluded["missing covariate"] = len(work) - len(mm)
    keep = np.zeros(len(work), dtype=bool)
    keep[mm.index.to_numpy()] = True
    for col, what in ((strata, "strata"), (cluster, "cluster")):
        if col is not None:
            miss = work[col].isna().to_numpy() & keep
            if miss.any():
                excluded[f"missing {col} ({what})"] = int(miss.sum())
                keep &= ~miss
    columns = [c for c in mm.columns if c != "Intercept"]
    if not columns:
        raise ModelError(f"formula '{rhs}' has no covariates")
    x_full = pd.DataFrame(mm, index=mm.index)[columns]
    if not keep.all():
        x_full = x_full.reindex(np.flatnonzero(keep))
    x = x_full.to_numpy(dtype=float)
    names = [_r_name(c) for c in columns]
    nonfinite = [n for n, ok in zip(names, np.isfinite(x).all(axis=0)) if not ok]
    if nonfinite:
        raise ModelError(f"covariates {', '.join(nonfinite)} of '{rhs}' have infinite values "
                         "(a transform such as log(0) or x / 0); change the transform or the data")
    term_names, term_columns = [], []
    for term, idx in mm.model_spec.term_indices.items():
        cols = [columns.index(mm.columns[i]) for i in idx if mm.columns[i] != "Intercept"]
        if cols:
            term_names.append(str(term).replace("C(", "C(", 1))
            term_columns.append(cols)
    return work, mm, keep, excluded, x, names, columns, term_names, term_columns


def _fit(t, ev, xc, strata_codes, ties: str, w, t0, monotone: str | None):
    """Fit the partial likelihood: R's exact ties, lifelines' Efron finished by our Newton
    step, or our engine (Breslow, case weights, counting process).

    Returns
    -------
    (res, var, cox_data) : the engine's result dict, the model-based covariance, the prepared data

    Raises
    ------
    ModelError
        A singular information matrix (named as a monotone likelihood when it is one).
    """
    cox_data = None
    with warnings.catch_warnings(), np.errstate(over="ignore", invalid="ignore"):
        if monotone:  # the fit runs off to infinity: say why once, not how
            warnings.simplefilter("ignore", ConvergenceWarning)
        try:
            cox_data = engine.prepare(t, ev, xc, strata_codes,
                                      "breslow" if ties == "exact" else ties, w, t0)
            if ties == "exact":
                res = exact.fit(cox_data)
            elif ties == "efron" and w is None and t0 is None:
                res = _fit_efron_lifelines(t, ev, xc, strata_codes)
                # lifelines stops one Newton step short of the root: finish with our engine
                res.update(engine.finish_newton(cox_data, res["beta"], _inverse(res["vcov"])))
            else:  # Breslow, case weights or (start, stop]: our engine (see the module docstring)
                res = engine.fit(cox_data)
            var = _inverse(res["information"])
        except (ModelError, np.linalg.LinAlgError) as e:  # e.g. the information vanished
            if monotone:
                raise ModelError(f"the Cox model cannot be fitted: {monotone}") from e
            if isinstance(e, ModelError):
                raise
            raise ModelError(f"the Cox model failed in linear algebra ({e}): a covariate is "
                             "constant, collinear with others or extreme") from e
    return res, var, cox_data
