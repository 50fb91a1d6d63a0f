"""Imputation strategies: the marginal distribution of a subject's outcomes after an ICE.

Each strategy has R rbmi's signature ``strategy(pars_group, pars_ref, index_mar)``: ``pars_group``
and ``pars_ref`` are dicts with ``"mu"`` (the subject's marginal mean vector over the visits under
its own arm, resp. its reference arm; an array ``(m,)``, or ``(k, m)`` for k subjects at once) and
``"sigma"`` (the ``m x m`` covariance matrix of that arm), and ``index_mar`` is a boolean ``(m,)``
vector, True at the visits before the intercurrent event (ICE). A strategy returns a dict with the
``"mu"`` and ``"sigma"`` of the joint distribution from which missing values are imputed
(conditionally on the subject's observed values). These follow rbmi's ``stat_specs`` section 3.4:

======  =====================================================================================
MAR     own arm's mean and covariance (missing at random)
JR      jump to reference: own mean before the ICE, reference mean after;
        covariance by Carpenter et al. (2013) (:func:`compute_sigma`)
CR      copy reference: the reference arm's mean and covariance at every visit
CIR     copy increments in reference: after the ICE, the own mean at the last visit before the
        ICE plus the reference arm's increments from that visit; covariance as JR
LMCF    last mean carried forward: own mean at the last visit before the ICE; own covariance
======  =====================================================================================

A user-defined strategy is any function with the same signature (it receives ``mu`` of shape
``(m,)``, one subject at a time).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "compute_sigma",
    "strategy_MAR",
    "strategy_JR",
    "strategy_CR",
    "strategy_CIR",
    "strategy_LMCF",
    "BUILTIN_STRATEGIES",
]


def compute_sigma(sigma_group: np.ndarray, sigma_ref: np.ndarray, index_mar: np.ndarray):
    """Covariance after an ICE for JR and CIR (Carpenter, Roger and Kenward 2013).

    With visits before the ICE as block 1 and after as block 2, the pre-ICE block is the own
    arm's, and the post-ICE values follow the reference arm's regression on the pre-ICE ones:

    .. math::

        \\Sigma_{11} = A_{11}, \\quad \\Sigma_{21} = R_{21}R_{11}^{-1}A_{11}, \\quad
        \\Sigma_{22} = R_{22} - R_{21}R_{11}^{-1}R_{12} + R_{21}R_{11}^{-1}A_{11}R_{11}^{-1}R_{12},

    where :math:`A` is the own arm's and :math:`R` the reference arm's covariance. When the two
    matrices are identical (``same_cov=True``), this is the matrix itself.

    Parameters
    ----------
    sigma_group, sigma_ref : ndarray (m, m)
    index_mar : ndarray of bool (m,)
        True at the visits before the ICE.

    Returns
    -------
    ndarray (m, m)
    """
    if np.array_equal(sigma_group, sigma_ref):
        return sigma_ref
    pre = np.asarray(index_mar, dtype=bool)
    post = ~pre
    if not pre.any():
        return sigma_ref
    if not post.any():
        return sigma_group
    A11 = sigma_group[np.ix_(pre, pre)]
    R11 = sigma_ref[np.ix_(pre, pre)]
    R21 = sigma_ref[np.ix_(post, pre)]
    R22 = sigma_ref[np.ix_(post, post)]
    B = np.linalg.solve(R11, R21.T).T  # R21 R11^-1
    out = np.empty_like(sigma_ref)
    out[np.ix_(pre, pre)] = A11
    s21 = B @ A11
    out[np.ix_(post, pre)] = s21
    out[np.ix_(pre, post)] = s21.T
    out[np.ix_(post, post)] = R22 - B @ R21.T + B @ A11 @ B.T
    return out


def _last_mar(index_mar: np.ndarray) -> int:
    """Index of the last visit before the ICE (-1 when the ICE is at the first visit)."""
    post = np.flatnonzero(~np.asarray(index_mar, dtype=bool))
    return int(post[0]) - 1


def strategy_MAR(pars_group: dict, pars_ref: dict, index_mar: np.ndarray) -> dict:
    """Missing at random: the subject's own arm (see module docstring)."""
    return pars_group


def strategy_JR(pars_group: dict, pars_ref: dict, index_mar: np.ndarray) -> dict:
    """Jump to reference (see module docstring)."""
    im = np.asarray(index_mar, dtype=bool)
    if im.all():
        return pars_group
    if not im.any():
        return pars_ref
    mu = np.array(pars_group["mu"], dtype=float, copy=True)
    mu[..., ~im] = np.asarray(pars_ref["mu"])[..., ~im]
    return {"mu": mu, "sigma": compute_sigma(pars_group["sigma"], pars_ref["sigma"], im)}


def strategy_CR(pars_group: dict, pars_ref: dict, index_mar: np.ndarray) -> dict:
    """Copy reference (see module docstring)."""
    return pars_ref


def strategy_CIR(pars_group: dict, pars_ref: dict, index_mar: np.ndarray) -> dict:
    """Copy increments in reference (see module docstring)."""
    im = np.asarray(index_mar, dtype=bool)
    if im.all():
        return pars_group
    if not im.any():
        return pars_ref
    last = _last_mar(im)
    mu = np.array(pars_group["mu"], dtype=float, copy=True)
    ref = np.asarray(pars_ref["mu"])
    mu[..., ~im] = mu[..., last, None] + (ref[..., ~im] - ref[..., last, None])
    return {"mu": mu, "sigma": compute_sigma(pars_group["sigma"], pars_ref["sigma"], im)}


def strategy_LMCF(pars_group: dict, pars_ref: dict, index_mar: np.ndarray) -> dict:
    """Last mean carried forward (see module docstring); needs a visit before the ICE."""
    im = np.asarray(index_mar, dtype=bool)
    if im.all():
        return pars_group
    last = _last_mar(im)
    if last < 0:
        raise ValueError("LMCF needs at least one visit before the ICE")
    mu = np.array(pars_group["mu"], dtype=float, copy=True)
    mu[..., ~im] = mu[..., last, None]
    return {"mu": mu, "sigma": pars_group["sigma"]}


BUILTIN_STRATEGIES = {
    "MAR": strategy_MAR,
    "JR": strategy_JR,
    "CR": strategy_CR,
    "CIR": strategy_CIR,
    "LMCF": strategy_LMCF,
}
