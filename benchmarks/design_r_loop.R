#!/usr/bin/env Rscript
# design_r_loop.R: the R peer of the design engine's replicate (benchmarks/bench_design.py, issue 10).
#
# What an R user writes by hand for a simulation-based design: a loop that, per replicate,
# simulates one trial, fits the MMRM with R mmrm, the Cox model with survival::coxph and the RMST
# from survival::survfit, and keeps a few numbers. Timed here, per part, on one core.
#
# R mmrm 0.3.18 was built from source (github:openpharma/mmrm tag v0.3.18) into /work/rlib:
#   R_LIBS=/work/rlib Rscript benchmarks/design_r_loop.R REPLICATES N_PER_ARM
# Prints one JSON line: seconds per replicate, by part, and the R / package versions.
#
# The simulation is simulate_trial's documented model (trialstats/simulate, scenario "expected"
# of datasets/designs/exo-longterm.toml: MINOXIDIL reference, EXOSOME +28 hairs/cm2 at week 48,
# 24 weeks of treatment, follow-up to week 104, dropout 0.30, missed visits 5 %, 8 sites): the
# latent counts, AR(1) residual, MAR dropout, responder relapse confirmed at two visits. It
# omits what only shapes the ADaM tables (demographics other than stage, adverse events, ADSL
# text columns, validation), so it does less work than simulate_trial: the comparison of the
# simulate parts is in R's favour. The analysis is the plan's: MMRM CHG ~ ARM * AVISIT + BASE,
# unstructured, Satterthwaite, contrast at WEEK 24 (emmeans); Cox stratified by STAGEGR, Efron;
# RMST difference up to the last day every arm is followed.
suppressPackageStartupMessages({
  library(mmrm); library(emmeans); library(survival); library(jsonlite)
})
args <- commandArgs(trailingOnly = TRUE)
R_REPS <- if (length(args) >= 1) as.integer(args[1]) else 20L
N <- if (length(args) >= 2) as.integer(args[2]) else 100L

weeks <- c(0, 4, 12, 24, seq(32, 104, by = 8)); eot <- 4L; TW <- 24
h48 <- 1 - exp(-48 / 6)
arm_gain <- function(delta, s) {
  g <- (delta + 4.8) / h48
  v <- (s^2 - 48^2 * 0.01 - 2 * 81 * (1 - exp(-4))) / h48^2
  c(g, sqrt(v))
}
SD_NAT <- arm_gain(3.9, 21.7)[2]
ARMS <- list(MINOXIDIL = list(delta = 18.6, s = 25.4, L = 24, pi = 0),
             EXOSOME = list(delta = 28.0, s = 25.4, L = 36, pi = 0.4))

simulate <- function(n) {
  arm <- rep(names(ARMS), each = n); m <- length(arm); J <- length(weeks)
  site <- sample.int(8, m, replace = TRUE)
  male <- runif(m) < 0.7
  moderate <- ifelse(male, runif(m) < 0.40, runif(m) < 0.45); p_mod <- 0.7 * 0.4 + 0.3 * 0.45
  day <- matrix(7 * weeks + 1, m, J, byrow = TRUE) + cbind(0, matrix(sample(-3:3, m * (J - 1), TRUE), m))
  t <- (day - 1) / 7
  sd0 <- sqrt(900 - 81 - 25 - 144 * p_mod * (1 - p_mod))
  b0 <- 150 - 12 * (moderate - p_mod) + rnorm(8, 0, 5)[site] + rnorm(m, 0, sd0)
  b1 <- -0.1 + rnorm(m, 0, 0.1)
  z <- rnorm(m); zn <- rnorm(m)
  lat <- b0 + b1 * t
  for (a in names(ARMS)) {
    p <- ARMS[[a]]; gs <- arm_gain(p$delta, p$s); rows <- arm == a
    g <- gs[1] + sqrt(gs[2]^2 - SD_NAT^2) * z[rows]
    pii <- if (p$pi > 0) rbeta(sum(rows), 2 * p$pi, 2 * (1 - p$pi)) else rep(0, sum(rows))
    tt <- t[rows, , drop = FALSE]
    on <- 1 - exp(-pmin(tt, TW) / 6)
    wane <- pmin(pmax(1 - (tt - TW) / p$L, 0), 1)
    h <- ifelse(tt <= TW, on, on * (pii + (1 - pii) * wane))
    lat[rows, ] <- lat[rows, ] + g * h + SD_NAT * zn[rows] * (1 - exp(-tt / 6))
  }
  eps <- matrix(0, m, J); eps[, 1] <- rnorm(m, 0, 9)
  for (j in 2:J) {
    rho <- exp(-(t[, j] - t[, j - 1]) / 12)
    eps[, j] <- rho * eps[, j - 1] + sqrt(1 - rho^2) * rnorm(m, 0, 9)
  }
  count <- round(lat + eps); count[count < 0] <- 0; chg <- count - count[, 1]
  kappa <- -log(1 - 0.30) / 104
  obs <- matrix(FALSE, m, J); obs[, 1] <- TRUE; in_study <- rep(TRUE, m); last <- rep(0, m)
  dropped <- rep(FALSE, m)
  for (j in 2:J) {
    pdrop <- 1 - exp(-kappa * (weeks[j] - weeks[j - 1]) * 0.8^(last / 10))
    drops <- in_study & runif(m) < pdrop
    dropped <- dropped | drops; in_study <- in_study & !drops
    obs[, j] <- in_study & (j == eot | runif(m) >= 0.05)
    last <- ifelse(obs[, j], chg[, j], last)
  }
  list(arm = arm, stage = ifelse(moderate, "moderate", "mild"), day = day, chg = chg,
       base = count[, 1], obs = obs, dropped = dropped)
}

relapse <- function(s) {
  rows <- which(s$obs[, eot] & s$chg[, eot] > 15)
  out <- data.frame(ARM = s$arm[rows], STAGEGR = s$stage[rows], AVAL = 0, EVENT = 0L)
  for (k in seq_along(rows)) {
    i <- rows[k]; vis <- which(s$obs[i, ] & seq_along(weeks) > eot)
    lost <- s$chg[i, vis] <= s$chg[i, eot] / 2
    on <- which(head(lost, -1) & tail(lost, -1))
    d0 <- s$day[i, eot]
    if (length(on)) { out$AVAL[k] <- s$day[i, vis[on[1]]] - d0; out$EVENT[k] <- 1L }
    else {
      free <- if (length(lost) && lost[length(lost)]) head(vis, -1) else vis
      out$AVAL[k] <- if (length(free)) s$day[i, free[length(free)]] - d0 else 0
    }
  }
  out$ARM <- factor(out$ARM, levels = names(ARMS)); out
}

rmst_arm <- function(d, tau) {
  f <- survfit(Surv(AVAL, EVENT) ~ 1, data = d)
  tm <- c(0, f$time[f$time < tau], tau); sv <- c(1, f$surv[f$time < tau])
  sum(diff(tm) * sv)
}

times <- c(simulate = 0, mmrm = 0, cox_rmst = 0)
set.seed(20261130)
for (r in seq_len(R_REPS)) {
  t0 <- proc.time()[["elapsed"]]
  s <- simulate(N)
  j <- 2:eot; ii <- which(s$obs[, j, drop = FALSE], arr.ind = TRUE)
  eff <- data.frame(USUBJID = factor(ii[, 1]), ARM = factor(s$arm[ii[, 1]], levels = names(ARMS)),
                    AVISIT = factor(paste("WEEK", weeks[j][ii[, 2]]),
                                    levels = paste("WEEK", weeks[j])),
                    BASE = s$base[ii[, 1]], CHG = s$chg[cbind(ii[, 1], j[ii[, 2]])])
  tte <- relapse(s)
  t1 <- proc.time()[["elapsed"]]
  fit <- mmrm(CHG ~ ARM * AVISIT + BASE + us(AVISIT | USUBJID), data = eff, method = "Satterthwaite")
  con <- summary(pairs(emmeans(fit, ~ ARM | AVISIT), reverse = TRUE))
  t2 <- proc.time()[["elapsed"]]
  cx <- coxph(Surv(AVAL, EVENT) ~ ARM + strata(STAGEGR), data = tte, ties = "efron")
  tau <- min(tapply(tte$AVAL, tte$ARM, max))
  d_rmst <- rmst_arm(tte[tte$ARM == "EXOSOME", ], tau) - rmst_arm(tte[tte$ARM == "MINOXIDIL", ], tau)
  t3 <- proc.time()[["elapsed"]]
  times <- times + c(t1 - t0, t2 - t1, t3 - t2)
}
cat(toJSON(list(replicates = R_REPS, n_per_arm = N, seconds_per_replicate = as.list(times / R_REPS),
                versions = list(R = R.version.string, mmrm = as.character(packageVersion("mmrm")),
                                survival = as.character(packageVersion("survival")),
                                emmeans = as.character(packageVersion("emmeans")))),
           auto_unbox = TRUE, digits = NA), "\n")
