#!/usr/bin/env Rscript
# make_mmrm_spatial2d_reference.R
#
# R mmrm 0.3.18 references for ts.mmrm(covariance = "sp_exp" | "sp_gau", coords = [VISITN, VISITN2]):
# spatial covariances on 2-d points (Euclidean distance), R mmrm's sp_exp(VISITN, VISITN2 | USUBJID)
# (tests/test_mmrm_spatial2d.py). R mmrm is not in Debian: mmrm 0.3.18 was built from source
# (github:openpharma/mmrm, tag v0.3.18) into /work/rlib. Run from the repository root:
#   R_LIBS=/work/rlib Rscript tests/reference/make_mmrm_spatial2d_reference.R
# Writes tests/reference/mmrm/spatial2d_<case>.json and predict_spatial2d_fev.json (predictions of
# the tight sp_exp fits, without and by SEX, and on the one coordinate TIME = VISITN + VISITN2 / 4,
# for all 800 rows of fev_data, whose 263 rows with a missing FEV1 lie at points not among the
# rows used: conditional = TRUE and FALSE).
#
# Data: mmrm::fev_data (tests/reference/mmrm/fev_data.csv), rows with FEV1 present (as mmrm drops
# them). The models are those of R mmrm's own test suite with two coordinates
# (tests/testthat/test-kenwardroger.R, test-empirical.R, test-emmeans.R, test-tmb.R,
# test-tmb-methods.R): FEV1 ~ ARMCD + sp_exp(VISITN, VISITN2 | USUBJID) with Satterthwaite,
# Kenward-Roger, Kenward-Roger-Linear, and the empirical sandwich with residual df (also weighted by
# WEIGHT); the same by SEX (SEX / USUBJID); sp_gau; intercept-only ML and REML; RACE by ARMCD
# (ARMCD / USUBJID); FEV1 ~ FEV1_BL + ARMCD * AVISIT with emmeans(~ ARMCD * AVISIT).
# Each fit is refitted at a tighter optimum: Newton steps on mmrm's own objective (the TMB object's
# fn / gr / he) from the default theta, then mmrm again with optimizer = "nlminb" and start = that
# theta ("tight"), as make_mmrm_spatial_rmmrm_reference.R; default and tight numbers are stored.
suppressPackageStartupMessages({ library(mmrm); library(jsonlite); library(emmeans) })
out_dir <- file.path("tests", "reference", "mmrm")

fev <- read.csv(file.path(out_dir, "fev_data.csv"), stringsAsFactors = FALSE, na.strings = "")
fev <- fev[!is.na(fev$FEV1), ]
fev$RACE <- factor(fev$RACE, levels = c("Asian", "Black or African American", "White"))
fev$SEX <- factor(fev$SEX, levels = c("Male", "Female"))
fev$ARMCD <- factor(fev$ARMCD, levels = c("PBO", "TRT"))
fev$AVISIT <- factor(fev$AVISIT, levels = c("VIS1", "VIS2", "VIS3", "VIS4"))
fev$USUBJID <- factor(fev$USUBJID)
rownames(fev) <- NULL

source(file.path("tests", "reference", "mmrm_newton_polish.R"))  # newton_polish()

numbers <- function(fit, emm) {
  co <- summary(fit)$coefficients
  V <- vcov(fit)
  out <- list(
    terms = rownames(co), estimate = unname(co[, "Estimate"]),
    std_error = unname(co[, "Std. Error"]), df = unname(co[, "df"]),
    vcov = unname(lapply(seq_len(nrow(V)), function(i) V[i, ])),
    theta = unname(fit$theta_est),
    theta_vcov = unname(lapply(seq_len(nrow(fit$theta_vcov)), function(i) fit$theta_vcov[i, ])),
    m2loglik = deviance(fit),
    max_abs_gradient = max(abs(fit$tmb_object$gr(fit$theta_est)))
  )
  if (emm) {
    e <- as.data.frame(emmeans(fit, ~ ARMCD * AVISIT))
    out$emmeans <- list(ARMCD = as.character(e$ARMCD), AVISIT = as.character(e$AVISIT),
                        estimate = e$emmean, std_error = e$SE, df = e$df)
  }
  out
}

# case name, fixed part, covariance, group (NULL: none), method, vcov, reml, weighted, emmeans
cases <- list(
  list("sp_exp_satterthwaite", "FEV1 ~ ARMCD", "sp_exp", NULL, "Satterthwaite", NULL, TRUE, FALSE, FALSE),
  list("sp_exp_kenward_roger", "FEV1 ~ ARMCD", "sp_exp", NULL, "Kenward-Roger", NULL, TRUE, FALSE, FALSE),
  list("sp_exp_kenward_roger_linear", "FEV1 ~ ARMCD", "sp_exp", NULL, "Kenward-Roger", "Kenward-Roger-Linear", TRUE, FALSE, FALSE),
  list("sp_exp_empirical_residual", "FEV1 ~ ARMCD", "sp_exp", NULL, "Residual", "Empirical", TRUE, FALSE, FALSE),
  list("sp_exp_empirical_residual_weighted", "FEV1 ~ ARMCD", "sp_exp", NULL, "Residual", "Empirical", TRUE, TRUE, FALSE),
  list("sp_exp_empirical", "FEV1 ~ ARMCD", "sp_exp", NULL, "Satterthwaite", "Empirical", TRUE, FALSE, FALSE),
  list("sp_exp_empirical_jackknife", "FEV1 ~ ARMCD", "sp_exp", NULL, "Satterthwaite", "Empirical-Jackknife", TRUE, FALSE, FALSE),
  list("sp_exp_empirical_bias_reduced", "FEV1 ~ ARMCD", "sp_exp", NULL, "Satterthwaite", "Empirical-Bias-Reduced", TRUE, FALSE, FALSE),
  list("sp_exp_by_sex_kenward_roger", "FEV1 ~ ARMCD", "sp_exp", "SEX", "Kenward-Roger", NULL, TRUE, FALSE, FALSE),
  list("sp_exp_by_sex_satterthwaite", "FEV1 ~ ARMCD", "sp_exp", "SEX", "Satterthwaite", NULL, TRUE, FALSE, FALSE),
  list("sp_gau_satterthwaite", "FEV1 ~ ARMCD", "sp_gau", NULL, "Satterthwaite", NULL, TRUE, FALSE, FALSE),
  list("sp_gau_kenward_roger", "FEV1 ~ ARMCD", "sp_gau", NULL, "Kenward-Roger", NULL, TRUE, FALSE, FALSE),
  list("sp_gau_kenward_roger_linear", "FEV1 ~ ARMCD", "sp_gau", NULL, "Kenward-Roger", "Kenward-Roger-Linear", TRUE, FALSE, FALSE),
  list("sp_exp_intercept_ml", "FEV1 ~ 1", "sp_exp", NULL, "Satterthwaite", NULL, FALSE, FALSE, FALSE),
  list("sp_exp_intercept_reml", "FEV1 ~ 1", "sp_exp", NULL, "Satterthwaite", NULL, TRUE, FALSE, FALSE),
  list("sp_gau_intercept_ml", "FEV1 ~ 1", "sp_gau", NULL, "Satterthwaite", NULL, FALSE, FALSE, FALSE),
  list("sp_gau_intercept_reml", "FEV1 ~ 1", "sp_gau", NULL, "Satterthwaite", NULL, TRUE, FALSE, FALSE),
  list("sp_exp_race_by_armcd", "FEV1 ~ RACE", "sp_exp", "ARMCD", "Satterthwaite", NULL, TRUE, FALSE, FALSE),
  list("sp_exp_emmeans", "FEV1 ~ FEV1_BL + ARMCD * AVISIT", "sp_exp", NULL, "Satterthwaite", NULL, TRUE, FALSE, TRUE)
)
for (cs in cases) {
  names(cs) <- c("name", "fixed", "cov", "group", "method", "vcov", "reml", "weighted", "emm")
  subj <- if (is.null(cs$group)) "USUBJID" else sprintf("%s / USUBJID", cs$group)
  f <- as.formula(sprintf("%s + %s(VISITN, VISITN2 | %s)", cs$fixed, cs$cov, subj))
  w <- if (cs$weighted) fev$WEIGHT else NULL
  call_text <- sprintf('mmrm(%s + %s(VISITN, VISITN2 | %s), data = <fev_data rows with FEV1>, reml = %s, method = "%s"%s%s)',
                       cs$fixed, cs$cov, subj, cs$reml, cs$method,
                       if (is.null(cs$vcov)) "" else sprintf(', vcov = "%s"', cs$vcov),
                       if (cs$weighted) ", weights = WEIGHT" else "")
  fit_it <- function(...) {
    if (cs$weighted) mmrm(f, data = fev, reml = cs$reml, method = cs$method, vcov = cs$vcov,
                          weights = w, ...)
    else mmrm(f, data = fev, reml = cs$reml, method = cs$method, vcov = cs$vcov, ...)
  }
  fit <- fit_it()
  theta <- newton_polish(fit$tmb_object, fit$theta_est)
  tight <- fit_it(optimizer = "nlminb", start = theta)
  res <- list(
    case = sprintf("spatial2d_%s", cs$name), r_call = call_text, data_file = "fev_data.csv",
    fixed = cs$fixed, coords = c("VISITN", "VISITN2"), covariance = cs$cov,
    group = if (is.null(cs$group)) NA else cs$group,
    method = cs$method, vcov = if (is.null(cs$vcov)) "default" else cs$vcov, reml = cs$reml,
    weights = if (cs$weighted) "WEIGHT" else NA,
    n_obs = nrow(fev), n_subjects = nlevels(droplevels(fev$USUBJID)),
    n_points = nrow(unique(fev[c("VISITN", "VISITN2")])),
    default = numbers(fit, cs$emm), tight = numbers(tight, cs$emm),
    tight_call_extra = 'optimizer = "nlminb", start = <default theta after Newton steps on mmrm\'s objective>',
    versions = list(R = R.version.string, mmrm = as.character(packageVersion("mmrm")),
                    TMB = as.character(packageVersion("TMB")),
                    emmeans = as.character(packageVersion("emmeans")),
                    note = "mmrm 0.3.18 built from source (github:openpharma/mmrm tag v0.3.18)")
  )
  writeLines(toJSON(res, digits = NA, auto_unbox = TRUE, pretty = TRUE, na = "null"),
             file.path(out_dir, paste0(res$case, ".json")))
  cat(res$case, "tight max|grad|", res$tight$max_abs_gradient, "\n")
}

# predictions at new points: predict(fit, newdata = fev_data, conditional = TRUE | FALSE)
full <- read.csv(file.path(out_dir, "fev_data.csv"), stringsAsFactors = FALSE, na.strings = "")
full$ARMCD <- factor(full$ARMCD, levels = c("PBO", "TRT"))
full$SEX <- factor(full$SEX, levels = c("Male", "Female"))
full$USUBJID <- factor(full$USUBJID)
pred <- list(data_file = "fev_data.csv", n_rows = nrow(full))
# and one coordinate, TIME = VISITN + VISITN2 / 4 (as make_mmrm_spatial_rmmrm_reference.R)
fev$TIME <- fev$VISITN + fev$VISITN2 / 4
full$TIME <- full$VISITN + full$VISITN2 / 4
for (g in c("USUBJID", "SEX / USUBJID", "TIME")) {
  f <- as.formula(if (g == "TIME") "FEV1 ~ ARMCD + sp_exp(TIME | USUBJID)" else
                    sprintf("FEV1 ~ ARMCD + sp_exp(VISITN, VISITN2 | %s)", g))
  fit <- mmrm(f, data = fev)
  tight <- mmrm(f, data = fev, optimizer = "nlminb",
                start = newton_polish(fit$tmb_object, fit$theta_est))
  key <- switch(g, USUBJID = "sp_exp", TIME = "sp_exp_time", "sp_exp_by_sex")
  pred[[key]] <- list(
    r_call = sprintf("predict(<tight mmrm(%s, data = <fev_data rows with FEV1>)>, newdata = fev_data, conditional = TRUE | FALSE)",
                     deparse(f)),
    theta = unname(tight$theta_est), beta = unname(tight$beta_est),
    conditional = unname(predict(tight, newdata = full, conditional = TRUE)),
    unconditional = unname(predict(tight, newdata = full, conditional = FALSE)))
}
pred$versions <- list(R = R.version.string, mmrm = as.character(packageVersion("mmrm")),
                      note = "mmrm 0.3.18 built from source (github:openpharma/mmrm tag v0.3.18)")
writeLines(toJSON(pred, digits = NA, auto_unbox = TRUE, pretty = TRUE),
           file.path(out_dir, "predict_spatial2d_fev.json"))
cat("predict_spatial2d_fev.json\n")
