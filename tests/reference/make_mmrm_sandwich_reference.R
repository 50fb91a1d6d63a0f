#!/usr/bin/env Rscript
# make_mmrm_sandwich_reference.R
#
# Reference numbers for ts.mmrm(vcov = "empirical-bias-reduced" | "empirical-jackknife") from
# clubSandwich (cluster-robust CR2 / CR3 on the nlme::gls fit of the same model; working-model target,
# as R mmrm's "Empirical-Bias-Reduced" / "Empirical-Jackknife", McCaffrey and Bell 2003) and its
# Satterthwaite (Bell-McCaffrey) df from coef_test. Writes tests/reference/mmrm/sandwich_fev_us.json,
# used by tests/test_mmrm_sandwich.py. R mmrm is not in Debian.
# Also CR0 (the plain sandwich, R mmrm "Empirical"), which tests/reference/mmrm/fev_us_empirical_*.json
# has from R mmrm itself: a check that clubSandwich and R mmrm agree where both exist.
#
# Data: tests/reference/mmrm/fev_data.csv (mmrm::fev_data), rows with FEV1 present,
# FEV1 ~ RACE + SEX + ARMCD * AVISIT, unstructured (corSymm + varIdent), REML, BFGS, tight tolerances.
# Run from the repository root: Rscript tests/reference/make_mmrm_sandwich_reference.R
suppressPackageStartupMessages({ library(nlme); library(clubSandwich); library(jsonlite) })
out_dir <- file.path("tests", "reference", "mmrm")
d <- read.csv(file.path(out_dir, "fev_data.csv"), stringsAsFactors = FALSE, na.strings = "")
d <- d[!is.na(d$FEV1), ]
d$RACE <- factor(d$RACE, levels = c("Asian", "Black or African American", "White"))
d$SEX <- factor(d$SEX, levels = c("Male", "Female"))
d$ARMCD <- factor(d$ARMCD, levels = c("PBO", "TRT"))
d$AVISIT <- factor(d$AVISIT, levels = c("VIS1", "VIS2", "VIS3", "VIS4"))
d$K <- as.integer(d$AVISIT)
d <- d[order(d$USUBJID, d$K), ]
fit <- gls(FEV1 ~ RACE + SEX + ARMCD * AVISIT, data = d, method = "REML",
           correlation = corSymm(form = ~ K | USUBJID), weights = varIdent(form = ~ 1 | AVISIT),
           control = glsControl(maxIter = 1000, msMaxIter = 1000, tolerance = 1e-14, msTol = 1e-15,
                                opt = "optim", optimMethod = "BFGS"))
one <- function(type) {
  V <- vcovCR(fit, cluster = d$USUBJID, type = type)
  ct <- coef_test(fit, vcov = V, test = "Satterthwaite")
  list(type = type, std_error = unname(sqrt(diag(as.matrix(V)))),
       vcov = unname(lapply(seq_len(nrow(V)), function(i) unname(as.matrix(V)[i, ]))),
       df = unname(ct$df_Satt))
}
# R mmrm's own bias-reduced estimator (coef_vcov vignette; McCaffrey and Bell 2003) computed directly
# from the gls estimates: whitened rows Xt_i = U_i X_i, et_i = U_i r_i (U_i'U_i = Sigma_i^-1),
# H_ii = Xt_i Phi Xt_i', A_i = (I - H_ii)^(-1/2) (symmetric), cov = Phi (sum z_i z_i') Phi,
# z_i = Xt_i' A_i et_i; df of coefficient k from the explicit N x n matrix g (column i:
# (I - H)[, rows_i] A_i Xt_i Phi e_k) as G = g'g, df = tr(G)^2 / sum(G^2). clubSandwich's CR2
# uses another square root (A_i = D_i' G_i^(-1/2) D_i with D_i = chol(Sigma_i), not the whitened
# symmetric one), which differs from mmrm's when Sigma_i is not a multiple of I: recorded as CR2 above
# (about 2e-4 relative from mmrm's on this fit), not the test target.
mmrm_br <- function() {
  Phi <- vcov(fit); X <- model.matrix(formula(fit), d); r <- d$FEV1 - drop(X %*% coef(fit))
  ids <- unique(d$USUBJID); N <- nrow(d); p <- ncol(X)
  Xt <- matrix(0, N, p); et <- numeric(N); rows <- list()
  for (s in ids) {
    i <- which(d$USUBJID == s); rows[[s]] <- i
    U <- chol(solve(unclass(getVarCov(fit, individual = s))))
    Xt[i, ] <- U %*% X[i, , drop = FALSE]; et[i] <- U %*% r[i]
  }
  IH <- diag(N) - Xt %*% Phi %*% t(Xt)
  meat <- matrix(0, p, p); AX <- list()
  for (s in ids) {
    i <- rows[[s]]; e <- eigen(IH[i, i, drop = FALSE], symmetric = TRUE)
    A <- e$vectors %*% diag(1 / sqrt(e$values), length(i)) %*% t(e$vectors)
    z <- t(Xt[i, , drop = FALSE]) %*% A %*% et[i]; meat <- meat + z %*% t(z)
    AX[[s]] <- A %*% Xt[i, , drop = FALSE]
  }
  V <- Phi %*% meat %*% Phi
  df <- sapply(seq_len(p), function(k) {
    g <- sapply(ids, function(s) IH[, rows[[s]], drop = FALSE] %*% AX[[s]] %*% Phi[, k])
    G <- crossprod(g); sum(diag(G))^2 / sum(G^2)
  })
  list(type = "R mmrm Empirical-Bias-Reduced formula", std_error = unname(sqrt(diag(V))),
       vcov = unname(lapply(seq_len(p), function(i) unname(V[i, ]))), df = unname(df))
}

res <- list(
  call = "gls(FEV1 ~ RACE + SEX + ARMCD * AVISIT, REML, corSymm(~ K | USUBJID), varIdent(~ 1 | AVISIT)); clubSandwich::vcovCR(cluster = USUBJID, type); coef_test(test = 'Satterthwaite')",
  terms = names(coef(fit)), estimate = unname(coef(fit)), m2loglik = -2 * as.numeric(logLik(fit)),
  n_subjects = length(unique(d$USUBJID)),
  CR0 = one("CR0"), CR2 = one("CR2"), CR3 = one("CR3"), mmrm_bias_reduced = mmrm_br(),
  versions = list(R = R.version.string, nlme = as.character(packageVersion("nlme")),
                  clubSandwich = as.character(packageVersion("clubSandwich")))
)
writeLines(toJSON(res, digits = NA, auto_unbox = TRUE, pretty = TRUE), file.path(out_dir, "sandwich_fev_us.json"))
