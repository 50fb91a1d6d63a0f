# Reference for trialstats.results.describe.mean_ci: observed mean of CHG per arm and visit with
# the one-sample t interval of R's t.test, on the real antidepressant trial
# (tests/data/real/antidepressant, written by make_real_trials.R).
# Run from the repository root: Rscript tests/reference/make_mean_ci_reference.R
library(jsonlite)
adeff <- read.csv("tests/data/real/antidepressant/adeff.csv", stringsAsFactors = FALSE)
adsl <- read.csv("tests/data/real/antidepressant/adsl.csv", stringsAsFactors = FALSE)
d <- merge(adeff[adeff$ABLFL != "Y" & !is.na(adeff$CHG), ], adsl[, c("USUBJID", "ARM")], by = "USUBJID")
rows <- list()
for (arm in c("PLACEBO", "DRUG")) for (v in c("WEEK 1", "WEEK 2", "WEEK 4", "WEEK 6")) {
  x <- d$CHG[d$ARM == arm & d$AVISIT == v]
  for (level in c(0.95, 0.9)) {
    tt <- t.test(x, conf.level = level)
    rows[[length(rows) + 1]] <- list(ARM = arm, AVISIT = v, level = level, n = length(x),
      mean = mean(x), sd = sd(x), std_error = sd(x) / sqrt(length(x)),
      conf_low = tt$conf.int[1], conf_high = tt$conf.int[2])
  }
}
out <- list(source = "tests/reference/make_mean_ci_reference.R", R = R.version.string, rows = rows)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), "tests/reference/mean_ci.json")
