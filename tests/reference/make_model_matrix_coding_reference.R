# Reference for tests/test_model_matrix_coding.py: how R's model.matrix codes factors in terms
# whose marginal terms are absent (contrasts or one indicator per level; R's TermCode in
# src/library/stats/src/model.c). For each formula: R's column names and the matrix, and the
# column names and matrix after update(formula, . ~ .) (R mmrm's, see below).
# Run from the repository root: Rscript tests/reference/make_model_matrix_coding_reference.R
# Needs base R (stats), jsonlite and survival. Output: tests/reference/model_matrix_coding.json
library(jsonlite)
library(survival)

# a balanced 2 x 2 x 3 layout twice (every cell observed, so no level is unused), with numeric
# covariates rounded to 3 decimals (written exactly to the JSON)
set.seed(20261130)
d <- expand.grid(A = c("PBO", "TRT"), S = c("Male", "Female"), V = c("V1", "V2", "V3"),
                 rep = 1:2, stringsAsFactors = FALSE)
d$rep <- NULL
n <- nrow(d)
d$x <- round(rnorm(n), 3)
d$z <- round(runif(n, 0.5, 3), 3)
d$y <- round(rnorm(n), 3)
frame <- d
frame$A <- factor(frame$A, levels = c("PBO", "TRT"))
frame$S <- factor(frame$S, levels = c("Male", "Female"))
frame$V <- factor(frame$V, levels = c("V1", "V2", "V3"))

formulas <- c(
  "y ~ A:x + x - 1 + A:S",      # R mmrm suite rank_deficient_alias_noint: A:S coded A x S contrasts
  "y ~ A * V + A:V:S",          # margins A:S, V:S absent: S by contrasts, A and V by indicators
  "y ~ A + A:V:S",              # R mmrm suite anova_interactions shape: V, S by indicators
  "y ~ A:V",                    # no margins: intercept plus every A x V indicator (aliased)
  "y ~ A * V",                  # hierarchical: contrasts everywhere (formulaic agrees)
  "y ~ x + A:x",                # numeric margin present: A by contrasts
  "y ~ A:x + V",                # numeric margin absent: A by indicators
  "y ~ 0 + A:S",                # no intercept: first factor of first factor term by indicators
  "y ~ x - 1 + V + A",          # no intercept: V by indicators, A by contrasts
  "y ~ V + x:A:S",              # A:S margin absent: all indicators
  "y ~ S + A:S",                # A by contrasts within S indicators
  "y ~ A + V:S",                # V:S without margins: V and S by indicators (aliased)
  "y ~ A + A:log(z)",           # a transform counts as a variable: A by indicators
  "y ~ A:V + V",                # A by contrasts, V by indicators; update() names V first
  "y ~ x:A + A:S + S"           # update() order: S, then x:A, A:S
)

cases <- lapply(formulas, function(f) {
  X <- model.matrix(as.formula(f), frame)
  # R mmrm drops the covariance term with update(f, . ~ . - us(...)), which rebuilds the formula
  # from its term labels: its columns are named in the variable order of that formula
  U <- model.matrix(update(as.formula(f), . ~ .), frame)
  rows <- function(M) unname(lapply(seq_len(nrow(M)), function(i) unname(M[i, ])))
  # columns R's lm reports as NA (aliased: linear combinations of the columns before them)
  cf <- coef(lm(as.formula(f), frame))
  list(formula = f, columns = colnames(X), matrix = rows(X),
       columns_after_update = colnames(U), matrix_after_update = rows(U),
       aliased_lm = I(names(cf)[is.na(cf)]))
})

# coxph codes its formula with model.matrix (with an intercept, then dropped): a formula whose
# coding differs between R's rule and formulaic's own scoping, on tests/reference/survival_lung.csv
# (rows with ph.ecog; SEX M/F from sex 1/2, ECOG lo/hi from ph.ecog 0 / >= 1)
lung <- read.csv("tests/reference/survival_lung.csv")
lung <- lung[!is.na(lung$ph.ecog), ]
lung$SEX <- factor(ifelse(lung$sex == 1, "M", "F"), levels = c("M", "F"))
lung$ECOG <- factor(ifelse(lung$ph.ecog >= 1, "hi", "lo"), levels = c("lo", "hi"))
lung$AGE <- as.numeric(lung$age)
cox_cases <- lapply(c("ECOG:AGE + SEX:ECOG", "SEX:ECOG"), function(f) {
  m <- coxph(as.formula(paste("Surv(time, event) ~", f)), lung, ties = "efron")
  list(formula = f, terms = names(coef(m)), estimate = unname(coef(m)),
       std_error = unname(sqrt(diag(vcov(m)))), aliased = names(coef(m))[is.na(coef(m))])
})

out <- list(
  description = paste("colnames and rows of model.matrix(formula, data) with R's default",
                      "contr.treatment; factor levels in the order given in 'levels'"),
  r_version = R.version.string,
  data = as.list(d),
  levels = list(A = levels(frame$A), S = levels(frame$S), V = levels(frame$V)),
  cases = cases,
  cox = cox_cases,
  survival_version = as.character(packageVersion("survival"))
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE),
           "tests/reference/model_matrix_coding.json")
