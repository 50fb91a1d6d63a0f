# Reference numbers for ts.mmrm(weights=): SAS WEIGHT / R mmrm semantics, Sigma_i = W_i^-1/2 Sigma W_i^-1/2,
# fitted with nlme::gls as variance proportional to 1/w (varFixed(~ INVW)) combined with the
# covariance structure (us: corSymm + varIdent by visit; ar1h: corAR1 + varIdent), REML.
# Data: tests/reference/mmrm/gls_exo_hair_301.csv (made by make_mmrm_gls_reference.R) with a weight
# column W given by a fixed rule (varies between and within subjects), written to
# tests/reference/mmrm/gls_weights_exo.csv.
# Run from the repository root: Rscript tests/reference/make_mmrm_weights_reference.R
suppressPackageStartupMessages({ library(nlme); library(jsonlite) })
out_dir <- file.path("tests", "reference", "mmrm")
d <- read.csv(file.path(out_dir, "gls_exo_hair_301.csv"), stringsAsFactors = FALSE)
visits <- c("WEEK 4", "WEEK 12", "WEEK 24")
arms <- unique(d$ARM)  # file order: PLACEBO first, then trial.toml order
d$ARM <- factor(d$ARM, levels = c("PLACEBO", setdiff(sort(arms), "PLACEBO")))
d$AVISIT <- factor(d$AVISIT, levels = visits)
subj <- as.integer(factor(d$USUBJID, levels = unique(d$USUBJID)))
d$W <- 0.5 + 0.25 * (subj %% 5) + 0.5 * (as.integer(d$AVISIT) == 3)
d$INVW <- 1 / d$W
d$K <- as.integer(d$AVISIT)
write.csv(d[, c("USUBJID", "ARM", "AVISIT", "BASE", "CHG", "W")], file.path(out_dir, "gls_weights_exo.csv"),
          row.names = FALSE)
arm_levels <- levels(d$ARM)

fit_case <- function(cov) {
  corr <- switch(cov, us = corSymm(form = ~ K | USUBJID), ar1h = corAR1(form = ~ K | USUBJID))
  # opt = "optim" (BFGS), tight: on the regenerated exo-hair-301 (issue 10) nlme's default nlminb
  # stopped 1.6e-7 short of the REML optimum (-2LL) for "us", moving estimates by 4e-5 SE (as
  # make_mmrm_gls_reference.R found on fev_data). Where BFGS steps out of the valid region
  # ("ar1h": coefficient matrix not invertible), optim's Nelder-Mead, tight: nlminb stopped
  # 3e-8 (-2LL) short there, Nelder-Mead reaches the optimum to 1e-10.
  fit_with <- function(ctrl) gls(CHG ~ ARM * AVISIT + BASE, data = d, method = "REML",
                                 correlation = corr,
                                 weights = varComb(varIdent(form = ~ 1 | AVISIT), varFixed(~ INVW)),
                                 control = ctrl)
  fit <- tryCatch(fit_with(glsControl(tolerance = 1e-14, msTol = 1e-15, maxIter = 1000,
                                      msMaxIter = 1000, opt = "optim", optimMethod = "BFGS")),
                  error = function(e) {
                    cat("  optim/BFGS failed (", conditionMessage(e), "); using Nelder-Mead\n")
                    fit_with(glsControl(tolerance = 1e-14, msTol = 1e-15, maxIter = 1000,
                                        msMaxIter = 1000, opt = "optim",
                                        optimMethod = "Nelder-Mead"))
                  })
  # Sigma at weight 1: a subject with all three visits, its covariance scaled back by sqrt(w)
  full <- names(which(table(d$USUBJID) == 3))[1]
  Si <- getVarCov(fit, individual = full)
  w <- d$W[d$USUBJID == full][order(d$K[d$USUBJID == full])]
  Sigma <- diag(sqrt(w)) %*% unclass(Si) %*% diag(sqrt(w))
  V <- vcov(fit)
  list(
    case = paste0("gls_weights_exo_", cov), covariance = cov, data_file = "gls_weights_exo.csv",
    call = paste0("gls(CHG ~ ARM * AVISIT + BASE, method = 'REML', correlation = ",
                  if (cov == "us") "corSymm(form = ~ K | USUBJID)" else "corAR1(form = ~ K | USUBJID)",
                  ", weights = varComb(varIdent(form = ~ 1 | AVISIT), varFixed(~ INVW)))"),
    weights_rule = "W = 0.5 + 0.25 * (subject number %% 5) + 0.5 * (AVISIT == 'WEEK 24'); INVW = 1 / W",
    arm_levels = arm_levels, visit_levels = visits,
    terms = names(coef(fit)), estimate = unname(coef(fit)), std_error = unname(sqrt(diag(V))),
    vcov = unname(lapply(seq_len(nrow(V)), function(i) V[i, ])),
    m2loglik = -2 * as.numeric(logLik(fit)),
    sigma = unname(lapply(1:3, function(i) Sigma[i, ])),
    versions = list(R = R.version.string, nlme = as.character(packageVersion("nlme")))
  )
}
for (cov in c("us", "ar1h")) {
  res <- fit_case(cov)
  writeLines(toJSON(res, digits = NA, auto_unbox = TRUE, pretty = TRUE),
             file.path(out_dir, paste0(res$case, ".json")))
}
