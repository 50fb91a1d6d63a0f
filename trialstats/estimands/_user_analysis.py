"""A user analysis function in place of the per-visit ANCOVA (rbmi's ``analyse(fun = ...)``).

The function receives each completed data set (the original columns, the outcome imputed and
``delta`` added; a bootstrap sample's repeated subjects get distinct ids ``"<id>#<k>"``) and
returns a DataFrame with columns ``parameter``, ``estimate``, ``std_error``, ``df`` and
optionally ``visit`` and ``arm``: one row per parameter, the same rows for every data set. The
results are pooled by the method's rule (jackknife, bootstrap or Rubin's rules with ``df`` as the
complete-data degrees of freedom; ``np.inf`` for none).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import ModelError

__all__ = ["user_analyse"]

_REQUIRED = ("parameter", "estimate", "std_error", "df")


def _completed_frame(prep, Y, idx, delta):
    frame = prep.frame
    n, m = prep.problem.y.shape
    rows = (np.asarray(idx)[:, None] * m + np.arange(m)[None, :]).ravel()
    out = frame.iloc[rows].reset_index(drop=True)
    out[prep.outcome] = (Y[idx] + delta[idx]).ravel()
    ids = out[prep.subject_column].astype(str).to_numpy()
    copy = pd.Series(np.repeat(np.arange(len(idx)), m)).groupby(
        np.repeat(np.asarray(idx), m)).rank(method="dense").to_numpy().astype(int) - 1
    out[prep.subject_column] = np.where(copy > 0, [f"{s}#{c}" for s, c in zip(ids, copy,
                                                                            strict=True)], ids)
    return out


def _run(fn, frame, keys):
    res = fn(frame)
    if not isinstance(res, pd.DataFrame) or any(c not in res.columns for c in _REQUIRED):
        raise ModelError(f"rbmi: analysis must return a DataFrame with columns "
                         f"{', '.join(_REQUIRED)} (optionally visit, arm); got "
                         f"{type(res).__name__}"
                         + (f" with {', '.join(map(str, res.columns))}"
                            if isinstance(res, pd.DataFrame) else ""))
    labels = res.reindex(columns=["visit", "parameter", "arm"])
    k = tuple(map(tuple, labels.astype(str).to_numpy()))
    if keys is not None and k != keys:
        raise ModelError("rbmi: the analysis function returned different rows for different "
                         "imputed data sets; it must return the same parameters each time")
    return res, k


def user_analyse(prep, draws, fn):
    """Apply ``fn`` to the full data and every sample.

    Returns
    -------
    labels : DataFrame (visit, parameter, arm) of the R rows
    full : (est, se, df) each (1, R), or None for approxbayes
    samples : (est (S, 1, R), se (S, 1, R), df (S, 1, R))
    """
    delta = prep.analysis.delta
    n = prep.problem.n_subjects

    def completed(values):
        Y = prep.problem.y.copy()
        Y[prep.problem.missing] = values
        return Y

    keys = None
    full = None
    labels = None
    if draws.kind != "approxbayes":
        res, keys = _run(fn, _completed_frame(prep, completed(draws.full_values),
                                              np.arange(n), delta), None)
        full = tuple(res[c].to_numpy(dtype=float)[None, :] for c in ("estimate", "std_error",
                                                                     "df"))
        labels = res.reindex(columns=["visit", "parameter", "arm"]).reset_index(drop=True)
    est, se, df = [], [], []
    for idx, values in zip(draws.idx, draws.values, strict=True):
        res, keys = _run(fn, _completed_frame(prep, completed(values), idx, delta), keys)
        if labels is None:
            labels = res.reindex(columns=["visit", "parameter", "arm"]).reset_index(drop=True)
        est.append(res["estimate"].to_numpy(dtype=float))
        se.append(res["std_error"].to_numpy(dtype=float))
        df.append(res["df"].to_numpy(dtype=float))
    samples = (np.stack(est)[:, None, :], np.stack(se)[:, None, :], np.stack(df)[:, None, :])
    return labels, full, samples
