#!/usr/bin/env Rscript
# bench_mmrm_spatial.R: R mmrm's fit times on the spatial benchmark data of bench_mmrm.py.
#
# Usage: R_LIBS=/work/rlib Rscript benchmarks/bench_mmrm_spatial.R DATA.csv
# (on this project's machine mmrm 0.3.18 was built from source, github:openpharma/mmrm tag v0.3.18,
# into /work/rlib; it is not in Debian). DATA.csv is written by bench_mmrm.run_spatial():
# USUBJID, ARM, AVISIT, DAY, BASE, CHG. Fits, each timed once after a small warm-up us fit:
#   mmrm(CHG ~ ARM * AVISIT + BASE + us(AVISIT | USUBJID), method = "Satterthwaite")
#   mmrm(CHG ~ ARM * AVISIT + BASE + sp_exp(DAY | USUBJID), method = "Satterthwaite",
#        optimizer = "nlminb")
#   the same with sp_gau
# The spatial fits use optimizer = "nlminb": with mmrm's default (L-BFGS-B, then its fallback
# over the other optimizers) sp_exp fails on these data ("L-BFGS-B needs finite values of 'fn'",
# then "No optimizer led to a successful model fit" at 5,000 subjects, 2026-11-30); nlminb reaches
# the optimum trialstats reaches (-2 log-likelihood printed for the comparison). If nlminb fails,
# BFGS, then mmrm's default are tried; the time printed is that of the successful call, and a
# structure on which all fail is reported as failed with the time of the last attempt.
# Prints one JSON object: elapsed and CPU (user + system) seconds per fit, -2 REML log-lik, theta.
suppressPackageStartupMessages({ library(mmrm); library(jsonlite) })
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1], stringsAsFactors = FALSE)
d$ARM <- factor(d$ARM, levels = c("PLACEBO", "EXOSOME"))
d$AVISIT <- factor(d$AVISIT, levels = unique(d$AVISIT[order(d$DAY)]))
d$USUBJID <- factor(d$USUBJID)
invisible(mmrm(CHG ~ ARM * AVISIT + BASE + us(AVISIT | USUBJID), data = d[d$USUBJID %in%
  levels(d$USUBJID)[1:200], ], method = "Satterthwaite"))  # warm-up
out <- list(mmrm = as.character(packageVersion("mmrm")), R = R.version.string,
            n_subjects = nlevels(d$USUBJID), n_obs = nrow(d))
for (cov in c("us", "sp_exp", "sp_gau")) {
  f <- as.formula(sprintf("CHG ~ ARM * AVISIT + BASE + %s(%s | USUBJID)", cov,
                          if (cov == "us") "AVISIT" else "DAY"))
  tm <- NULL
  used <- NA_character_
  for (opt in if (cov == "us") "default" else c("nlminb", "BFGS", "default")) {
    args <- list(formula = f, data = d, method = "Satterthwaite")
    if (opt != "default") args$optimizer <- opt
    tm <- system.time(fit <- tryCatch(do.call(mmrm, args), error = function(e) NULL))
    if (!is.null(fit)) { used <- opt; break }
  }
  if (is.null(fit)) {
    out[[cov]] <- list(failed = TRUE, elapsed_s = unname(tm[["elapsed"]]))
    next
  }
  out[[cov]] <- list(optimizer = used, elapsed_s = unname(tm[["elapsed"]]),
                     cpu_s = unname(tm[["user.self"]] + tm[["sys.self"]]),
                     m2loglik = deviance(fit), theta = unname(fit$theta_est))
}
cat(toJSON(out, digits = NA, auto_unbox = TRUE), "\n")
