#!/usr/bin/env Rscript
# make_mmrm_anova_kr_reference.R
#
# R mmrm 0.3.18's Kenward-Roger F tests of the type III terms of a compound-symmetry MMRM on
# fev_data, for tests/test_mmrm_anova_kr_rmmrm.py: the between-subject terms whose KR df
# pbkrtest puts 5 % lower (tests/test_mmrm_anova.py). R mmrm was built from source
# (github:openpharma/mmrm tag v0.3.18) into /work/rlib; run from the repository root:
#   R_LIBS=/work/rlib Rscript tests/reference/make_mmrm_anova_kr_reference.R
# Writes tests/reference/mmrm/anova_kr_rmmrm_fev.json.
#
# Model: mmrm(FEV1 ~ RACE + SEX + ARMCD * AVISIT + FEV1_BL + cs(AVISIT | USUBJID),
#             method = "Kenward-Roger", vcov = "Kenward-Roger" | "Kenward-Roger-Linear").
# Terms RACE, SEX, FEV1_BL and ARMCD:AVISIT are contained in no other term, so their type III
# hypothesis is "their coefficients are 0" under any coding: L selects them, and
# mmrm::df_md(fit, L) gives num_df, denom_df and F. (car 3.1.1 on this machine is too old for
# mmrm's car::Anova method, which needs car >= 3.1.2.) As in make_mmrm_reference.R the fit is
# refitted at a tighter optimum (Newton steps on mmrm's objective, then optimizer = "nlminb");
# both blocks are stored.
suppressPackageStartupMessages({ library(mmrm); library(jsonlite) })
out_dir <- file.path("tests", "reference", "mmrm")
fev <- read.csv(file.path(out_dir, "fev_data.csv"), stringsAsFactors = FALSE, na.strings = "")
fev$RACE <- factor(fev$RACE, levels = c("Asian", "Black or African American", "White"))
fev$SEX <- factor(fev$SEX, levels = c("Male", "Female"))
fev$ARMCD <- factor(fev$ARMCD, levels = c("PBO", "TRT"))
fev$AVISIT <- factor(fev$AVISIT, levels = c("VIS1", "VIS2", "VIS3", "VIS4"))
fev$USUBJID <- factor(fev$USUBJID)
f <- FEV1 ~ RACE + SEX + ARMCD * AVISIT + FEV1_BL + cs(AVISIT | USUBJID)

source(file.path("tests", "reference", "mmrm_newton_polish.R"))  # newton_polish()

numbers <- function(fit) {
  nm <- names(fit$beta_est)
  terms <- list(RACE = c("RACEBlack or African American", "RACEWhite"), SEX = "SEXFemale",
                FEV1_BL = "FEV1_BL", `ARMCD:AVISIT` = grep(":", nm, value = TRUE))
  tests <- lapply(terms, function(cols) {
    L <- matrix(0, length(cols), length(nm))
    for (i in seq_along(cols)) L[i, match(cols, nm)[i]] <- 1
    r <- df_md(fit, L)
    list(columns = cols, num_df = r$num_df, den_df = r$denom_df, statistic = r$f_stat,
         p_value = r$p_val)
  })
  co <- summary(fit)$coefficients
  list(terms = nm, estimate = unname(co[, "Estimate"]), std_error = unname(co[, "Std. Error"]),
       df = unname(co[, "df"]), theta = unname(fit$theta_est), m2loglik = deviance(fit),
       max_abs_gradient = max(abs(fit$tmb_object$gr(fit$theta_est))), type3 = tests)
}

res <- list(versions = list(R = R.version.string, mmrm = as.character(packageVersion("mmrm")),
                            note = "mmrm 0.3.18 built from source (github:openpharma/mmrm tag v0.3.18)"))
for (v in c("Kenward-Roger", "Kenward-Roger-Linear")) {
  fit <- mmrm(f, data = fev, method = "Kenward-Roger", vcov = v)
  theta <- newton_polish(fit$tmb_object, fit$theta_est)
  tight <- mmrm(f, data = fev, method = "Kenward-Roger", vcov = v, optimizer = "nlminb",
                start = theta)
  res[[v]] <- list(
    r_call = sprintf(paste0('mmrm(FEV1 ~ RACE + SEX + ARMCD * AVISIT + FEV1_BL + cs(AVISIT | ',
                            'USUBJID), data = fev_data, method = "Kenward-Roger", vcov = "%s"); ',
                            'df_md(fit, L)'), v),
    default = numbers(fit), tight = numbers(tight))
}
writeLines(toJSON(res, digits = NA, auto_unbox = TRUE, pretty = TRUE),
           file.path(out_dir, "anova_kr_rmmrm_fev.json"))
