"""Analysis of imputed data sets (rbmi's ``ancova``) and pooling (rbmi's ``pool``).

ANCOVA per visit, as rbmi's ``ancova``: ``lm(outcome ~ group + covariates)`` on all subjects at
that visit, the treatment effects being each arm minus the *first* arm (rbmi's ``trt``; the first
arm is rbmi's ``ref``, the others ``alt``), and least-squares means with rbmi's weights:

* ``"counterfactual"`` (rbmi's default; ``"proportional"`` is its alias): the mean over all
  analysed subjects of the prediction with the arm set to each arm, i.e. :math:`L_a\\hat\\beta`
  with :math:`L_a = (1, e_a, \\bar z)`;
* ``"proportional_em"``: emmeans' proportional weights, which for the additive model used here
  are the same as counterfactual;
* ``"equal"``: numeric covariates at their mean, each level of a factor covariate with equal
  weight.

The ANCOVA is solved here with a QR decomposition rather than statsmodels because it runs once per
visit in each of hundreds of samples on a few hundred rows; the jackknife reference tests check it
against R's ``lm`` through rbmi.

Pooling follows rbmi 1.5.2 ``pool()``:

* jackknife: :math:`se = \\sqrt{(n-1)/n\\,\\sum_i(\\hat\\theta_{(-i)} - \\bar\\theta_{(.)})^2}`, normal
  interval centred on the full-data estimate, no degrees of freedom;
* bootstrap, normal: SE is the standard deviation (denominator B - 1) of the bootstrap estimates;
* bootstrap, percentile: the type-6 quantiles of the bootstrap estimates, and the p-value that
  inverts them at 0 (solved exactly, where rbmi's ``uniroot`` stops at ~1e-4);
* Rubin's rules with the Barnard-Rubin (1999) degrees of freedom, and the complete-data df
  :math:`\\nu_{obs} = (\\nu_{com}+1)/(\\nu_{com}+3)\\,\\nu_{com}` when the between-imputation variance
  is 0 (as rbmi, not :math:`\\nu_{com}`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from ..errors import ModelError

__all__ = ["AnalysisSpec", "ancova", "pool_jackknife", "pool_bootstrap_normal",
           "pool_bootstrap_percentile", "pool_bmlmi", "rubin_rules", "LSM_WEIGHTS"]

LSM_WEIGHTS = ("counterfactual", "proportional", "proportional_em", "equal")


@dataclass(frozen=True)
class AnalysisSpec:
    """Arrays of the per-visit ANCOVA.

    Attributes
    ----------
    Z : ndarray (n, m, q)
        Covariate design columns (no intercept, no arm) of every subject and visit.
    arm : ndarray (n,) of int
    n_arms : int
    delta : ndarray (n, m)
        Added to the outcome after imputation.
    visits : ndarray of int
        Visit indices analysed.
    equal_weight : ndarray (q,)
        For ``lsm_weights="equal"``: 1/L for the dummy columns of a factor with L levels, NaN for
        numeric columns (set at their mean).
    weights : str
    """

    Z: np.ndarray
    arm: np.ndarray
    n_arms: int
    delta: np.ndarray
    visits: np.ndarray
    equal_weight: np.ndarray
    weights: str = "counterfactual"


def ancova(spec: AnalysisSpec, Y: np.ndarray, idx: np.ndarray, delta_scale: float = 1.0,
           expanded: bool = False):
    """ANCOVA of the completed outcomes ``Y`` (n, m) on the subjects ``idx``.

    With ``expanded``, ``Y`` holds one row per entry of ``idx`` already (a bootstrap sample whose
    copies of a subject were imputed separately, :func:`._engine.impute_sample`).

    Returns
    -------
    est, se : ndarray (n_visits, 2A - 1)
        Per visit: ``trt`` of arms 2..A (minus arm 1), ``lsm`` of arm 1, ``lsm`` of arms 2..A.
    df : ndarray (n_visits,)
        Residual degrees of freedom.
    """
    A = spec.n_arms
    arm = spec.arm[idx]
    k = len(idx)
    q = spec.Z.shape[2]
    nv = len(spec.visits)
    est = np.empty((nv, 2 * A - 1))
    se = np.empty_like(est)
    df = np.empty(nv)
    dummies = (arm[:, None] == np.arange(1, A)[None, :]).astype(float)
    for j, v in enumerate(spec.visits):
        Zv = spec.Z[idx, v]
        D = np.hstack([np.ones((k, 1)), dummies, Zv])
        y = (Y[:, v] if expanded else Y[idx, v]) + delta_scale * spec.delta[idx, v]
        Q, R = np.linalg.qr(D)
        if np.min(np.abs(np.diag(R))) < 1e-10 * np.max(np.abs(np.diag(R))):
            raise ModelError(
                f"the ANCOVA at visit index {v} is rank deficient (an arm or covariate level "
                "without subjects, or collinear covariates)"
            )
        beta = np.linalg.solve(R, Q.T @ y)
        resid = y - D @ beta
        dof = k - D.shape[1]
        s2 = float(resid @ resid) / dof
        Rinv = np.linalg.inv(R)
        if spec.weights == "equal":
            zbar = np.where(np.isnan(spec.equal_weight), Zv.mean(axis=0), spec.equal_weight)
        else:
            zbar = Zv.mean(axis=0)
        L = np.zeros((2 * A - 1, 1 + (A - 1) + q))
        L[: A - 1, 1:A] = np.eye(A - 1)  # trt
        L[A - 1:, 0] = 1.0  # lsm of arm 1 .. A
        L[A:, 1:A] = np.eye(A - 1)
        L[A - 1:, A:] = zbar
        est[j] = L @ beta
        LR = L @ Rinv
        se[j] = np.sqrt(np.sum(LR * LR, axis=1) * s2)
        df[j] = dof
    return est, se, df


def _normal(est, se, level):
    z = stats.norm.ppf(0.5 + level / 2.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = 2.0 * stats.norm.sf(np.abs(est / se))
    return est - z * se, est + z * se, p


def pool_jackknife(est_full, est_samples, level):
    """Jackknife pooling: (estimate, se, df, conf_low, conf_high, p_value), df = inf."""
    n = est_samples.shape[0]
    dev = est_samples - est_samples.mean(axis=0)
    se = np.sqrt((n - 1) / n * np.sum(dev * dev, axis=0))
    lo, hi, p = _normal(est_full, se, level)
    return est_full, se, np.full_like(se, np.inf), lo, hi, p


def pool_bootstrap_normal(est_full, est_samples, level):
    """Normal-approximation bootstrap: SE = sd(estimates) (denominator B - 1)."""
    se = np.std(est_samples, axis=0, ddof=1)
    lo, hi, p = _normal(est_full, se, level)
    return est_full, se, np.full_like(se, np.inf), lo, hi, p


def _quantile6(x_sorted, prob):
    """R's type-6 quantile of sorted values."""
    n = len(x_sorted)
    h = (n + 1) * prob
    if h < 1:
        return x_sorted[0]
    if h >= n:
        return x_sorted[-1]
    j = int(np.floor(h))
    return x_sorted[j - 1] + (h - j) * (x_sorted[j] - x_sorted[j - 1])


def _percentile_p(x_sorted):
    """Two-sided p-value: the smallest 1 - level whose type-6 percentile interval excludes 0."""
    n = len(x_sorted)
    if x_sorted[0] > 0 or x_sorted[-1] < 0:
        return 0.0
    below = np.searchsorted(x_sorted, 0.0, side="right")  # x[below-1] <= 0 < x[below]
    if below == n:
        h = float(n)
    elif below == 0:
        h = 1.0
    else:
        lo, hi = x_sorted[below - 1], x_sorted[below]
        h = below + (0.0 - lo) / (hi - lo)
    q = min(max(h / (n + 1), 1.0 / (n + 1)), n / (n + 1))
    return float(min(1.0, 2.0 * min(q, 1.0 - q)))


def pool_bootstrap_percentile(est_full, est_samples, level):
    """Percentile bootstrap: type-6 quantiles of the estimates; p-value by exact inversion."""
    alpha = 1.0 - level
    P = est_samples.shape[1]
    lo = np.empty(P)
    hi = np.empty(P)
    p = np.empty(P)
    for j in range(P):
        xs = np.sort(est_samples[:, j])
        lo[j] = _quantile6(xs, alpha / 2)
        hi[j] = _quantile6(xs, 1 - alpha / 2)
        p[j] = _percentile_p(xs)
    return est_full, np.full(P, np.nan), np.full(P, np.inf), lo, hi, p


def pool_bmlmi(ests, n_imputations: int, level):
    """von Hippel and Bartlett (2021) pooling of bootstrapped ML multiple imputation (rbmi's
    ``get_ests_bmlmi``), over the first axis.

    ``ests`` (B * D, P) are ordered bootstrap sample by bootstrap sample, the D imputations of a
    sample consecutive. With the one-way ANOVA of the B x D estimates,

    .. math::

        \\hat\\theta = \\bar\\theta_{..},\\quad
        \\widehat{\\mathrm{Var}} = (1 + 1/B)\\,\\frac{MSB - MSW}{D} + \\frac{MSW}{BD},\\quad
        \\nu = \\frac{\\widehat{\\mathrm{Var}}^2}{\\frac{((B+1)/(BD))^2 MSB^2}{B-1}
              + \\frac{MSW^2}{B D^2 (D-1)}}

    with :math:`\\nu` floored at 3, and a t interval and p-value on :math:`\\nu` df.

    Returns
    -------
    (estimate, se, df, conf_low, conf_high, p_value)
    """
    ests = np.atleast_2d(ests)
    D = int(n_imputations)
    if D < 2 or ests.shape[0] % D:
        raise ModelError(f"bmlmi pooling: {ests.shape[0]} estimates are not a multiple of "
                         f"D = {D} >= 2")
    B = ests.shape[0] // D
    grid = ests.reshape(B, D, -1)
    est = grid.mean(axis=(0, 1))
    row = grid.mean(axis=1)
    msw = np.sum((grid - row[:, None, :]) ** 2, axis=(0, 1)) / (B * (D - 1))
    msb = D * np.sum((row - est) ** 2, axis=0) / (B - 1)
    var = (1 + 1 / B) * (msb - msw) / D + msw / (B * D)
    df = var**2 / (((B + 1) / (B * D)) ** 2 * msb**2 / (B - 1) + msw**2 / (B * D**2 * (D - 1)))
    df = np.maximum(3.0, df)
    with np.errstate(invalid="ignore"):
        se = np.sqrt(var)
        crit = stats.t.ppf(0.5 + level / 2.0, df)
        p = 2 * stats.t.sf(np.abs(est / se), df)
    return est, se, df, est - crit * se, est + crit * se, p


def rubin_rules(ests, ses, v_com, level):
    """Rubin's rules with Barnard-Rubin df, over the first axis (imputations).

    Parameters
    ----------
    ests, ses : ndarray (M, P)
    v_com : float or ndarray (P,)
        Complete-data degrees of freedom (``np.inf`` for none).

    Returns
    -------
    (estimate, se, df, conf_low, conf_high, p_value)
    """
    ests = np.atleast_2d(ests)
    M = ests.shape[0]
    est = ests.mean(axis=0)
    var_w = np.mean(np.atleast_2d(ses) ** 2, axis=0)
    var_b = np.var(ests, axis=0, ddof=1) if M > 1 else np.zeros_like(est)
    var_t = var_w + var_b + var_b / M
    lam = (1.0 + 1.0 / M) * var_b / var_t
    v_com = np.broadcast_to(np.asarray(v_com, dtype=float), est.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        v_old = np.where(lam > 0, (M - 1) / lam**2, np.inf)
        v_obs = np.where(np.isfinite(v_com), (v_com + 1) / (v_com + 3) * v_com * (1 - lam),
                         np.inf)
        df = np.where(np.isinf(v_old), v_obs,
                      np.where(np.isinf(v_obs), v_old, v_old * v_obs / (v_old + v_obs)))
    se = np.sqrt(var_t)
    q = 0.5 + level / 2.0
    crit = np.where(np.isfinite(df), stats.t.ppf(q, np.where(np.isfinite(df), df, 1.0)),
                    stats.norm.ppf(q))
    with np.errstate(divide="ignore", invalid="ignore"):
        t = est / se
    p = np.where(np.isfinite(df), 2 * stats.t.sf(np.abs(t), np.where(np.isfinite(df), df, 1.0)),
                 2 * stats.norm.sf(np.abs(t)))
    return est, se, df, est - crit * se, est + crit * se, p
