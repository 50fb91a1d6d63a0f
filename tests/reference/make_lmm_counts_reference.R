# Reference values for trialstats.longitudinal.lmm (random-slope mixed models) and
# trialstats.longitudinal.counts (GEE count models).
#
# Run from the repository root:   Rscript tests/reference/make_lmm_counts_reference.R
#
# Writes, next to this script:
#   lmm_sleepstudy.csv        lme4::sleepstudy (public data shipped with lme4)
#   counts_epil.csv           MASS::epil (public data shipped with MASS) + lbase, lage
#   hair_counts.csv           a small simulated hair-count trial (seeded; 3 arms, PLACEBO the
#                             reference although not first alphabetically; unbalanced, missing visits,
#                             a few missing AVAL and one subject with missing BASE)
#   lmm_sleepstudy.json       lme4::lmer / nlme::lme fits of sleepstudy (REML and ML)
#   lmm_singular.csv/.json    a small simulated data set whose lmer fit is singular (boundary)
#   lmm_hair.json             lme4::lmer / nlme::lme fit of the hair data + emmeans::emtrends slopes
#   counts_epil.json          geepack::geeglm Poisson GEE fits of epil (independence, exchangeable,
#                             ar1) + glm with sandwich::vcovCL (independence)
#   counts_hair.json          geepack::geeglm Poisson and negative-binomial GEE fits of the hair data
#   design_levels.json        the order R gives to factor levels of a mixed-case character vector
#   design_matrices.json      model.matrix() of a few formulas on the complete hair-count rows
#
# Every model is fitted on the data *as read back from the CSV*, so that the Python tests use
# exactly the same numbers as R did.

suppressPackageStartupMessages({
  library(lme4)
  library(nlme)
  library(geepack)
  library(sandwich)
  library(MASS)
  library(emmeans)
  library(jsonlite)
})

out_dir <- "tests/reference"
stopifnot(dir.exists(out_dir))

versions <- list(
  R = R.version.string,
  lme4 = as.character(packageVersion("lme4")),
  nlme = as.character(packageVersion("nlme")),
  geepack = as.character(packageVersion("geepack")),
  sandwich = as.character(packageVersion("sandwich")),
  MASS = as.character(packageVersion("MASS")),
  emmeans = as.character(packageVersion("emmeans")),
  locale_collate = Sys.getlocale("LC_COLLATE")
)

write_ref <- function(x, name) {
  x$versions <- versions
  x$script <- "tests/reference/make_lmm_counts_reference.R"
  write_json(x, file.path(out_dir, name), digits = NA, auto_unbox = TRUE, pretty = TRUE)
}

write_read <- function(d, name) {
  path <- file.path(out_dir, name)
  write.csv(d, path, row.names = FALSE, na = "")
  read.csv(path, stringsAsFactors = FALSE)
}

# ---------------------------------------------------------------- helpers for mixed models
lmer_ref <- function(fit) {
  vc <- as.data.frame(VarCorr(fit))
  re <- vc[!is.na(vc$var1) & vc$grp != "Residual", ]
  list(
    terms = names(fixef(fit)),
    estimate = unname(fixef(fit)),
    std_error = unname(sqrt(diag(as.matrix(vcov(fit))))),
    vcov = unname(as.matrix(vcov(fit))),
    re_var1 = re$var1,
    re_var2 = ifelse(is.na(re$var2), re$var1, re$var2),
    re_covariance = re$vcov,
    re_correlation = ifelse(is.na(re$var2), 1, re$sdcor),
    residual_variance = sigma(fit)^2,
    loglik = as.numeric(logLik(fit)),
    loglik_df = attr(logLik(fit), "df"),
    aic = AIC(fit),
    bic = BIC(fit),
    n_obs = nobs(fit),
    n_subjects = unname(ngrps(fit)),
    reml = isREML(fit),
    optimizer = fit@optinfo$optimizer,
    optimizer_conv = fit@optinfo$conv$opt
  )
}

lme_ref <- function(fit) {
  vc <- getVarCov(fit)
  list(
    terms = names(fixef(fit)),
    estimate = unname(fixef(fit)),
    std_error = unname(sqrt(diag(vcov(fit)))),
    re_covariance_matrix = unname(matrix(as.numeric(vc), nrow(vc))),
    re_names = colnames(vc),
    residual_variance = fit$sigma^2,
    loglik = as.numeric(logLik(fit)),
    n_obs = fit$dims$N
  )
}

# ---------------------------------------------------------------- sleepstudy (lme4)
data("sleepstudy", package = "lme4")
ss <- write_read(sleepstudy[, c("Subject", "Days", "Reaction")], "lmm_sleepstudy.csv")
ss$Subject <- factor(ss$Subject)

ss_reml <- lmer(Reaction ~ Days + (Days | Subject), data = ss, REML = TRUE,
                control = lmerControl(optimizer = "bobyqa", optCtrl = list(rhobeg = 2e-4, rhoend = 2e-10)))
ss_ml <- lmer(Reaction ~ Days + (Days | Subject), data = ss, REML = FALSE,
              control = lmerControl(optimizer = "bobyqa", optCtrl = list(rhobeg = 2e-4, rhoend = 2e-10)))
ss_lme <- lme(Reaction ~ Days, random = ~ Days | Subject, data = ss, method = "REML",
              control = lmeControl(tolerance = 1e-10, msTol = 1e-10))

write_ref(list(
  call_reml = "lmer(Reaction ~ Days + (Days | Subject), sleepstudy, REML = TRUE)",
  call_ml = "lmer(Reaction ~ Days + (Days | Subject), sleepstudy, REML = FALSE)",
  call_lme = "lme(Reaction ~ Days, random = ~ Days | Subject, sleepstudy, method = 'REML')",
  reml = lmer_ref(ss_reml),
  ml = lmer_ref(ss_ml),
  lme = lme_ref(ss_lme)
), "lmm_sleepstudy.json")

# ---------------------------------------------------------------- simulated hair counts
# Generative model (log scale): log mu_ij = log(BASE_i) + gain[arm] + decay[arm] * WEEK_OFF
#   + b0_i + b1_i * WEEK_OFF, AVAL ~ NegBin(mu, size = 300).  WEEK_OFF = weeks since treatment
# stopped.  PLACEBO is the reference arm, first factor level, although not first alphabetically.
set.seed(20261125)
arms <- c("PLACEBO", "EXOSOME", "MINOXIDIL")
n_arm <- c(PLACEBO = 22, EXOSOME = 26, MINOXIDIL = 24)
arm_of <- sample(rep(arms, n_arm))
n <- length(arm_of)
gain <- c(PLACEBO = 0.02, EXOSOME = 0.18, MINOXIDIL = 0.14)
decay <- c(PLACEBO = -0.0005, EXOSOME = -0.003, MINOXIDIL = -0.006)
weeks <- c(0, 4, 8, 12, 24)
base <- round(rnorm(n, 150, 20))
b0 <- rnorm(n, 0, 0.06)
b1 <- rnorm(n, 0, 0.005)
rows <- list()
for (i in seq_len(n)) {
  for (v in seq_along(weeks)) {
    mu <- exp(log(base[i]) + gain[arm_of[i]] + decay[arm_of[i]] * weeks[v] + b0[i] + b1[i] * weeks[v])
    rows[[length(rows) + 1]] <- data.frame(
      USUBJID = sprintf("EXO-%04d", i), ARM = arm_of[i], VISITNUM = v, WEEK_OFF = weeks[v],
      BASE = base[i], AVAL = rnbinom(1, mu = mu, size = 300))
  }
}
hair <- do.call(rbind, rows)
# unbalanced: drop about 15 % of the post-stop visits (the visit row is absent)
drop <- hair$VISITNUM > 1 & runif(nrow(hair)) < 0.15
hair <- hair[!drop, ]
# a visit row present with no measurement, and one subject with no baseline
hair$AVAL[c(7, 40, 101)] <- NA
hair$BASE[hair$USUBJID == "EXO-0005"] <- NA
hair$LOGBASE <- log(hair$BASE)
hair <- write_read(hair, "hair_counts.csv")
hair$ARM <- factor(hair$ARM, levels = arms)
hair_cc <- na.omit(hair)
# geepack wants a numeric cluster id with clusters in contiguous rows (the CSV is sorted by USUBJID)
hair_cc$SUBJN <- as.integer(factor(hair_cc$USUBJID))

h_reml <- lmer(AVAL ~ ARM * WEEK_OFF + BASE + (WEEK_OFF | USUBJID), data = hair, REML = TRUE,
               control = lmerControl(optimizer = "bobyqa", optCtrl = list(rhobeg = 2e-4, rhoend = 2e-10)))
h_lme <- lme(AVAL ~ ARM * WEEK_OFF + BASE, random = ~ WEEK_OFF | USUBJID, data = hair_cc,
             method = "REML", control = lmeControl(tolerance = 1e-10, msTol = 1e-10, maxIter = 200,
                                                   msMaxIter = 200))
emt <- emtrends(h_reml, ~ ARM, var = "WEEK_OFF", lmer.df = "asymptotic")
emt_s <- as.data.frame(summary(emt, infer = TRUE))
emt_c <- as.data.frame(summary(contrast(emt, method = "trt.vs.ctrl", ref = 1, adjust = "none"),
                               infer = TRUE))

write_ref(list(
  call_reml = "lmer(AVAL ~ ARM * WEEK_OFF + BASE + (WEEK_OFF | USUBJID), hair_counts, REML = TRUE)",
  call_lme = "lme(AVAL ~ ARM * WEEK_OFF + BASE, random = ~ WEEK_OFF | USUBJID, na.omit(hair_counts))",
  call_slopes = "emtrends(fit, ~ ARM, var = 'WEEK_OFF', lmer.df = 'asymptotic'); contrast(., 'trt.vs.ctrl', adjust = 'none')",
  arm_levels = arms,
  n_rows_csv = nrow(hair),
  reml = lmer_ref(h_reml),
  lme = lme_ref(h_lme),
  slopes = list(arm = as.character(emt_s$ARM), estimate = emt_s$WEEK_OFF.trend, std_error = emt_s$SE,
                conf_low = emt_s$asymp.LCL, conf_high = emt_s$asymp.UCL,
                statistic = emt_s$z.ratio, p_value = emt_s$p.value),
  slope_differences = list(contrast = as.character(emt_c$contrast), estimate = emt_c$estimate,
                           std_error = emt_c$SE, conf_low = emt_c$asymp.LCL,
                           conf_high = emt_c$asymp.UCL, statistic = emt_c$z.ratio,
                           p_value = emt_c$p.value)
), "lmm_hair.json")

# ---------------------------------------------------------------- a boundary (singular) fit
# 12 subjects x 4 times, random intercepts but no slope variance: lmer's optimum has a singular
# random-effects covariance (isSingular TRUE), where gradient optimisers struggle.
set.seed(4)
sg <- data.frame(ID = sprintf("S%02d", rep(1:12, each = 4)), T = rep(0:3, 12))
sg$Y <- round(10 + rep(rnorm(12, 0, 2), each = 4) + 0.5 * sg$T + rnorm(48), 6)
sg <- write_read(sg, "lmm_singular.csv")
sg_fit <- lmer(Y ~ T + (T | ID), data = sg, REML = TRUE,
               control = lmerControl(optimizer = "bobyqa", optCtrl = list(rhobeg = 2e-4, rhoend = 2e-10)))
write_ref(list(
  call = "lmer(Y ~ T + (T | ID), lmm_singular.csv, REML = TRUE)",
  is_singular = isSingular(sg_fit),
  reml = lmer_ref(sg_fit)
), "lmm_singular.json")

# ---------------------------------------------------------------- GEE helpers
# geepack's default stopping rule (epsilon = 1e-4) leaves differences of order 1e-4 in the
# estimates; converge tightly so the reference is the solution of the estimating equations.
gee_tight <- geese.control(epsilon = 1e-10, maxit = 200)
gee_ref <- function(fit) {
  s <- summary(fit)
  list(
    terms = names(coef(fit)),
    estimate = unname(coef(fit)),
    std_error = unname(s$coefficients[, "Std.err"]),
    correlation_parameter = if (is.null(s$corr)) NULL else unname(s$corr$Estimate),
    scale = unname(s$dispersion$Estimate),
    n_obs = length(fit$y),
    n_subjects = length(unique(fit$id))
  )
}

# ---------------------------------------------------------------- epil (MASS)
data("epil", package = "MASS")
ep <- epil[order(epil$subject, epil$period), c("subject", "period", "y", "trt", "base", "age", "V4")]
ep$lbase <- log(ep$base / 4)
ep$lage <- log(ep$age)
ep <- write_read(ep, "counts_epil.csv")
ep$trt <- factor(ep$trt)  # levels sorted: placebo, progabide

f_ep <- y ~ trt * lbase + lage + V4
ep_ind <- geeglm(f_ep, family = poisson, data = ep, id = subject, corstr = "independence", control = gee_tight)
ep_exch <- geeglm(f_ep, family = poisson, data = ep, id = subject, corstr = "exchangeable", control = gee_tight)
ep_ar1 <- geeglm(f_ep, family = poisson, data = ep, id = subject, waves = period, corstr = "ar1", control = gee_tight)
ep_glm <- glm(f_ep, family = poisson, data = ep)
ep_cl <- vcovCL(ep_glm, cluster = ~ subject, type = "HC0", cadjust = FALSE)

write_ref(list(
  formula = "y ~ trt * lbase + lage + V4",
  call = "geeglm(formula, family = poisson, data = epil, id = subject, waves = period, corstr = ...)",
  independence = gee_ref(ep_ind),
  exchangeable = gee_ref(ep_exch),
  ar1 = gee_ref(ep_ar1),
  glm_vcovCL = list(
    call = "vcovCL(glm(formula, poisson, epil), cluster = ~subject, type = 'HC0', cadjust = FALSE)",
    terms = names(coef(ep_glm)), estimate = unname(coef(ep_glm)),
    std_error = unname(sqrt(diag(ep_cl))))
), "counts_epil.json")

# ---------------------------------------------------------------- hair counts, GEE
f_h <- AVAL ~ ARM * WEEK_OFF + LOGBASE
h_pois_exch <- geeglm(f_h, family = poisson, data = hair_cc, id = SUBJN, corstr = "exchangeable", control = gee_tight)
h_pois_ar1 <- geeglm(f_h, family = poisson, data = hair_cc, id = SUBJN, waves = VISITNUM,
                     corstr = "ar1", control = gee_tight)
h_pois_ind <- geeglm(f_h, family = poisson, data = hair_cc, id = SUBJN, corstr = "independence", control = gee_tight)
# negative binomial: theta (= 1 / alpha) by maximum likelihood ignoring the clustering
h_nb_ml <- glm.nb(f_h, data = hair_cc, control = glm.control(epsilon = 1e-12, maxit = 100))
theta <- h_nb_ml$theta
# geepack's C code accepts only its own variance functions (gaussian, binomial, poisson, Gamma),
# so the negative-binomial GEE is checked with the independence working correlation: a glm with
# the negative.binomial(theta) family and the cluster-robust sandwich of sandwich::vcovCL (HC0, no
# small-sample adjustment) is exactly that GEE.
h_nb_glm <- glm(f_h, family = negative.binomial(theta), data = hair_cc,
                control = glm.control(epsilon = 1e-12, maxit = 100))
h_nb_cl <- vcovCL(h_nb_glm, cluster = ~ USUBJID, type = "HC0", cadjust = FALSE)

write_ref(list(
  formula = "AVAL ~ ARM * WEEK_OFF + LOGBASE",
  call = "geeglm(formula, family, data = na.omit(hair_counts), id = as.integer(factor(USUBJID)), waves = VISITNUM, corstr = ...)",
  arm_levels = arms,
  poisson_exchangeable = gee_ref(h_pois_exch),
  poisson_ar1 = gee_ref(h_pois_ar1),
  poisson_independence = gee_ref(h_pois_ind),
  nb_theta = theta,
  nb_theta_se = h_nb_ml$SE.theta,
  nb_alpha = 1 / theta,
  nb_ml_estimate = unname(coef(h_nb_ml)),
  negbin_independence = list(
    call = "vcovCL(glm(formula, negative.binomial(theta), hair_cc), cluster = ~USUBJID, type = 'HC0', cadjust = FALSE)",
    terms = names(coef(h_nb_glm)), estimate = unname(coef(h_nb_glm)),
    std_error = unname(sqrt(diag(h_nb_cl))), n_obs = nobs(h_nb_glm))
), "counts_hair.json")

# ---------------------------------------------------------------- factor level order
lv_in <- c("b", "A", "a", "B", "c10", "c9", "_x", "Z", "placebo", "Exosome")
num_in <- c(10, 9, 2.5, 100, 9)
write_ref(list(input = lv_in, levels = levels(factor(lv_in)),
               numeric_input = num_in, numeric_levels = levels(factor(num_in))),
          "design_levels.json")

# ---------------------------------------------------------------- design matrices (model.matrix)
# on the complete rows of hair_counts.csv, in CSV order; LATE is logical (WEEK_OFF >= 12),
# GRP is a character column ("high" when BASE > 150), V = factor(VISITNUM)
mm_ref <- function(f, d) {
  X <- model.matrix(f, d)
  list(formula = deparse(f), terms = colnames(X), X = unname(X))
}
hair_mm <- hair_cc
hair_mm$LATE <- hair_mm$WEEK_OFF >= 12
hair_mm$GRP <- ifelse(hair_mm$BASE > 150, "high", "low")
hair_mm$V <- factor(hair_mm$VISITNUM)
hair_chr <- hair_mm
hair_chr$ARM <- as.character(hair_chr$ARM)   # plain strings: R sorts the levels
write_ref(list(
  n_rows = nrow(hair_mm),
  factor_levels = mm_ref(AVAL ~ ARM * WEEK_OFF + BASE, hair_mm),
  character_levels = mm_ref(AVAL ~ ARM * WEEK_OFF + BASE, hair_chr),
  interaction_only = mm_ref(AVAL ~ WEEK_OFF + ARM:WEEK_OFF, hair_mm),
  logical = mm_ref(AVAL ~ LATE + ARM, hair_mm),
  two_factors = mm_ref(AVAL ~ GRP * ARM + WEEK_OFF, hair_mm),
  three_way = mm_ref(AVAL ~ ARM * GRP * WEEK_OFF, hair_mm),
  interaction_written_backwards = mm_ref(AVAL ~ V + ARM + ARM:V, hair_mm),
  no_intercept = mm_ref(AVAL ~ 0 + ARM + WEEK_OFF, hair_mm)
), "design_matrices.json")

cat("done\n")
