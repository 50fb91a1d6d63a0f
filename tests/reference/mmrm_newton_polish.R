# Shared by the R mmrm reference scripts (make_mmrm_suite_reference.R,
# make_mmrm_spatial_rmmrm_reference.R, make_mmrm_spatial2d_reference.R,
# make_mmrm_anova_kr_reference.R); sourced from the repository root.
#
# Newton steps with step halving on R mmrm's TMB objective (obj$fn, obj$gr, obj$he) from theta
# until max |gradient| < tol: the "tight refit" every test compares with, so that a reference
# is never one where R's default optimiser stopped early.
newton_polish <- function(obj, theta, maxit = 50L, tol = 1e-10) {
  f0 <- obj$fn(theta)
  for (it in seq_len(maxit)) {
    g <- as.numeric(obj$gr(theta))
    if (max(abs(g)) < tol) break
    step <- tryCatch(solve(obj$he(theta), g), error = function(e) NULL)
    if (is.null(step)) break
    a <- 1
    repeat {
      cand <- theta - a * step
      f_new <- obj$fn(cand)
      if (is.finite(f_new) && f_new <= f0 + 1e-12 * abs(f0)) break
      a <- a / 2
      if (a < 1e-8) { cand <- theta; f_new <- f0; break }
    }
    if (identical(cand, theta)) break
    theta <- cand
    f0 <- f_new
  }
  theta
}
