# Real-trial fixtures for trialstats (issue 8, item 8), and their headline numbers from R.
#
# Builds two ADaM-style trial folders from public trials that no one on the project wrote:
#   tests/data/real/colon/           survival::colon: adjuvant chemotherapy of stage B/C colon
#                                    cancer (Moertel et al. 1990), arms Obs / Lev / Lev+5FU;
#                                    recurrence and death, time in days from randomisation.
#                                    ADSL + ADTTE (no ADEFF, no ADAE: the trial has none).
#   tests/data/real/pbc/             survival::pbc (Mayo Clinic PBC trial, 312 randomised):
#                                    death, liver transplant as a competing event. ADSL + ADTTE.
#   tests/data/real/antidepressant/  rbmi::antidepressant_data (the shared CSV in
#                                    /work/shared/reference/rbmi/): HAMD-17 total score, change
#                                    from baseline at weeks 1, 2, 4, 6 (VISIT 4-7), DRUG vs
#                                    PLACEBO. ADSL + ADEFF (BDS, with baseline rows).
#                                    Its sap.toml (an estimand, issue 9) is hand-written,
#                                    not made here.
# and writes tests/reference/real_trials.json with:
#   colon: Kaplan-Meier medians (log-log intervals, as trialstats' default), log-rank (survdiff),
#          Cox (Efron) hazard ratios of each arm vs Obs and of Lev+5FU vs Lev, RMST per arm up
#          to day 1825 and to the report's default horizon (rmst_tau), per PARAMCD;
#   pbc: Kaplan-Meier medians, log-rank and the Cox hazard ratio of death;
#   antidepressant: MMRM (unstructured covariance, REML) via nlme::gls(corSymm + varIdent), the
#          LS-mean difference DRUG - PLACEBO at each visit (emmeans), with the fixed effects.
#
# Run from the repository root:  Rscript tests/reference/make_real_trials.R
suppressPackageStartupMessages({
  library(survival); library(nlme); library(emmeans); library(jsonlite)
})
out_data <- "tests/data/real"
out_json <- "tests/reference/real_trials.json"
rbmi_csv <- "/work/shared/reference/rbmi/antidepressant_data.csv"

write_tbl <- function(df, path) write.csv(df, path, row.names = FALSE, na = "")

# ------------------------------------------------------------------ colon
dir.create(file.path(out_data, "colon"), recursive = TRUE, showWarnings = FALSE)
colon <- survival::colon
arm_code <- c("Obs" = "OBS", "Lev" = "LEV", "Lev+5FU" = "LEV5FU")
col1 <- colon[colon$etype == 1, ]
col1 <- col1[order(col1$id), ]
adsl_c <- data.frame(
  STUDYID = "COLON", USUBJID = sprintf("COLON-%04d", col1$id), SUBJID = col1$id,
  ARM = unname(arm_code[as.character(col1$rx)]),
  AGE = col1$age, SEX = ifelse(col1$sex == 1, "M", "F"),
  OBSTRUCT = col1$obstruct, PERFOR = col1$perfor, ADHERE = col1$adhere,
  NODES = col1$nodes, DIFFER = col1$differ, EXTENT = col1$extent, SURG = col1$surg,
  NODE4 = col1$node4, ITTFL = "Y", stringsAsFactors = FALSE)
write_tbl(adsl_c, file.path(out_data, "colon", "adsl.csv"))
tte <- colon[order(colon$id, colon$etype), ]
is_rec <- tte$etype == 1
adtte_c <- data.frame(
  STUDYID = "COLON", USUBJID = sprintf("COLON-%04d", tte$id),
  PARAMCD = ifelse(is_rec, "RECURR", "DEATH"),
  PARAM = ifelse(is_rec, "Time to recurrence (days)", "Time to death from any cause (days)"),
  AVAL = tte$time, CNSR = 1L - tte$status, EVENTCD = tte$status,
  EVNTDESC = ifelse(tte$status == 1, ifelse(is_rec, "RECURRENCE", "DEATH"),
                    ifelse(is_rec, "CENSORED: NO RECURRENCE SEEN", "CENSORED: ALIVE AT LAST CONTACT")),
  stringsAsFactors = FALSE)
write_tbl(adtte_c, file.path(out_data, "colon", "adtte.csv"))
writeLines(c(
  'id = "COLON"',
  'title = "Adjuvant levamisole and fluorouracil in resected colon cancer (survival::colon; Moertel et al. 1990)"',
  'simulated = false',
  'description = "Stage B/C colon cancer, randomised after resection to observation, levamisole, or levamisole plus 5-FU. Time from randomisation to recurrence and to death. Data: R package survival, data set colon."',
  '',
  '[arms]',
  'reference = "OBS"',
  'codes = { OBS = "Observation", LEV = "Levamisole", LEV5FU = "Levamisole + 5-FU" }',
  '',
  '[tables]',
  'adsl = "adsl.csv"',
  'adtte = "adtte.csv"',
  '',
  '[endpoints]',
  'relapse = { paramcd = "RECURR" }',
  'death = { paramcd = "DEATH" }'), file.path(out_data, "colon", "trial.toml"))

km_block <- function(d) {
  fit <- survfit(Surv(AVAL, 1 - CNSR) ~ ARM, data = d, conf.type = "log-log")
  tab <- summary(fit)$table
  arms <- sub("^ARM=", "", rownames(tab))
  lr <- survdiff(Surv(AVAL, 1 - CNSR) ~ ARM, data = d)
  cx <- coxph(Surv(AVAL, 1 - CNSR) ~ ARM, data = d, ties = "efron")
  d2 <- d; d2$ARM <- relevel(d2$ARM, ref = "LEV")
  cx2 <- coxph(Surv(AVAL, 1 - CNSR) ~ ARM, data = d2, ties = "efron")
  sc <- summary(cx); sc2 <- summary(cx2)
  rm <- summary(fit, rmean = 1825)$table
  # the report's default RMST horizon: the last day every arm is still followed (the minimum
  # over arms of the largest time, rounded down), see trialstats.report._plan_limits
  tau <- floor(min(tapply(d$AVAL, d$ARM, max)))
  rm_tau <- summary(fit, rmean = tau)$table
  list(
    n_events = unname(tab[, "events"]),
    km = list(arm = arms, median = unname(tab[, "median"]),
              conf_low = unname(tab[, "0.95LCL"]), conf_high = unname(tab[, "0.95UCL"])),
    logrank = list(statistic = lr$chisq, df = length(lr$n) - 1,
                   p_value = pchisq(lr$chisq, length(lr$n) - 1, lower.tail = FALSE)),
    cox = list(term = rownames(sc$coefficients), estimate = unname(sc$coefficients[, "coef"]),
               std_error = unname(sc$coefficients[, "se(coef)"]),
               hazard_ratio = unname(sc$conf.int[, "exp(coef)"]),
               conf_low = unname(sc$conf.int[, "lower .95"]),
               conf_high = unname(sc$conf.int[, "upper .95"]),
               p_value = unname(sc$coefficients[, "Pr(>|z|)"])),
    cox_vs_lev = list(term = rownames(sc2$coefficients),
                      hazard_ratio = unname(sc2$conf.int[, "exp(coef)"]),
                      std_error = unname(sc2$coefficients[, "se(coef)"]),
                      conf_low = unname(sc2$conf.int[, "lower .95"]),
                      conf_high = unname(sc2$conf.int[, "upper .95"]),
                      p_value = unname(sc2$coefficients[, "Pr(>|z|)"])),
    rmst_1825 = list(arm = arms, rmst = unname(rm[, "rmean"]), std_error = unname(rm[, "se(rmean)"])),
    rmst_tau = list(tau = tau, arm = arms, rmst = unname(rm_tau[, "rmean"]),
                    std_error = unname(rm_tau[, "se(rmean)"]))
  )
}
adtte_c$ARM <- factor(adsl_c$ARM[match(adtte_c$USUBJID, adsl_c$USUBJID)],
                      levels = c("OBS", "LEV", "LEV5FU"))
colon_out <- list(
  RECURR = km_block(adtte_c[adtte_c$PARAMCD == "RECURR", ]),
  DEATH = km_block(adtte_c[adtte_c$PARAMCD == "DEATH", ]))

# ------------------------------------------------------------------ pbc
# survival::pbc, the 312 randomised subjects (Mayo Clinic trial of D-penicillamine vs placebo):
# death with liver transplant as a competing event (EVENTCD 2). Added because its ADSL has a
# STAGE column (histologic stage 1-4), which Table 1 had labelled with the bundled trials' hair
# stages.
dir.create(file.path(out_data, "pbc"), recursive = TRUE, showWarnings = FALSE)
pb <- survival::pbc[!is.na(survival::pbc$trt), ]
pb <- pb[order(pb$id), ]
adsl_p <- data.frame(
  STUDYID = "PBC", USUBJID = sprintf("PBC-%03d", pb$id), ARM = ifelse(pb$trt == 1, "DPCA", "PLACEBO"),
  AGE = round(pb$age, 1), SEX = toupper(as.character(pb$sex)), STAGE = pb$stage, EDEMA = pb$edema,
  BILI = pb$bili, ALBUMIN = pb$albumin, ITTFL = "Y", stringsAsFactors = FALSE)
write_tbl(adsl_p, file.path(out_data, "pbc", "adsl.csv"))
adtte_p <- data.frame(
  STUDYID = "PBC", USUBJID = adsl_p$USUBJID, PARAMCD = "DEATH", PARAM = "Time to death (days)",
  AVAL = pb$time, CNSR = as.integer(pb$status != 2),
  EVENTCD = ifelse(pb$status == 2, 1L, ifelse(pb$status == 1, 2L, 0L)),
  EVNTDESC = ifelse(pb$status == 2, "DEATH", ifelse(pb$status == 1, "LIVER TRANSPLANT", "CENSORED: ALIVE")),
  stringsAsFactors = FALSE)
write_tbl(adtte_p, file.path(out_data, "pbc", "adtte.csv"))
writeLines(c(
  'id = "PBC"',
  'title = "Primary biliary cirrhosis: D-penicillamine vs placebo (survival::pbc, Mayo Clinic)"',
  'simulated = false',
  '',
  '[arms]',
  'reference = "PLACEBO"',
  'codes = { PLACEBO = "Placebo", DPCA = "D-penicillamine" }',
  '',
  '[tables]',
  'adsl = "adsl.csv"',
  'adtte = "adtte.csv"',
  '',
  '[endpoints]',
  'death = { paramcd = "DEATH" }'), file.path(out_data, "pbc", "trial.toml"))
adtte_p$ARM <- factor(adsl_p$ARM, levels = c("PLACEBO", "DPCA"))
fit_p <- survfit(Surv(AVAL, 1 - CNSR) ~ ARM, data = adtte_p, conf.type = "log-log")
tab_p <- summary(fit_p)$table
cx_p <- summary(coxph(Surv(AVAL, 1 - CNSR) ~ ARM, data = adtte_p, ties = "efron"))
lr_p <- survdiff(Surv(AVAL, 1 - CNSR) ~ ARM, data = adtte_p)
pbc_out <- list(
  km = list(arm = sub("^ARM=", "", rownames(tab_p)), median = unname(tab_p[, "median"]),
            conf_low = unname(tab_p[, "0.95LCL"]), conf_high = unname(tab_p[, "0.95UCL"])),
  logrank = list(statistic = lr_p$chisq, df = length(lr_p$n) - 1),
  cox = list(hazard_ratio = unname(cx_p$conf.int[, "exp(coef)"]),
             std_error = unname(cx_p$coefficients[, "se(coef)"]),
             p_value = unname(cx_p$coefficients[, "Pr(>|z|)"])))

# ------------------------------------------------------------------ antidepressant
dir.create(file.path(out_data, "antidepressant"), recursive = TRUE, showWarnings = FALSE)
raw <- read.csv(rbmi_csv, colClasses = c(PATIENT = "character", VISIT = "character",
                                         POOLINV = "character"))
week <- c("4" = 1, "5" = 2, "6" = 4, "7" = 6)
subj <- raw[!duplicated(raw$PATIENT), ]
subj <- subj[order(subj$PATIENT), ]
last_visit <- tapply(as.integer(raw$VISIT), raw$PATIENT, max)
adsl_a <- data.frame(
  STUDYID = "ANTIDEPRESSANT", USUBJID = paste0("AD-", subj$PATIENT), SUBJID = subj$PATIENT,
  SITEID = subj$POOLINV, ARM = subj$THERAPY, SEX = subj$GENDER, BASEHAMD = subj$BASVAL,
  ITTFL = "Y",
  EOSSTT = ifelse(last_visit[subj$PATIENT] == 7, "COMPLETED", "DISCONTINUED"),
  stringsAsFactors = FALSE)
write_tbl(adsl_a, file.path(out_data, "antidepressant", "adsl.csv"))
base_rows <- data.frame(USUBJID = adsl_a$USUBJID, PARAMCD = "HAMD17",
                        PARAM = "HAMD-17 total score", AVISIT = "BASELINE", AVISITN = 0,
                        AVAL = subj$BASVAL, BASE = subj$BASVAL, CHG = NA, ABLFL = "Y",
                        stringsAsFactors = FALSE)
post_rows <- data.frame(USUBJID = paste0("AD-", raw$PATIENT), PARAMCD = "HAMD17",
                        PARAM = "HAMD-17 total score",
                        AVISIT = paste("WEEK", week[raw$VISIT]), AVISITN = unname(week[raw$VISIT]),
                        AVAL = raw$HAMDTL17, BASE = raw$BASVAL, CHG = raw$CHANGE, ABLFL = "N",
                        stringsAsFactors = FALSE)
adeff_a <- rbind(base_rows, post_rows)
adeff_a <- adeff_a[order(adeff_a$USUBJID, adeff_a$AVISITN), ]
write_tbl(adeff_a, file.path(out_data, "antidepressant", "adeff.csv"))
writeLines(c(
  'id = "ANTIDEPRESSANT"',
  'title = "Antidepressant trial: HAMD-17 change from baseline over 6 weeks (rbmi::antidepressant_data)"',
  'simulated = false',
  'description = "Randomised comparison of an active drug with placebo in major depression; HAMD-17 total score at baseline and weeks 1, 2, 4 and 6. Data: R package rbmi, data set antidepressant_data (originally from the DIA Missing Data Working Group)."',
  '',
  '[arms]',
  'reference = "PLACEBO"',
  'codes = { PLACEBO = "Placebo", DRUG = "Drug" }',
  '',
  '[tables]',
  'adsl = "adsl.csv"',
  'adeff = "adeff.csv"',
  '',
  '[endpoints]',
  'primary = { paramcd = "HAMD17", visit = "WEEK 6" }'), file.path(out_data, "antidepressant", "trial.toml"))

mm <- post_rows
mm$ARM <- factor(adsl_a$ARM[match(mm$USUBJID, adsl_a$USUBJID)], levels = c("PLACEBO", "DRUG"))
mm$AVISIT <- factor(mm$AVISIT, levels = c("WEEK 1", "WEEK 2", "WEEK 4", "WEEK 6"))
mm$VISN <- as.integer(mm$AVISIT)
fit <- gls(CHG ~ ARM * AVISIT + BASE, data = mm, method = "REML",
           correlation = corSymm(form = ~ VISN | USUBJID), weights = varIdent(form = ~ 1 | AVISIT),
           control = glsControl(tolerance = 1e-10, msTol = 1e-10, maxIter = 500, msMaxIter = 500))
emm <- emmeans(fit, ~ ARM | AVISIT, mode = "df.error")
ct <- summary(contrast(emm, method = "trt.vs.ctrl"))
ad_out <- list(
  formula = "CHG ~ ARM * AVISIT + BASE", covariance = "us (corSymm + varIdent)", method = "REML",
  n_obs = nrow(mm), n_subjects = length(unique(mm$USUBJID)),
  loglik = as.numeric(logLik(fit)),
  coef = list(term = names(coef(fit)), estimate = unname(coef(fit)),
              std_error = unname(sqrt(diag(vcov(fit))))),
  difference = list(visit = as.character(ct$AVISIT), estimate = ct$estimate, std_error = ct$SE))

write_json(list(
  source = "tests/reference/make_real_trials.R",
  versions = list(R = R.version.string, survival = as.character(packageVersion("survival")),
                  nlme = as.character(packageVersion("nlme")),
                  emmeans = as.character(packageVersion("emmeans"))),
  colon = colon_out, antidepressant = ad_out, pbc = pbc_out),
  out_json, auto_unbox = TRUE, digits = NA, pretty = TRUE)
cat("wrote", out_json, "\n")
