#!/usr/bin/env Rscript
# make_mmrm_anova_reference.R
#
# Reference tables for MMRMResult.anova(type = "II" | "III"). Writes tests/reference/mmrm/anova_fev.json,
# used by tests/test_mmrm_anova.py. R mmrm is not in Debian; two independent R routes:
#
# 1. car::Anova on nlme::gls (unstructured: corSymm + varIdent, REML, BFGS with tight tolerances),
#    types II and III. car on a gls object reports Wald chi-square tests (no residual df), i.e. the
#    hypothesis matrix and the statistic F * num_df with the model-based covariance: this checks the
#    type II / III contrast matrices and statistics; the denominator df are checked by 2.
# 2. lmerTest::anova on the random-intercept model (= compound-symmetry MMRM when rho >= 0), type 3,
#    ddf = "Satterthwaite" and "Kenward-Roger", for the terms whose type III hypothesis does not depend
#    on the contrast coding (terms not contained in another term: RACE, SEX, FEV1_BL, ARMCD:AVISIT);
#    lmerTest builds SAS-style type III contrasts, car uses the coefficients' identity rows; both span
#    the same hypothesis for those terms.
#
# Data: tests/reference/mmrm/fev_data.csv (mmrm::fev_data), rows with FEV1 present,
# FEV1 ~ RACE + SEX + ARMCD * AVISIT + FEV1_BL, treatment contrasts, R's level orders below.
# Run from the repository root: Rscript tests/reference/make_mmrm_anova_reference.R
suppressPackageStartupMessages({
  library(nlme); library(car); library(lme4); library(lmerTest); library(pbkrtest); library(jsonlite)
})
out_dir <- file.path("tests", "reference", "mmrm")
d <- read.csv(file.path(out_dir, "fev_data.csv"), stringsAsFactors = FALSE, na.strings = "")
d <- d[!is.na(d$FEV1), ]
d$RACE <- factor(d$RACE, levels = c("Asian", "Black or African American", "White"))
d$SEX <- factor(d$SEX, levels = c("Male", "Female"))
d$ARMCD <- factor(d$ARMCD, levels = c("PBO", "TRT"))
d$AVISIT <- factor(d$AVISIT, levels = c("VIS1", "VIS2", "VIS3", "VIS4"))
d$K <- as.integer(d$AVISIT)
d <- d[order(d$USUBJID, d$K), ]
f <- FEV1 ~ RACE + SEX + ARMCD * AVISIT + FEV1_BL

fit <- gls(f, data = d, method = "REML", correlation = corSymm(form = ~ K | USUBJID),
           weights = varIdent(form = ~ 1 | AVISIT),
           control = glsControl(maxIter = 1000, msMaxIter = 1000, tolerance = 1e-14, msTol = 1e-15,
                                opt = "optim", optimMethod = "BFGS"))
car_table <- function(type) {
  a <- Anova(fit, type = type, test.statistic = "Chisq")
  list(term = rownames(a), num_df = unname(a$Df), chisq = unname(a$Chisq),
       p_value = unname(a[["Pr(>Chisq)"]]))
}

lm_fit <- lmer(FEV1 ~ RACE + SEX + ARMCD * AVISIT + FEV1_BL + (1 | USUBJID), data = d, REML = TRUE,
               control = lmerControl(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-12)))
lmer_table <- function(ddf) {
  a <- anova(lm_fit, type = 3, ddf = ddf)
  keep <- c("RACE", "SEX", "FEV1_BL", "ARMCD:AVISIT")
  a <- a[keep, ]
  list(term = keep, num_df = unname(a$NumDF), den_df = unname(a$DenDF),
       statistic = unname(a[["F value"]]), p_value = unname(a[["Pr(>F)"]]))
}

res <- list(
  formula = deparse(f),
  gls_call = "gls(f, REML, corSymm(~ K | USUBJID), varIdent(~ 1 | AVISIT)); car::Anova(type, test.statistic = 'Chisq')",
  gls_m2loglik = -2 * as.numeric(logLik(fit)),
  car_type_III = car_table("III"), car_type_II = car_table("II"),
  lmer_call = "lmer(FEV1 ~ RACE + SEX + ARMCD * AVISIT + FEV1_BL + (1 | USUBJID), REML); anova(type = 3, ddf)",
  lmer_rho_nonnegative = as.data.frame(VarCorr(lm_fit))$vcov[1] >= 0,
  lmer_satterthwaite = lmer_table("Satterthwaite"), lmer_kenward_roger = lmer_table("Kenward-Roger"),
  versions = list(R = R.version.string, nlme = as.character(packageVersion("nlme")),
                  car = as.character(packageVersion("car")), lme4 = as.character(packageVersion("lme4")),
                  lmerTest = as.character(packageVersion("lmerTest")),
                  pbkrtest = as.character(packageVersion("pbkrtest")))
)
writeLines(toJSON(res, digits = NA, auto_unbox = TRUE, pretty = TRUE), file.path(out_dir, "anova_fev.json"))
