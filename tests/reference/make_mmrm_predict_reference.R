#!/usr/bin/env Rscript
# make_mmrm_predict_reference.R
#
# Reference numbers for MMRMResult.fitted(), .residuals(type=) and .predict(newdata, conditional=)
# from nlme::gls (REML), the GLS model that R mmrm fits. Writes tests/reference/mmrm/predict_*.json.
# Used by tests/test_mmrm_predict.py. R mmrm is not in Debian; nlme's fitted() and
# residuals(type = "response" | "pearson" | "normalized") have the definitions R mmrm documents
# (pearson: divided by the row's model SD; normalized: L_i^-1 r_i with Sigma_i = L_i L_i').
# Conditional predictions (R mmrm predict(conditional = TRUE)) are computed here from gls' estimates
# with the conditional-normal formula: for a row u with missing outcome,
#   x_u' beta + Sigma_uO Sigma_OO^-1 (y_O - X_O beta);  a row with observed outcome keeps it.
#
# Cases:
#   fev_us     tests/reference/mmrm/fev_data.csv (mmrm::fev_data), FEV1 ~ RACE + SEX + ARMCD * AVISIT,
#              corSymm + varIdent (unstructured); newdata = every row of fev_data (FEV1 NA where missing).
#   exo_ar1h_w tests/reference/mmrm/gls_weights_exo.csv, CHG ~ ARM * AVISIT + BASE, corAR1 + varIdent with
#              observation weights W (varFixed(~ 1/W), SAS WEIGHT semantics); newdata = the same rows with
#              CHG set missing at WEEK 24 for every 4th subject and at WEEK 4 for every 7th (fixed rule).
#
# Row order: both data sets are sorted by subject (as R sorts character) and visit before the fit.
# nlme groups the rows by subject internally and residuals(type = "normalized") comes back in that
# grouped order: on data not sorted that way its values land on the wrong rows (found while making
# this reference), so the data are sorted first. The test matches rows by (subject, visit).
#
# Run from the repository root: Rscript tests/reference/make_mmrm_predict_reference.R
suppressPackageStartupMessages({ library(nlme); library(jsonlite) })
out_dir <- file.path("tests", "reference", "mmrm")
CTRL <- glsControl(maxIter = 1000, msMaxIter = 1000, tolerance = 1e-14, msTol = 1e-15,
                   opt = "optim", optimMethod = "BFGS")

conditional <- function(fit, nd, y, Sigma, w) {
  X <- model.matrix(formula(fit)[-2], nd)
  mu <- drop(X %*% coef(fit))
  out <- ifelse(is.na(y), mu, y)
  for (s in unique(nd$ID)) {
    i <- which(nd$ID == s)
    o <- i[!is.na(y[i])]; u <- i[is.na(y[i])]
    if (length(o) == 0 || length(u) == 0) next
    S <- Sigma[nd$K[i], nd$K[i], drop = FALSE] / sqrt(outer(w[i], w[i]))
    io <- match(o, i); iu <- match(u, i)
    out[u] <- mu[u] + S[iu, io, drop = FALSE] %*% solve(S[io, io, drop = FALSE], y[o] - mu[o])
  }
  out
}

full_sigma <- function(fit, d, m, w) {
  full <- names(which(table(d$ID) == m))[1]
  Si <- unclass(getVarCov(fit, individual = full))
  wi <- w[d$ID == full][order(d$K[d$ID == full])]
  diag(sqrt(wi)) %*% Si %*% diag(sqrt(wi))
}

result <- function(case, call, fit, d, nd, ynew, Sigma, wnew) {
  list(
    case = case, call = call,
    rows = list(subject = d$ID, visit = as.character(d$VISIT)),
    estimate = unname(coef(fit)), terms = names(coef(fit)),
    m2loglik = -2 * as.numeric(logLik(fit)),
    fitted = unname(fitted(fit)),
    residuals = list(response = unname(residuals(fit, type = "response")),
                     pearson = unname(residuals(fit, type = "pearson")),
                     normalized = unname(residuals(fit, type = "normalized"))),
    newdata_rows = list(subject = nd$ID, visit = as.character(nd$VISIT), y = ynew),
    predict_unconditional = unname(drop(model.matrix(formula(fit)[-2], nd) %*% coef(fit))),
    predict_conditional = unname(conditional(fit, nd, ynew, Sigma, wnew)),
    versions = list(R = R.version.string, nlme = as.character(packageVersion("nlme")))
  )
}

# --- fev_data, unstructured -------------------------------------------------------------------------
fev <- read.csv(file.path(out_dir, "fev_data.csv"), stringsAsFactors = FALSE, na.strings = "")
fev$RACE <- factor(fev$RACE, levels = c("Asian", "Black or African American", "White"))
fev$SEX <- factor(fev$SEX, levels = c("Male", "Female"))
fev$ARMCD <- factor(fev$ARMCD, levels = c("PBO", "TRT"))
fev$AVISIT <- factor(fev$AVISIT, levels = c("VIS1", "VIS2", "VIS3", "VIS4"))
fev$ID <- fev$USUBJID; fev$VISIT <- fev$AVISIT; fev$K <- as.integer(fev$AVISIT)
fev <- fev[order(fev$ID, fev$K), ]  # the order nlme groups by (a normalized residual then stays in its row)
d <- fev[!is.na(fev$FEV1), ]
fit <- gls(FEV1 ~ RACE + SEX + ARMCD * AVISIT, data = d, method = "REML",
           correlation = corSymm(form = ~ K | ID), weights = varIdent(form = ~ 1 | VISIT),
           control = CTRL)
Sigma <- full_sigma(fit, d, 4, rep(1, nrow(d)))
res <- result("fev_us", "gls(FEV1 ~ RACE + SEX + ARMCD * AVISIT, REML, corSymm(~ K | USUBJID), varIdent(~ 1 | AVISIT))",
              fit, d, fev, fev$FEV1, Sigma, rep(1, nrow(fev)))
writeLines(toJSON(res, digits = NA, auto_unbox = TRUE, pretty = TRUE),
           file.path(out_dir, "predict_fev_us.json"))

# --- exo-hair-301 with observation weights, ar1h ------------------------------------------------------
visits <- c("WEEK 4", "WEEK 12", "WEEK 24")
e <- read.csv(file.path(out_dir, "gls_weights_exo.csv"), stringsAsFactors = FALSE)
arms <- unique(e$ARM)
e$ARM <- factor(e$ARM, levels = c("PLACEBO", setdiff(sort(arms), "PLACEBO")))
e$AVISIT <- factor(e$AVISIT, levels = visits)
e$ID <- e$USUBJID; e$VISIT <- e$AVISIT; e$K <- as.integer(e$AVISIT); e$INVW <- 1 / e$W
e <- e[order(e$ID, e$K), ]
fit <- gls(CHG ~ ARM * AVISIT + BASE, data = e, method = "REML",
           correlation = corAR1(form = ~ K | ID),
           weights = varComb(varIdent(form = ~ 1 | VISIT), varFixed(~ INVW)),
           # optim Nelder-Mead, tight: BFGS steps out of the valid region here and nlminb (the
           # default) stopped 3e-8 (-2LL) short of the optimum on the regenerated exo-hair-301
           # (issue 10), moving a Pearson residual by 1.1e-5; Nelder-Mead reaches it to 1e-10.
           control = glsControl(tolerance = 1e-14, msTol = 1e-15, maxIter = 1000,
                                msMaxIter = 1000, opt = "optim", optimMethod = "Nelder-Mead"))
Sigma <- full_sigma(fit, e, 3, e$W)
subj <- match(e$ID, unique(e$ID))
ynew <- e$CHG
ynew[(subj %% 4 == 0 & e$K == 3) | (subj %% 7 == 0 & e$K == 1)] <- NA
res <- result("exo_ar1h_w", "gls(CHG ~ ARM * AVISIT + BASE, REML, corAR1(~ K | USUBJID), varComb(varIdent(~ 1 | AVISIT), varFixed(~ 1/W)))",
              fit, e, e, ynew, Sigma, e$W)
writeLines(toJSON(res, digits = NA, auto_unbox = TRUE, pretty = TRUE),
           file.path(out_dir, "predict_exo_ar1h_w.json"))
