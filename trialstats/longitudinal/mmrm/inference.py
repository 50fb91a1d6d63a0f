"""Inference on any linear combination of the MMRM coefficients: covariance, df, tests.

:class:`MMRMInference` holds the arrays of a fitted MMRM that inference needs, and
:meth:`MMRMInference.estimate` is the one place where an estimate gets its standard error (the
covariance chosen by the fit: model-based, a sandwich, or Kenward-Roger adjusted), its degrees of
freedom (the fit's df method, see :mod:`.dof`) and its test and interval
(:func:`trialstats._inference.t_inference`). :func:`build_inference` assembles it at the
optimum. Split from :mod:`.results` (the result object and its tables).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..._inference import t_inference, without_inference
from ...errors import ConvergenceWarning, ModelError
from .dof import (
    between_within_df,
    kenward_roger_vcov,
    model_vcov_jacobian,
    satterthwaite_df,
)
from .sandwich import ADJUSTED_SANDWICH, adjusted_sandwich

__all__ = ["MMRMInference", "build_inference"]


@dataclass(frozen=True)
class MMRMInference:
    """Arrays of a fitted MMRM needed for inference on any contrast."""

    beta: np.ndarray
    phi: np.ndarray  # model-based (X'V^-1X)^-1
    vcov: np.ndarray  # covariance used for inference
    theta: np.ndarray
    theta_vcov: np.ndarray
    df_jacobian: np.ndarray | None  # d(cov used for df)/d theta
    df_vcov: np.ndarray  # covariance whose variance the Satterthwaite df approximates
    df_method: str
    coef_df_bw: np.ndarray | None
    residual_df: float
    m2loglik: float
    sigmas: tuple  # per group covariance matrix
    df_override: object = None  # callable L -> df (Bell-McCaffrey for the sandwich)
    P: np.ndarray | None = None  # X' dV^-1/dtheta_h X (Kenward-Roger F tests)
    no_inference: bool = False  # not converged: statistics, p-values, intervals are NaN

    def df(self, L: np.ndarray) -> np.ndarray:
        """Degrees of freedom of each row of ``L`` under the fit's df method."""
        L = np.atleast_2d(L)
        if self.df_method == "residual":
            return np.full(L.shape[0], self.residual_df)
        if self.df_method == "between-within":
            used = np.abs(L) > 0
            return np.array([self.coef_df_bw[u].min() if u.any() else self.residual_df
                             for u in used])
        if self.df_override is not None:
            return self.df_override(L)
        return satterthwaite_df(L, self.df_vcov, self.df_jacobian, self.theta_vcov)

    def estimate(self, L: np.ndarray, level: float, lead: dict | None = None) -> pd.DataFrame:
        """estimate, std_error, df, statistic, p_value, conf_low, conf_high for each row of L.

        ``lead``: label columns placed first (one frame is built, no concatenation).
        """
        L = np.atleast_2d(np.asarray(L, dtype=float))
        if L.shape[1] != len(self.beta):
            raise ModelError(
                f"contrast matrix has {L.shape[1]} columns; the model has {len(self.beta)} "
                "coefficients"
            )
        est = L @ self.beta
        se = np.sqrt(np.einsum("rk,kl,rl->r", L, self.vcov, L))
        dof = self.df(L)
        cols = dict(lead or {})
        cols.update(estimate=est, std_error=se, df=np.asarray(dof, dtype=float))
        tests = t_inference(est, se, dof, level=level)
        cols.update({c: tests[c].to_numpy() for c in tests.columns})
        return without_inference(pd.DataFrame(cols), not self.no_inference, False)


def build_inference(engine, theta, spec, X, subj_codes, n_subjects) -> MMRMInference:
    """Assemble the covariance of the estimates and the df machinery at the optimum.

    ``spec`` is the fit's :class:`.results.MMRMSpec` (df method, vcov).
    """
    kr = spec.df in ("kenward-roger", "kenward-roger-linear")
    linear = spec.df == "kenward-roger-linear"
    st = engine.state(theta, order=2 if (kr and not linear) else 1)
    H = engine.hessian(theta)
    try:
        theta_vcov = np.linalg.inv(H)
        if not np.all(np.isfinite(theta_vcov)) or np.any(np.diag(theta_vcov) <= 0):
            raise np.linalg.LinAlgError
    except np.linalg.LinAlgError:
        warnings.warn(
            "the Hessian of the covariance parameters is singular or not positive definite at "
            "the optimum: Satterthwaite / Kenward-Roger df are unreliable; try a simpler "
            "covariance structure",
            ConvergenceWarning,
            stacklevel=3,
        )
        theta_vcov = np.linalg.pinv(H)
    phi = st.phi
    P = engine.p_matrices(st)
    jac_model = model_vcov_jacobian(phi, P)
    df_vcov, df_jac, override = phi, jac_model, None
    if kr:
        Qs, Rs = engine.kr_sums(st, theta_vcov, linear=linear)
        vcov = kenward_roger_vcov(phi, P, theta_vcov, Qs, Rs, linear=linear)
    elif spec.vcov == "empirical":
        vcov = engine.empirical_vcov(theta)
        if spec.df == "satterthwaite":
            theta_hat = np.asarray(theta, dtype=float).copy()

            def override(L, _engine=engine, _theta=theta_hat):
                return _engine.empirical_df(_theta, L)
    elif spec.vcov in ADJUSTED_SANDWICH:  # jackknife / bias-reduced (closed form, .sandwich)
        vcov, sandwich_df = adjusted_sandwich(engine, theta, ADJUSTED_SANDWICH[spec.vcov])
        if spec.df == "satterthwaite":
            override = sandwich_df
    else:
        vcov = phi
    n_obs, p = X.shape
    bw = between_within_df(X, subj_codes, n_subjects) if spec.df == "between-within" else None
    return MMRMInference(
        beta=st.beta, phi=phi, vcov=vcov, theta=np.asarray(theta), theta_vcov=theta_vcov,
        df_jacobian=df_jac, df_vcov=df_vcov, df_method=spec.df, coef_df_bw=bw,
        residual_df=float(n_obs - p), m2loglik=float(engine.m2loglik(st)),
        sigmas=tuple(s[0] for s in st.sigmas), df_override=override, P=P,
    )
