r"""Closed-form power and sample size: the references the simulation engine is checked against.

* :func:`ttest_power`: two-sample t-test of a single-visit difference, statsmodels
  :class:`~statsmodels.stats.power.TTestIndPower` (not re-derived here).
* :func:`schoenfeld_events` / :func:`schoenfeld_power`: Schoenfeld (1983), the number of events
  for a two-sided log-rank / Cox test of hazard ratio :math:`\Delta` with allocation fraction
  :math:`p`: :math:`d = (z_{1-\alpha/2} + z_{1-\beta})^2 / \{p(1-p)\log^2\Delta\}`.
* :func:`expected_events`: expected events of the ``"exponential-relapse"`` model (uniform
  accrual over :math:`A`, analysis :math:`F` after the last entry, exponential dropout with
  hazard :math:`\eta`): :math:`P(\text{event}) = \frac{\lambda}{\lambda+\eta}\,\Bigl[1 -
  \frac{e^{-(\lambda+\eta)F} - e^{-(\lambda+\eta)(F+A)}}{(\lambda+\eta)A}\Bigr]`
  (:math:`A \to 0`: :math:`\frac{\lambda}{\lambda+\eta}(1 - e^{-(\lambda+\eta)F})`).
* :func:`llc_variance` / :func:`llc_power`: Lu, Luo & Chen (2008, Int J Biostat 4(1), art. 10)
  for the last-visit difference of an MMRM with monotone dropout. With :math:`r_j` the
  proportion still observed at visit :math:`j` (:math:`r_{J+1} = 0`), a subject contributes the
  information :math:`\Sigma_{[1:j]}^{-1}` (padded with zeros) with probability
  :math:`r_j - r_{j+1}`; the variance of an arm's last-visit mean is
  :math:`\phi\,\sigma_J^2/n` with :math:`\phi\,\sigma_J^2 = [I^{-1}]_{JJ}`,
  :math:`I = \sum_j (r_j - r_{j+1})\,\Sigma_{[1:j]}^{-1}`, and the two-sided power of the
  difference :math:`\delta` is :math:`\Phi(|\delta|/\sqrt{2\phi\sigma_J^2/n} - z_{1-\alpha/2})`
  (LLC's normal approximation: the MMRM's t test with Satterthwaite df is a little below it).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

__all__ = ["expected_events", "llc_power", "llc_variance", "schoenfeld_events",
           "schoenfeld_power", "ttest_power"]


def ttest_power(effect: float, sd: float, n_per_arm: int, *, alpha: float = 0.05) -> float:
    """Power of the two-sided two-sample t-test (statsmodels ``TTestIndPower``).

    Parameters
    ----------
    effect, sd : float
        Mean difference and common SD.
    n_per_arm : int
    alpha : float, default 0.05

    Returns
    -------
    float
    """
    from statsmodels.stats.power import TTestIndPower

    return float(TTestIndPower().power(effect_size=effect / sd, nobs1=n_per_arm, ratio=1.0,
                                       alpha=alpha, alternative="two-sided"))


def schoenfeld_events(hazard_ratio: float, *, alpha: float = 0.05, power: float = 0.8,
                      allocation: float = 0.5) -> float:
    """Events needed for a two-sided test of ``hazard_ratio`` (Schoenfeld 1983).

    Returns
    -------
    float
        Not rounded.
    """
    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    return float(z**2 / (allocation * (1 - allocation) * math.log(hazard_ratio) ** 2))


def schoenfeld_power(hazard_ratio: float, events: float, *, alpha: float = 0.05,
                     allocation: float = 0.5) -> float:
    """Two-sided power with ``events`` events (Schoenfeld; both tails counted)."""
    shift = math.sqrt(events * allocation * (1 - allocation)) * abs(math.log(hazard_ratio))
    z = stats.norm.ppf(1 - alpha / 2)
    return float(stats.norm.cdf(shift - z) + stats.norm.cdf(-shift - z))


def expected_events(n_total: float, *, median_reference: float, hazard_ratio: float,
                    followup_days: float, accrual_days: float = 0.0,
                    dropout: float = 0.0) -> float:
    """Expected events of the ``"exponential-relapse"`` model with 1:1 allocation.

    Parameters
    ----------
    n_total : float
        Subjects in both arms.
    median_reference, hazard_ratio, followup_days, accrual_days, dropout
        As the model's parameters (``dropout``: probability of dropping out within 365 days).

    Returns
    -------
    float
    """
    lam0 = math.log(2.0) / median_reference
    eta = -math.log1p(-dropout) / 365.0
    total = 0.0
    for lam in (lam0, lam0 * hazard_ratio):
        k = lam + eta
        if accrual_days > 0:
            surv = (math.exp(-k * followup_days) - math.exp(-k * (followup_days + accrual_days))
                    ) / (k * accrual_days)
        else:
            surv = math.exp(-k * followup_days)
        total += 0.5 * n_total * lam / k * (1.0 - surv)
    return total


def llc_variance(cov, retention) -> float:
    """Per-subject variance of an arm's last-visit mean, :math:`[I^{-1}]_{JJ}` (LLC 2008).

    Parameters
    ----------
    cov : (J, J) array
        Covariance of the visits' outcomes.
    retention : sequence of J floats
        Proportion observed at each visit, non-increasing.

    Returns
    -------
    float
        Multiply by ``1/n`` for the variance of the mean of ``n`` subjects.
    """
    cov = np.asarray(cov, float)
    r = np.append(np.asarray(retention, float), 0.0)
    j = cov.shape[0]
    info = np.zeros((j, j))
    for k in range(1, j + 1):
        w = r[k - 1] - r[k]
        if w > 0:
            info[:k, :k] += w * np.linalg.inv(cov[:k, :k])
    return float(np.linalg.inv(info)[-1, -1])


def llc_power(delta: float, cov, retention, n_per_arm: int, *, alpha: float = 0.05) -> float:
    """Two-sided power of the last-visit difference (normal approximation, LLC 2008)."""
    se = math.sqrt(2.0 * llc_variance(cov, retention) / n_per_arm)
    z = stats.norm.ppf(1 - alpha / 2)
    return float(stats.norm.cdf(abs(delta) / se - z) + stats.norm.cdf(-abs(delta) / se - z))
