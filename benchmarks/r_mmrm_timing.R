#!/usr/bin/env Rscript
# r_mmrm_timing.R: wall and CPU time of R mmrm fits on the data bench_mmrm.py generates.
#
# R mmrm 0.3.18 built from source (github:openpharma/mmrm tag v0.3.18) into a private library;
# run by benchmarks/r_mmrm.py as
#     R_LIBS=<library with mmrm> Rscript benchmarks/r_mmrm_timing.R <jobs.csv> <out.json>
# jobs.csv has one row per timing: name, csv (data file written by bench_mmrm.py), model
# ("us", "us_weights", "sp_exp"), repeats. Each job: mmrm(CHG ~ ARM * AVISIT + BASE + <cov>,
# method = "Satterthwaite") -- the fit alone, as issue 14 timed it -- best of `repeats`; then one
# more fit followed by emmeans(~ ARM | AVISIT) and pairs() (the end-to-end call ts.mmrm is timed
# with) when `end_to_end` is 1. Times from proc.time() (elapsed and user + system).
suppressPackageStartupMessages({ library(mmrm); library(emmeans); library(jsonlite) })
args <- commandArgs(trailingOnly = TRUE)
jobs <- read.csv(args[1], stringsAsFactors = FALSE)
formulas <- list(
  us = CHG ~ ARM * AVISIT + BASE + us(AVISIT | USUBJID),
  us_weights = CHG ~ ARM * AVISIT + BASE + us(AVISIT | USUBJID),
  sp_exp = CHG ~ ARM * AVISIT + BASE + sp_exp(DAY | USUBJID)
)
timed <- function(expr) {
  t0 <- proc.time()
  value <- force(expr)
  t <- proc.time() - t0
  list(value = value, wall = t[["elapsed"]], cpu = t[["user.self"]] + t[["sys.self"]])
}
out <- list()
for (i in seq_len(nrow(jobs))) {
  job <- jobs[i, ]
  d <- read.csv(job$csv, stringsAsFactors = FALSE)
  d$USUBJID <- factor(d$USUBJID)
  d$ARM <- factor(d$ARM, levels = c("PLACEBO", "EXOSOME"))
  d$AVISIT <- factor(d$AVISIT, levels = unique(d$AVISIT[order(d$WEEK)]))
  fit_once <- function() {
    if (job$model == "us_weights") {
      mmrm(formulas[[job$model]], data = d, weights = d$W, method = "Satterthwaite")
    } else {
      mmrm(formulas[[job$model]], data = d, method = "Satterthwaite")
    }
  }
  best <- list(wall = Inf, cpu = Inf)
  for (r in seq_len(job$repeats)) {
    t <- timed(fit_once())
    best$wall <- min(best$wall, t$wall)
    best$cpu <- min(best$cpu, t$cpu)
    converged <- isTRUE(attr(t$value, "converged"))
  }
  res <- list(name = job$name, model = job$model, rows = nrow(d), repeats = job$repeats,
              fit_wall_s = best$wall, fit_cpu_s = best$cpu, converged = converged)
  if (isTRUE(job$end_to_end == 1)) {
    t <- timed({
      f <- fit_once()
      pairs(emmeans(f, ~ ARM | AVISIT), reverse = TRUE)
    })
    res$end_to_end_wall_s <- t$wall
    res$end_to_end_cpu_s <- t$cpu
  }
  out[[length(out) + 1L]] <- res
  message(job$name, ": ", format(best$wall, digits = 4), " s")
}
write_json(list(mmrm = as.character(packageVersion("mmrm")), R = R.version.string,
                timings = out), args[2], auto_unbox = TRUE, digits = NA)
