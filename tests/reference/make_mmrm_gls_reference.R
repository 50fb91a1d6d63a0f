#!/usr/bin/env Rscript
# make_mmrm_gls_reference.R
#
# Independent reference numbers for trialstats' MMRM from nlme::gls (REML), lme4 / lmerTest /
# pbkrtest (random-intercept = compound symmetry) and emmeans. Writes tests/reference/mmrm/gls_*.json
# and the data each fit used (gls_*.csv). Used by tests/test_mmrm_gls_reference.py.
#
# Usage, from the repository root:
#   Rscript tests/reference/make_mmrm_gls_reference.R
# Needs: nlme, lme4, lmerTest, pbkrtest, emmeans, jsonlite (Debian r-cran-* packages).
#
# Fits (all REML; visits are the *positions* 1..m of the visit factor, as mmrm uses them):
#   us   : gls(y ~ ..., correlation = corSymm(form = ~ K | id), weights = varIdent(form = ~ 1 | visit))
#   ar1  : gls(..., correlation = corAR1(form = ~ K | id))          ar1h: + varIdent(~ 1 | visit)
#   cs   : gls(..., correlation = corCompSymm(form = ~ 1 | id))     csh : + varIdent(~ 1 | visit)
#   cs also as lmerTest::lmer(y ~ ... + (1 | id)) (random intercept; the same model when rho >= 0),
#   with Satterthwaite (lmerTest) and Kenward-Roger (pbkrtest, via emmeans lmer.df) inference.
# Datasets:
#   orthodont            nlme::Orthodont (27 subjects x ages 8, 10, 12, 14): distance ~ Sex * AGE,
#                        AGE = factor(age); written to gls_orthodont.csv
#   orthodont_unbalanced the same with rows deleted by the fixed rule in `unbalance()` below;
#                        written to gls_orthodont_unbalanced.csv
#   exo_hair_301         datasets/exo-hair-301: adeff (PARAMCD TAHC) merged with adsl, visits WEEK 4,
#                        WEEK 12, WEEK 24, rows with CHG present: CHG ~ ARM * AVISIT + BASE, ARM levels
#                        PLACEBO first then trial.toml order; written to gls_exo_hair_301.csv
#   fev (calibration)    mmrm::fev_data (tests/reference/mmrm/fev_data.csv): the same R tools on data
#                        that R mmrm 0.3.18 also fitted (tests/reference/mmrm/fev_*.json), to MEASURE
#                        how closely emmeans' gls Satterthwaite df, lmerTest and nlme agree with mmrm.
#
# Likelihood constant. mmrm (and SAS) report
#   -2 logL_REML = (n - p) log(2 pi) + sum_i log|Sigma_i| + log|X'V^-1 X| + r'V^-1 r.
# Harville's REML likelihood also has + 1/2 log|X'X|, and some software includes it. This script does
# not assume either way: it recomputes the mmrm-convention value directly from the data and the fitted
# Sigma (m2loglik_direct) and compares it with -2 * logLik(gls). For nlme 3.1.162 they agree to
# ~1e-12 relative, i.e. nlme's gls REML logLik omits the log|X'X| term and the conversion is the
# identity: m2loglik = -2 * logLik(gls). (Were the term included, the two would differ by
# log|X'X|, stored as log_det_XtX: 20.68 for Orthodont.) The script stops if they differ by > 1e-8.
# lme4's REML criterion is checked against the same direct computation.

suppressPackageStartupMessages({
  library(nlme)
  library(lme4)
  library(lmerTest)
  library(pbkrtest)
  library(emmeans)
  library(jsonlite)
})

file_arg <- grep("^--file=", commandArgs(trailingOnly = FALSE), value = TRUE)
script_dir <- dirname(normalizePath(sub("^--file=", "", file_arg[[1L]])))
repo <- normalizePath(file.path(script_dir, "..", ".."))
out_dir <- file.path(repo, "tests", "reference", "mmrm")
dir.create(out_dir, showWarnings = FALSE, recursive = TRUE)
emm_options(msg.interaction = FALSE)

versions <- list(
  R = R.version.string,
  platform = R.version$platform,
  nlme = as.character(packageVersion("nlme")),
  lme4 = as.character(packageVersion("lme4")),
  lmerTest = as.character(packageVersion("lmerTest")),
  pbkrtest = as.character(packageVersion("pbkrtest")),
  emmeans = as.character(packageVersion("emmeans")),
  Matrix = as.character(packageVersion("Matrix")),
  jsonlite = as.character(packageVersion("jsonlite")),
  lapack = La_version()
)
PRODUCED_BY <- "tests/reference/make_mmrm_gls_reference.R"
# natural = FALSE: nlme's apVar on the same (unconstrained) scale as coef(modelStruct), which emmeans'
# analytic gls Satterthwaite requires (with natural = TRUE it falls back to "appx-satterthwaite").
# opt = "optim" (BFGS) with tight tolerances: on fev_data this lands within 3e-11 of mmrm's tight -2LL,
# whereas nlme's default nlminb stopped 2e-7 short (covariance 2e-4 off); gls_calibration_fev.json.
GLS_CONTROL <- glsControl(maxIter = 1000, msMaxIter = 1000, tolerance = 1e-14, msTol = 1e-15,
                          opt = "optim", optimMethod = "BFGS", natural = FALSE)
GLS_CONTROL_NLMINB <- glsControl(maxIter = 1000, msMaxIter = 1000, tolerance = 1e-14, msTol = 1e-15,
                                 natural = FALSE)
GLS_CONTROL_NLMINB_TXT <- "glsControl(maxIter = 1000, msMaxIter = 1000, tolerance = 1e-14, msTol = 1e-15, natural = FALSE)"
GLS_CONTROL_TXT <- paste0("glsControl(maxIter = 1000, msMaxIter = 1000, tolerance = 1e-14, msTol = 1e-15, ",
                          "opt = \"optim\", optimMethod = \"BFGS\", natural = FALSE)")

write_json_file <- function(x, path) {
  txt <- toJSON(x, digits = NA, auto_unbox = TRUE, pretty = TRUE, na = "null", null = "null")
  writeLines(txt, path, useBytes = TRUE)
}
mat_json <- function(m) {
  m <- as.matrix(m)
  list(
    rownames = if (is.null(rownames(m))) NULL else I(rownames(m)),
    colnames = if (is.null(colnames(m))) NULL else I(colnames(m)),
    values = unname(m)
  )
}
format_exact <- function(x) {
  s <- sprintf("%.15g", x)
  for (d in 16:17) {
    bad <- as.numeric(s) != x
    if (!any(bad)) break
    s[bad] <- sprintf(paste0("%.", d, "g"), x[bad])
  }
  s
}
write_data <- function(d, name) {
  out <- d
  for (j in names(out)) if (is.double(out[[j]])) out[[j]] <- format_exact(out[[j]])
  for (j in names(out)) if (is.factor(out[[j]])) out[[j]] <- as.character(out[[j]])
  utils::write.csv(out, file.path(out_dir, name), row.names = FALSE, quote = TRUE)
}

# ---------------------------------------------------------------------------------------------------
# Direct computation of -2 log-likelihood in mmrm's convention, from the data and a full Sigma
# ---------------------------------------------------------------------------------------------------
m2ll_direct <- function(X, y, id, k, Sigma, reml = TRUE) {
  p <- ncol(X)
  n <- length(y)
  XtVX <- matrix(0, p, p)
  XtVy <- numeric(p)
  logdet <- 0
  blocks <- split(seq_len(n), id)
  for (i in blocks) {
    S <- Sigma[k[i], k[i], drop = FALSE]
    Si <- solve(S)
    Xi <- X[i, , drop = FALSE]
    XtVX <- XtVX + crossprod(Xi, Si %*% Xi)
    XtVy <- XtVy + drop(crossprod(Xi, Si %*% y[i]))
    logdet <- logdet + as.numeric(determinant(S, logarithm = TRUE)$modulus)
  }
  beta <- solve(XtVX, XtVy)
  quad <- 0
  for (i in blocks) {
    r <- y[i] - X[i, , drop = FALSE] %*% beta
    quad <- quad + drop(crossprod(r, solve(Sigma[k[i], k[i], drop = FALSE], r)))
  }
  val <- if (reml) {
    (n - p) * log(2 * pi) + logdet + as.numeric(determinant(XtVX, logarithm = TRUE)$modulus) + quad
  } else {
    n * log(2 * pi) + logdet + quad
  }
  list(m2loglik = val, beta = drop(beta))
}

# ---------------------------------------------------------------------------------------------------
# emmeans: LS means of `trt` by `by`, and each level minus the first, per `by` level
# ---------------------------------------------------------------------------------------------------
emm_block <- function(fit, trt, by, data, ...) {
  spec <- as.formula(paste("~", trt, "|", by))
  emm <- emmeans(fit, spec, data = data, ...)
  s <- as.data.frame(summary(emm, infer = c(TRUE, TRUE), level = 0.95))
  lsm <- data.frame(
    a = as.character(s[[trt]]), b = as.character(s[[by]]),
    estimate = s$emmean, std_error = s$SE, df = s$df, statistic = s$t.ratio, p_value = s$p.value,
    conf_low = s$lower.CL, conf_high = s$upper.CL, stringsAsFactors = FALSE
  )
  names(lsm)[1:2] <- c(trt, by)
  con <- contrast(emm, method = "trt.vs.ctrl", ref = 1L, adjust = "none")
  cs <- as.data.frame(summary(con, infer = c(TRUE, TRUE), level = 0.95))
  cons <- data.frame(
    contrast = as.character(cs$contrast), b = as.character(cs[[by]]),
    estimate = cs$estimate, std_error = cs$SE, df = cs$df, statistic = cs$t.ratio,
    p_value = cs$p.value, conf_low = cs$lower.CL, conf_high = cs$upper.CL, stringsAsFactors = FALSE
  )
  names(cons)[2] <- by
  list(
    emmeans_call = paste0("emmeans(fit, ~ ", trt, " | ", by, ", ",
                          paste(names(list(...)), unlist(list(...)), sep = " = ", collapse = ", "), ")"),
    contrast_call = 'contrast(emm, method = "trt.vs.ctrl", ref = 1, adjust = "none")',
    df_mode = unlist(list(...)),
    averaged_over = I(as.character(emm@misc$avgd.over)),
    reference_grid = lapply(emm@grid[setdiff(names(emm@grid), ".wgt.")],
                            function(v) if (is.numeric(v)) unique(v) else I(unique(as.character(v)))),
    lsmeans = lsm, contrasts = cons,
    lsmeans_linfct = mat_json(emm@linfct), contrast_linfct = mat_json(con@linfct)
  )
}

coef_table_gls <- function(fit) {
  tt <- summary(fit)$tTable
  data.frame(term = rownames(tt), estimate = tt[, "Value"], std_error = tt[, "Std.Error"],
             statistic = tt[, "t-value"], p_value = tt[, "p-value"], stringsAsFactors = FALSE,
             row.names = NULL)
}

# The full m x m Sigma of a gls fit, from a subject observed at every visit.
gls_sigma <- function(fit, data, id, k, visit_levels) {
  m <- length(visit_levels)
  full <- names(which(tapply(data[[k]], data[[id]], function(v) length(unique(v))) == m))[1]
  if (is.na(full)) stop("no subject has every visit")
  S <- as.matrix(getVarCov(fit, individual = full))
  kk <- data[[k]][data[[id]] == full]
  S <- S[order(kk), order(kk)]
  dimnames(S) <- list(visit_levels, visit_levels)
  list(Sigma = S, subject_used = full)
}

COV_SPECS <- list(
  us   = list(cor = "corSymm(form = ~ K | ID)", var = "varIdent(form = ~ 1 | VISIT)"),
  ar1  = list(cor = "corAR1(form = ~ K | ID)", var = NULL),
  ar1h = list(cor = "corAR1(form = ~ K | ID)", var = "varIdent(form = ~ 1 | VISIT)"),
  cs   = list(cor = "corCompSymm(form = ~ 1 | ID)", var = NULL),
  csh  = list(cor = "corCompSymm(form = ~ 1 | ID)", var = "varIdent(form = ~ 1 | VISIT)")
)
N_THETA <- function(cov, m) switch(cov, us = m * (m + 1) / 2, ar1 = 2, ar1h = m + 1, cs = 2, csh = m + 1)

# d has the model's columns plus ID (subject), VISIT (the visit factor, for varIdent) and K (integer
# position of VISIT, for the correlation structures); the formula uses the dataset's own names.
fit_gls_case <- function(case_id, ds, cov, rhs, yname, trt, by, data_file, names_map, levels_map) {
  d <- ds
  spec <- COV_SPECS[[cov]]
  fml <- as.formula(paste(yname, "~", rhs))
  call_txt <- paste0("gls(", yname, " ~ ", rhs, ", data = d, method = \"REML\", correlation = ",
                     spec$cor, if (!is.null(spec$var)) paste0(", weights = ", spec$var),
                     ", control = ", GLS_CONTROL_TXT, ")")
  args <- list(model = fml, data = d, method = "REML", correlation = eval(parse(text = spec$cor)),
               control = GLS_CONTROL)
  if (!is.null(spec$var)) args$weights <- eval(parse(text = spec$var))
  fit <- tryCatch(do.call(gls, args), error = function(e) e)
  control_txt <- GLS_CONTROL_TXT
  if (inherits(fit, "error")) {  # BFGS can step out of the valid region (e.g. corAR1): use nlminb
    cat("  optim/BFGS failed (", conditionMessage(fit), "); using nlminb\n")
    args$control <- GLS_CONTROL_NLMINB
    control_txt <- GLS_CONTROL_NLMINB_TXT
    fit <- do.call(gls, args)
  }
  call_txt <- sub(GLS_CONTROL_TXT, control_txt, call_txt, fixed = TRUE)
  fit$call$model <- fml
  fit$call$data <- quote(d)
  X <- model.matrix(fml, d)
  y <- d[[yname]]
  vl <- levels(d$VISIT)
  sg <- gls_sigma(fit, d, "ID", "K", vl)
  direct <- m2ll_direct(X, y, d$ID, d$K, sg$Sigma, reml = TRUE)
  nlme_m2 <- -2 * as.numeric(logLik(fit))
  logdet_xtx <- as.numeric(determinant(crossprod(X), logarithm = TRUE)$modulus)
  converted <- nlme_m2  # identity: see the header ("Likelihood constant")
  if (abs(converted - direct$m2loglik) > 1e-8 * abs(direct$m2loglik)) {
    stop(case_id, ": -2 logLik(gls) = ", converted, " but direct = ", direct$m2loglik)
  }
  if (max(abs(direct$beta - coef(fit))) > 1e-8 * max(abs(coef(fit)))) stop(case_id, ": GLS beta check")
  em <- tryCatch(emm_block(fit, trt, by, d, mode = "satterthwaite"), error = function(e) e)
  if (inherits(em, "error")) {
    em_note <- paste("mode = 'satterthwaite' failed:", conditionMessage(em), "; used df.error")
    em <- emm_block(fit, trt, by, d, mode = "df.error")
  } else {
    em_note <- paste(
      "emmeans' gls Satterthwaite (analytic gradient of vcov(beta), nlme's apVar for the variance",
      "parameters). Its df disagree with mmrm's Satterthwaite df by 1-186% on fev_data",
      "(gls_calibration_fev.json): record only, tests compare estimates and SEs."
    )
  }
  res <- list(
    case_id = case_id,
    produced_by = PRODUCED_BY,
    tool = "nlme::gls",
    r_call = call_txt,
    versions = versions,
    data_file = data_file,
    formula = paste(yname, "~", rhs),
    column_names = names_map,
    factor_levels = levels_map,
    covariance = cov,
    n_obs = nrow(d),
    n_subjects = length(unique(d$ID)),
    n_theta = N_THETA(cov, length(vl)),
    converged = TRUE,
    loglik_nlme = as.numeric(logLik(fit)),
    m2loglik_nlme = nlme_m2,
    log_det_XtX = logdet_xtx,
    m2loglik = converted,
    m2loglik_direct = direct$m2loglik,
    m2loglik_note = "m2loglik = -2 * logLik(gls) in mmrm's convention (n - p) log(2 pi) + sum log|Sigma_i| + log|X'V^-1X| + r'V^-1r; m2loglik_direct recomputes it from the data and Sigma (agreement checked to 1e-8); nlme's gls logLik has no + 1/2 log|X'X| term (log_det_XtX shows its size)",
    m2loglik_nlme_minus_direct = nlme_m2 - direct$m2loglik,
    coefficients = coef_table_gls(fit),
    coefficients_note = "summary(fit)$tTable; nlme's t tests use df = n_obs - n_beta (not compared for df)",
    vcov = mat_json(vcov(fit)),
    covariance_matrix = mat_json(sg$Sigma),
    covariance_matrix_note = paste0("getVarCov(fit, individual = \"", sg$subject_used, "\") (a subject seen at every visit), rows/cols in visit order"),
    emmeans = c(em, list(note = em_note))
  )
  write_json_file(res, file.path(out_dir, paste0(case_id, ".json")))
  res
}

# lmerTest random intercept (compound symmetry), Satterthwaite and Kenward-Roger.
fit_lmer_case <- function(case_id, ds, rhs, yname, trt, by, data_file, names_map, levels_map) {
  d <- ds
  fml <- as.formula(paste(yname, "~", rhs, "+ (1 | ID)"))
  fit <- lmerTest::lmer(fml, data = d, REML = TRUE,
                        control = lmerControl(optimizer = "bobyqa",
                                              optCtrl = list(rhoend = 1e-12, maxfun = 1e5)))
  vc <- as.data.frame(VarCorr(fit))
  s2b <- vc$vcov[vc$grp == "ID"]
  s2 <- vc$vcov[vc$grp == "Residual"]
  vl <- levels(d$VISIT)
  m <- length(vl)
  Sigma <- matrix(s2b, m, m, dimnames = list(vl, vl)) + diag(s2, m)
  X <- model.matrix(fit)
  direct <- m2ll_direct(X, d[[yname]], d$ID, d$K, Sigma, reml = TRUE)
  remlcrit <- as.numeric(REMLcrit(fit))
  ctab <- function(ddf) {
    tt <- summary(fit, ddf = ddf)$coefficients
    data.frame(term = rownames(tt), estimate = tt[, "Estimate"], std_error = tt[, "Std. Error"],
               df = tt[, "df"], statistic = tt[, "t value"], p_value = tt[, "Pr(>|t|)"],
               stringsAsFactors = FALSE, row.names = NULL)
  }
  kr_vcov <- as.matrix(pbkrtest::vcovAdj(fit))
  dimnames(kr_vcov) <- list(colnames(X), colnames(X))
  res <- list(
    case_id = case_id,
    produced_by = PRODUCED_BY,
    tool = "lmerTest::lmer (lme4) random intercept = compound symmetry with rho >= 0",
    r_call = paste0("lmerTest::lmer(", deparse1(fml), ", data = d, REML = TRUE, control = lmerControl(optimizer = \"bobyqa\", optCtrl = list(rhoend = 1e-12, maxfun = 1e5)))"),
    versions = versions,
    data_file = data_file,
    formula = paste(yname, "~", rhs),
    column_names = names_map,
    factor_levels = levels_map,
    covariance = "cs",
    n_obs = nrow(d),
    n_subjects = length(unique(d$ID)),
    variance_components = list(subject_intercept = s2b, residual = s2, rho = s2b / (s2b + s2)),
    REMLcrit = remlcrit,
    m2loglik_direct = direct$m2loglik,
    m2loglik_note = "REMLcrit(fit) is lme4's -2 REML log-likelihood; m2loglik_direct recomputes the mmrm-convention value from the data and Sigma; REMLcrit_minus_direct shows the constant",
    REMLcrit_minus_direct = remlcrit - direct$m2loglik,
    covariance_matrix = mat_json(Sigma),
    covariance_matrix_note = "sigma_b^2 J + sigma^2 I from VarCorr(fit)",
    coefficients_satterthwaite = ctab("Satterthwaite"),
    coefficients_kenward_roger = ctab("Kenward-Roger"),
    coefficients_note = "summary(fit, ddf = ...)$coefficients (lmerTest); Kenward-Roger SEs are from pbkrtest::vcovAdj",
    vcov = mat_json(as.matrix(vcov(fit))),
    vcov_kenward_roger = mat_json(kr_vcov),
    emmeans_satterthwaite = emm_block(fit, trt, by, d, lmer.df = "satterthwaite"),
    emmeans_kenward_roger = emm_block(fit, trt, by, d, lmer.df = "kenward-roger"),
    kenward_roger_note = "pbkrtest 'Kenward-Roger': Sigma linear in (sigma_b^2, sigma^2), so its second-derivative terms vanish; expected information (pbkrtest), not observed"
  )
  write_json_file(res, file.path(out_dir, paste0(case_id, ".json")))
  res
}

# ---------------------------------------------------------------------------------------------------
# Datasets
# ---------------------------------------------------------------------------------------------------
orth <- as.data.frame(nlme::Orthodont)
orth <- data.frame(
  Subject = as.character(orth$Subject),
  Sex = factor(as.character(orth$Sex), levels = c("Male", "Female")),
  age = orth$age,
  AGE = factor(as.character(orth$age), levels = c("8", "10", "12", "14")),
  distance = orth$distance,
  stringsAsFactors = FALSE
)
orth <- orth[order(orth$Subject, orth$age), ]
rownames(orth) <- NULL

# Fixed deletion rule: subjects numbered 1..27 in sorted order of their ID (F01..F11, M01..M16);
# subject i loses age 14 if i %% 3 == 0 (dropout), age 10 if i %% 4 == 1 (a missed visit), and
# ages 12 and 14 if i %% 5 == 2 (early dropout).
unbalance <- function(d) {
  ids <- sort(unique(d$Subject))
  i <- match(d$Subject, ids)
  drop <- (i %% 3 == 0 & d$age == 14) | (i %% 4 == 1 & d$age == 10) |
    (i %% 5 == 2 & d$age %in% c(12, 14))
  out <- d[!drop, ]
  rownames(out) <- NULL
  out
}
orth_u <- unbalance(orth)

as_generic <- function(d, id, visit, trt) {
  d$ID <- d[[id]]
  d$VISIT <- d[[visit]]
  d$K <- as.integer(d[[visit]])
  d$TRT <- d[[trt]]
  d
}

results <- list()
orth_levels <- list(Sex = I(levels(orth$Sex)), AGE = I(levels(orth$AGE)))
orth_names <- list(subject = "Subject", visit = "AGE", treatment = "Sex")
write_data(orth, "gls_orthodont.csv")
write_data(orth_u, "gls_orthodont_unbalanced.csv")
for (nm in c("orthodont", "orthodont_unbalanced")) {
  d <- as_generic(if (nm == "orthodont") orth else orth_u, "Subject", "AGE", "Sex")
  file <- paste0("gls_", nm, ".csv")
  for (cov in names(COV_SPECS)) {
    id <- paste0("gls_", nm, "_", cov)
    cat(id, "\n")
    results[[id]] <- fit_gls_case(id, d, cov, "Sex * AGE", "distance", "Sex", "AGE", file, orth_names, orth_levels)
  }
  id <- paste0("gls_", nm, "_cs_lmer")
  cat(id, "\n")
  results[[id]] <- fit_lmer_case(id, d, "Sex * AGE", "distance", "Sex", "AGE", file, orth_names, orth_levels)
}

# The bundled simulated trials: exo-hair-301, and exo-hair-202 (two arms, heavy dropout: its ar1h
# fit once ran off to a near-singular Sigma in trialstats, so it is a regression reference too).
for (trial in c("exo-hair-301", "exo-hair-202")) {
tid <- gsub("-", "_", trial)
exo_dir <- file.path(repo, "datasets", trial)
if (file.exists(file.path(exo_dir, "adeff.csv")) && file.exists(file.path(exo_dir, "adsl.csv"))) {
  adeff <- read.csv(file.path(exo_dir, "adeff.csv"), stringsAsFactors = FALSE, na.strings = c("", "NA"))
  adsl <- read.csv(file.path(exo_dir, "adsl.csv"), stringsAsFactors = FALSE, na.strings = c("", "NA"))
  toml <- readLines(file.path(exo_dir, "trial.toml"))
  codes_line <- grep("^codes", toml, value = TRUE)
  codes <- regmatches(codes_line, gregexpr("[A-Z_]+(?= *=)", codes_line, perl = TRUE))[[1]]
  ref_arm <- sub('^reference *= *"([^"]+)".*$', "\\1", grep("^reference", toml, value = TRUE)[1])
  arm_levels <- c(ref_arm, setdiff(codes, ref_arm))
  visits <- c("WEEK 4", "WEEK 12", "WEEK 24")
  e <- adeff[adeff$PARAMCD == "TAHC" & adeff$AVISIT %in% visits & !is.na(adeff$CHG) & !is.na(adeff$BASE), ]
  e <- merge(e[, c("USUBJID", "AVISIT", "AVISITN", "BASE", "CHG")], adsl[, c("USUBJID", "ARM")], by = "USUBJID")
  e$ARM <- factor(e$ARM, levels = arm_levels)
  e$AVISIT <- factor(e$AVISIT, levels = visits)
  e <- e[order(e$USUBJID, e$AVISITN), c("USUBJID", "ARM", "AVISIT", "AVISITN", "BASE", "CHG")]
  rownames(e) <- NULL
  write_data(e, paste0("gls_", tid, ".csv"))
  exo_levels <- list(ARM = I(arm_levels), AVISIT = I(visits))
  exo_names <- list(subject = "USUBJID", visit = "AVISIT", treatment = "ARM")
  d <- as_generic(e, "USUBJID", "AVISIT", "ARM")
  for (cov in names(COV_SPECS)) {
    id <- paste0("gls_", tid, "_", cov)
    cat(id, "\n")
    results[[id]] <- fit_gls_case(id, d, cov, "ARM * AVISIT + BASE", "CHG", "ARM", "AVISIT", paste0("gls_", tid, ".csv"),
                                  exo_names, exo_levels)
  }
  id <- paste0("gls_", tid, "_cs_lmer")
  cat(id, "\n")
  results[[id]] <- fit_lmer_case(id, d, "ARM * AVISIT + BASE", "CHG", "ARM", "AVISIT", paste0("gls_", tid, ".csv"), exo_names, exo_levels)
} else {
  message(trial, " not found: skipping its fits")
}
}

# ---------------------------------------------------------------------------------------------------
# Calibration on mmrm's fev_data: how closely do these R tools agree with R mmrm 0.3.18 (tight refit)?
# ---------------------------------------------------------------------------------------------------
fev <- read.csv(file.path(out_dir, "fev_data.csv"), stringsAsFactors = FALSE, na.strings = "")
fev <- fev[!is.na(fev$FEV1), ]
fev$RACE <- factor(fev$RACE, levels = c("Asian", "Black or African American", "White"))
fev$SEX <- factor(fev$SEX, levels = c("Male", "Female"))
fev$ARMCD <- factor(fev$ARMCD, levels = c("PBO", "TRT"))
fev$AVISIT <- factor(fev$AVISIT, levels = c("VIS1", "VIS2", "VIS3", "VIS4"))
d <- as_generic(fev, "USUBJID", "AVISIT", "ARMCD")
fev_names <- list(subject = "USUBJID", visit = "AVISIT", treatment = "ARMCD")
fev_levels <- list(ARMCD = I(levels(fev$ARMCD)), AVISIT = I(levels(fev$AVISIT)))
rel <- function(a, b) max(abs(a - b) / abs(b))
calib <- list()
for (cov in names(COV_SPECS)) {
  id <- paste0("gls_fev_", cov)
  cat(id, "\n")
  r <- fit_gls_case(id, d, cov, "RACE + SEX + ARMCD * AVISIT", "FEV1", "ARMCD", "AVISIT", "fev_data.csv", fev_names, fev_levels)
  unlink(file.path(out_dir, paste0(id, ".json")))  # calibration only: summarised below
  mm <- fromJSON(file.path(out_dir, paste0("fev_", cov, "_satterthwaite.json")))$tight_refit
  calib[[cov]] <- list(
    mmrm_reference = paste0("tests/reference/mmrm/fev_", cov, "_satterthwaite.json (tight_refit)"),
    m2loglik_minus_mmrm = r$m2loglik - mm$m2loglik,
    coef_estimate_max_abs_diff_over_se = max(abs(r$coefficients$estimate - mm$coefficients$estimate) / mm$coefficients$std_error),
    coef_std_error_max_rel_diff = rel(r$coefficients$std_error, mm$coefficients$std_error),
    covariance_max_rel_diff = rel(r$covariance_matrix$values, mm$varcorr$values),
    lsmeans_df_max_rel_diff = rel(r$emmeans$lsmeans$df, mm$lsmeans$df),
    contrast_df_max_rel_diff = rel(r$emmeans$contrasts$df, mm$contrasts$df),
    contrast_std_error_max_rel_diff = rel(r$emmeans$contrasts$std_error, mm$contrasts$std_error)
  )
}
r <- fit_lmer_case("gls_fev_cs_lmer", d, "RACE + SEX + ARMCD * AVISIT", "FEV1", "ARMCD", "AVISIT", "fev_data.csv", fev_names, fev_levels)
unlink(file.path(out_dir, "gls_fev_cs_lmer.json"))
mm <- fromJSON(file.path(out_dir, "fev_cs_satterthwaite.json"))$tight_refit
calib[["cs_lmer"]] <- list(
  mmrm_reference = "tests/reference/mmrm/fev_cs_satterthwaite.json (tight_refit)",
  m2loglik_direct_minus_mmrm = r$m2loglik_direct - mm$m2loglik,
  coef_estimate_max_abs_diff_over_se = max(abs(r$coefficients_satterthwaite$estimate - mm$coefficients$estimate) / mm$coefficients$std_error),
  coef_std_error_max_rel_diff = rel(r$coefficients_satterthwaite$std_error, mm$coefficients$std_error),
  coef_df_max_rel_diff_lmerTest_satterthwaite = rel(r$coefficients_satterthwaite$df, mm$coefficients$df),
  lsmeans_df_max_rel_diff_lmerTest_satterthwaite = rel(r$emmeans_satterthwaite$lsmeans$df, mm$lsmeans$df),
  contrast_df_max_rel_diff_lmerTest_satterthwaite = rel(r$emmeans_satterthwaite$contrasts$df, mm$contrasts$df),
  covariance_max_rel_diff = rel(r$covariance_matrix$values, mm$varcorr$values)
)
write_json_file(list(
  produced_by = PRODUCED_BY,
  versions = versions,
  purpose = paste(
    "The same R tools as the gls_* references, on mmrm's fev_data, compared with R mmrm 0.3.18's",
    "tight refit (tests/reference/mmrm/fev_<cov>_satterthwaite.json): measures how closely nlme::gls,",
    "emmeans' gls Satterthwaite df and lmerTest agree with mmrm, to set honest test tolerances."
  ),
  max_differences = calib,
  reading = paste(
    "nlme::gls (opt = optim/BFGS) and lmerTest agree with mmrm's tight refit in estimates, SEs,",
    "covariance and -2 log-likelihood to far better than the test tolerances. emmeans' gls",
    "'satterthwaite' df do NOT: they differ from mmrm's Satterthwaite df by 1-4% (ar1, cs) and by up",
    "to 186% (us, ar1h, csh), so the tests never compare df from emmeans on gls fits (only",
    "estimates and SEs); Satterthwaite df are compared with lmerTest (cs), which matches mmrm to 1e-8."
  )
), file.path(out_dir, "gls_calibration_fev.json"))
cat("done\n")
