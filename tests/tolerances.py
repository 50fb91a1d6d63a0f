"""Named tolerances for numeric tests (STYLE.md). Pass them as keywords: rtol=..., atol=...."""

# closed form / analytic, hand-derived answers
ANALYTIC = dict(rtol=1e-10)
# vs R, same algorithm (KM, Cox Efron, GLS estimates given the same covariance)
SAME_ALGORITHM = dict(rtol=1e-6)
SAME_ALGORITHM_SE = dict(rtol=1e-5)
# vs R/SAS where an optimiser decides the answer (variance parameters, df)
OPTIMISER = dict(rtol=1e-4)
# MMRM vs R mmrm's tightly converged refit (|gradient| <= 4e-10): estimates and SEs
MMRM_TIGHT = dict(rtol=1e-5)
# MMRM degrees of freedom vs R mmrm (issue 3: df rtol 1e-3)
MMRM_DF = dict(rtol=1e-3)
# -2 log-likelihood vs R mmrm tight refit, absolute
MMRM_LOGLIK = dict(atol=1e-6)
