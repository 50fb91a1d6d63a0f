"""Start values and optimiser choice of an MMRM fit (R ``mmrm``'s ``start=`` and ``optimizer=``).

The default optimiser is the engine's damped Newton with the analytic Hessian (falling back to
L-BFGS-B from the best point, then Newton again; see :meth:`._engine.Engine.fit`). The scipy
optimisers ("l-bfgs-b", "bfgs", "cg", as R mmrm's ``optim`` methods) minimise the same
negative log-likelihood with its analytic gradient, without a Newton polish, so they stop where
their own criterion says; the fit is reported converged when the Hessian there is positive
definite and scipy reports success or the Newton decrement is below the engine's 1e-8.
"""

from __future__ import annotations

import warnings

import numpy as np

from ...errors import ConvergenceWarning, ModelError

__all__ = ["OPTIMIZERS", "check_start", "scipy_fit"]

OPTIMIZERS = ("newton", "l-bfgs-b", "bfgs", "cg")


def check_start(start, n_theta: int, covariance: str) -> np.ndarray | None:
    """``start`` as a float vector of the right length (None: the data-driven default)."""
    if start is None:
        return None
    try:
        theta = np.asarray(start, dtype=float).ravel()
    except (TypeError, ValueError) as e:
        raise ModelError(f"start must be a vector of {n_theta} numbers; got {start!r}") from e
    if theta.shape != (n_theta,) or not np.all(np.isfinite(theta)):
        raise ModelError(
            f"start must be {n_theta} finite numbers (the {covariance} covariance parameters "
            f"in R mmrm's parameterisation, as fit.theta); got {theta.size} value(s)"
        )
    return theta


def scipy_fit(engine, theta0: np.ndarray, method: str, *, stacklevel: int = 6):
    """(theta, converged, message) from scipy.optimize.minimize with the analytic gradient."""
    from scipy import optimize

    if not np.isfinite(engine.value_and_gradient(theta0)[0]):
        raise ModelError("the covariance model cannot be evaluated at its starting values")
    # l-bfgs-b: tight (projected gradient 1e-10, as the engine's fallback); bfgs / cg stop on
    # the gradient norm, which rounding keeps above ~1e-8 on a -2LL of thousands: 1e-6
    opts = ({"maxiter": 2000, "gtol": 1e-10, "ftol": 1e-15} if method == "l-bfgs-b"
            else {"maxiter": 2000, "gtol": 1e-6})
    res = optimize.minimize(engine.value_and_gradient, theta0, jac=True,
                            method=method.upper(), options=opts)
    theta = np.asarray(res.x, dtype=float)
    H = engine.hessian(theta)
    pd_ok = bool(np.linalg.eigvalsh(H).min() > 0)
    # scipy may stop on a line search that rounding defeats (L-BFGS-B "ABNORMAL") at the optimum:
    # then the engine's own criterion decides (Newton decrement g'H^-1 g below 1e-8)
    g = engine.gradient(theta)
    decrement = float(g @ np.linalg.solve(H, g)) if pd_ok else np.inf
    converged = bool(pd_ok and (res.success or decrement < 1e-8))
    message = "converged" if converged else (
        f"{method}: {res.message}" + ("" if pd_ok else "; Hessian not positive definite"))
    if not converged:
        warnings.warn(f"MMRM did not converge: {message}", ConvergenceWarning,
                      stacklevel=stacklevel)
    return theta, converged, message
