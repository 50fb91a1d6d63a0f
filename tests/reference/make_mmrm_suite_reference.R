#!/usr/bin/env Rscript
# make_mmrm_suite_reference.R
#
# R mmrm's own test suite, rerun as reference fits for trialstats (issue 12).
#
# R mmrm 0.3.18 was built from source (github:openpharma/mmrm, tag v0.3.18) into a private library
# (/work/rlib here); run from the repository root with
#     R_LIBS=/work/rlib Rscript tests/reference/make_mmrm_suite_reference.R
# It writes tests/reference/mmrm_suite.json (and tests/reference/mmrm_suite/*.csv, the data sets
# with the extra columns the suite's helpers add). Used by tests/test_mmrm_r_suite.py.
#
# Each case mirrors a model of mmrm's tests/testthat (helper-examples.R, test-fit.R, test-tmb.R,
# test-emmeans.R, test-empirical.R, test-kenwardroger.R, test-interop-car.R, test-tmb-methods.R):
# the same formula, data and options; the case lists the testthat file it comes from. Each case
# stores the ts.mmrm call that is the same model (`ts`), so the Python test needs no translation.
#
# Per case, from R mmrm's DEFAULT fit (what users get) and from a TIGHT refit (the default theta
# polished by Newton steps on mmrm's own objective, then refitted by mmrm with nlminb from there,
# as ../shared/reference/make_mmrm_reference.R does): coefficients (estimate, std_error, df,
# statistic, p_value; NA = aliased), vcov, -2 log-likelihood, theta, the covariance matrix
# (VarCorr), LS means and trt-vs-ctrl contrasts (emmeans, adjust = "none", the fit's df), and
# where the case asks for them: car::Anova type II and III, fitted/residuals/predict.
suppressPackageStartupMessages({
  library(mmrm)
  library(emmeans)
  library(car)
  library(jsonlite)
})

out_json <- file.path("tests", "reference", "mmrm_suite.json")
data_dir <- file.path("tests", "reference", "mmrm_suite")
dir.create(data_dir, showWarnings = FALSE)

versions <- list(
  R = R.version.string, mmrm = as.character(packageVersion("mmrm")),
  mmrm_source = "built from source, github:openpharma/mmrm tag v0.3.18",
  emmeans = as.character(packageVersion("emmeans")), car = as.character(packageVersion("car")),
  TMB = as.character(packageVersion("TMB"))
)

# ------------------------------------------------------------------------------------- data
fev <- mmrm::fev_data
set.seed(123, kind = "Mersenne-Twister")  # helper-examples.R: .mmrm_weights
fev$W_POIS <- rpois(nrow(fev), lambda = 5) + 1
fev$SEX2 <- fev$SEX                        # helper-examples.R: rank-deficient example
# irregular visit times for the spatial covariances, in months: visit k at k + (-3..3)/28, the
# shift fixed per subject (the suite's own irregular coordinate VISITN2 is used in 2-D with VISITN;
# alone, R mmrm cannot fit it)
fev$DAY <- fev$VISITN + ((as.integer(fev$USUBJID) %% 7L) - 3) / 28
write.csv(fev, file.path(data_dir, "fev_suite.csv"), row.names = FALSE, na = "")

# A two-arm, four-visit data set in which arm A has no outcome at V3 (trialstats'
# tests/test_mmrm.py::test_arm_without_observations_at_a_visit); written by the Python test's own
# generator to tests/reference/mmrm_suite/gap.csv (see tests/test_mmrm_r_suite.py:write_gap_csv).
gap <- read.csv(file.path(data_dir, "gap.csv"), stringsAsFactors = FALSE)
gap$ARM <- factor(gap$ARM, levels = c("B", "A"))
gap$AVISIT <- factor(gap$AVISIT)
gap$USUBJID <- factor(gap$USUBJID)

vis1 <- droplevels(fev[fev$AVISIT == "VIS1", ])

datasets <- list(fev = fev, gap = gap, vis1 = vis1)

# ------------------------------------------------------------------------------------ cases
cases <- list()
add <- function(id, feature, source, formula, data = "fev", args = list(), ts = list(),
                emm = list(spec = "ARMCD", by = "AVISIT"), anova = FALSE, predict = FALSE) {
  cases[[length(cases) + 1L]] <<- list(
    id = id, feature = feature, source = source, formula = formula, data = data, args = args,
    ts = ts, emm = emm, anova = anova, predict = predict
  )
}

FEV <- "FEV1 ~ RACE + SEX + ARMCD * AVISIT"
COVS <- c("us", "toep", "toeph", "ar1", "ar1h", "cs", "csh", "ad", "adh")
# every covariance x df / vcov, REML; Satterthwaite also ML (test-fit.R, test-tmb.R, test-kenwardroger.R)
for (cv in COVS) {
  f <- sprintf("%s + %s(AVISIT | USUBJID)", FEV, cv)
  base <- list(formula = FEV, covariance = cv)
  add(sprintf("cov_%s_satterthwaite", cv), "covariance x df", "test-fit.R / test-tmb.R", f,
      args = list(method = "Satterthwaite"), ts = c(base, df = "satterthwaite"))
  add(sprintf("cov_%s_kenward_roger", cv), "covariance x df", "test-kenwardroger.R", f,
      args = list(method = "Kenward-Roger"), ts = c(base, df = "kenward-roger"))
  add(sprintf("cov_%s_residual_asymptotic", cv), "covariance x df", "test-fit.R", f,
      args = list(method = "Residual", vcov = "Asymptotic"), ts = c(base, df = "residual"))
  add(sprintf("cov_%s_residual_empirical", cv), "covariance x df", "test-empirical.R", f,
      args = list(method = "Residual"), ts = c(base, df = "residual", vcov = "empirical"))
  add(sprintf("cov_%s_ml_satterthwaite", cv), "ML", "test-tmb.R", f,
      args = list(method = "Satterthwaite", reml = FALSE), ts = c(base, df = "satterthwaite", method = "ml"))
}
add("cov_us_kenward_roger_linear", "covariance x df", "test-kenwardroger.R",
    sprintf("%s + us(AVISIT | USUBJID)", FEV),
    args = list(method = "Kenward-Roger", vcov = "Kenward-Roger-Linear"),
    ts = list(formula = FEV, covariance = "us", df = "kenward-roger-linear"))
add("cov_ar1_between_within", "covariance x df", "test-between-within.R",
    "FEV1 ~ ARMCD + ar1(AVISIT | USUBJID)", args = list(method = "Between-Within"),
    ts = list(formula = "FEV1 ~ ARMCD", covariance = "ar1", df = "between-within"),
    emm = list(spec = "ARMCD", by = NULL))
add("cov_us_between_within", "covariance x df", "test-between-within.R",
    sprintf("%s + us(AVISIT | USUBJID)", FEV), args = list(method = "Between-Within"),
    ts = list(formula = FEV, covariance = "us", df = "between-within"))
# covariance per group (helper-examples.R get_mmrm_group; test-tmb.R grouped structures)
for (cv in c("us", "ar1h", "cs", "toep")) {
  add(sprintf("group_%s_satterthwaite", cv), "covariance by group", "test-tmb.R",
      sprintf("FEV1 ~ ARMCD + %s(AVISIT | ARMCD / USUBJID)", cv),
      args = list(method = "Satterthwaite"),
      ts = list(formula = "FEV1 ~ ARMCD", covariance = cv, group = "ARMCD", df = "satterthwaite"))
}
add("group_us_kenward_roger", "covariance by group", "test-kenwardroger.R",
    sprintf("%s + us(AVISIT | ARMCD / USUBJID)", FEV), args = list(method = "Kenward-Roger"),
    ts = list(formula = FEV, covariance = "us", group = "ARMCD", df = "kenward-roger"))

# weights (helper-examples.R get_mmrm_weighted; test-emmeans.R weighted model with WEIGHT)
WF <- sprintf("%s + us(AVISIT | USUBJID)", FEV)
add("weights_pois_us_satterthwaite", "weights", "helper-examples.R", WF,
    args = list(method = "Satterthwaite", weights = "W_POIS"),
    ts = list(formula = FEV, covariance = "us", weights = "W_POIS"))
add("weights_us_satterthwaite", "weights", "test-emmeans.R", WF,
    args = list(method = "Satterthwaite", weights = "WEIGHT"),
    ts = list(formula = FEV, covariance = "us", weights = "WEIGHT"), predict = TRUE)
add("weights_us_kenward_roger", "weights", "test-kenwardroger.R", WF,
    args = list(method = "Kenward-Roger", weights = "WEIGHT"),
    ts = list(formula = FEV, covariance = "us", weights = "WEIGHT", df = "kenward-roger"))
add("weights_us_ml", "weights", "test-tmb.R", WF,
    args = list(method = "Satterthwaite", weights = "WEIGHT", reml = FALSE),
    ts = list(formula = FEV, covariance = "us", weights = "WEIGHT", method = "ml"))
for (cv in c("ar1", "cs", "toeph", "adh")) {
  add(sprintf("weights_%s_satterthwaite", cv), "weights", "test-tmb.R",
      sprintf("%s + %s(AVISIT | USUBJID)", FEV, cv),
      args = list(method = "Satterthwaite", weights = "WEIGHT"),
      ts = list(formula = FEV, covariance = cv, weights = "WEIGHT"))
}
add("weights_group_us", "weights", "test-tmb.R", "FEV1 ~ ARMCD + us(AVISIT | ARMCD / USUBJID)",
    args = list(method = "Satterthwaite", weights = "WEIGHT"),
    ts = list(formula = "FEV1 ~ ARMCD", covariance = "us", group = "ARMCD", weights = "WEIGHT"))

# sandwiches (test-empirical.R; helper-examples.R get_mmrm_jack / get_mmrm_brl)
AR1F <- "FEV1 ~ ARMCD + ar1(AVISIT | USUBJID)"
for (vc in c("Empirical", "Empirical-Jackknife", "Empirical-Bias-Reduced")) {
  key <- tolower(gsub("-", "_", vc))
  tsv <- tolower(vc)
  for (m in c("Satterthwaite", "Residual")) {
    add(sprintf("sandwich_%s_ar1_%s", key, tolower(m)), "sandwich", "test-empirical.R", AR1F,
        args = list(method = m, vcov = vc),
        ts = list(formula = "FEV1 ~ ARMCD", covariance = "ar1", df = tolower(m), vcov = tsv),
        emm = list(spec = "ARMCD", by = NULL))
    add(sprintf("sandwich_%s_us_%s", key, tolower(m)), "sandwich", "test-empirical.R", WF,
        args = list(method = m, vcov = vc),
        ts = list(formula = FEV, covariance = "us", df = tolower(m), vcov = tsv))
  }
  add(sprintf("sandwich_%s_us_weights", key), "sandwich", "test-empirical.R", WF,
      args = list(method = "Satterthwaite", vcov = vc, weights = "WEIGHT"),
      ts = list(formula = FEV, covariance = "us", vcov = tsv, weights = "WEIGHT"))
  add(sprintf("sandwich_%s_group_us", key), "sandwich", "test-empirical.R",
      "FEV1 ~ ARMCD + us(AVISIT | ARMCD / USUBJID)", args = list(method = "Satterthwaite", vcov = vc),
      ts = list(formula = "FEV1 ~ ARMCD", covariance = "us", group = "ARMCD", vcov = tsv))
}

# spatial, one coordinate (test-tmb.R sp_exp(VISITN | USUBJID); the suite's 2-D coordinates
# sp_exp(VISITN, VISITN2 | USUBJID) cannot be written in ts.mmrm, whose coords= is one column)
for (sp in c("sp_exp", "sp_gau")) {
  f <- sprintf("FEV1 ~ ARMCD + %s(VISITN | USUBJID)", sp)
  base <- list(formula = "FEV1 ~ ARMCD", covariance = sp, coords = "VISITN")
  add(sprintf("spatial_%s_satterthwaite", sp), "spatial", "test-tmb.R", f,
      args = list(method = "Satterthwaite"), ts = c(base, df = "satterthwaite"),
      emm = list(spec = "ARMCD", by = NULL))
  add(sprintf("spatial_%s_kenward_roger", sp), "spatial", "test-kenwardroger.R", f,
      args = list(method = "Kenward-Roger"), ts = c(base, df = "kenward-roger"),
      emm = list(spec = "ARMCD", by = NULL))
  add(sprintf("spatial_%s_residual", sp), "spatial", "test-fit.R", f,
      args = list(method = "Residual", vcov = "Asymptotic"), ts = c(base, df = "residual"),
      emm = list(spec = "ARMCD", by = NULL))
  add(sprintf("spatial_%s_ml", sp), "spatial", "test-tmb.R", f,
      args = list(method = "Satterthwaite", reml = FALSE), ts = c(base, method = "ml"),
      emm = list(spec = "ARMCD", by = NULL))
  add(sprintf("spatial_%s_irregular", sp), "spatial", "test-tmb.R",
      sprintf("FEV1 ~ ARMCD + %s(DAY | USUBJID)", sp), args = list(method = "Satterthwaite"),
      ts = list(formula = "FEV1 ~ ARMCD", covariance = sp, coords = "DAY"),
      emm = list(spec = "ARMCD", by = NULL))
  add(sprintf("spatial_%s_weights", sp), "spatial", "test-tmb.R", f,
      args = list(method = "Satterthwaite", weights = "WEIGHT"), ts = c(base, weights = "WEIGHT"),
      emm = list(spec = "ARMCD", by = NULL))
}
add("spatial_sp_exp_group", "spatial", "test-tmb.R",
    "FEV1 ~ RACE + sp_exp(VISITN | ARMCD / USUBJID)", args = list(method = "Satterthwaite"),
    ts = list(formula = "FEV1 ~ RACE", covariance = "sp_exp", coords = "VISITN", group = "ARMCD"),
    emm = list(spec = "RACE", by = NULL))

# rank-deficient designs (helper-examples.R get_mmrm_rank_deficient, get_mmrm_alias_noint;
# test-emmeans.R rank deficient; trialstats' empty arm-by-visit cell)
add("rank_deficient_sex2", "rank-deficient", "helper-examples.R",
    "FEV1 ~ RACE + SEX + SEX2 + ARMCD * AVISIT + us(AVISIT | USUBJID)",
    args = list(method = "Satterthwaite"),
    ts = list(formula = "FEV1 ~ RACE + SEX + SEX2 + ARMCD * AVISIT", covariance = "us"))
add("rank_deficient_sex2_kr", "rank-deficient", "test-kenwardroger.R",
    "FEV1 ~ RACE + SEX + SEX2 + ARMCD * AVISIT + us(AVISIT | USUBJID)",
    args = list(method = "Kenward-Roger"),
    ts = list(formula = "FEV1 ~ RACE + SEX + SEX2 + ARMCD * AVISIT", covariance = "us",
              df = "kenward-roger"))
add("rank_deficient_alias_noint", "rank-deficient", "helper-examples.R",
    "FEV1 ~ ARMCD:FEV1_BL + FEV1_BL - 1 + ARMCD:SEX + ar1(AVISIT | USUBJID)",
    args = list(method = "Satterthwaite"),
    ts = list(formula = "FEV1 ~ ARMCD:FEV1_BL + FEV1_BL - 1 + ARMCD:SEX", covariance = "ar1"),
    emm = NULL)  # R's emmeans fails on this fit ("Failed to match coefficient name(s)")
add("rank_deficient_empty_cell", "rank-deficient", "trialstats test_mmrm.py",
    "Y ~ ARM * AVISIT + us(AVISIT | USUBJID)", data = "gap", args = list(method = "Satterthwaite"),
    ts = list(formula = "Y ~ ARM * AVISIT", covariance = "us"),
    emm = list(spec = "ARM", by = "AVISIT"))

# single visit (test-emmeans.R single-visit MMRM; test-fit.R)
add("single_visit_satterthwaite", "single visit", "test-emmeans.R",
    "FEV1 ~ FEV1_BL + ARMCD + us(AVISIT | USUBJID)", data = "vis1",
    args = list(method = "Satterthwaite"),
    ts = list(formula = "FEV1 ~ FEV1_BL + ARMCD", covariance = "us"),
    emm = list(spec = "ARMCD", by = NULL))
add("single_visit_residual", "single visit", "test-fit.R",
    "FEV1 ~ FEV1_BL + ARMCD + us(AVISIT | USUBJID)", data = "vis1",
    args = list(method = "Residual", vcov = "Asymptotic"),
    ts = list(formula = "FEV1 ~ FEV1_BL + ARMCD", covariance = "us", df = "residual"),
    emm = list(spec = "ARMCD", by = NULL))

# predict / fitted / residuals (test-tmb-methods.R)
add("predict_us", "predict/fitted/residuals", "test-tmb-methods.R", WF,
    args = list(method = "Satterthwaite"), ts = list(formula = FEV, covariance = "us"),
    predict = TRUE)
add("predict_ar1", "predict/fitted/residuals", "test-tmb-methods.R", AR1F,
    args = list(method = "Satterthwaite"), ts = list(formula = "FEV1 ~ ARMCD", covariance = "ar1"),
    emm = list(spec = "ARMCD", by = NULL), predict = TRUE)
add("predict_group_cs", "predict/fitted/residuals", "test-tmb-methods.R",
    "FEV1 ~ ARMCD + cs(AVISIT | ARMCD / USUBJID)", args = list(method = "Satterthwaite"),
    ts = list(formula = "FEV1 ~ ARMCD", covariance = "cs", group = "ARMCD"),
    emm = list(spec = "ARMCD", by = NULL), predict = TRUE)

# car::Anova type II / III (test-interop-car.R)
add("anova_us", "anova II/III", "test-interop-car.R", WF, args = list(method = "Satterthwaite"),
    ts = list(formula = FEV, covariance = "us"), anova = TRUE)
add("anova_interactions", "anova II/III", "test-interop-car.R",
    "FEV1 ~ RACE * ARMCD + SEX * AVISIT + ARMCD:AVISIT:SEX + us(AVISIT | USUBJID)",
    args = list(method = "Satterthwaite"),
    ts = list(formula = "FEV1 ~ RACE * ARMCD + SEX * AVISIT + ARMCD:AVISIT:SEX", covariance = "us"),
    anova = TRUE)
add("anova_kenward_roger", "anova II/III", "test-interop-car.R", WF,
    args = list(method = "Kenward-Roger"),
    ts = list(formula = FEV, covariance = "us", df = "kenward-roger"), anova = TRUE)
add("anova_residual", "anova II/III", "test-interop-car.R", WF,
    args = list(method = "Residual", vcov = "Asymptotic"),
    ts = list(formula = FEV, covariance = "us", df = "residual"), anova = TRUE)

# contrasts = list(...) (test-fit.R contrasts; test-tmb.R)
add("contrasts_sum_armcd", "contrasts", "test-fit.R", WF,
    args = list(method = "Satterthwaite", contrasts = list(ARMCD = "contr.sum")),
    ts = list(formula = FEV, covariance = "us", contrasts = list(ARMCD = "sum")), anova = TRUE)
add("contrasts_all_sum", "contrasts", "test-fit.R", WF,
    args = list(method = "Satterthwaite",
                contrasts = list(ARMCD = "contr.sum", RACE = "contr.sum", SEX = "contr.sum",
                                 AVISIT = "contr.sum")),
    ts = list(formula = FEV, covariance = "us",
              contrasts = list(ARMCD = "sum", RACE = "sum", SEX = "sum", AVISIT = "sum")),
    anova = TRUE)
add("contrasts_helmert_poly", "contrasts", "test-fit.R", WF,
    args = list(method = "Satterthwaite",
                contrasts = list(RACE = "contr.helmert", AVISIT = "contr.poly")),
    ts = list(formula = FEV, covariance = "us",
              contrasts = list(RACE = "helmert", AVISIT = "poly")), anova = TRUE)
add("contrasts_sum_kenward_roger", "contrasts", "test-kenwardroger.R", WF,
    args = list(method = "Kenward-Roger", contrasts = list(ARMCD = "contr.sum", AVISIT = "contr.sum")),
    ts = list(formula = FEV, covariance = "us", df = "kenward-roger",
              contrasts = list(ARMCD = "sum", AVISIT = "sum")), anova = TRUE)

# lsmeans by a variable that is not in the model (test-emmeans.R: "visit variable is not part of
# the covariates" / "contained only in an interaction term")
add("lsmeans_by_visit_not_in_model", "lsmeans by outside the model", "test-emmeans.R",
    "FEV1 ~ ARMCD + FEV1_BL:RACE + us(AVISIT | USUBJID)", args = list(method = "Satterthwaite"),
    ts = list(formula = "FEV1 ~ ARMCD + FEV1_BL:RACE", covariance = "us"))
add("lsmeans_by_visit_interaction_only", "lsmeans by outside the model", "test-emmeans.R",
    "FEV1 ~ ARMCD + FEV1_BL:AVISIT + us(AVISIT | USUBJID)", args = list(method = "Satterthwaite"),
    ts = list(formula = "FEV1 ~ ARMCD + FEV1_BL:AVISIT", covariance = "us"))
add("lsmeans_by_group_not_in_model", "lsmeans by outside the model", "test-emmeans.R",
    "FEV1 ~ RACE + ar1(AVISIT | SEX / USUBJID)", args = list(method = "Satterthwaite"),
    ts = list(formula = "FEV1 ~ RACE", covariance = "ar1", group = "SEX"),
    emm = list(spec = "RACE", by = "SEX"))

# start values and optimiser (test-fit.R mmrm_control(start = , optimizers = ))
add("optimizer_bfgs", "start/optimizer", "test-fit.R", WF,
    args = list(method = "Satterthwaite", optimizer = "BFGS"),
    ts = list(formula = FEV, covariance = "us", optimizer = "bfgs"))
add("optimizer_cg_ar1h", "start/optimizer", "test-fit.R",
    sprintf("%s + ar1h(AVISIT | USUBJID)", FEV), args = list(method = "Satterthwaite", optimizer = "CG"),
    ts = list(formula = FEV, covariance = "ar1h", optimizer = "cg"))
add("optimizer_lbfgsb_cs", "start/optimizer", "test-fit.R",
    sprintf("%s + cs(AVISIT | USUBJID)", FEV), args = list(method = "Satterthwaite", optimizer = "L-BFGS-B"),
    ts = list(formula = FEV, covariance = "cs", optimizer = "l-bfgs-b"))
add("start_us_zero", "start/optimizer", "test-fit.R", WF,
    args = list(method = "Satterthwaite", start = rep(0, 10)),
    ts = list(formula = FEV, covariance = "us", start = rep(0, 10)))
add("start_ar1_given", "start/optimizer", "test-fit.R", AR1F,
    args = list(method = "Satterthwaite", start = c(2, 0.5)),
    ts = list(formula = "FEV1 ~ ARMCD", covariance = "ar1", start = c(2, 0.5)),
    emm = list(spec = "ARMCD", by = NULL))

# ------------------------------------------------------------------------------------ fitting
capture <- function(expr) {
  warns <- character(); msgs <- character()
  value <- withCallingHandlers(
    tryCatch(expr, error = function(e) structure(conditionMessage(e), class = "fit_error")),
    warning = function(w) { warns <<- c(warns, conditionMessage(w)); invokeRestart("muffleWarning") },
    message = function(m) { msgs <<- c(msgs, conditionMessage(m)); invokeRestart("muffleMessage") }
  )
  list(value = value, warnings = warns, messages = msgs,
       error = if (inherits(value, "fit_error")) as.character(value) else NULL)
}

fit_case <- function(cs, extra = list()) {
  d <- datasets[[cs$data]]
  a <- cs$args
  ctrl <- a[setdiff(names(a), c("weights", "reml", "contrasts"))]
  ctrl <- utils::modifyList(ctrl, extra)
  call_args <- list(formula = as.formula(cs$formula), data = d,
                    reml = if (is.null(a$reml)) TRUE else a$reml,
                    control = do.call(mmrm_control, ctrl))
  if (!is.null(a$weights)) call_args$weights <- d[[a$weights]]
  if (!is.null(a$contrasts)) call_args$contrasts <- a$contrasts
  do.call(mmrm, call_args)
}

mat <- function(m) unname(lapply(seq_len(nrow(m)), function(i) unname(m[i, ])))

coef_block <- function(fit) {
  s <- summary(fit)$coefficients
  full <- coef(fit, complete = TRUE)
  est <- setNames(rep(NA_real_, length(full)), names(full))
  se <- df <- st <- p <- est
  est[rownames(s)] <- s[, "Estimate"]; se[rownames(s)] <- s[, "Std. Error"]
  df[rownames(s)] <- s[, "df"]; st[rownames(s)] <- s[, "t value"]; p[rownames(s)] <- s[, "Pr(>|t|)"]
  list(term = names(full), estimate = unname(est), std_error = unname(se), df = unname(df),
       statistic = unname(st), p_value = unname(p), aliased = names(full)[is.na(full)])
}

emm_block <- function(fit, emm) {
  f <- if (is.null(emm$by)) as.formula(paste("~", emm$spec)) else
    as.formula(paste("~", emm$spec, "|", emm$by))
  e <- suppressMessages(emmeans(fit, f))
  ls <- as.data.frame(summary(e, infer = c(TRUE, TRUE), adjust = "none"))
  con <- as.data.frame(summary(contrast(e, method = "trt.vs.ctrl", ref = 1, adjust = "none"),
                               infer = c(TRUE, TRUE)))
  pick <- function(x, lead) {
    out <- list()
    for (l in lead) out[[l]] <- as.character(x[[l]])
    out$estimate <- x[[if ("emmean" %in% names(x)) "emmean" else "estimate"]]
    out$std_error <- x$SE
    out$df <- x$df
    out
  }
  lead <- c(emm$spec, emm$by)
  list(spec = emm$spec, by = emm$by, lsmeans = pick(ls, lead),
       contrasts = pick(con, c("contrast", emm$by)))
}

anova_block <- function(fit) {
  one <- function(type) {
    # mmrm's car method called directly: car::Anova() on an mmrm fit dispatched to
    # car's default (chi-square) method in this R session
    cap <- capture(mmrm:::Anova.mmrm(fit, type = type))
    if (!is.null(cap$error)) return(list(error = cap$error))
    a <- cap$value
    list(term = rownames(a), num_df = a[["Df"]], den_df = a[["Res.Df"]],
         statistic = a[["F"]], p_value = a[["Pr(>F)"]])
  }
  list(II = one("II"), III = one("III"))
}

predict_block <- function(fit, cs) {
  d <- datasets[[cs$data]]
  list(
    fitted = unname(fitted(fit)),
    residuals_response = unname(residuals(fit, type = "response")),
    residuals_pearson = unname(residuals(fit, type = "pearson")),
    residuals_normalized = unname(residuals(fit, type = "normalized")),
    predict_newdata_rows = "every row of the data (outcome NA where missing), in data order",
    predict_unconditional = unname(predict(fit, newdata = d, conditional = FALSE)),
    predict_conditional = unname(predict(fit, newdata = d, conditional = TRUE))
  )
}

record <- function(fit, cs) {
  vc <- VarCorr(fit)
  out <- list(
    converged = isTRUE(attr(fit, "converged")),
    optimizer = component(fit, "optimizer"),
    max_abs_gradient = max(abs(fit$tmb_object$gr(fit$theta_est))),
    n_obs = component(fit, "n_obs"), n_subjects = component(fit, "n_subjects"),
    m2loglik = -2 * as.numeric(logLik(fit)),
    theta = I(unname(component(fit, "theta_est"))),
    covariance = if (is.list(vc)) lapply(vc, mat) else mat(vc),
    coefficients = coef_block(fit),
    vcov = mat(vcov(fit)),
    vcov_type = fit$vcov
  )
  if (!is.null(cs$emm)) {
    em <- capture(emm_block(fit, cs$emm))
    if (is.null(em$error)) out$emmeans <- em$value else out$emmeans_error <- em$error
  }
  if (isTRUE(cs$anova)) out$anova <- anova_block(fit)
  if (isTRUE(cs$predict)) out$predict <- predict_block(fit, cs)
  out
}

source(file.path("tests", "reference", "mmrm_newton_polish.R"))  # newton_polish()

run_case <- function(cs) {
  res <- list(id = cs$id, feature = cs$feature, suite_source = cs$source, data = cs$data,
              r_formula = cs$formula,
              r_args = lapply(cs$args, function(v) if (is.list(v)) v else I(v)), ts = cs$ts)
  cap <- capture(fit_case(cs))
  res$warnings <- cap$warnings
  if (!is.null(cap$error)) { res$error <- cap$error; return(res) }
  fit <- cap$value
  res$default <- record(fit, cs)
  th <- tryCatch(newton_polish(fit$tmb_object, fit$theta_est), error = function(e) fit$theta_est)
  tight <- capture(fit_case(cs, list(optimizer = "nlminb", start = th)))
  if (is.null(tight$error)) {
    res$tight <- record(tight$value, cs)
    res$tight$how <- "default theta Newton-polished on mmrm's objective, then mmrm(optimizer = 'nlminb', start = it)"
  } else {
    res$tight_error <- tight$error
  }
  res
}

results <- lapply(cases, function(cs) {
  message(cs$id)
  run_case(cs)
})
write_json(list(produced_by = "tests/reference/make_mmrm_suite_reference.R", versions = versions,
                cases = results),
           out_json, auto_unbox = TRUE, digits = NA, null = "null", na = "null", pretty = FALSE)
message("wrote ", out_json, " (", length(results), " cases)")
