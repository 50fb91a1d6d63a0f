# Reference values for issue 12 (R survival parity), computed with R's survival (and cmprsk).
#
# Run from the repository root:  Rscript tests/reference/make_survival_parity_reference.R
# Writes tests/reference/survival_parity.json, read by tests/test_survival_parity_*.py, so CI
# never needs R. The JSON carries the R and package versions in "versions", and the small data
# sets themselves (column lists) under "data".
#
# Data: R survival's own data sets (aml, ovarian, lung, colon, cgd, bladder) and small
# hand-worked examples:
# - test1 / test2: Therneau & Grambsch (2000), "Modeling Survival Data", Appendix E.1 / E.2
#   (the closed-form examples of survival's tests/book1.R ... book6.R); test1's censored row
#   with a missing status is dropped here.
# - lr_nogroup: issue 12's reproducer (survival's tests/difftest.R, a group with no expected
#   events is dropped from the test).
# - fpties: times tied only up to rounding (2 and sqrt(2)^2, 0.3 and 0.1 * 3), as
#   handled by R survival's aeqSurv(). JSON keeps 15 significant digits, which rounds these ties away:
#   the Python test rebuilds the times with the same floating-point operations.

suppressPackageStartupMessages({
  library(survival)
  library(jsonlite)
  library(cmprsk)
})

out_file <- "tests/reference/survival_parity.json"
ref <- list()
ref$versions <- list(
  R = R.version.string,
  survival = as.character(packageVersion("survival")),
  cmprsk = as.character(packageVersion("cmprsk")),
  jsonlite = as.character(packageVersion("jsonlite"))
)
un <- function(x) unname(x)

# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------
test1 <- data.frame(time = c(9, 1, 1, 6, 6, 8), status = c(1, 1, 0, 1, 1, 0),
                    x = c(0, 1, 1, 1, 0, 0))
test2 <- data.frame(start = c(1, 2, 5, 2, 1, 7, 3, 4, 8, 8),
                    stop = c(2, 3, 6, 7, 8, 9, 9, 9, 14, 17),
                    event = c(1, 1, 1, 1, 1, 1, 1, 0, 0, 0),
                    x = c(1, 0, 0, 1, 0, 1, 1, 1, 0, 0))
lr_nogroup <- data.frame(time = c(1, 2, 3, 4, 5, 6, .5, .5), status = c(1, 0, 1, 1, 1, 0, 0, 0),
                         arm = c("A", "A", "A", "B", "B", "B", "C", "C"))
fpties <- data.frame(time = c(2, sqrt(2)^2, 1, 3, 0.1 * 3, 0.3, 4, 5, 2, 1.5),
                     status = c(1, 1, 0, 1, 1, 1, 0, 1, 1, 1),
                     arm = c("A", "B", "A", "B", "A", "B", "A", "B", "A", "B"),
                     x = c(0.5, 1.2, -0.3, 0.8, 2.1, -1.0, 0.0, 1.5, -0.7, 0.4))
aml2 <- data.frame(time = aml$time, status = aml$status,
                   x = as.character(aml$x))
one_event <- data.frame(time = c(1, 2, 3, 4, 5), status = c(0, 1, 0, 0, 0),
                        x = c(1.0, 2.5, 0.2, 3.1, 1.7))
ova <- ovarian[, c("futime", "fustat", "age", "rx", "resid.ds", "ecog.ps")]
ref$data <- list(test1 = test1, test2 = test2, lr_nogroup = lr_nogroup,
                 fpties = fpties, aml = aml2, one_event = one_event, ovarian = ova)

cox_out <- function(fit) {
  list(term = names(coef(fit)), estimate = un(coef(fit)),
       std_error = un(sqrt(diag(fit$var))),  # vcov(fit): exact + (start, stop] has no class
       naive_std_error = un(sqrt(diag(if (is.null(fit$naive.var)) fit$var else fit$naive.var))),
       loglik = fit$loglik, score = un(fit$score), n = fit$n, nevent = fit$nevent)
}

# ---------------------------------------------------------------------------------------------
# 1. The three failures of issue 12
# ---------------------------------------------------------------------------------------------
sd_out <- function(s) {
  list(statistic = s$chisq, df = sum(s$exp > 0) - 1, observed = un(s$obs),
       expected = un(s$exp), variance = un(diag(s$var)))
}
f1 <- list()
# (a) a group with no expected events: survdiff drops it
f1$lr_nogroup <- sd_out(survdiff(Surv(time, status) ~ arm, data = lr_nogroup))
f1$lr_nogroup_AB <- sd_out(survdiff(Surv(time, status) ~ arm, data = lr_nogroup,
                                   subset = arm != "C"))
# (b) Efron fits converged tightly (relative log-likelihood change 1e-12, not 1e-9)
tight <- coxph.control(eps = 1e-12, toler.chol = 1e-13, iter.max = 100)
f1$efron_one_event <- cox_out(coxph(Surv(time, status) ~ x, data = one_event, control = tight))
f1$efron_aml <- cox_out(coxph(Surv(time, status) ~ x, data = aml2, control = tight))
f1$efron_test1 <- cox_out(coxph(Surv(time, status) ~ x, data = test1, control = tight))
f1$efron_ovarian <- cox_out(coxph(Surv(futime, fustat) ~ age + factor(rx) + ecog.ps,
                                  data = ova, control = tight))
# (c) floating-point ties (aeqSurv)
km <- survfit(Surv(time, status) ~ 1, data = fpties)
f1$fp_km <- list(time = km$time, n_risk = km$n.risk, n_event = km$n.event,
                 survival = km$surv, std_err = km$std.err)
f1$fp_logrank <- sd_out(survdiff(Surv(time, status) ~ arm, data = fpties))
f1$fp_cox <- cox_out(coxph(Surv(time, status) ~ x, data = fpties, control = tight))
f1$fp_cox_breslow <- cox_out(coxph(Surv(time, status) ~ x, data = fpties, ties = "breslow",
                                   control = tight))
ref$fixes <- f1

# ---------------------------------------------------------------------------------------------
# 2. Nelson-Aalen (survfit cumhaz / std.chaz), the Cox score test, cox.zph transforms
# ---------------------------------------------------------------------------------------------
lung4 <- lung[, c("time", "status", "age", "sex", "ph.ecog", "inst")]
lung4$event <- as.integer(lung4$status == 2)
ref$data$lung <- lung4
na_out <- function(s) {
  strata <- if (is.null(s$strata)) rep("all", length(s$time)) else
    rep(sub(".*=", "", names(s$strata)), s$strata)
  list(group = strata, time = s$time, n_risk = s$n.risk, n_event = s$n.event,
       cumhaz = s$cumhaz, std_error = s$std.chaz)
}
f2 <- list()
f2$na_aml <- na_out(survfit(Surv(time, status) ~ 1, data = aml2, ctype = 1))
f2$na_aml_fh <- na_out(survfit(Surv(time, status) ~ 1, data = aml2, ctype = 2))
f2$na_lung_sex <- na_out(survfit(Surv(time, event) ~ sex, data = lung4, ctype = 1))
f2$na_lung_sex_fh <- na_out(survfit(Surv(time, event) ~ sex, data = lung4, ctype = 2))
zph_out <- function(fit) {
  out <- list()
  for (tr in c("identity", "log", "km", "rank")) {
    z <- cox.zph(fit, transform = tr)
    out[[tr]] <- list(term = rownames(z$table), statistic = un(z$table[, "chisq"]),
                      df = un(z$table[, "df"]), p_value = un(z$table[, "p"]))
  }
  out
}
score_zph <- function(fit) {
  c(cox_out(fit), list(score_p = un(summary(fit)$sctest["pvalue"]), zph = zph_out(fit)))
}
lung5 <- lung4[!is.na(lung4$ph.ecog), ]
f2$lung_efron <- score_zph(coxph(Surv(time, event) ~ age + factor(sex) + factor(ph.ecog),
                                 data = lung5[lung5$ph.ecog < 3, ], control = tight))
f2$lung_breslow <- score_zph(coxph(Surv(time, event) ~ age + factor(sex), data = lung4,
                                   ties = "breslow", control = tight))
f2$lung_strata <- score_zph(coxph(Surv(time, event) ~ age + factor(sex) + strata(ph.ecog),
                                  data = lung5, control = tight))
f2$ovarian <- score_zph(coxph(Surv(futime, fustat) ~ age + factor(rx) + ecog.ps, data = ova,
                              control = tight))
ref$part2 <- f2

# ---------------------------------------------------------------------------------------------
# 3. residuals.coxph, survfit.coxph (baseline at the means, and for new data), predict.coxph
# ---------------------------------------------------------------------------------------------
set.seed(12)
lung4$wt <- round(runif(nrow(lung4), 0.5, 2), 2)   # case weights for part 4
ref$data$lung <- lung4
resid_out <- function(fit) {
  out <- list()
  for (ty in c("martingale", "deviance", "score", "schoenfeld", "scaledsch", "dfbeta",
               "dfbetas")) {
    r <- residuals(fit, type = ty)
    out[[ty]] <- if (is.matrix(r)) lapply(seq_len(ncol(r)), function(j) un(r[, j])) else
      list(un(r))
  }
  out
}
sf_out <- function(s) {
  strata <- if (is.null(s$strata)) rep("all", length(s$time)) else
    rep(sub(".*=", "", names(s$strata)), s$strata)
  list(group = strata, time = s$time, n_risk = s$n.risk, n_event = s$n.event,
       cumhaz = un(s$cumhaz), survival = un(s$surv), std_err = un(s$std.err),
       lower = un(s$lower), upper = un(s$upper))
}
newd <- data.frame(age = c(50, 70, 62), sex = c(1, 2, 2), ph.ecog = c(0, 1, 2))
part3_case <- function(fit, newdata) {
  c(cox_out(fit),
    list(means = un(fit$means), residuals = resid_out(fit), baseline = sf_out(survfit(fit)),
         lp = un(predict(fit, newdata, type = "lp")),
         risk = un(predict(fit, newdata, type = "risk")),
         newdata_surv = lapply(seq_len(nrow(newdata)), function(i)
           sf_out(survfit(fit, newdata = newdata[i, , drop = FALSE])))))
}
f3 <- list()
f3$lung_efron <- part3_case(coxph(Surv(time, event) ~ age + factor(sex), data = lung4,
                                  control = tight), newd)
f3$lung_breslow <- part3_case(coxph(Surv(time, event) ~ age + factor(sex), data = lung4,
                                    ties = "breslow", control = tight), newd)
f3$lung_strata <- part3_case(coxph(Surv(time, event) ~ age + factor(sex) + strata(ph.ecog),
                                   data = lung5[lung5$ph.ecog < 3, ], control = tight),
                             newd)
f3$test2 <- part3_case(coxph(Surv(start, stop, event) ~ x, data = test2, control = tight),
                       data.frame(x = c(0, 1)))
f3$lung_weighted <- part3_case(coxph(Surv(time, event) ~ age + factor(sex), data = lung4,
                                     weights = wt, control = tight), newd)
ref$part3 <- f3

# ---------------------------------------------------------------------------------------------
# 4. Case weights, ties = "exact", counting-process data (Andersen-Gill, time-dependent)
# ---------------------------------------------------------------------------------------------
f4 <- list()
ova$w <- c(1, 2, 1, 3, 1, 1, 2, 1, 1, 2, 1, 1, 3, 1, 1, 2, 1, 1, 1, 2, 1, 1, 2, 1, 1, 1)
ref$data$ovarian <- ova
km_w <- function(s) list(time = s$time, n_risk = s$n.risk, n_event = s$n.event,
                         survival = s$surv, std_err = s$std.err)
# non-integer weights: R's default SE is then the infinitesimal jackknife (robust = TRUE;
# std.err is then the SE of S, logse = FALSE); robust = FALSE is weighted Greenwood
f4$km_lung_wt_greenwood <- km_w(survfit(Surv(time, event) ~ 1, data = lung4, weights = wt,
                                        robust = FALSE))
f4$km_lung_wt <- km_w(survfit(Surv(time, event) ~ 1, data = lung4, weights = wt))
f4$km_lung_wt$logse <- survfit(Surv(time, event) ~ 1, data = lung4, weights = wt)$logse
f4$km_lung_sex_robust <- local({
  s <- survfit(Surv(time, event) ~ sex, data = lung4, robust = TRUE)
  c(km_w(s), list(logse = s$logse, lower = s$lower, upper = s$upper))
})
f4$km_ovarian_w <- km_w(survfit(Surv(futime, fustat) ~ 1, data = ova, weights = w))
f4$na_lung_wt <- na_out(survfit(Surv(time, event) ~ 1, data = lung4, weights = wt))
f4$na_lung_wt_plain <- na_out(survfit(Surv(time, event) ~ 1, data = lung4, weights = wt,
                                      robust = FALSE))
f4$na_lung_sex_robust <- na_out(survfit(Surv(time, event) ~ sex, data = lung4, robust = TRUE))
f4$cox_lung_wt <- local({
  fit <- coxph(Surv(time, event) ~ age + factor(sex), data = lung4, weights = wt,
               control = tight)
  c(cox_out(fit), list(zph = zph_out(fit)))
})
f4$cox_lung_wt_breslow <- cox_out(coxph(Surv(time, event) ~ age + factor(sex), data = lung4,
                                        weights = wt, ties = "breslow", control = tight))
# integer weights: R's default is the model-based SE (not robust)
f4$cox_ovarian_w <- cox_out(coxph(Surv(futime, fustat) ~ age + ecog.ps, data = ova,
                                  weights = w, control = tight))
# integer weights = replicated rows (closed form check in the Python test)
f4$cox_ovarian_w_rep <- cox_out(coxph(Surv(futime, fustat) ~ age + ecog.ps,
                                      data = ova[rep(seq_len(nrow(ova)), ova$w), ],
                                      control = tight))
# exact partial likelihood
lung_int <- lung4
lung_int$time30 <- ceiling(lung_int$time / 30)     # months: many ties
ref$data$lung <- lung_int
f4$exact_lung_month <- cox_out(coxph(Surv(time30, event) ~ age + factor(sex), data = lung_int,
                                     ties = "exact", control = tight))
f4$exact_test2 <- cox_out(coxph(Surv(start, stop, event) ~ x, data = test2, ties = "exact",
                                control = tight))
f4$exact_aml <- local({
  fit <- coxph(Surv(time, status) ~ x, data = aml2, ties = "exact", control = tight)
  c(cox_out(fit), list(martingale = un(residuals(fit, "martingale")),
                       baseline = sf_out(survfit(fit))))
})
# counting process: bladder recurrences (Andersen-Gill, robust by id), cgd, heart transplant
bl <- bladder2[, c("id", "rx", "number", "size", "start", "stop", "event", "enum")]
cg <- cgd[, c("id", "treat", "inherit", "steroids", "age", "tstart", "tstop", "status")]
cg$treat <- as.character(cg$treat)
cg$inherit <- as.character(cg$inherit)
hr <- heart[, c("id", "start", "stop", "event", "age", "year", "surgery", "transplant")]
hr$transplant <- as.integer(as.character(hr$transplant))
ref$data$bladder2 <- bl
ref$data$cgd <- cg
ref$data$heart <- hr
ag_out <- function(fit) {
  z <- cox.zph(fit, transform = "km")
  c(cox_out(fit), list(martingale = un(residuals(fit, "martingale")),
                       zph = list(statistic = un(z$table[, "chisq"]))))
}
f4$ag_bladder <- ag_out(coxph(Surv(start, stop, event) ~ rx + number + size + cluster(id),
                              data = bl, control = tight))
f4$ag_bladder_breslow <- ag_out(coxph(Surv(start, stop, event) ~ rx + number + size +
                                        cluster(id), data = bl, ties = "breslow",
                                      control = tight))
f4$ag_cgd <- ag_out(coxph(Surv(tstart, tstop, status) ~ treat + inherit + steroids +
                            cluster(id), data = cg, control = tight))
f4$ag_cgd_strata <- ag_out(coxph(Surv(tstart, tstop, status) ~ treat + inherit + age +
                                   strata(steroids) + cluster(id), data = cg, control = tight))
f4$td_heart <- ag_out(coxph(Surv(start, stop, event) ~ age + year + surgery + transplant,
                            data = hr, control = tight))
ref$part4 <- f4

# ---------------------------------------------------------------------------------------------
# 5. Fine-Gray subdistribution hazards: finegray() + weighted coxph, and cmprsk::crr
# ---------------------------------------------------------------------------------------------
# mgus2 as in survival's "compete" vignette: progression (1) vs death (2) as competing events
mg <- mgus2[, c("id", "age", "sex", "futime", "ptime", "pstat", "death")]
mg$etime <- with(mg, ifelse(pstat == 0, futime, ptime))
mg$event <- with(mg, ifelse(pstat == 0, 2 * death, 1))
mg <- mg[, c("id", "age", "sex", "etime", "event")]
ref$data$mgus2 <- mg
sim <- read.csv("tests/reference/survival_sim_adtte.csv")
sim$ARM <- factor(sim$ARM, levels = c("PLACEBO", "EXOSOME", "MINOXIDIL"))
fg_case <- function(data, time, code, rhs, cause, ties = "efron") {
  d <- data
  d$.t <- d[[time]]
  d$.e <- factor(d[[code]], levels = sort(unique(d[[code]])))
  fg <- finegray(Surv(.t, .e) ~ ., data = d, etype = as.character(cause))
  fit <- coxph(as.formula(paste("Surv(fgstart, fgstop, fgstatus) ~", rhs)), data = fg,
               weights = fgwt, ties = ties, control = tight)
  xm <- model.matrix(as.formula(paste("~", rhs)), data)[, -1, drop = FALSE]
  cr <- crr(data[[time]], data[[code]], xm, failcode = cause, cencode = 0)
  nd <- data[1:2, , drop = FALSE]   # curves (1 - cumulative incidence) for two subjects
  list(finegray = c(cox_out(fit), list(n_rows = nrow(fg), fgwt_sum = sum(fg$fgwt),
                                       curves = lapply(1:2, function(i)
                                         sf_out(survfit(fit, newdata = nd[i, , drop = FALSE]))))),
       crr = list(estimate = un(cr$coef), std_error = un(sqrt(diag(cr$var)))))
}
f5 <- list()
f5$mgus2_pcm <- fg_case(mg, "etime", "event", "age + sex", 1)
f5$mgus2_death <- fg_case(mg, "etime", "event", "age + sex", 2)
f5$mgus2_pcm_breslow <- fg_case(mg, "etime", "event", "age + sex", 1, ties = "breslow")
f5$sim_relapse <- fg_case(sim, "AVAL", "EVENTCD", "ARM + AGE", 1)
ref$part5 <- f5

writeLines(toJSON(ref, digits = NA, auto_unbox = TRUE, na = "null", null = "null",
                  dataframe = "columns", pretty = TRUE), out_file)
