#!/usr/bin/env Rscript
# make_mmrm_spatial_rmmrm_reference.R
#
# R mmrm 0.3.18 references for ts.mmrm(covariance = "sp_exp" | "sp_gau", coords = ...) with
# Satterthwaite and Kenward-Roger df (tests/test_mmrm_spatial_rmmrm.py). R mmrm is not in Debian:
# mmrm 0.3.18 was built from source (github:openpharma/mmrm, tag v0.3.18) into /work/rlib.
# Run from the repository root:
#   R_LIBS=/work/rlib Rscript tests/reference/make_mmrm_spatial_rmmrm_reference.R
# Writes tests/reference/mmrm/spatial_rmmrm_<case>.json and the generated data
# tests/reference/mmrm/spatial_jitter.csv.
#
# Data sets:
# * fev: mmrm::fev_data (tests/reference/mmrm/fev_data.csv), rows with FEV1 present, spatial in
#   TIME = VISITN + VISITN2 / 4 (VISITN2 is fev_data's standard-normal second coordinate, which R
#   mmrm's own tests use in sp_exp(VISITN, VISITN2 | USUBJID); trialstats' spatial time is 1-d, and
#   sp_exp(VISITN2 | USUBJID) alone does not converge in R mmrm: "No optimizer led to a successful
#   model fit"), so every subject has its own irregular times. Model
#   FEV1 ~ RACE + SEX + ARMCD * AVISIT.
# * jitter: generated below (set.seed(20261130)): 120 subjects, 2 arms, visits at weeks
#   2, 4, 8, 12, 16, 24 on study day 7 * week + a uniform integer jitter in -6..6 (times stay distinct within a subject), ~20 % monotone
#   dropout and ~10 % missed visits; outcome with an exponential correlation in days (range 40 d).
#   Model CHG ~ ARM * AVISIT + BASE. 78 possible distinct days (more than 62, the bit width that once limited visit patterns).
# For each (data, sp_exp | sp_gau) R mmrm is fitted (REML) with method = "Satterthwaite" and with
# method = "Kenward-Roger"; for sp_exp also with vcov = "Empirical", "Empirical-Jackknife" and
# "Empirical-Bias-Reduced" (Satterthwaite df) and by ML (reml = FALSE, Satterthwaite). Each fit is then refitted at a tighter optimum: Newton steps on
# mmrm's own objective (the TMB object's fn / gr / he) from the default theta, then mmrm again
# with optimizer = "nlminb" and start = that theta, as ../shared/reference/make_mmrm_reference.R
# does ("tight"); both the default and the tight numbers are stored, with max |gradient|.
suppressPackageStartupMessages({ library(mmrm); library(jsonlite) })
out_dir <- file.path("tests", "reference", "mmrm")

fev <- read.csv(file.path(out_dir, "fev_data.csv"), stringsAsFactors = FALSE, na.strings = "")
fev <- fev[!is.na(fev$FEV1), ]
fev$RACE <- factor(fev$RACE, levels = c("Asian", "Black or African American", "White"))
fev$SEX <- factor(fev$SEX, levels = c("Male", "Female"))
fev$ARMCD <- factor(fev$ARMCD, levels = c("PBO", "TRT"))
fev$AVISIT <- factor(fev$AVISIT, levels = c("VIS1", "VIS2", "VIS3", "VIS4"))
fev$USUBJID <- factor(fev$USUBJID)
fev$TIME <- fev$VISITN + fev$VISITN2 / 4

make_jitter <- function() {
  set.seed(20261130)
  n <- 120
  weeks <- c(2, 4, 8, 12, 16, 24)
  arm <- rbinom(n, 1, 0.5)
  base <- round(rnorm(n, 150, 30), 1)
  day <- outer(rep(1, n), 7 * weeks) + matrix(sample(-6:6, n * 6, replace = TRUE), n, 6)
  y <- matrix(NA_real_, n, 6)
  for (i in seq_len(n)) {
    R <- exp(-abs(outer(day[i, ], day[i, ], "-")) / 40)
    eps <- drop(t(chol(100 * R)) %*% rnorm(6))
    y[i, ] <- 0.1 * (base[i] - 150) + weeks * (0.2 + 0.6 * arm[i]) + eps
  }
  last <- rep(6, n)
  drop <- runif(n) < 0.2
  last[drop] <- sample(1:5, sum(drop), replace = TRUE)
  keep <- outer(rep(1, n), 1:6) <= last & matrix(runif(n * 6), n, 6) > 0.1
  keep[, 1] <- TRUE
  idx <- which(keep, arr.ind = TRUE)
  idx <- idx[order(idx[, 1], idx[, 2]), , drop = FALSE]
  data.frame(
    USUBJID = sprintf("J%03d", idx[, 1]),
    ARM = ifelse(arm[idx[, 1]] == 1, "EXOSOME", "PLACEBO"),
    AVISIT = sprintf("WEEK %d", weeks[idx[, 2]]),
    DAY = day[idx],
    BASE = base[idx[, 1]],
    CHG = round(y[idx], 4),
    stringsAsFactors = FALSE
  )
}
jit <- make_jitter()
write.csv(jit, file.path(out_dir, "spatial_jitter.csv"), row.names = FALSE)
jit$ARM <- factor(jit$ARM, levels = c("PLACEBO", "EXOSOME"))
jit$AVISIT <- factor(jit$AVISIT, levels = sprintf("WEEK %d", c(2, 4, 8, 12, 16, 24)))
jit$USUBJID <- factor(jit$USUBJID)

source(file.path("tests", "reference", "mmrm_newton_polish.R"))  # newton_polish()

numbers <- function(fit) {
  co <- summary(fit)$coefficients
  V <- vcov(fit)
  list(
    terms = rownames(co), estimate = unname(co[, "Estimate"]),
    std_error = unname(co[, "Std. Error"]), df = unname(co[, "df"]),
    vcov = unname(lapply(seq_len(nrow(V)), function(i) V[i, ])),
    theta = unname(fit$theta_est),
    theta_vcov = unname(lapply(seq_len(nrow(fit$theta_vcov)), function(i) fit$theta_vcov[i, ])),
    m2loglik = deviance(fit),
    max_abs_gradient = max(abs(fit$tmb_object$gr(fit$theta_est)))
  )
}

cases <- list(
  list(data = "fev", df = fev, file = "fev_data.csv",
       fixed = "FEV1 ~ RACE + SEX + ARMCD * AVISIT", coords = "TIME"),
  list(data = "jitter", df = jit, file = "spatial_jitter.csv",
       fixed = "CHG ~ ARM * AVISIT + BASE", coords = "DAY")
)
# variants: (file suffix, method, vcov, reml); the sandwich and ML variants for sp_exp only
variants <- list(
  list("satterthwaite", "Satterthwaite", NULL, TRUE),
  list("kenward_roger", "Kenward-Roger", NULL, TRUE),
  list("empirical", "Satterthwaite", "Empirical", TRUE),
  list("empirical_jackknife", "Satterthwaite", "Empirical-Jackknife", TRUE),
  list("empirical_bias_reduced", "Satterthwaite", "Empirical-Bias-Reduced", TRUE),
  list("ml_satterthwaite", "Satterthwaite", NULL, FALSE)
)
for (cs in cases) {
  for (cov in c("sp_exp", "sp_gau")) {
    for (v in variants) {
      if (cov == "sp_gau" && !(v[[1]] %in% c("satterthwaite", "kenward_roger"))) next
      method <- v[[2]]
      vc <- v[[3]]
      reml <- v[[4]]
      f <- as.formula(sprintf("%s + %s(%s | USUBJID)", cs$fixed, cov, cs$coords))
      call_text <- sprintf('mmrm(%s + %s(%s | USUBJID), data = <%s>, reml = %s, method = "%s"%s)',
                           cs$fixed, cov, cs$coords, cs$data, reml, method,
                           if (is.null(vc)) "" else sprintf(', vcov = "%s"', vc))
      t0 <- proc.time()[["elapsed"]]
      fit <- mmrm(f, data = cs$df, reml = reml, method = method, vcov = vc)
      elapsed <- proc.time()[["elapsed"]] - t0
      theta <- newton_polish(fit$tmb_object, fit$theta_est)
      tight <- mmrm(f, data = cs$df, reml = reml, method = method, vcov = vc,
                    optimizer = "nlminb", start = theta)
      res <- list(
        case = sprintf("spatial_rmmrm_%s_%s_%s", cs$data, cov, v[[1]]),
        r_call = call_text, data_file = cs$file, coords = cs$coords, covariance = cov,
        method = method, vcov = if (is.null(vc)) "default" else vc, reml = reml,
        n_obs = nrow(cs$df), n_subjects = nlevels(droplevels(cs$df$USUBJID)),
        n_times = length(unique(cs$df[[cs$coords]])),
        default = numbers(fit), tight = numbers(tight),
        tight_call_extra = 'optimizer = "nlminb", start = <default theta after Newton steps on mmrm\'s objective>',
        default_elapsed_s = elapsed,
        versions = list(R = R.version.string, mmrm = as.character(packageVersion("mmrm")),
                        TMB = as.character(packageVersion("TMB")),
                        note = "mmrm 0.3.18 built from source (github:openpharma/mmrm tag v0.3.18)")
      )
      writeLines(toJSON(res, digits = NA, auto_unbox = TRUE, pretty = TRUE),
                 file.path(out_dir, paste0(res$case, ".json")))
      cat(res$case, "tight max|grad|", res$tight$max_abs_gradient, "\n")
    }
  }
}
