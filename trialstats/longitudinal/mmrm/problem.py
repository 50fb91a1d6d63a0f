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

Refits start and optimise as the original fit did (its ``start=`` and ``optimizer=``) unless told
otherwise. Engines that build their own design (``ts.rbmi``'s imputation model) make a problem
from arrays with :meth:`MMRMProblem.from_arrays`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy.linalg import lapack as _lapack

from ...errors import ModelError
from ._fit import SubjectArrays, fit_arrays, make_data, one_blas_thread, scaled_outcome
from ._samples import PatternIndex, sample_data
from .optim import OPTIMIZERS, check_start
from .results import MMRMResult, make_result
from .spatial import SpatialStructure

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
        spec = fit.spec
        self._setup(fit.design.X, fit.design.y, fit.arrays, tuple(fit.structures),
                    reml=spec.method == "reml", terms=fit.terms, visit_name=spec.visit,
                    covariance=spec.covariance, start=getattr(spec, "start", None),
                    optimizer=getattr(spec, "optimizer", "newton"), fit=fit)

    @classmethod
    def from_arrays(cls, X, y, arrays: SubjectArrays, structures, *, reml: bool = True,
                    terms=None, visit_name: str = "visit") -> MMRMProblem:
        """A problem from coded arrays, for engines that build their own design (``ts.rbmi``).

        Such a problem has no original fit: :meth:`fit` works as for ``fit.problem()`` (with
        the data-driven start values of ``ts.mmrm``, or ``start=theta``), :meth:`result` and
        ``start="full"`` raise :class:`~trialstats.ModelError`.

        Parameters
        ----------
        X : ndarray (N, p)
            Design rows (full column rank).
        y : ndarray (N,)
            Outcome (finite).
        arrays : SubjectArrays
            Codes of the rows (every subject with at least one row).
        structures : sequence of CovarianceStructure
            One per covariance group.
        reml : bool, default True
        terms : sequence of str, optional
            Names of the columns of ``X`` (default ``x0, x1, ...``).
        visit_name : str
            What the visits are called in error messages.

        Returns
        -------
        MMRMProblem
        """
        X = np.ascontiguousarray(X, dtype=float)
        y = np.asarray(y, dtype=float)
        if X.ndim != 2 or y.shape != (X.shape[0],) or arrays.subject.shape != y.shape:
            raise ModelError(f"MMRMProblem.from_arrays: X {X.shape}, y {y.shape} and "
                             f"subject codes {arrays.subject.shape} must have one row each")
        if np.any(np.bincount(arrays.subject, minlength=len(arrays.group)) == 0):
            raise ModelError("MMRMProblem.from_arrays: every subject needs at least one row")
        self = cls.__new__(cls)
        self._setup(X, y, arrays, tuple(structures), reml=bool(reml),
                    terms=tuple(terms) if terms is not None
                    else tuple(f"x{k}" for k in range(X.shape[1])),
                    visit_name=visit_name, covariance=structures[0].name, start=None,
                    optimizer="newton", fit=None)
        return self

    def _setup(self, X, y, arrays, structures, *, reml, terms, visit_name, covariance, start,
               optimizer, fit):
        self._fit = fit
        self._X, self._y, self._arrays, self._structures = X, y, arrays, structures
        self._reml, self._terms, self._visit_name = reml, terms, visit_name
        self._covariance, self._start0, self._optimizer = covariance, start, optimizer
        self._order = np.argsort(arrays.subject, kind="stable")  # rows subject by subject
        self._counts = np.bincount(arrays.subject, minlength=len(arrays.group))
        self._starts = np.r_[0, np.cumsum(self._counts)[:-1]]
        self._data = None  # MMRMData of all rows, built at the first refit
        self._index = None  # PatternIndex of self._data

    def __getstate__(self):  # the grouped data are rebuilt where unpickled
        return {**self.__dict__, "_data": None, "_index": None}

    # ------------------------------------------------------------------ description
    @property
    def terms(self) -> tuple:
        """Names of the fixed effects (order of :attr:`MMRMEstimates.beta`)."""
        return self._terms

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
        what = self._fit.spec.formula if self._fit is not None else "arrays"
        return (f"<MMRMProblem: {what}, {self._covariance}, "
                f"{self.n_obs} obs / {self.n_subjects} subjects>")

    # ------------------------------------------------------------------ refits
    @one_blas_thread  # the products of the sample's patterns too (threads cost more than them)
    def fit(self, y=None, *, subjects=None, start="fresh", optimizer=None) -> MMRMEstimates:
        """Refit: point estimates only (the fast path).

        Parameters
        ----------
        y : array_like (n_obs,), optional
            New outcome of every row of the original fit, in ``fit.design.frame`` order
            (finite). Default: the original outcome.
        subjects : array_like of int, optional
            Subject indices to fit, in order; repeats are distinct subjects (bootstrap).
            Default: every subject once.
        start : {"fresh", "full"} or array_like
            Start values of the optimiser. ``"fresh"`` (default): those of a fresh
            :func:`trialstats.mmrm` fit with the original fit's ``start=`` (the data-driven
            values when it had none), so the result is *bitwise identical* to it. ``"full"``:
            the original fit's theta (a warm start: fewer iterations for jackknife samples, which
            are close to the full data). The optimum is the same, but the last bits of the
            estimates are not (agreement with the fresh fit is to ~1e-8 relative or better, the
            convergence tolerance); use it where bitwise reproduction of ``ts.mmrm`` is not needed.
            A vector: theta to start from (as ``ts.mmrm(start=)``).
        optimizer : {"newton", "l-bfgs-b", "bfgs", "cg"}, optional
            Default: the original fit's ``optimizer=``.

        Returns
        -------
        MMRMEstimates

        Raises
        ------
        ModelError
            ``y`` of the wrong length or not finite; subject indices out of range; a sample
            that makes a different model (see the module docstring); an unknown ``start`` or
            ``optimizer``.
        """
        theta0, method = self._start(start), self._method(optimizer)
        X, yy, arrays, data = self._select(y, subjects)
        eng, theta, converged, message = fit_arrays(
            X, yy, arrays, self._structures, reml=self._reml, data=data, theta0=theta0,
            optimizer=method)
        st = eng.state(theta, order=0)
        return MMRMEstimates(
            beta=st.beta, theta=np.asarray(theta), sigmas=tuple(s[0] for s in st.sigmas),
            converged=bool(converged), message=message, m2loglik=float(eng.m2loglik(st)),
            n_subjects=len(arrays.group), n_obs=len(yy),
        )

    @one_blas_thread  # as ts.mmrm: the inference of a refit takes the same steps
    def result(self, y=None, *, subjects=None, start="fresh", optimizer=None) -> MMRMResult:
        """Refit with full inference: an :class:`MMRMResult` equal to a fresh ``ts.mmrm`` fit.

        Parameters and errors as :meth:`fit`. ``exclusions`` of the refit are those of the
        original fit when ``subjects`` is not given, and empty otherwise (a sample is made of
        rows that were used).

        Returns
        -------
        MMRMResult
        """
        fit0 = self._fit
        if fit0 is None:
            raise ModelError("MMRMProblem.result needs a problem made from a ts.mmrm fit "
                             "(fit.problem()); this one was made from arrays: use .fit()")
        theta0, method = self._start(start), self._method(optimizer)
        X, yy, arrays, data = self._select(y, subjects)
        eng, theta, converged, message = fit_arrays(
            X, yy, arrays, self._structures, reml=self._reml, data=data, theta0=theta0,
            optimizer=method)
        design = fit0.design
        frame = design.frame
        if y is not None:  # the frame carries the outcome that was fitted
            frame = frame.copy()
            frame[design.outcome] = self._outcome(y)
        if subjects is None:
            design = replace(design, y=yy, frame=frame)
            excl, excl_rows = fit0.exclusions, fit0.excluded_rows
        else:
            design = replace(design, X=X, y=yy, frame=frame.iloc[self._rows(self._subjects(subjects))],
                             exclusions=design.exclusions.iloc[:0])
            excl, excl_rows = fit0.exclusions.iloc[:0], fit0.excluded_rows.iloc[:0]
        return make_result(fit0.spec, design, arrays, fit0.structures, eng, theta, converged,
                           message, exclusions=excl, excluded_rows=excl_rows)

    # ------------------------------------------------------------------ options
    def _start(self, start):
        """theta0 for fit_arrays: None (data-driven start values) or a vector."""
        if isinstance(start, str):
            if start == "fresh":
                return self._start0
            if start == "full":
                if self._fit is None:
                    raise ModelError("refit: start='full' needs a problem made from a ts.mmrm "
                                     "fit; give the theta to start from instead")
                return self._fit.theta
            raise ModelError(f"refit: start must be 'fresh' or 'full' or a vector of "
                             f"covariance parameters; got {start!r}")
        return check_start(start, sum(st.n_theta for st in self._structures), self._covariance)

    def _method(self, optimizer):
        if optimizer is None:
            return self._optimizer
        if not isinstance(optimizer, str) or optimizer not in OPTIMIZERS:
            raise ModelError(f"refit: unknown optimizer {optimizer!r}; valid: "
                             f"{', '.join(OPTIMIZERS)}")
        return optimizer

    # ------------------------------------------------------------------ selection
    def _full_data(self):
        """MMRMData of every row (original outcome) and its pattern index, built once."""
        if self._data is None:
            self._data = make_data(self._X, self._y, self._arrays, self._structures,
                                   reml=self._reml)
            self._index = PatternIndex.of(self._data, self._order, self._starts)
        return self._data

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

    def _subjects(self, subjects) -> np.ndarray:
        idx = np.asarray(subjects)
        if idx.ndim != 1 or idx.size == 0 or not np.issubdtype(idx.dtype, np.integer):
            raise ModelError("refit: subjects must be a non-empty 1-d array of integer subject "
                             f"indices in 0..{self.n_subjects - 1}")
        if idx.min() < 0 or idx.max() >= self.n_subjects:
            raise ModelError(f"refit: subject indices must lie in 0..{self.n_subjects - 1}; "
                             f"got {idx.min()}..{idx.max()}")
        return idx.astype(np.int64, copy=False)

    def _rows(self, idx) -> np.ndarray:
        """Rows of subjects ``idx``, subject after subject (each in original row order)."""
        c = self._counts[idx]
        first = np.cumsum(c) - c
        return self._order[np.repeat(self._starts[idx] - first, c) + np.arange(int(c.sum()))]

    def _select(self, y, subjects):
        """Rows, outcome, codes and grouped data (MMRMData) of a refit."""
        yy = self._outcome(y)
        data = self._full_data()
        if subjects is None:
            if yy is not self._y:
                data = data.with_outcome(scaled_outcome(yy, self._arrays))
            return self._X, yy, self._arrays, data
        idx = self._subjects(subjects)
        a = self._arrays
        rows = self._rows(idx)
        c = self._counts[idx]
        arrays = SubjectArrays(
            subject=np.repeat(np.arange(len(idx), dtype=np.int64), c), visit=a.visit[rows],
            group=a.group[idx], subject_ids=a.subject_ids[idx], visit_levels=a.visit_levels,
            group_levels=a.group_levels, weights=None if a.weights is None else a.weights[rows])
        self._check_counts(arrays)
        X, ys = self._X[rows], yy[rows]
        if data.batches is not None:  # spatial: each subject's block at its own times
            sample = make_data(X, ys, arrays, self._structures, reml=self._reml)
            self._check_estimable(sample, X)
            return X, ys, arrays, sample
        log_weight = 0.0
        if arrays.weights is None:  # make_data's rows are these
            Xw, yw = X, ys
        else:  # as make_data: rows scaled by sqrt(w), sum of log w
            Xw, yw = data.X[rows], data.y[rows] if yy is self._y else scaled_outcome(ys, arrays)
            log_weight = float(np.sum(np.log(arrays.weights)))
        sample = sample_data(data, self._index, idx, c, Xw, yw, arrays.group, arrays.subject,
                             arrays.visit, log_weight, same_outcome=yy is self._y)
        self._check_estimable(sample, None if arrays.weights is None else X)
        return X, ys, arrays, sample

    def _check_counts(self, arrays: SubjectArrays) -> None:
        """Every visit observed and enough subjects per covariance group (else ModelError)."""
        m = len(arrays.visit_levels)
        seen = np.bincount(arrays.visit, minlength=m)
        # a spatial covariance is a function of the distances between a subject's own times, so
        # a sample without some of the distinct times is the same model (ts.mmrm on the sample
        # fits the same parameters over fewer distinct times)
        spatial = isinstance(self._structures[0], SpatialStructure)
        if np.any(seen == 0) and not spatial:
            missing = [str(arrays.visit_levels[v]) for v in np.flatnonzero(seen == 0)]
            raise ModelError(f"refit: the sample has no observation at {self._visit_name} "
                             f"{', '.join(missing)}; ts.mmrm would fit a different model")
        per_group = np.bincount(arrays.group, minlength=len(self._structures))
        for g, st in enumerate(self._structures):
            if per_group[g] <= st.n_theta:
                where = f" in group {arrays.group_levels[g]}" if arrays.group_levels else ""
                raise ModelError(f"refit: the sample has {per_group[g]} subjects{where}, too "
                                 f"few for {st.n_theta} covariance parameters")

    def _check_estimable(self, data, X=None) -> None:
        """No aliased term in the sample (else ModelError): the criterion of
        ``_design._aliased``, squared residual norms of the scaled X'X above 1e-10 (``X``: the
        unweighted rows of a weighted fit)."""
        s = data.stacked
        if X is not None:
            G = X.T @ X
        elif s is not None:  # X'X = sum over patterns of the diagonal cells M_p[a, a]
            m = s.Y.shape[1]
            p = data.n_beta
            G = s.M[:, np.arange(m) * (m + 1)].sum(axis=(0, 1)).reshape(p, p)
        else:
            G = data.X.T @ data.X
        d = np.sqrt(np.diag(G))
        ok = bool(np.all(d > 0))
        if ok:
            L, info = _lapack.dpotrf(G / np.outer(d, d), lower=1)
            ok = info == 0 and bool(np.min(np.diag(L)) ** 2 > 1e-10)
        if not ok:
            raise ModelError("refit: some terms of the model are not estimable in the sample "
                             "(a factor level or factor-by-visit cell without observations); "
                             "ts.mmrm would fit a different model")
