# Reference values for trialstats.survival, computed with R's survival (and cmprsk).
#
# Run from the repository root:  Rscript tests/reference/make_survival_reference.R
# Writes tests/reference/survival_*.json and the CSV data the Python tests read, so CI never
# needs R. Every JSON carries the R and package versions in "versions".
#
# Data: R's own lung, veteran, ovarian and colon (exported to CSV here) and a small simulated
# ADTTE-like table (survival_sim_adtte.csv) with integer-day ties, a three-arm factor whose
# reference level (PLACEBO) is not alphabetically first, censoring at event times, interval
# bounds TLOWER/TUPPER and a competing event code EVENTCD.
#
# Not available in Debian (so not used): survRM2 (its difference/ratio formulas are reproduced
# below from its source, rmst1()/rmst2()), flexsurv (extrapolation references use survreg for
# exponential, weibull, lognormal and loglogistic only).

suppressPackageStartupMessages({
  library(survival)
  library(jsonlite)
  library(cmprsk)
})

out_dir <- "tests/reference"
versions <- list(
  R = R.version.string,
  survival = as.character(packageVersion("survival")),
  cmprsk = as.character(packageVersion("cmprsk")),
  jsonlite = as.character(packageVersion("jsonlite"))
)
write_ref <- function(x, name) {
  x$versions <- versions
  writeLines(toJSON(x, digits = NA, auto_unbox = TRUE, na = "null", null = "null",
                    pretty = TRUE),
             file.path(out_dir, paste0("survival_", name, ".json")))
}
na0 <- function(x) ifelse(is.na(x), NA, x)

# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------
lung2 <- lung[, c("inst", "time", "status", "age", "sex", "ph.ecog")]
lung2$event <- as.integer(lung2$status == 2)
write.csv(lung2, file.path(out_dir, "survival_lung.csv"), row.names = FALSE, na = "")
vet <- veteran[, c("trt", "celltype", "time", "status", "karno", "age")]
write.csv(vet, file.path(out_dir, "survival_veteran.csv"), row.names = FALSE)
ova <- ovarian[, c("futime", "fustat", "age", "rx", "resid.ds", "ecog.ps")]
write.csv(ova, file.path(out_dir, "survival_ovarian.csv"), row.names = FALSE)
col2 <- colon[, c("id", "rx", "etype", "time", "status", "age")]
write.csv(col2, file.path(out_dir, "survival_colon.csv"), row.names = FALSE)

set.seed(20240301)
n_arm <- c(PLACEBO = 45, EXOSOME = 40, MINOXIDIL = 35)
arm <- factor(rep(names(n_arm), n_arm), levels = c("PLACEBO", "EXOSOME", "MINOXIDIL"))
n <- length(arm)
rate <- c(PLACEBO = 1 / 150, EXOSOME = 1 / 260, MINOXIDIL = 1 / 200)[as.character(arm)]
age <- round(rnorm(n, 42, 9))
sex <- factor(sample(c("F", "M"), n, replace = TRUE))
t_rel <- ceiling(rexp(n, rate * exp(0.015 * (age - 42))))
t_cmp <- ceiling(rexp(n, 1 / 900))          # discontinuation before relapse (competing)
t_cen <- sample(c(rep(364, 3), ceiling(runif(n - 3, 60, 420))))
aval <- pmin(t_rel, t_cmp, t_cen)
eventcd <- ifelse(aval == t_rel, 1L, ifelse(aval == t_cmp, 2L, 0L))
# censoring at event times: copy a few event times onto censored subjects
cen_idx <- which(eventcd == 0)[1:6]
ev_idx <- which(eventcd == 1)[1:6]
aval[cen_idx] <- aval[ev_idx]
cnsr <- as.integer(eventcd != 1)
# relapse is seen at visits every 28 days: (TLOWER, TUPPER]
tlower <- ifelse(eventcd == 1, 28 * floor((aval - 1) / 28), aval)
tupper <- ifelse(eventcd == 1, 28 * ceiling(aval / 28), NA)
sim <- data.frame(
  USUBJID = sprintf("SIM-%03d", seq_len(n)), PARAMCD = "RELAPSE", ARM = arm, AGE = age,
  SEX = sex, AVAL = aval, CNSR = cnsr, EVENTCD = eventcd, TLOWER = tlower, TUPPER = tupper
)
write.csv(sim, file.path(out_dir, "survival_sim_adtte.csv"), row.names = FALSE, na = "")
sim$EVENT <- 1L - sim$CNSR

# ---------------------------------------------------------------------------------------------
# Kaplan-Meier: tables, medians/quantiles (Brookmeyer-Crowley), summary(times=)
# ---------------------------------------------------------------------------------------------
km_case <- function(formula, data, conf.type, times) {
  f <- survfit(formula, data = data, conf.type = conf.type)
  strata <- if (is.null(f$strata)) rep("all", length(f$time)) else
    rep(sub(".*=", "", names(f$strata)), f$strata)
  q <- quantile(f, probs = c(0.25, 0.5, 0.75))
  tab <- summary(f)$table
  if (is.null(dim(tab))) tab <- t(as.matrix(tab))
  s <- summary(f, times = times, extend = TRUE)
  s_strata <- if (is.null(s$strata)) rep("all", length(s$time)) else sub(".*=", "", as.character(s$strata))
  list(
    conf_type = conf.type,
    table = list(group = strata, time = f$time, n_risk = f$n.risk, n_event = f$n.event,
                 n_censor = f$n.censor, survival = f$surv, std_error = f$std.err * f$surv,
                 conf_low = na0(f$lower), conf_high = na0(f$upper)),
    median = list(median = unname(tab[, "median"]), conf_low = unname(tab[, "0.95LCL"]),
                  conf_high = unname(tab[, "0.95UCL"])),
    quantiles = list(
      quantile = as.vector(t(q$quantile)), conf_low = as.vector(t(q$lower)),
      conf_high = as.vector(t(q$upper))),
    survival_at = list(group = s_strata, time = s$time, n_risk = s$n.risk, survival = s$surv,
                       std_error = s$std.err, conf_low = s$lower, conf_high = s$upper),
    times = times
  )
}
km <- list(
  lung_sex_loglog = km_case(Surv(time, status) ~ sex, lung, "log-log", c(0, 100, 365, 500, 1000)),
  lung_sex_log = km_case(Surv(time, status) ~ sex, lung, "log", c(0, 100, 365, 500, 1000)),
  lung_sex_plain = km_case(Surv(time, status) ~ sex, lung, "plain", c(0, 100, 365, 500, 1000)),
  ovarian_all_loglog = km_case(Surv(futime, fustat) ~ 1, ovarian, "log-log", c(100, 400, 800, 1200)),
  sim_arm_loglog = km_case(Surv(AVAL, EVENT) ~ ARM, sim, "log-log", c(0, 84, 168, 364, 500)),
  sim_arm_log = km_case(Surv(AVAL, EVENT) ~ ARM, sim, "log", c(0, 84, 168, 364, 500)),
  sim_arm_plain = km_case(Surv(AVAL, EVENT) ~ ARM, sim, "plain", c(0, 84, 168, 364, 500))
)
# a 90% level (conf.int = 0.90), log-log
km$sim_arm_loglog_level90 <- local({
  f <- survfit(Surv(AVAL, EVENT) ~ ARM, data = sim, conf.type = "log-log", conf.int = 0.90)
  q <- quantile(f, probs = 0.5)
  list(conf_low = na0(f$lower), conf_high = na0(f$upper),
       median_low = unname(q$lower[, 1]), median_high = unname(q$upper[, 1]))
})
# number at risk / events / censored per interval at tick times (survminer-style risk table)
risk_case <- function(time, status, group, ticks) {
  rows <- list()
  for (g in levels(group)) {
    tt <- time[group == g]; ss <- status[group == g]
    rows[[g]] <- data.frame(group = g, time = ticks,
      n_risk = sapply(ticks, function(x) sum(tt >= x)),
      n_event = sapply(seq_along(ticks), function(i) sum(ss == 1 & tt <= ticks[i] &
                                                         (i == 1 | tt > ticks[max(i - 1, 1)]))),
      n_censor = sapply(seq_along(ticks), function(i) sum(ss == 0 & tt <= ticks[i] &
                                                          (i == 1 | tt > ticks[max(i - 1, 1)]))))
  }
  as.list(do.call(rbind, rows))
}
km$sim_risk_table <- risk_case(sim$AVAL, sim$EVENT, sim$ARM, c(0, 91, 182, 273, 364))
write_ref(km, "km")

# ---------------------------------------------------------------------------------------------
# Log-rank (survdiff): k-sample, stratified, rho; pairwise vs reference with Holm
# ---------------------------------------------------------------------------------------------
sd_case <- function(sd) {
  list(statistic = sd$chisq, df = length(sd$n) - 1,
       p_value = pchisq(sd$chisq, length(sd$n) - 1, lower.tail = FALSE),
       n = as.vector(sd$n), observed = as.vector(if (is.matrix(sd$obs)) rowSums(sd$obs) else sd$obs),
       expected = as.vector(if (is.matrix(sd$exp)) rowSums(sd$exp) else sd$exp),
       variance = diag(sd$var))
}
lr <- list(
  lung_sex = sd_case(survdiff(Surv(time, status) ~ sex, data = lung)),
  lung_sex_rho1 = sd_case(survdiff(Surv(time, status) ~ sex, data = lung, rho = 1)),
  veteran_celltype = sd_case(survdiff(Surv(time, status) ~ celltype, data = veteran)),
  veteran_trt_strata = sd_case(survdiff(Surv(time, status) ~ trt + strata(celltype), data = veteran)),
  sim_arm = sd_case(survdiff(Surv(AVAL, EVENT) ~ ARM, data = sim)),
  sim_arm_strata_sex = sd_case(survdiff(Surv(AVAL, EVENT) ~ ARM + strata(SEX), data = sim)),
  sim_arm_rho05 = sd_case(survdiff(Surv(AVAL, EVENT) ~ ARM, data = sim, rho = 0.5)),
  sim_arm_strata_sex_rho1 = sd_case(survdiff(Surv(AVAL, EVENT) ~ ARM + strata(SEX), data = sim,
                                             rho = 1))
)
pw <- list()
for (g in c("EXOSOME", "MINOXIDIL")) {
  sub <- sim[sim$ARM %in% c("PLACEBO", g), ]
  sub$ARM <- droplevels(sub$ARM)
  s <- survdiff(Surv(AVAL, EVENT) ~ ARM, data = sub)
  pw[[g]] <- c(statistic = s$chisq, p_value = pchisq(s$chisq, 1, lower.tail = FALSE))
}
lr$sim_pairwise <- list(
  contrast = c("EXOSOME vs PLACEBO", "MINOXIDIL vs PLACEBO"),
  statistic = unname(c(pw$EXOSOME["statistic"], pw$MINOXIDIL["statistic"])),
  p_value = unname(c(pw$EXOSOME["p_value"], pw$MINOXIDIL["p_value"])),
  p_adjusted = p.adjust(unname(c(pw$EXOSOME["p_value"], pw$MINOXIDIL["p_value"])), "holm")
)
write_ref(lr, "logrank")

# ---------------------------------------------------------------------------------------------
# Cox: Efron/Breslow, strata, robust, cluster; cox.zph(transform="km"); concordance
# ---------------------------------------------------------------------------------------------
cox_case <- function(fit) {
  s <- summary(fit)$coefficients
  z <- cox.zph(fit, transform = "km")
  se_col <- if ("robust se" %in% colnames(s)) "robust se" else "se(coef)"
  list(term = rownames(s), estimate = unname(s[, "coef"]), std_error = unname(s[, se_col]),
       statistic = unname(s[, "z"]), p_value = unname(s[, "Pr(>|z|)"]),
       conf_low = unname(exp(confint(fit))[, 1]), conf_high = unname(exp(confint(fit))[, 2]),
       loglik = fit$loglik, concordance = unname(fit$concordance["concordance"]),
       concordance_se = unname(sqrt(fit$concordance["std"]^2)),
       n = fit$n, nevent = fit$nevent,
       zph = list(term = rownames(z$table), statistic = unname(z$table[, "chisq"]),
                  df = unname(z$table[, "df"]), p_value = unname(z$table[, "p"])))
}
lung3 <- lung[!is.na(lung$ph.ecog), ]
cx <- list(
  lung_age_sex_efron = cox_case(coxph(Surv(time, status) ~ age + factor(sex), data = lung)),
  lung_age_sex_breslow = cox_case(coxph(Surv(time, status) ~ age + factor(sex), data = lung,
                                        ties = "breslow")),
  lung_strata_ecog = cox_case(coxph(Surv(time, status) ~ age + factor(sex) + strata(ph.ecog),
                                    data = lung3)),
  lung_robust = cox_case(coxph(Surv(time, status) ~ age + factor(sex), data = lung, robust = TRUE)),
  colon_cluster = cox_case(coxph(Surv(time, status) ~ rx + age, data = colon, cluster = id)),
  veteran_celltype = cox_case(coxph(Surv(time, status) ~ celltype + karno, data = veteran)),
  sim_arm_age = cox_case(coxph(Surv(AVAL, EVENT) ~ ARM + AGE, data = sim)),
  sim_arm_age_breslow = cox_case(coxph(Surv(AVAL, EVENT) ~ ARM + AGE, data = sim, ties = "breslow")),
  sim_arm_strata_sex = cox_case(coxph(Surv(AVAL, EVENT) ~ ARM + strata(SEX), data = sim)),
  sim_arm_x_age = cox_case(coxph(Surv(AVAL, EVENT) ~ ARM * AGE, data = sim)),
  sim_breslow_strata_robust = cox_case(coxph(Surv(AVAL, EVENT) ~ ARM + AGE + strata(SEX),
                                             data = sim, ties = "breslow", robust = TRUE))
)
# a 90% interval (conf.int = 0.90)
cx$sim_arm_age_level90 <- local({
  fit <- coxph(Surv(AVAL, EVENT) ~ ARM + AGE, data = sim)
  ci <- exp(confint(fit, level = 0.90))
  list(term = names(coef(fit)), conf_low = unname(ci[, 1]), conf_high = unname(ci[, 2]))
})
write_ref(cx, "cox")

# ---------------------------------------------------------------------------------------------
# RMST: R print(survfit, rmean=tau) per arm; survRM2 difference / ratio (formulas from its source)
# ---------------------------------------------------------------------------------------------
rmst1 <- function(time, status, tau) {   # survRM2:::rmst1
  ft <- survfit(Surv(time, status) ~ 1)
  idx <- ft$time <= tau
  wk.time <- sort(c(ft$time[idx], tau))
  wk.surv <- ft$surv[idx]
  wk.n.risk <- ft$n.risk[idx]
  wk.n.event <- ft$n.event[idx]
  time.diff <- diff(c(0, wk.time))
  areas <- time.diff * c(1, wk.surv)
  rmst <- sum(areas)
  wk.var <- ifelse((wk.n.risk - wk.n.event) == 0, 0,
                   wk.n.event / (wk.n.risk * (wk.n.risk - wk.n.event)))
  wk.var <- c(wk.var, 0)
  rmst.var <- sum(cumsum(rev(areas[-1]))^2 * rev(wk.var)[-1])
  c(rmst = rmst, var = rmst.var)
}
rmst_case <- function(time, status, arm, tau = NULL) {
  lev <- levels(arm)
  if (is.null(tau)) tau <- min(sapply(lev, function(g) max(time[arm == g])))
  f <- survfit(Surv(time, status) ~ arm)
  tab <- summary(f, rmean = tau)$table
  per <- t(sapply(lev, function(g) rmst1(time[arm == g], status[arm == g], tau)))
  ref <- lev[1]
  z <- qnorm(0.975)
  diffs <- list(); ratios <- list()
  for (g in lev[-1]) {
    d <- per[g, "rmst"] - per[ref, "rmst"]; sd <- sqrt(per[g, "var"] + per[ref, "var"])
    diffs[[g]] <- c(estimate = d, std_error = sd, conf_low = d - z * sd, conf_high = d + z * sd,
                    p_value = 2 * pnorm(-abs(d / sd)))
    lr <- log(per[g, "rmst"]) - log(per[ref, "rmst"])
    sr <- sqrt(per[g, "var"] / per[g, "rmst"]^2 + per[ref, "var"] / per[ref, "rmst"]^2)
    ratios[[g]] <- c(estimate = exp(lr), std_error = sr, conf_low = exp(lr - z * sr),
                     conf_high = exp(lr + z * sr), p_value = 2 * pnorm(-abs(lr / sr)))
  }
  list(tau = tau, arm = lev,
       r_rmean = unname(tab[, "rmean"]), r_se_rmean = unname(tab[, "se(rmean)"]),
       rmst = unname(per[, "rmst"]), std_error = unname(sqrt(per[, "var"])),
       difference = lapply(diffs, as.list), ratio = lapply(ratios, as.list))
}
rm <- list(
  lung_sex_tau500 = rmst_case(lung$time, lung$status - 1, factor(lung$sex), 500),
  lung_sex_default = rmst_case(lung$time, lung$status - 1, factor(lung$sex)),
  sim_arm_tau150 = rmst_case(sim$AVAL, sim$EVENT, sim$ARM, 150),
  sim_arm_default = rmst_case(sim$AVAL, sim$EVENT, sim$ARM)
)
write_ref(rm, "rmst")

# ---------------------------------------------------------------------------------------------
# Competing risks: Aalen-Johansen via survfit(factor status); Gray's test via cmprsk::cuminc
# ---------------------------------------------------------------------------------------------
aj_case <- function(time, code, group, times) {
  st <- factor(code, levels = c(0, 1, 2), labels = c("censor", "relapse", "competing"))
  f <- survfit(Surv(time, st) ~ group)
  s <- summary(f, times = times, extend = TRUE)
  j <- which(f$states == "relapse")
  j2 <- which(f$states == "competing")
  cc <- cuminc(time, code, group, cencode = 0)
  list(group = sub(".*=", "", as.character(s$strata)), time = s$time, n_risk = s$n.risk[, 1],
       estimate = s$pstate[, j], std_error = s$std.err[, j],
       conf_low = s$lower[, j], conf_high = s$upper[, j],
       estimate_competing = s$pstate[, j2], std_error_competing = s$std.err[, j2],
       conf_type = f$conf.type,
       gray = list(cause = c(1, 2), statistic = unname(cc$Tests[, "stat"]),
                   p_value = unname(cc$Tests[, "pv"]), df = unname(cc$Tests[, "df"])))
}
cr <- list(
  sim_arm = aj_case(sim$AVAL, sim$EVENTCD, sim$ARM, c(30, 90, 180, 270, 364)),
  sim_arm_strata_sex = {
    cc <- cuminc(sim$AVAL, sim$EVENTCD, sim$ARM, strata = sim$SEX, cencode = 0)
    list(statistic = unname(cc$Tests[, "stat"]), p_value = unname(cc$Tests[, "pv"]),
         df = unname(cc$Tests[, "df"]))
  },
  sim_arm_rho1 = {
    cc <- cuminc(sim$AVAL, sim$EVENTCD, sim$ARM, rho = 1, cencode = 0)
    list(statistic = unname(cc$Tests[, "stat"]), p_value = unname(cc$Tests[, "pv"]),
         df = unname(cc$Tests[, "df"]))
  }
)
write_ref(cr, "competing")

# ---------------------------------------------------------------------------------------------
# Interval censoring: Turnbull NPMLE (survfit interval2), Weibull AFT (survreg interval2)
# ---------------------------------------------------------------------------------------------
lo <- sim$TLOWER; hi <- sim$TUPPER
tb <- survfit(Surv(lo, hi, type = "interval2") ~ ARM, data = sim)
tb_strata <- rep(sub(".*=", "", names(tb$strata)), tb$strata)
# a lower bound of 0 is left censoring: survreg needs NA there (log(0) is not a valid time)
sr <- survreg(Surv(ifelse(lo == 0, NA, lo), hi, type = "interval2") ~ ARM, data = sim,
              dist = "weibull")
ic <- list(
  turnbull = list(group = tb_strata, time = tb$time, survival = tb$surv),
  weibull = list(term = c(names(coef(sr)), "Log(scale)"),
                 estimate = unname(c(coef(sr), log(sr$scale))),
                 std_error = unname(sqrt(diag(vcov(sr)))), loglik = sr$loglik[2],
                 scale = sr$scale)
)
write_ref(ic, "interval")

# ---------------------------------------------------------------------------------------------
# Extrapolation: per-arm survreg fits (flexsurv unavailable): AIC, BIC, S(t) at 1, 2, 3, 5 years
# ---------------------------------------------------------------------------------------------
ex <- list()
for (d in c("exponential", "weibull", "lognormal", "loglogistic")) {
  for (g in levels(sim$ARM)) {
    sub <- sim[sim$ARM == g, ]
    fit <- survreg(Surv(AVAL, EVENT) ~ 1, data = sub, dist = d)
    t_days <- 365.25 * c(1, 2, 3, 5)
    lp <- coef(fit)[1]
    sc <- fit$scale
    z <- (log(t_days) - lp) / sc
    surv <- switch(d, exponential = exp(-exp(z)), weibull = exp(-exp(z)),
                   lognormal = pnorm(-z), loglogistic = 1 / (1 + exp(z)))
    k <- length(coef(fit)) + (d != "exponential")
    # delta method on g = log(-log S(t)) with dg/dz analytic, z = (log t - mu) / sigma;
    # parameters (mu, log sigma) as survreg's vcov
    dgdz <- switch(d, exponential = rep(1, 4), weibull = rep(1, 4),
                   lognormal = dnorm(z) / (pnorm(-z) * -log(pnorm(-z))),
                   loglogistic = plogis(z) / log1p(exp(z)))
    lg <- log(-log(surv))
    V <- vcov(fit)
    se_g <- sapply(seq_along(z), function(i) {
      grad <- if (d == "exponential") -dgdz[i] / sc else c(-dgdz[i] / sc, -dgdz[i] * z[i])
      sqrt(drop(t(grad) %*% V %*% grad))
    })
    zq <- qnorm(0.975)
    ex[[paste(d, g, sep = "_")]] <- list(
      distribution = d, arm = g, loglik = fit$loglik[2],
      aic = -2 * fit$loglik[2] + 2 * k, bic = -2 * fit$loglik[2] + log(nrow(sub)) * k,
      intercept = unname(lp), scale = sc, years = c(1, 2, 3, 5), survival = unname(surv),
      conf_low = unname(exp(-exp(lg + zq * se_g))), conf_high = unname(exp(-exp(lg - zq * se_g))))
  }
}
write_ref(ex, "extrapolate")
# ---------------------------------------------------------------------------------------------
# The bundled simulated trial datasets/exo-hair-301 (snapshot written next to the JSON, so the
# tests keep their reference if the simulator changes): relapse, ADTTE merged with ADSL
# ---------------------------------------------------------------------------------------------
exo_dir <- "datasets/exo-hair-301"
if (file.exists(file.path(exo_dir, "adtte.csv"))) {
  adtte <- read.csv(file.path(exo_dir, "adtte.csv"))
  adsl <- read.csv(file.path(exo_dir, "adsl.csv"))
  exo <- merge(adtte[adtte$PARAMCD == "RELAPSE", ], adsl[, c("USUBJID", "ARM", "AGE", "SEX")],
               by = "USUBJID", sort = FALSE)
  exo <- exo[order(exo$USUBJID), c("USUBJID", "PARAMCD", "ARM", "AGE", "SEX", "AVAL", "CNSR",
                                   "EVENTCD", "TLOWER", "TUPPER")]
  write.csv(exo, file.path(out_dir, "survival_exo_hair_301.csv"), row.names = FALSE, na = "")
  exo$ARM <- factor(exo$ARM, levels = c("PLACEBO", "EXOSOME", "MINOXIDIL"))
  exo$EVENT <- 1L - exo$CNSR
  lr_exo <- survdiff(Surv(AVAL, EVENT) ~ ARM, data = exo)
  tlo <- exo$TLOWER; thi <- exo$TUPPER
  tb_exo <- survfit(Surv(tlo, thi, type = "interval2") ~ ARM, data = exo)
  write_ref(list(
    source = "datasets/exo-hair-301 (adtte.csv RELAPSE + adsl.csv ARM/AGE/SEX), snapshot survival_exo_hair_301.csv",
    km = km_case(Surv(AVAL, EVENT) ~ ARM, exo, "log-log", c(0, 28, 84, 168, 364)),
    logrank = sd_case(lr_exo),
    cox = cox_case(coxph(Surv(AVAL, EVENT) ~ ARM + AGE, data = exo)),
    rmst = rmst_case(exo$AVAL, exo$EVENT, exo$ARM),
    competing = aj_case(exo$AVAL, exo$EVENTCD, exo$ARM, c(28, 84, 168, 364)),
    turnbull = list(group = rep(sub(".*=", "", names(tb_exo$strata)), tb_exo$strata),
                    time = tb_exo$time, survival = tb_exo$surv)
  ), "exo_hair_301")
}
cat("wrote survival reference JSON to", out_dir, "\n")
