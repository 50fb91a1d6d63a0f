"""The repeated-fit path: one MMRM refitted on new outcomes or samples of subjects.

Jackknife, bootstrap, simulation, tipping points and multiple imputation refit the same model
hundreds or thousands of times. :class:`MMRMProblem` keeps what does not change between those
fits: the design matrix (formula resolved once), the subject, visit and covariance-group codes
and the rows of each subject. A refit selects rows with NumPy and goes straight to the engine.

Contract (see ``docs/CONTRACTS.md``): a refit gives *identical* numbers to
:func:`trialstats.mmrm` on the corresponding data:

* ``y=``: the same rows (``fit.design.frame``, in that order) with the outcome replaced;
* ``subjects=``: the rows of those subjects, subject after subject in the order given, each
  subject's rows in their original order; a subject listed twice is two distinct subjects (give
  the copies new identifiers in the equivalent data frame).

A sample that ts.mmrm would fit as a *different* model (a visit, covariance group or factor level
with no observations, aliased terms, too few subjects) raises :class:`~trialstats.ModelError`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from ...errors import ModelError
from ._fit import SubjectArrays, fit_arrays, make_data, one_blas_thread, scaled_outcome
from .results import MMRMResult, make_result

__all__ = ["MMRMProblem", "MMRMEstimates"]


@dataclass(frozen=True)
class MMRMEstimates:
    """Point estimates of one refit (no inference: that is :meth:`MMRMProblem.result`).

    Attributes
    ----------
    beta : numpy.ndarray (p,)
        Fixed effects, in the order of :attr:`MMRMProblem.terms`.
    theta : numpy.ndarray
        Covariance parameters (R ``mmrm`` parameterisation).
    sigmas : tuple of numpy.ndarray
        Visit-by-visit covariance matrix of each covariance group (one matrix when ungrouped),
        visits in :attr:`MMRMProblem.visit_levels` order.
    converged : bool
    message : str
    m2loglik : float
        -2 log-likelihood (REML or ML, all constants).
    n_subjects, n_obs : int
    """

    beta: np.ndarray
    theta: np.ndarray
    sigmas: tuple
    converged: bool
    message: str
    m2loglik: float
    n_subjects: int
    n_obs: int

    @property
    def sigma(self) -> np.ndarray:
        """The covariance matrix of an ungrouped model (the first group's otherwise)."""
        return self.sigmas[0]


class MMRMProblem:
    """A fitted MMRM prepared for refitting: THE way to fit thousands of models.

    Build it once from a fit (``fit.problem()``), then call :meth:`fit` (point estimates, the
    fastest) or :meth:`result` (a full :class:`MMRMResult` with LS means, contrasts, df) per
    replicate. Both equal :func:`trialstats.mmrm` on the corresponding data.

    Parameters
    ----------
    fit : MMRMResult
        A fit returned by :func:`trialstats.mmrm`.

    Examples
    --------
    >>> prob = ts.mmrm("CHG ~ ARM * AVISIT + BASE", adeff).problem()      # doctest: +SKIP
    >>> jack = [prob.fit(subjects=np.delete(np.arange(prob.n_subjects), i)).beta
    ...         for i in range(prob.n_subjects)]                           # doctest: +SKIP
    >>> boot = prob.fit(subjects=rng.integers(0, prob.n_subjects, prob.n_subjects))  # doctest: +SKIP
    """

    def __init__(self, fit: MMRMResult):
        if not isinstance(fit, MMRMResult) or fit.arrays is None:
            raise ModelError("MMRMProblem needs a fit returned by ts.mmrm")
        self._fit = fit
        self._X = fit.design.X
        self._y = fit.design.y
        a = fit.arrays
        self._arrays = a
        self._order = np.argsort(a.subject, kind="stable")  # rows subject by subject
        self._counts = np.bincount(a.subject, minlength=len(a.group))
        self._starts = np.r_[0, np.cumsum(self._counts)[:-1]]
        self._reml = fit.spec.method == "reml"
        self._data = None  # MMRMData of all rows, built at the first y= refit

    # ------------------------------------------------------------------ description
    @property
    def terms(self) -> tuple:
        """Names of the fixed effects (order of :attr:`MMRMEstimates.beta`)."""
        return self._fit.terms

    @property
    def n_subjects(self) -> int:
        """Subjects of the original fit; ``subjects=`` indexes them 0..n_subjects-1."""
        return len(self._arrays.group)

    @property
    def n_obs(self) -> int:
        """Rows of the original fit; ``y=`` has this length."""
        return len(self._y)

    @property
    def subject_ids(self) -> np.ndarray:
        """Identifier of each subject index (order of first appearance in the rows used)."""
        return self._arrays.subject_ids.copy()

    @property
    def subject_index(self) -> np.ndarray:
        """Subject index of each row used (row order of ``fit.design.frame``)."""
        return self._arrays.subject.copy()

    @property
    def visit_levels(self) -> tuple:
        return self._arrays.visit_levels

    @property
    def group_levels(self) -> tuple:
        return self._arrays.group_levels

    def __repr__(self) -> str:
        return (f"<MMRMProblem: {self._fit.spec.formula}, {self._fit.spec.covariance}, "
                f"{self.n_obs} obs / {self.n_subjects} subjects>")

    # ------------------------------------------------------------------ refits
    def fit(self, y=None, *, subjects=None, start: str = "fresh") -> MMRMEstimates:
        """Refit: point estimates only (the fast path).

        Parameters
        ----------
        y : array_like (n_obs,), optional
            New outcome of every row of the original fit, in ``fit.design.frame`` order
            (finite). Default: the original outcome.
        subjects : array_like of int, optional
            Subject indices to fit, in order; repeats are distinct subjects (bootstrap).
            Default: every subject once.
        start : {"fresh", "full"}
            Start values of the Newton iterations. ``"fresh"`` (default): those of a fresh
            :func:`trialstats.mmrm` fit, so the result is *bitwise identical* to it. ``"full"``:
            the original fit's theta (a warm start: fewer iterations for jackknife samples, which
            are close to the full data). The optimum is the same, but the last bits of the
            estimates are not (agreement with the fresh fit is to ~1e-8 relative or better, the
            convergence tolerance); use it where bitwise reproduction of ``ts.mmrm`` is not needed.

        Returns
        -------
        MMRMEstimates

        Raises
        ------
        ModelError
            ``y`` of the wrong length or not finite; subject indices out of range; a sample
            that makes a different model (see the module docstring).
        """
        X, yy, arrays, rows = self._select(y, subjects)
        eng, theta, converged, message = fit_arrays(X, yy, arrays, self._fit.structures,
                                                    reml=self._reml, data=self._data_of(yy, rows),
                                                    theta0=self._start(start))
        st = eng.state(theta, order=0)
        return MMRMEstimates(
            beta=st.beta, theta=np.asarray(theta), sigmas=tuple(s[0] for s in st.sigmas),
            converged=bool(converged), message=message, m2loglik=float(eng.m2loglik(st)),
            n_subjects=len(arrays.group), n_obs=len(yy),
        )

    @one_blas_thread  # as ts.mmrm: the inference of a refit takes the same steps
    def result(self, y=None, *, subjects=None, start: str = "fresh") -> MMRMResult:
        """Refit with full inference: an :class:`MMRMResult` equal to a fresh ``ts.mmrm`` fit.

        Parameters and errors as :meth:`fit`. ``exclusions`` of the refit are those of the
        original fit when ``subjects`` is not given, and empty otherwise (a sample is made of
        rows that were used).

        Returns
        -------
        MMRMResult
        """
        X, yy, arrays, rows = self._select(y, subjects)
        fit0 = self._fit
        eng, theta, converged, message = fit_arrays(X, yy, arrays, fit0.structures,
                                                    reml=self._reml, data=self._data_of(yy, rows),
                                                    theta0=self._start(start))
        design = fit0.design
        frame = design.frame
        if y is not None:  # the frame carries the outcome that was fitted
            frame = frame.copy()
            frame[design.outcome] = self._outcome(y)
        if rows is None:
            design = replace(design, y=yy, frame=frame)
            excl, excl_rows = fit0.exclusions, fit0.excluded_rows
        else:
            design = replace(design, X=X, y=yy, frame=frame.iloc[rows],
                             exclusions=design.exclusions.iloc[:0])
            excl, excl_rows = fit0.exclusions.iloc[:0], fit0.excluded_rows.iloc[:0]
        return make_result(fit0.spec, design, arrays, fit0.structures, eng, theta, converged,
                           message, exclusions=excl, excluded_rows=excl_rows)

    # ------------------------------------------------------------------ selection
    def _start(self, start: str):
        """theta0 for fit_arrays: None (fresh start values) or the original fit's theta."""
        if start == "fresh":
            return None
        if start == "full":
            return self._fit.theta
        raise ModelError(f"refit: start must be 'fresh' or 'full'; got {start!r}")

    def _data_of(self, yy: np.ndarray, rows):
        """MMRMData of every row with outcome ``yy`` from the kept patterns (None for samples)."""
        if rows is not None:
            return None
        if self._data is None:
            a = self._arrays
            self._data = make_data(self._X, self._y, a, self._fit.structures, reml=self._reml)
        if yy is self._y:
            return self._data
        return self._data.with_outcome(scaled_outcome(yy, self._arrays))

    def _outcome(self, y) -> np.ndarray:
        if y is None:
            return self._y
        yy = np.asarray(y.to_numpy() if isinstance(y, pd.Series) else y, dtype=float)
        if yy.shape != self._y.shape:
            raise ModelError(f"refit: y has shape {yy.shape}; the fit has {self.n_obs} rows, "
                             f"so y must have shape ({self.n_obs},) in fit.design.frame order")
        bad = np.flatnonzero(~np.isfinite(yy))
        if len(bad):
            raise ModelError(
                f"refit: y is missing or infinite at positions {bad[:10].tolist()}"
                + (f" and {len(bad) - 10} more" if len(bad) > 10 else "")
                + "; to leave rows out, refit a sample of subjects or call ts.mmrm on the rows")
        return yy

    def _select(self, y, subjects):
        """Rows, outcome and codes of a refit (rows None: all rows, original order)."""
        yy = self._outcome(y)
        if subjects is None:
            return self._X, yy, self._arrays, None
        idx = np.asarray(subjects)
        if idx.ndim != 1 or idx.size == 0 or not np.issubdtype(idx.dtype, np.integer):
            raise ModelError("refit: subjects must be a non-empty 1-d array of integer subject "
                             f"indices in 0..{self.n_subjects - 1}")
        if idx.min() < 0 or idx.max() >= self.n_subjects:
            raise ModelError(f"refit: subject indices must lie in 0..{self.n_subjects - 1}; "
                             f"got {idx.min()}..{idx.max()}")
        a = self._arrays
        c = self._counts[idx]
        first = np.cumsum(c) - c
        rows = self._order[np.repeat(self._starts[idx] - first, c) + np.arange(int(c.sum()))]
        arrays = SubjectArrays(
            subject=np.repeat(np.arange(len(idx), dtype=np.int64), c), visit=a.visit[rows],
            group=a.group[idx], subject_ids=a.subject_ids[idx], visit_levels=a.visit_levels,
            group_levels=a.group_levels, weights=None if a.weights is None else a.weights[rows])
        X = self._X[rows]
        self._check_sample(X, arrays)
        return X, yy[rows], arrays, rows

    def _check_sample(self, X: np.ndarray, arrays: SubjectArrays) -> None:
        """The sample must make the same model as the original fit (else ModelError)."""
        fit0 = self._fit
        m = len(arrays.visit_levels)
        seen = np.bincount(arrays.visit, minlength=m)
        if np.any(seen == 0):
            missing = [str(arrays.visit_levels[v]) for v in np.flatnonzero(seen == 0)]
            raise ModelError(f"refit: the sample has no observation at {fit0.spec.visit} "
                             f"{', '.join(missing)}; ts.mmrm would fit a different model")
        n_groups = len(fit0.structures)
        per_group = np.bincount(arrays.group, minlength=n_groups)
        for g, st in enumerate(fit0.structures):
            if per_group[g] <= st.n_theta:
                where = f" in group {fit0.group_levels[g]}" if fit0.group_levels else ""
                raise ModelError(f"refit: the sample has {per_group[g]} subjects{where}, too "
                                 f"few for {st.n_theta} covariance parameters")
        G = X.T @ X
        d = np.sqrt(np.diag(G))
        ok = bool(np.all(d > 0))
        if ok:  # the criterion of _design._aliased: squared residual norms > 1e-10
            try:
                chol = np.linalg.cholesky(G / np.outer(d, d))
                ok = bool(np.min(np.diag(chol)) ** 2 > 1e-10)
            except np.linalg.LinAlgError:
                ok = False
        if not ok:
            raise ModelError("refit: some terms of the model are not estimable in the sample "
                             "(a factor level or factor-by-visit cell without observations); "
                             "ts.mmrm would fit a different model")
