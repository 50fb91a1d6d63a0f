"""The MMRM result: coefficients, covariance, LS means and contrasts with their df.

Inference for any linear combination :math:`l^\\top\\beta` comes from one place,
:meth:`.inference.MMRMInference.estimate` (see :mod:`.inference`).
"""

from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np
import pandas as pd

from ..._summary import Summary, summary_html
from ...errors import ModelError
from .._design import Design
from .._grid import column_products, reference_grid
from .dof import kenward_roger_f, satterthwaite_f_ddf
from .inference import MMRMInference, build_inference

__all__ = ["MMRMSpec", "MMRMResult", "MMRMInference", "make_result"]

_METHOD_LABEL = {"reml": "REML", "ml": "ML"}


@dataclass(frozen=True)
class MMRMSpec:
    """What was asked for: kept with the result so it can be reported and refitted."""

    formula: str
    subject: str
    visit: str
    covariance: str
    df: str
    method: str
    group: str | None
    vcov: str
    level: float
    allow_nonconverged: bool = False  # report tests and intervals of a non-converged fit
    weights: str | None = None  # observation-weight column (SAS WEIGHT semantics)
    coords: str | tuple | None = None  # time column(s) of a spatial covariance (sp_exp, sp_gau)
    aliasing: object = None  # rank_deficient="drop": the dropped columns (.aliasing.Aliasing)
    contrasts: tuple = ()  # ((factor, "contr.sum"), ...): non-default codings (contrasts=)
    start: tuple | None = None  # start= theta of the fit (None: data-driven); refits reuse it
    optimizer: str = "newton"  # optimizer= of the fit; refits reuse it

    @property
    def versions(self) -> dict:
        """Versions of trialstats and its numerical dependencies."""
        out = {}
        for pkg in ("trialstats", "numpy", "scipy", "pandas", "formulaic"):
            try:
                out[pkg] = importlib.metadata.version(pkg)
            except importlib.metadata.PackageNotFoundError:  # pragma: no cover
                out[pkg] = "unknown"
        return out


def make_result(spec: MMRMSpec, design: Design, arrays, structures, engine, theta, converged,
                message, *, exclusions: pd.DataFrame, excluded_rows: pd.DataFrame) -> MMRMResult:
    """Assemble the result of a fit from the engine at its optimum (fresh fits and refits)."""
    n_subjects = len(arrays.group)
    try:
        inference = build_inference(engine, theta, spec, design.X, arrays.subject, n_subjects)
    except np.linalg.LinAlgError as e:
        raise ModelError(f"mmrm: the {spec.covariance} fit failed in linear algebra at the "
                         f"optimum ({e}); use a simpler covariance structure") from e
    if not converged and not spec.allow_nonconverged:  # no inference from a non-converged fit
        inference = replace(inference, no_inference=True)
    return MMRMResult(
        spec=spec,
        design=design,
        inference=inference,
        visit_levels=tuple(arrays.visit_levels),
        group_levels=tuple(arrays.group_levels) if spec.group else (),
        structures=tuple(structures),
        n_obs=int(design.X.shape[0]),
        n_subjects=int(n_subjects),
        converged=bool(converged),
        message=message,
        exclusions=exclusions,
        excluded_rows=excluded_rows,
        arrays=arrays,
    )


@dataclass(frozen=True)
class MMRMResult:
    """A fitted MMRM (immutable). Returned by :func:`trialstats.mmrm`.

    Attributes
    ----------
    spec : MMRMSpec
        Formula and options the model was fitted with.
    coef : pandas.DataFrame
        term, estimate, std_error, df, statistic, p_value, conf_low, conf_high.
    vcov, vcov_model : pandas.DataFrame
        Covariance of the estimates used for inference, and the model-based one.
    covariance : pandas.DataFrame
        Estimated visit-by-visit covariance (MultiIndex (group, visit) rows when grouped).
    theta, theta_vcov : numpy.ndarray
        Covariance parameters (R ``mmrm`` parameterisation) and their covariance.
    loglik, aic, bic : float
        Log-likelihood with all constants; AIC and BIC count covariance parameters only, with
        n = number of subjects in BIC (R ``mmrm`` and SAS REML conventions).
    n_obs, n_subjects, converged
        Rows and subjects used; whether the optimiser met its criterion.
    exclusions : pandas.DataFrame
        reason, n_rows: rows not used and why; ``excluded_rows`` lists them.
    """

    spec: MMRMSpec
    design: Design
    inference: MMRMInference
    visit_levels: tuple
    group_levels: tuple
    structures: tuple
    n_obs: int
    n_subjects: int
    converged: bool
    message: str
    exclusions: pd.DataFrame
    excluded_rows: pd.DataFrame
    arrays: object = None  # SubjectArrays of the rows used (for refits)

    # ------------------------------------------------------------------ refits
    def problem(self):
        """The fit's prepared problem, to refit it many times (see :class:`.problem.MMRMProblem`).

        Returns
        -------
        MMRMProblem
        """
        return self._problem

    @cached_property
    def _problem(self):
        from .problem import MMRMProblem

        return MMRMProblem(self)

    def refit(self, y=None, *, subjects=None, start="fresh", optimizer=None) -> MMRMResult:
        """The same model refitted on new outcomes and/or a sample of subjects.

        Identical to calling :func:`trialstats.mmrm` on the corresponding data (see
        :meth:`.problem.MMRMProblem.result`), without resolving the formula again.

        Parameters
        ----------
        y : array_like (n_obs,), optional
            New outcome for the rows used, in the order of ``design.frame``.
        subjects : array_like of int, optional
            Subject indices (0..n_subjects-1, order of first appearance in the rows used);
            repeated indices are distinct subjects (bootstrap).
        start, optimizer
            As :meth:`.problem.MMRMProblem.fit`: by default the fit's own ``start=`` and
            ``optimizer=``.

        Returns
        -------
        MMRMResult
        """
        return self.problem().result(y, subjects=subjects, start=start, optimizer=optimizer)

    # ------------------------------------------------------------------ numbers
    @property
    def terms(self) -> tuple:
        return self.design.terms

    @cached_property
    def coef(self) -> pd.DataFrame:
        """Coefficient table (one row per term, R's order and names)."""
        L = np.eye(len(self.terms))
        out = self.inference.estimate(L, self.spec.level)
        out.insert(0, "term", list(self.terms))
        al = self.spec.aliasing
        if al is not None:  # R's coef(complete = TRUE): aliased terms as NA rows
            out = out.set_index("term").reindex(list(al.full_terms)).reset_index()
        return out

    @property
    def aliased(self) -> tuple:
        """Terms dropped as aliased (``rank_deficient="drop"``); empty otherwise."""
        return self.spec.aliasing.dropped if self.spec.aliasing is not None else ()

    def _estimate_full(self, L: np.ndarray, lead: dict) -> pd.DataFrame:
        """estimate() for rows over the full design's columns (NA where not estimable)."""
        al = self.spec.aliasing
        if al is None:
            return self.inference.estimate(L, self.spec.level, lead)
        Lr, ok = al.reduce(L)
        out = self.inference.estimate(np.where(ok[:, None], Lr, 0.0), self.spec.level, lead)
        numeric = [c for c in out.columns if c not in lead]
        out.loc[~ok, numeric] = np.nan
        return out

    @property
    def vcov(self) -> pd.DataFrame:
        return pd.DataFrame(self.inference.vcov, index=self.terms, columns=self.terms)

    @property
    def vcov_model(self) -> pd.DataFrame:
        return pd.DataFrame(self.inference.phi, index=self.terms, columns=self.terms)

    @property
    def theta(self) -> np.ndarray:
        return self.inference.theta.copy()

    @property
    def theta_vcov(self) -> np.ndarray:
        return self.inference.theta_vcov.copy()

    @property
    def n_theta(self) -> int:
        return len(self.inference.theta)

    @property
    def covariance(self) -> pd.DataFrame:
        """Estimated covariance matrix over visits (per group when grouped)."""
        visits = list(self.visit_levels)
        if not self.group_levels:
            return pd.DataFrame(self.inference.sigmas[0], index=visits, columns=visits)
        frames = [pd.DataFrame(s, index=visits, columns=visits) for s in self.inference.sigmas]
        return pd.concat(frames, keys=list(self.group_levels), names=[self.spec.group, "visit"])

    @property
    def correlation(self) -> pd.DataFrame:
        """Correlation matrix implied by :attr:`covariance`."""
        def corr(s):
            d = np.sqrt(np.diag(s))
            return s / np.outer(d, d)
        visits = list(self.visit_levels)
        if not self.group_levels:
            return pd.DataFrame(corr(self.inference.sigmas[0]), index=visits, columns=visits)
        frames = [pd.DataFrame(corr(s), index=visits, columns=visits)
                  for s in self.inference.sigmas]
        return pd.concat(frames, keys=list(self.group_levels), names=[self.spec.group, "visit"])

    @property
    def loglik(self) -> float:
        return -0.5 * self.inference.m2loglik

    @property
    def aic(self) -> float:
        return self.inference.m2loglik + 2 * self.n_theta

    @property
    def bic(self) -> float:
        return self.inference.m2loglik + np.log(self.n_subjects) * self.n_theta

    # ------------------------------------------------------------------ contrasts
    def linear_contrast(self, L, names=None) -> pd.DataFrame:
        """Inference on arbitrary linear combinations of the coefficients.

        Parameters
        ----------
        L : array_like (r, p) or dict
            Rows of weights over the coefficients (in :attr:`terms` order), or one dict
            ``{term: weight}``.
        names : sequence of str, optional
            Row labels (column ``contrast``).

        Returns
        -------
        pandas.DataFrame
            estimate, std_error, df, statistic, p_value, conf_low, conf_high per row.
        """
        if isinstance(L, dict):
            unknown = [t for t in L if t not in self.terms]
            if unknown:
                raise ModelError(f"unknown terms {unknown}; the model's terms: {list(self.terms)}")
            L = np.array([[float(L.get(t, 0.0)) for t in self.terms]])
        out = self.inference.estimate(np.atleast_2d(np.asarray(L, dtype=float)), self.spec.level)
        if names is not None:
            out.insert(0, "contrast", list(names))
        return out

    def f_test(self, L) -> pd.DataFrame:
        """F test of :math:`L\\beta = 0` for a multi-row contrast, with the fit's df method.

        Satterthwaite (R mmrm, lmerTest): :math:`L\\Phi L^\\top` is diagonalised, each
        orthogonal component gets its 1-d df and the denominator df combines them
        (:func:`.dof.satterthwaite_f_ddf`). Kenward-Roger: the scaled statistic
        :math:`\\lambda F` with the adjusted covariance and df :math:`m` of Kenward and Roger
        (1997). Residual and between-within: the Wald F with the residual or the smallest
        between-within df of the coefficients involved.

        Parameters
        ----------
        L : array_like (c, p)
            Rows of weights over the coefficients (:attr:`terms` order), linearly independent.

        Returns
        -------
        pandas.DataFrame
            One row: num_df, den_df, statistic (F), p_value.
        """
        from scipy import stats

        inf = self.inference
        L = np.atleast_2d(np.asarray(L, dtype=float))
        if L.shape[1] != len(inf.beta):
            raise ModelError(f"contrast matrix has {L.shape[1]} columns; the model has "
                             f"{len(inf.beta)} coefficients")
        c = L.shape[0]
        if np.linalg.matrix_rank(L) < c:
            raise ModelError(f"the {c} rows of the contrast matrix are linearly dependent")
        if self.spec.df in ("kenward-roger", "kenward-roger-linear"):
            F, num, den = kenward_roger_f(L, inf.beta, inf.phi, inf.vcov, inf.P, inf.theta_vcov)
        else:
            V = L @ inf.vcov @ L.T
            evals, evecs = np.linalg.eigh(0.5 * (V + V.T))
            comp = evecs.T @ L  # orthogonal 1-d contrasts
            F = float(np.sum((comp @ inf.beta) ** 2 / evals)) / c
            num = c
            den = satterthwaite_f_ddf(inf.df(comp)) if self.spec.df == "satterthwaite" \
                else float(np.min(inf.df(L)))
        p = float(stats.f.sf(F, num, den))
        if inf.no_inference:  # a fit that did not converge reports no tests
            F, p = np.nan, np.nan
        return pd.DataFrame({"num_df": [float(num)], "den_df": [float(den)], "statistic": [F],
                             "p_value": [p]})

    def anova(self, type: str = "III", hypotheses: str = "mmrm") -> pd.DataFrame:  # noqa: A002
        """Type II or III F test of each model term (see :mod:`.anova`).

        Parameters
        ----------
        type : {"III", "II"}
        hypotheses : {"mmrm", "car"}
            R ``mmrm``'s ``Anova.mmrm`` (default: type III on sum-to-zero coded terms, whatever
            the fit's coding, no intercept row), or ``car::Anova`` on a GLS fit (type III: the
            term's coefficients in the fit's coding, with an intercept row).

        Returns
        -------
        pandas.DataFrame
            term, num_df, den_df, statistic (F), p_value; denominator df by the fit's method.
        """
        from .anova import anova_table

        return anova_table(self, type, hypotheses)

    # ------------------------------------------------------------------ predictions
    def fitted(self) -> np.ndarray:
        """Fitted values :math:`X\\hat\\beta` of the rows used (order of ``design.frame``)."""
        from .predict import fitted_values

        return fitted_values(self)

    def residuals(self, type: str = "response") -> np.ndarray:  # noqa: A002 (R's name)
        """Residuals of the rows used, as R ``residuals.mmrm``.

        Parameters
        ----------
        type : {"response", "pearson", "normalized"}
            Raw :math:`y - X\\hat\\beta`; divided by the row's model SD; or
            :math:`L_i^{-1}r_i` per subject, :math:`\\Sigma_i = L_iL_i^\\top`.

        Returns
        -------
        numpy.ndarray
        """
        from .predict import residual_values

        return residual_values(self, type)

    def predict(self, newdata: pd.DataFrame | None = None, conditional: bool = False):
        """Predicted outcome of each row, as R ``predict.mmrm``.

        Parameters
        ----------
        newdata : pandas.DataFrame, optional
            Rows with the model's covariates, subject and visit (and group, weights); default
            the rows used by the fit.
        conditional : bool, default False
            False: :math:`X\\hat\\beta`. True: rows whose outcome is observed are predicted
            by it; rows with a missing outcome by their conditional mean given the same
            subject's observed outcomes in ``newdata``.

        Returns
        -------
        numpy.ndarray
            One prediction per row of ``newdata``.

        Raises
        ------
        ModelError
            Missing columns or values, factor levels or visits not in the fit (a spatial fit
            predicts at any time or point: each subject's block is built at its own
            coordinates, as R mmrm), a visit twice for a subject.
        """
        from .predict import predict_rows

        return predict_rows(self, newdata, conditional)

    def _factor_levels(self, name: str, role: str) -> list:
        if name not in self.design.variables:
            grid = [v for v in (self.spec.visit if self.spec.coords is None else None,
                                self.spec.group) if v and v not in self.design.variables]
            also = f" (by= also takes {', '.join(grid)}, of the covariance)" if grid and \
                role == "by" else ""
            raise ModelError(
                f"{role} {name!r} is not a variable of the model {self.spec.formula!r}; "
                f"variables: {', '.join(self.design.variables)}{also}"
            )
        if name not in self.design.levels:
            raise ModelError(f"{role} {name!r} is numeric; LS means need a factor")
        return list(self.design.levels[name])

    @cached_property
    def _grid_products(self):
        """The design's columns as indicator/covariate products (None: formulaic grid)."""
        return column_products(self.design)

    def _outside_levels(self, by: str) -> list | None:
        """Levels of a ``by`` factor that is in emmeans' reference grid but not in the model.

        R mmrm's grid (``recover_data.mmrm``) holds the fixed-effect variables plus the visit
        (unless spatial or with one level) and the covariance group; the rows of a level of
        such a factor do not depend on it. None when ``by`` is not one of those.
        """
        if by == self.spec.visit and self.spec.coords is None and len(self.visit_levels) > 1:
            return list(self.visit_levels)
        if self.spec.group is not None and by == self.spec.group:
            return list(self.group_levels)
        return None

    def _grid_rows(self, spec: str, by: str | None):
        """Reference-grid rows for every (by, spec) level pair, by outer, in one construction."""
        spec_levels = self._factor_levels(spec, "spec")
        outside = self._outside_levels(by) if by and by not in self.design.variables else None
        if outside is not None:  # emmeans: the same rows within every level of ``by``
            keys, L = reference_grid(self.design, [spec], self._grid_products)
            keys = [(k[0], b) for b in outside for k in keys]
            return spec_levels, outside, keys, np.tile(L, (len(outside), 1))
        by_levels = self._factor_levels(by, "by") if by else [None]
        fixed = [by, spec] if by else [spec]
        keys, L = reference_grid(self.design, fixed, self._grid_products)
        keys = [(k[1], k[0]) for k in keys] if by else [(k[0], None) for k in keys]
        return spec_levels, by_levels, keys, L

    def lsmeans(self, spec: str, by: str | None = None) -> pd.DataFrame:
        """Least-squares (estimated marginal) means, as R ``emmeans``.

        Numeric covariates are held at their mean over the rows used; other factors are
        averaged with equal weights.

        Parameters
        ----------
        spec : str
            Factor whose levels get a mean (e.g. ``"ARM"``).
        by : str, optional
            Factor within whose levels the means are computed (e.g. ``"AVISIT"``). As in R
            mmrm's emmeans support, the visit (non-spatial, two or more levels) or the
            covariance ``group`` may be given even when not in the formula: each of its levels
            then gets the same means (emmeans' reference grid holds the factor, the model does
            not use it).

        Returns
        -------
        pandas.DataFrame
            spec, by, estimate, std_error, df, statistic, p_value, conf_low, conf_high.
        """
        _, _, keys, L = self._grid_rows(spec, by)
        lead = {spec: [k[0] for k in keys]}
        if by:
            lead[by] = [k[1] for k in keys]
        return self._estimate_full(L, lead)

    def contrast(self, spec: str, by: str | None = None) -> pd.DataFrame:
        """Each level of ``spec`` minus its reference (first) level, within each level of ``by``.

        Returns
        -------
        pandas.DataFrame
            by, contrast (e.g. ``"EXOSOME - PLACEBO"``), estimate, std_error, df, statistic,
            p_value, conf_low, conf_high. Unadjusted for multiplicity.
        """
        spec_levels, by_levels, keys, L = self._grid_rows(spec, by)
        if len(spec_levels) < 2:
            raise ModelError(f"{spec!r} has one level in the rows used; nothing to compare")
        k = len(spec_levels)
        rows, labels, bys = [], [], []
        for j, b in enumerate(by_levels):
            block = L[j * k:(j + 1) * k]
            for i in range(1, k):
                rows.append(block[i] - block[0])
                labels.append(f"{spec_levels[i]} - {spec_levels[0]}")
                bys.append(b)
        lead = {by: bys} if by else {}
        lead["contrast"] = labels
        return self._estimate_full(np.array(rows), lead)

    def comparisons(self, *args, **kwargs):
        """Comparisons frame of the arms: see :func:`trialstats.results.comparisons.mmrm_comparisons`."""
        from ...results.comparisons import mmrm_comparisons

        return mmrm_comparisons(self, *args, **kwargs)

    # ------------------------------------------------------------------ display
    def __repr__(self) -> str:
        status = "converged" if self.converged else "NOT converged"
        grp = f" by {self.spec.group}" if self.spec.group else ""
        return (
            f"<MMRMResult: {self.spec.covariance} covariance{grp}, "
            f"{_METHOD_LABEL[self.spec.method]}, {self.spec.df} df, {self.n_obs} obs / "
            f"{self.n_subjects} subjects, {status}>"
        )

    _repr_html_ = summary_html  # Jupyter shows summary() as tables

    def summary(self) -> Summary:
        """Model, fit statistics, coefficients and covariance as a printable Summary."""
        fit_stats = pd.DataFrame({
            "statistic": ["-2 log-likelihood", "AIC", "BIC", "observations", "subjects",
                          "covariance parameters", "converged"],
            "value": [f"{-2 * self.loglik:.4f}", f"{self.aic:.4f}", f"{self.bic:.4f}",
                      str(self.n_obs), str(self.n_subjects), str(self.n_theta),
                      str(self.converged)],
        })
        cov = self.covariance.reset_index()
        notes = [
            f"Formula: {self.spec.formula}; subject {self.spec.subject}, visit {self.spec.visit}"
            + (f"; weights {self.spec.weights}" if self.spec.weights else "") + ".",
            f"Covariance: {self.spec.covariance}"
            + (f" per {self.spec.group}" if self.spec.group else "")
            + f"; {_METHOD_LABEL[self.spec.method]}; df: {self.spec.df}; "
            f"vcov: {'Kenward-Roger adjusted' if self.spec.df.startswith('kenward') else self.spec.vcov}; "
            f"level {self.spec.level:g}.",
        ]
        if self.aliased:
            notes.append("Aliased terms dropped (coefficients NA, as R): "
                         + ", ".join(self.aliased) + ".")
        if len(self.exclusions):
            notes.append("Excluded rows: " + "; ".join(
                f"{r.reason}: {r.n_rows}" for r in self.exclusions.itertuples()))
        return Summary(
            title=repr(self),
            tables={"Fit": fit_stats, "Coefficients": self.coef, "Covariance": cov},
            notes=tuple(notes),
        )
