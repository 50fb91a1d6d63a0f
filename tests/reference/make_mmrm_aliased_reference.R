#!/usr/bin/env Rscript
# make_mmrm_aliased_reference.R
#
# Reference for ts.mmrm(rank_deficient = "drop"): R drops aliased columns (lm's pivoting: a column that
# is a linear combination of earlier ones goes; R mmrm does the same) and fits the rest. Writes
# tests/reference/mmrm/aliased_fev.json, used by tests/test_mmrm_aliased.py.
# Data: tests/reference/mmrm/fev_data.csv, rows with FEV1 present, minus every TRT row at VIS4 (so the
# ARMCD:AVISIT cell TRT x VIS4 is empty), plus FEV1_BL2 = 2 * FEV1_BL (aliased with FEV1_BL).
# Model: FEV1 ~ RACE + SEX + FEV1_BL + FEV1_BL2 + ARMCD * AVISIT, unstructured (corSymm + varIdent), REML.
# Which columns are aliased: is.na(coef(lm(...))). The fit: nlme::gls on the model matrix without them.
# Run from the repository root: Rscript tests/reference/make_mmrm_aliased_reference.R
suppressPackageStartupMessages({ library(nlme); library(jsonlite) })
out_dir <- file.path("tests", "reference", "mmrm")
d <- read.csv(file.path(out_dir, "fev_data.csv"), stringsAsFactors = FALSE, na.strings = "")
d <- d[!is.na(d$FEV1) & !(d$ARMCD == "TRT" & d$AVISIT == "VIS4"), ]
d$FEV1_BL2 <- 2 * d$FEV1_BL
d$RACE <- factor(d$RACE, levels = c("Asian", "Black or African American", "White"))
d$SEX <- factor(d$SEX, levels = c("Male", "Female"))
d$ARMCD <- factor(d$ARMCD, levels = c("PBO", "TRT"))
d$AVISIT <- factor(d$AVISIT, levels = c("VIS1", "VIS2", "VIS3", "VIS4"))
d$K <- as.integer(d$AVISIT)
f <- FEV1 ~ RACE + SEX + FEV1_BL + FEV1_BL2 + ARMCD * AVISIT
ls_fit <- lm(f, data = d)
aliased <- names(coef(ls_fit))[is.na(coef(ls_fit))]
X <- model.matrix(f, d)
Xk <- X[, !colnames(X) %in% aliased]
fit <- gls(FEV1 ~ Xk - 1, data = d, method = "REML", correlation = corSymm(form = ~ K | USUBJID),
           weights = varIdent(form = ~ 1 | AVISIT),
           control = glsControl(maxIter = 1000, msMaxIter = 1000, tolerance = 1e-14, msTol = 1e-15,
                                opt = "optim", optimMethod = "BFGS"))
V <- vcov(fit)
res <- list(
  formula = deparse(f), all_terms = colnames(X), aliased = aliased, terms = colnames(Xk),
  estimate = unname(coef(fit)), std_error = unname(sqrt(diag(V))),
  m2loglik = -2 * as.numeric(logLik(fit)), n_obs = nrow(d),
  versions = list(R = R.version.string, nlme = as.character(packageVersion("nlme")))
)
writeLines(toJSON(res, digits = NA, auto_unbox = TRUE, pretty = TRUE), file.path(out_dir, "aliased_fev.json"))
