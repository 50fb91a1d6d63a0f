"""Results of :func:`trialstats.rbmi`: samples -> analysis -> pooled tidy frames.

:func:`run_draws` fits the imputation model to the full data and runs every sample;
:func:`analyse_draws` analyses them (ANCOVA per visit, with any delta) and :func:`pool_draws`
pools; :class:`RBMIResult` is the frozen result. Tipping-point analyses (:mod:`.tipping`) re-use
one set of draws for every delta, since the delta is added after imputation.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .._summary import Summary
from ..errors import ConvergenceWarning, ModelError
from ._analysis import (
    ancova,
    pool_bmlmi,
    pool_bootstrap_normal,
    pool_bootstrap_percentile,
    pool_jackknife,
    rubin_rules,
)
from ._engine import impute
from ._parallel import map_samples

__all__ = ["RBMIResult", "Draws", "run_draws", "run_draws_shared", "same_model", "analyse_draws",
           "pool_draws", "delta_template"]


@dataclass(frozen=True)
class Draws:
    """Full-data fit and the imputed values of every sample."""

    kind: str
    fit: object  # ModelFit of the full data
    full_values: np.ndarray  # conditional-mean imputation of the full data
    idx: tuple  # per sample: analysed subjects
    values: tuple  # per sample: imputed values of the full data
    converged: np.ndarray
    seed: object
    #: bmlmi: imputations per bootstrap sample (``values`` are then completed (len(idx), m)
    #: matrices, D consecutive per sample)
    n_imputations: int = 1


def run_draws(prep, kind, n_samples, seed, *, engine=None, workers=None, progress=None,
              n_imputations: int = 1) -> Draws:
    """Fit the full data, then run the jackknife / bootstrap / MI / bmlmi samples."""
    from .api import full_fit

    fit, values = full_fit(prep)
    n = prep.problem.n_subjects if kind == "jackknife" else int(n_samples)
    if kind != "jackknife" and seed is None:
        seed = int(np.random.SeedSequence().entropy % (2**63))
    out = map_samples(prep.problem, kind, n, seed, fit.theta, engine=engine, workers=workers,
                      progress=progress, n_imputations=n_imputations)
    if kind == "bmlmi":  # one entry per imputed data set: D consecutive per bootstrap sample
        out = [(r[0], v, r[2], r[3]) for r in out for v in r[1]]
    conv = np.array([r[2] for r in out][::n_imputations if kind == "bmlmi" else 1])
    if not conv.all():
        bad = np.flatnonzero(~conv)
        what = ([prep.subjects[i] for i in bad] if kind == "jackknife" else list(bad))
        warnings.warn(
            f"rbmi: the imputation MMRM did not converge in {len(bad)} of {n} samples "
            f"({'left-out subjects' if kind == 'jackknife' else 'samples'} "
            f"{', '.join(map(str, what[:10]))}); their results are kept",
            ConvergenceWarning, stacklevel=3)
    return Draws(kind, fit, values, tuple(r[0] for r in out), tuple(r[1] for r in out), conv,
                 seed, n_imputations if kind == "bmlmi" else 1)


def same_model(a, b) -> bool:
    """Whether two prepared problems fit the same imputation model (same outcomes, design,
    fitted rows, covariance groups and structures): then they differ only in strategies."""
    pa, pb = a.problem, b.problem
    return (pa.y.shape == pb.y.shape and np.array_equal(pa.y, pb.y, equal_nan=True)
            and np.array_equal(pa.X, pb.X) and np.array_equal(pa.fit_mask, pb.fit_mask)
            and np.array_equal(pa.arm, pb.arm) and np.array_equal(pa.cov_group, pb.cov_group)
            and pa.reml == pb.reml and [x.name for x in pa.structures] ==
            [x.name for x in pb.structures])


def run_draws_shared(preps, kind, n_samples, seed, *, engine=None, workers=None,
                     progress=None) -> list[Draws]:
    """:func:`run_draws` of several problems that differ only in strategies
    (:func:`same_model`), fitting each sample's imputation model once: the draws are identical
    to separate runs (the same fits), at the cost of one."""
    from .api import full_fit

    local = engine is None or (isinstance(engine, str) and engine in ("local", "sequential"))
    if len(preps) < 2 or not local or kind not in ("jackknife", "bootstrap") or not all(
            same_model(preps[0], p) for p in preps[1:]):  # (Dask scatters tuples elementwise)
        return [run_draws(p, kind, n_samples, seed, engine=engine, workers=workers,
                          progress=progress) for p in preps]
    fit, _ = full_fit(preps[0])
    full = [impute(p.problem, fit) for p in preps]
    n = preps[0].problem.n_subjects if kind == "jackknife" else int(n_samples)
    if kind != "jackknife" and seed is None:
        seed = int(np.random.SeedSequence().entropy % (2**63))
    out = map_samples(tuple(p.problem for p in preps), kind, n, seed, fit.theta, engine=engine,
                      workers=workers, progress=progress)
    conv = np.array([r[2] for r in out])
    if not conv.all():
        warnings.warn(f"rbmi: the imputation MMRM did not converge in {int((~conv).sum())} of "
                      f"{n} samples; their results are kept", ConvergenceWarning, stacklevel=3)
    return [Draws(kind, fit, full[k], tuple(r[0] for r in out), tuple(r[1][k] for r in out),
                  conv, seed) for k in range(len(preps))]


def _completed(prep, values):
    Y = prep.problem.y.copy()
    Y[prep.problem.missing] = values
    return Y


def analyse_draws(prep, draws: Draws, delta=None):
    """ANCOVA of the full data and of every sample.

    Returns
    -------
    full : (est, se, df) of the conditional-mean full data (None for approxbayes)
    samples : (est (S, V, P), se (S, V, P), df (S, V))
    """
    spec = prep.analysis if delta is None else _with_delta(prep.analysis, delta)
    n = prep.problem.n_subjects
    full = None
    if draws.kind not in ("approxbayes", "bmlmi"):
        full = ancova(spec, _completed(prep, draws.full_values), np.arange(n))
    if draws.kind == "bmlmi":
        res = [ancova(spec, v, idx, expanded=True) for idx, v in zip(draws.idx, draws.values,
                                                                     strict=True)]
    else:
        res = [ancova(spec, _completed(prep, v), idx) for idx, v in zip(draws.idx, draws.values,
                                                                         strict=True)]
    est = np.stack([r[0] for r in res])
    se = np.stack([r[1] for r in res])
    df = np.stack([r[2] for r in res])
    return full, (est, se, df)


def _with_delta(spec, delta):
    from dataclasses import replace

    return replace(spec, delta=delta)


def pool_draws(kind, full, samples, level, pool_type=None, n_imputations: int = 1):
    """Pool to arrays (estimate, se, df, conf_low, conf_high, p_value), each (V, P)."""
    est, se, df = samples
    S, V, P = est.shape
    flat = est.reshape(S, V * P)
    if kind == "bmlmi":
        out = pool_bmlmi(flat, n_imputations, level)
    elif kind == "jackknife":
        out = pool_jackknife(full[0].ravel(), flat, level)
    elif kind == "bootstrap":
        fn = pool_bootstrap_percentile if pool_type == "percentile" else pool_bootstrap_normal
        out = fn(full[0].ravel(), flat, level)
    else:
        v_com = np.repeat(df[0], P)
        out = rubin_rules(flat, se.reshape(S, V * P), v_com, level)
    return tuple(np.asarray(a, dtype=float).reshape(V, P) for a in out)


def _parameters(arms):
    """(parameter, arm) of the columns of the analysis: trt..., lsm_ref, lsm_alt..."""
    A = len(arms)
    return ([("trt", arms[a]) for a in range(1, A)] + [("lsm_ref", arms[0])]
            + [("lsm_alt", arms[a]) for a in range(1, A)])


def pooled_frame(prep, pooled) -> pd.DataFrame:
    """Tidy frame of pooled arrays: one row per visit and parameter (rbmi's pool() order)."""
    est, se, df, lo, hi, p = pooled
    params = _parameters(prep.arms)
    rows = []
    for j, v in enumerate(prep.visits):
        for c, (name, arm) in enumerate(params):
            rows.append(dict(visit=v, parameter=name, arm=arm,
                             reference=prep.arms[0] if name == "trt" else None,
                             estimate=est[j, c], std_error=se[j, c], df=df[j, c],
                             conf_low=lo[j, c], conf_high=hi[j, c], p_value=p[j, c]))
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class RBMIResult:
    """Result of :func:`trialstats.rbmi`.

    Attributes
    ----------
    pooled : pandas.DataFrame
        rbmi's ``pool()``: visit, parameter ("trt", "lsm_ref", "lsm_alt"), arm, reference,
        estimate, std_error, df (inf: normal), conf_low, conf_high, p_value.
    full_data : pandas.DataFrame or None
        Condmean: the ANCOVA of the conditional-mean-imputed full data (estimate, std_error, df
        of ``lm``); the pooled estimates are these.
    imputed : pandas.DataFrame
        Every missing outcome: subject, visit, arm, strategy, imputed_value (conditional mean
        given the full-data fit; the first imputation for approxbayes), before delta.
    samples : pandas.DataFrame
        Per sample: sample, visit, parameter, arm, estimate, std_error, df.
    imputation_model : dict
        ``beta`` (Series by design column), ``sigma`` (DataFrame per covariance group),
        ``theta``, ``converged``.
    notes : tuple of str
        How the data were handled (derived ICEs, non-monotone missingness, excluded rows).
    settings : dict
        The call's options.
    """

    pooled: pd.DataFrame
    full_data: pd.DataFrame | None
    imputed: pd.DataFrame
    samples: pd.DataFrame
    imputation_model: dict
    notes: tuple
    settings: dict
    level: float
    n_subjects: int
    n_samples: int
    n_failed: int
    _prep: object = field(repr=False, compare=False, default=None)
    _draws: object = field(repr=False, compare=False, default=None)
    _analysis: object = field(repr=False, compare=False, default=None)

    def __repr__(self) -> str:
        s = self.settings
        inf = f"+{s['inference']}" if s.get("inference") else ""
        return (f"<RBMIResult: {s['method']}{inf}, {self.n_samples} samples, "
                f"{self.n_subjects} subjects, strategy {s['strategy']}, {s['covariance']} "
                f"covariance{'' if s['same_cov'] else ' by arm'}>")

    def pool(self, pool_type=None, level=None) -> pd.DataFrame:
        """Pool again with another bootstrap pool type or level (same draws)."""
        from .._inference import check_level

        level = self.level if level is None else check_level(level)
        if self._analysis is not None:
            return _user_result(self._prep, self._draws, self._analysis, pool_type, level)[0]
        full, samples = analyse_draws(self._prep, self._draws)
        return pooled_frame(self._prep, pool_draws(self._draws.kind, full, samples, level,
                                                   pool_type, self._draws.n_imputations))

    def comparisons(self, endpoint: str = "", analysis: str = "rbmi") -> pd.DataFrame:
        """Treatment comparisons as analysis-results rows (one per visit and arm).

        Parameters
        ----------
        endpoint : str
            Endpoint label for the rows (e.g. "TAHC").
        analysis : str
            Analysis label (e.g. "rbmi JR").

        Returns
        -------
        pandas.DataFrame
            analysis, endpoint, param (the outcome column), visit, arm, reference, measure,
            scale, null, estimate, std_error, df, statistic, p_value, conf_low, conf_high,
            level, method; ``trt`` rows of :attr:`pooled` (arm minus the first arm).
        """
        trt = self.pooled[self.pooled["parameter"] == "trt"]
        stat = trt["estimate"] / trt["std_error"]
        method = (f"rbmi {self.settings['method']}"
                  + (f" {self.settings['inference']}" if self.settings.get("inference") else "")
                  + f", strategy {self.settings['strategy']}")
        out = pd.DataFrame({
            "analysis": analysis, "endpoint": endpoint, "param": self._prep.outcome,
            "visit": trt["visit"].to_numpy(), "arm": trt["arm"].to_numpy(),
            "reference": trt["reference"].to_numpy(), "measure": "mean difference",
            "scale": "difference", "null": 0.0, "estimate": trt["estimate"].to_numpy(),
            "std_error": trt["std_error"].to_numpy(), "df": trt["df"].to_numpy(),
            "statistic": stat.to_numpy(), "p_value": trt["p_value"].to_numpy(),
            "conf_low": trt["conf_low"].to_numpy(), "conf_high": trt["conf_high"].to_numpy(),
            "level": self.level, "method": method,
        })
        return out

    def delta_template(self, delta=None, dlag=None, missing_only=True) -> pd.DataFrame:
        """rbmi's ``delta_template``: see :func:`delta_template`."""
        return delta_template(self, delta=delta, dlag=dlag, missing_only=missing_only)

    def summary(self) -> Summary:
        """Pooled table, notes and settings as a printable / HTML summary."""
        return Summary(title=repr(self), tables={"pooled": self.pooled},
                       notes=tuple(self.notes))


def _lagged_offsets(delta: np.ndarray, dlag: np.ndarray, ice: int) -> np.ndarray:
    """Offsets of one subject with its ICE at visit index ``ice`` (see :func:`delta_template`)."""
    m = len(delta)
    out = np.zeros(m)
    for j in range(ice, m):
        out[j] = sum(delta[t] * dlag[j - t] for t in range(ice, j + 1))
    return out


def delta_template(mi: RBMIResult, delta=None, dlag=None, missing_only=True) -> pd.DataFrame:
    """Per-subject, per-visit delta offsets, as rbmi's ``delta_template``.

    For a subject whose ICE is at visit :math:`k` the offset at visit :math:`j \\ge k` is
    :math:`\\sum_{i=k}^{j} \\delta_i\\, \\ell_{j-i+1}` (``delta`` per visit, ``dlag`` per lag), 0
    before the ICE and for subjects without an ICE; with ``missing_only`` it is kept only where
    the outcome is missing. With ``dlag`` all ones this is the cumulative sum of ``delta`` over
    the post-ICE visits.

    Parameters
    ----------
    mi : RBMIResult
    delta, dlag : sequence of float, optional
        One value per visit; default 0 (delta) and 1 (dlag).
    missing_only : bool, default True

    Returns
    -------
    pandas.DataFrame
        subject, visit, arm, is_missing, is_post_ice, strategy, delta: pass to ``rbmi(delta=)``
        after editing.
    """
    prep = mi._prep
    n, m = prep.problem.y.shape
    d = np.zeros(m) if delta is None else np.asarray(delta, dtype=float)
    lag = np.ones(m) if dlag is None else np.asarray(dlag, dtype=float)
    if d.shape != (m,) or lag.shape != (m,):
        raise ModelError(f"delta_template: delta and dlag need one value per visit ({m}: "
                         f"{', '.join(map(str, prep.visits))})")
    missing = prep.problem.missing
    post = np.arange(m)[None, :] >= prep.ice_visit[:, None]
    out = np.stack([_lagged_offsets(d, lag, int(k)) for k in prep.ice_visit])
    if missing_only:
        out = np.where(missing, out, 0.0)
    return pd.DataFrame({
        "subject": np.repeat(prep.subjects, m), "visit": np.tile(prep.visits, n),
        "arm": np.repeat([prep.arms[a] for a in prep.problem.arm], m),
        "is_missing": missing.ravel(), "is_post_ice": post.ravel(),
        "strategy": np.repeat(prep.strategy, m), "delta": out.ravel(),
    })


def _user_result(prep, draws, analysis, pool_type, level):
    """Pooled frame, full-data frame and samples frame of a user analysis function."""
    from ._user_analysis import user_analyse

    labels, full, samples = user_analyse(prep, draws, analysis)
    pooled_arrays = pool_draws(draws.kind, full, samples, level, pool_type)
    names = ["estimate", "std_error", "df", "conf_low", "conf_high", "p_value"]
    pooled = pd.concat([labels, pd.DataFrame({k: a[0] for k, a in zip(names, pooled_arrays,
                                                                       strict=True)})], axis=1)
    full_df = None if full is None else pd.concat(
        [labels, pd.DataFrame({k: a[0] for k, a in zip(names[:3], full, strict=True)})], axis=1)
    est, se, df = samples
    S, _, R = est.shape
    samp = pd.concat([labels] * S, ignore_index=True)
    samp.insert(0, "sample", np.repeat(np.arange(S), R))
    samp = samp.assign(estimate=est.ravel(), std_error=se.ravel(), df=df.ravel())
    return pooled, full_df, samp


def build_result(prep, draws: Draws, *, pool_type, level, settings,
                 analysis=None) -> RBMIResult:
    """Analyse and pool the draws and assemble the frozen result."""
    if analysis is not None:
        pooled, full_df, samp = _user_result(prep, draws, analysis, pool_type, level)
        return _assemble(prep, draws, pooled, full_df, samp, level, settings, analysis)
    full, samples = analyse_draws(prep, draws)
    pooled = pooled_frame(prep, pool_draws(draws.kind, full, samples, level, pool_type,
                                           draws.n_imputations))
    params = _parameters(prep.arms)
    full_df = None
    if full is not None:
        full_df = pd.DataFrame([
            dict(visit=v, parameter=name, arm=arm, estimate=full[0][j, c],
                 std_error=full[1][j, c], df=full[2][j])
            for j, v in enumerate(prep.visits) for c, (name, arm) in enumerate(params)])
    est, se, df = samples
    S, V, P = est.shape
    samp = pd.DataFrame({
        "sample": np.repeat(np.arange(S), V * P),
        "visit": np.tile(np.repeat(prep.visits, P), S),
        "parameter": np.tile([p[0] for p in params], S * V),
        "arm": np.tile([p[1] for p in params], S * V),
        "estimate": est.ravel(), "std_error": se.ravel(), "df": np.repeat(df.ravel(), P),
    })
    return _assemble(prep, draws, pooled, full_df, samp, level, settings)


def _assemble(prep, draws, pooled, full_df, samp, level, settings,
              analysis=None) -> RBMIResult:
    r, c = np.nonzero(prep.problem.missing)
    # the conditional mean of the full-data fit (the first imputation for approxbayes; bmlmi
    # imputes bootstrap samples, so its full-data values are the conditional means too)
    first = draws.full_values if draws.kind != "approxbayes" else draws.values[0]
    imputed = pd.DataFrame({
        "subject": [prep.subjects[i] for i in r], "visit": [prep.visits[j] for j in c],
        "arm": [prep.arms[prep.problem.arm[i]] for i in r],
        "strategy": [prep.strategy[i] for i in r], "imputed_value": first,
    })
    fit = draws.fit
    labels = (["all"] if len(fit.sigmas) == 1 else list(prep.arms))
    model = dict(
        beta=pd.Series(fit.beta, index=list(prep.design_columns)),
        sigma={g: pd.DataFrame(s, index=list(prep.visits), columns=list(prep.visits))
               for g, s in zip(labels, fit.sigmas, strict=True)},
        theta=fit.theta, converged=fit.converged,
    )
    return RBMIResult(
        pooled=pooled, full_data=full_df, imputed=imputed, samples=samp,
        imputation_model=model, notes=prep.notes, settings=settings, level=level,
        n_subjects=prep.problem.n_subjects, n_samples=len(draws.values), n_failed=int((~draws.converged).sum()),
        _prep=prep, _draws=draws, _analysis=analysis,
    )
