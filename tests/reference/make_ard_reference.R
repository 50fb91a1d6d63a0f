# Reference numbers for trialstats.results (issue 8, item 2): multiplicity, risk differences,
# Table 1 descriptive statistics and the treatment-by-subgroup interaction test.
# Writes tests/reference/ard_reference.json. Run from the repository root, after
# tests/reference/make_real_trials.R (it reads the real-trial fixtures in tests/data/real/):
#   Rscript tests/reference/make_ard_reference.R
suppressPackageStartupMessages({ library(nlme); library(emmeans); library(jsonlite) })
out_json <- "tests/reference/ard_reference.json"

# ------------------------------------------------------------------ multiplicity: p.adjust
p_sets <- list(
  five = c(0.010, 0.040, 0.030, 0.005, 0.200),
  ties = c(0.020, 0.020, 0.049, 0.001, 0.500, 0.049),
  with_na = c(0.012, NA, 0.031, 0.004))
adjust <- lapply(p_sets, function(p) list(
  p = p, holm = p.adjust(p, "holm"), hochberg = p.adjust(p, "hochberg"),
  bonferroni = p.adjust(p, "bonferroni"), bh = p.adjust(p, "BH"),
  # fixed sequence: the running maximum, NA from the first missing p on
  fixed_sequence = { q <- cummax(ifelse(is.na(p), Inf, p)); ifelse(is.finite(q), q, NA) }))
# serial gatekeeping (Holm within family, family f+1 open only if all of family f rejected):
# adjusted p = max(Holm within the family, largest adjusted p of the earlier families)
gk_p <- c(0.010, 0.020, 0.004, 0.030, 0.300)
gk_fam <- c("primary", "primary", "key secondary", "key secondary", "other")
gk_adj <- numeric(length(gk_p)); gate <- 0
for (f in unique(gk_fam)) {
  i <- which(gk_fam == f)
  gk_adj[i] <- pmax(p.adjust(gk_p[i], "holm"), gate)
  gate <- max(gk_adj[i])
}

# ------------------------------------------------------------------ risk differences (Newcombe)
# Newcombe (1998) method 10 from the two Wilson score intervals, which are
# prop.test(correct = FALSE)$conf.int; p-value: prop.test(correct = FALSE) (Pearson chi-square)
newcombe <- function(x1, n1, x2, n2, level = 0.95) {
  w1 <- suppressWarnings(prop.test(x1, n1, conf.level = level, correct = FALSE)$conf.int)
  w2 <- suppressWarnings(prop.test(x2, n2, conf.level = level, correct = FALSE)$conf.int)
  p1 <- x1 / n1; p2 <- x2 / n2; d <- p1 - p2
  pt <- suppressWarnings(prop.test(c(x1, x2), c(n1, n2), correct = FALSE))
  list(x1 = x1, n1 = n1, x2 = x2, n2 = n2, level = level, estimate = d,
       conf_low = d - sqrt((p1 - w1[1])^2 + (w2[2] - p2)^2),
       conf_high = d + sqrt((w1[2] - p1)^2 + (p2 - w2[1])^2),
       chisq = unname(pt$statistic), p_value = pt$p.value)
}
rd <- list(newcombe(30, 148, 20, 150), newcombe(0, 50, 5, 50), newcombe(12, 40, 12, 40),
           newcombe(45, 50, 10, 52), newcombe(7, 23, 2, 25, level = 0.90))

# ------------------------------------------------------------------ Table 1: colon ADSL
adsl <- read.csv("tests/data/real/colon/adsl.csv", stringsAsFactors = FALSE)
adsl$ARM <- factor(adsl$ARM, levels = c("OBS", "LEV", "LEV5FU"))
groups <- c(split(seq_len(nrow(adsl)), adsl$ARM), list(Overall = seq_len(nrow(adsl))))
cont <- function(v) {
  x <- v[!is.na(v)]
  q <- quantile(x, c(0.25, 0.5, 0.75), type = 7, names = FALSE)
  list(n = length(x), n_missing = sum(is.na(v)), mean = mean(x), sd = sd(x), median = q[2],
       q1 = q[1], q3 = q[3], min = min(x), max = max(x))
}
categ <- function(v) {
  tab <- table(factor(v[!is.na(v) & v != ""]))
  list(category = names(tab), n = as.vector(tab), pct = 100 * as.vector(tab) / sum(tab),
       n_missing = sum(is.na(v) | v == ""))
}
table1 <- list(
  continuous = lapply(c(AGE = "AGE", NODES = "NODES"), function(v)
    lapply(groups, function(i) cont(adsl[[v]][i]))),
  categorical = lapply(c(SEX = "SEX", DIFFER = "DIFFER", EXTENT = "EXTENT"), function(v)
    lapply(groups, function(i) categ(adsl[[v]][i]))))

# ------------------------------------------------------------------ subgroup interaction
adeff <- read.csv("tests/data/real/antidepressant/adeff.csv", stringsAsFactors = FALSE)
adsl_a <- read.csv("tests/data/real/antidepressant/adsl.csv", stringsAsFactors = FALSE)
d <- adeff[adeff$ABLFL != "Y", ]
d$ARM <- factor(adsl_a$ARM[match(d$USUBJID, adsl_a$USUBJID)], levels = c("PLACEBO", "DRUG"))
d$SEX <- factor(adsl_a$SEX[match(d$USUBJID, adsl_a$USUBJID)], levels = c("F", "M"))
d$AVISIT <- factor(d$AVISIT, levels = c("WEEK 1", "WEEK 2", "WEEK 4", "WEEK 6"))
d$VISN <- as.integer(d$AVISIT)
ctl <- glsControl(tolerance = 1e-10, msTol = 1e-10, maxIter = 500, msMaxIter = 500)
fit_us <- function(formula, method) gls(formula, data = d, method = method,
  correlation = corSymm(form = ~ VISN | USUBJID), weights = varIdent(form = ~ 1 | AVISIT),
  control = ctl)
full_f <- CHG ~ ARM * AVISIT * SEX + BASE
red_f <- CHG ~ ARM * AVISIT + SEX * AVISIT + BASE
full_reml <- fit_us(full_f, "REML")
emm <- emmeans(full_reml, ~ ARM * SEX | AVISIT, mode = "df.error")
ic <- contrast(emm, interaction = c("trt.vs.ctrl", "trt.vs.ctrl"))
# the joint Wald F from the contrast matrix and vcov (summary() of emmeans rounds F.ratio)
in6 <- ic@grid$AVISIT == "WEEK 6"
L6 <- ic@linfct[in6, , drop = FALSE]
Lb <- L6 %*% ic@bhat
wald_f <- as.numeric(t(Lb) %*% solve(L6 %*% ic@V %*% t(L6)) %*% Lb) / nrow(L6)
ic6 <- as.data.frame(summary(ic))
ic6 <- ic6[ic6$AVISIT == "WEEK 6", ]
full_ml <- fit_us(full_f, "ML"); red_ml <- fit_us(red_f, "ML")
lr <- anova(red_ml, full_ml)
interaction <- list(
  data = "tests/data/real/antidepressant (post-baseline rows), subgroup SEX",
  wald = list(visit = "WEEK 6", F = wald_f, num_df = nrow(L6),
              contrast_estimate = ic6$estimate, contrast_std_error = ic6$SE,
              note = "emmeans joint test on nlme::gls (REML); den df from emmeans mode df.error is not compared"),
  lr = list(statistic = lr$L.Ratio[2], df = lr$df[2] - lr$df[1], p_value = lr$`p-value`[2],
            loglik_full = as.numeric(logLik(full_ml)), loglik_reduced = as.numeric(logLik(red_ml))))

write_json(list(
  source = "tests/reference/make_ard_reference.R",
  versions = list(R = R.version.string, nlme = as.character(packageVersion("nlme")),
                  emmeans = as.character(packageVersion("emmeans"))),
  adjust = adjust,
  gatekeeping = list(p = gk_p, families = gk_fam, within = "holm", adjusted = gk_adj),
  risk_difference = rd, table1 = table1, interaction = interaction),
  out_json, auto_unbox = TRUE, digits = NA, pretty = TRUE, na = "null")
cat("wrote", out_json, "\n")
