#!/usr/bin/env Rscript
# make_mmrm_ftest_reference.R
#
# Reference values for multi-degree-of-freedom F tests of fixed effects (contrast matrices L) in the
# compound-symmetry MMRM, fitted as a linear mixed model with a random intercept per subject
# (lmerTest::lmer), with Satterthwaite and Kenward-Roger denominator df (lmerTest::contest, joint).
# Writes tests/reference/mmrm/ftest_cs.json.
#
# Usage, from the repository root:
#   Rscript tests/reference/make_mmrm_ftest_reference.R
# Needs: lme4, lmerTest, pbkrtest (for Kenward-Roger), jsonlite.
# Deterministic: no random numbers; fixed factor levels; tight optimizer tolerance.

suppressPackageStartupMessages({
  library(lme4)
  library(lmerTest)
  library(pbkrtest)
  library(jsonlite)
})

out_file <- "tests/reference/mmrm/ftest_cs.json"

# Data: mmrm::fev_data, rows with missing FEV1 dropped; explicit factor level orders.
d <- read.csv("tests/reference/mmrm/fev_data.csv", stringsAsFactors = FALSE)
d <- d[!is.na(d$FEV1), ]
d$USUBJID <- factor(d$USUBJID)
d$AVISIT <- factor(d$AVISIT, levels = c("VIS1", "VIS2", "VIS3", "VIS4"))
d$ARMCD <- factor(d$ARMCD, levels = c("PBO", "TRT"))
d$RACE <- factor(d$RACE, levels = c("Asian", "Black or African American", "White"))
d$SEX <- factor(d$SEX, levels = c("Male", "Female"))
stopifnot(!anyNA(d[c("AVISIT", "ARMCD", "RACE", "SEX")]))

# Model: random intercept per subject (= compound symmetry with rho >= 0), REML.
fit <- lmerTest::lmer(FEV1 ~ RACE + SEX + ARMCD * AVISIT + (1 | USUBJID), data = d, REML = TRUE,
                      control = lmerControl(optimizer = "bobyqa",
                                            optCtrl = list(rhoend = 1e-12, maxfun = 1e5)))
beta <- fixef(fit)
cn <- names(beta)
stopifnot(length(cn) == 11)

# Build an L matrix from a list of rows, each a named vector of coefficient weights.
make_L <- function(rows) {
  L <- matrix(0, nrow = length(rows), ncol = length(cn), dimnames = list(NULL, cn))
  for (i in seq_along(rows)) L[i, names(rows[[i]])] <- rows[[i]]
  stopifnot(all(unlist(lapply(rows, names)) %in% cn))  # catch misspelt coefficient names
  L
}
sel <- function(nm) setNames(1, nm)
Ls <- list(
  interaction = make_L(list(sel("ARMCDTRT:AVISITVIS2"), sel("ARMCDTRT:AVISITVIS3"),
                            sel("ARMCDTRT:AVISITVIS4"))),
  race = make_L(list(sel("RACEBlack or African American"), sel("RACEWhite"))),
  arm_all_visits = make_L(list(sel("ARMCDTRT"),
                               c("ARMCDTRT" = 1, "ARMCDTRT:AVISITVIS2" = 1),
                               c("ARMCDTRT" = 1, "ARMCDTRT:AVISITVIS3" = 1),
                               c("ARMCDTRT" = 1, "ARMCDTRT:AVISITVIS4" = 1))),
  single = make_L(list(c("ARMCDTRT" = 1, "ARMCDTRT:AVISITVIS4" = 1)))
)

# Joint F test for one L and one ddf method; returns F, NumDF, DenDF, p.
ftest <- function(L, ddf) {
  r <- lmerTest::contest(fit, L, ddf = ddf, joint = TRUE)
  list(F = r[["F value"]], NumDF = r[["NumDF"]], DenDF = r[["DenDF"]], p_value = r[["Pr(>F)"]])
}

tests <- lapply(names(Ls), function(nm) {
  L <- Ls[[nm]]
  list(name = nm,
       L = lapply(seq_len(nrow(L)), function(i) as.list(L[i, ])),  # rows with column names
       satterthwaite = ftest(L, "Satterthwaite"),
       kenward_roger = ftest(L, "Kenward-Roger"))
})
names(tests) <- names(Ls)

vc <- as.data.frame(VarCorr(fit))
res <- list(
  provenance = "tests/reference/make_mmrm_ftest_reference.R (Rscript, from the repository root)",
  data = "tests/reference/mmrm/fev_data.csv, rows with NA FEV1 dropped",
  r_call = paste0("lmerTest::lmer(FEV1 ~ RACE + SEX + ARMCD * AVISIT + (1 | USUBJID), data = d, ",
                  "REML = TRUE, control = lmerControl(optimizer = \"bobyqa\", ",
                  "optCtrl = list(rhoend = 1e-12, maxfun = 1e5))); ",
                  "lmerTest::contest(fit, L, ddf = <ddf>, joint = TRUE)"),
  levels = list(AVISIT = levels(d$AVISIT), ARMCD = levels(d$ARMCD),
                RACE = levels(d$RACE), SEX = levels(d$SEX)),
  versions = list(R = R.version.string,
                  lme4 = as.character(packageVersion("lme4")),
                  lmerTest = as.character(packageVersion("lmerTest")),
                  pbkrtest = as.character(packageVersion("pbkrtest"))),
  n_obs = nobs(fit),
  n_subjects = unname(ngrps(fit)[["USUBJID"]]),
  coef_names = cn,
  fixef = as.list(beta),
  var_subject_intercept = vc$vcov[vc$grp == "USUBJID"],
  var_residual = vc$vcov[vc$grp == "Residual"],
  REMLcrit = unname(REMLcrit(fit)),
  tests = tests
)
write_json(res, out_file, digits = NA, auto_unbox = TRUE, pretty = TRUE)
cat("wrote", out_file, "\n")
