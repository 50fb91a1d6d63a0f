#!/usr/bin/env Rscript
# make_mmrm_spatial_reference.R
#
# Reference fits for ts.mmrm(covariance = "sp_exp" | "sp_gau", coords = "DAY"): nlme::gls with
# corExp / corGaus (no nugget) on a numeric day, REML, the model R mmrm's sp_exp(DAY | USUBJID)
# fits (R mmrm is not in Debian). Writes tests/reference/mmrm/spatial_fev_{sp_exp,sp_gau}.json and
# the data (spatial_fev.csv), used by tests/test_mmrm_spatial.py.
#
# Data: tests/reference/mmrm/fev_data.csv (mmrm::fev_data), rows with FEV1 present, visits moved to
# irregular study days by a fixed rule: DAY = 28 * VISITN + ((7 * s + 3 * VISITN) %% 11) - 5, s the
# subject's number in order of appearance (so 4 visits fall on 40 distinct days).
# Model: FEV1 ~ RACE + SEX + ARMCD * AVISIT; covariance sigma^2 * exp(-d / range) (corExp) or
# sigma^2 * exp(-(d / range)^2) (corGaus), d = |DAY_a - DAY_b|. R mmrm's parameters:
# rho = exp(-1 / range) (sp_exp) and exp(-1 / range^2) (sp_gau, rho^(d^2)).
# Run from the repository root: Rscript tests/reference/make_mmrm_spatial_reference.R
suppressPackageStartupMessages({ library(nlme); library(jsonlite) })
out_dir <- file.path("tests", "reference", "mmrm")
d <- read.csv(file.path(out_dir, "fev_data.csv"), stringsAsFactors = FALSE, na.strings = "")
s <- match(d$USUBJID, unique(d$USUBJID))
d$DAY <- 28 * d$VISITN + ((7 * s + 3 * d$VISITN) %% 11) - 5
d <- d[!is.na(d$FEV1), c("USUBJID", "AVISIT", "ARMCD", "RACE", "SEX", "FEV1", "DAY")]
write.csv(d, file.path(out_dir, "spatial_fev.csv"), row.names = FALSE)
d$RACE <- factor(d$RACE, levels = c("Asian", "Black or African American", "White"))
d$SEX <- factor(d$SEX, levels = c("Male", "Female"))
d$ARMCD <- factor(d$ARMCD, levels = c("PBO", "TRT"))
d$AVISIT <- factor(d$AVISIT, levels = c("VIS1", "VIS2", "VIS3", "VIS4"))
for (cov in c("sp_exp", "sp_gau")) {
  corr <- if (cov == "sp_exp") corExp(form = ~ DAY | USUBJID) else corGaus(form = ~ DAY | USUBJID)
  fit <- gls(FEV1 ~ RACE + SEX + ARMCD * AVISIT, data = d, method = "REML", correlation = corr,
             control = glsControl(maxIter = 1000, msMaxIter = 1000, tolerance = 1e-14, msTol = 1e-15))
  range <- unname(coef(fit$modelStruct$corStruct, unconstrained = FALSE))
  rho <- if (cov == "sp_exp") exp(-1 / range) else exp(-1 / range^2)
  V <- vcov(fit)
  res <- list(
    case = paste0("spatial_fev_", cov), data_file = "spatial_fev.csv",
    call = paste0("gls(FEV1 ~ RACE + SEX + ARMCD * AVISIT, REML, ",
                  if (cov == "sp_exp") "corExp" else "corGaus", "(form = ~ DAY | USUBJID))"),
    n_days = length(unique(d$DAY)),
    terms = names(coef(fit)), estimate = unname(coef(fit)), std_error = unname(sqrt(diag(V))),
    vcov = unname(lapply(seq_len(nrow(V)), function(i) V[i, ])),
    m2loglik = -2 * as.numeric(logLik(fit)), sigma2 = fit$sigma^2, range = range, rho = rho,
    versions = list(R = R.version.string, nlme = as.character(packageVersion("nlme")))
  )
  writeLines(toJSON(res, digits = NA, auto_unbox = TRUE, pretty = TRUE),
             file.path(out_dir, paste0(res$case, ".json")))
}
