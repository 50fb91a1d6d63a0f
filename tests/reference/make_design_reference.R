# Reference values for tests/test_design_closed_form.py: R rpact sample size and power of the
# log-rank / Cox comparison of two exponential arms (trialstats.design.models, model
# "exponential-relapse"). Time unit: days. Run: Rscript tests/reference/make_design_reference.R
# Writes tests/reference/design_rpact.json.
suppressPackageStartupMessages({library(rpact); library(jsonlite)})

cases <- list(
  list(id = "hr065_noacc", hazard_ratio = 0.65, median_reference = 200, accrual_days = 0,
       followup_days = 365, dropout = 0.0, power = 0.80),
  list(id = "hr060_acc_drop", hazard_ratio = 0.60, median_reference = 250, accrual_days = 180,
       followup_days = 365, dropout = 0.10, power = 0.80)
)
out <- list()
for (cs in cases) {
  acc <- if (cs$accrual_days > 0) c(0, cs$accrual_days) else c(0, 1e-6)
  ss <- getSampleSizeSurvival(
    alpha = 0.05, sided = 2, beta = 1 - cs$power, hazardRatio = cs$hazard_ratio,
    median2 = cs$median_reference, accrualTime = acc, followUpTime = cs$followup_days,
    dropoutRate1 = cs$dropout, dropoutRate2 = cs$dropout, dropoutTime = 365,
    typeOfComputation = "Schoenfeld")
  n_total <- 2 * ceiling(ss$maxNumberOfSubjects / 2)
  pw <- getPowerSurvival(
    alpha = 0.05, sided = 2, hazardRatio = cs$hazard_ratio, median2 = cs$median_reference,
    accrualTime = acc, maxNumberOfSubjects = n_total,
    maxNumberOfEvents = ss$maxNumberOfEvents, dropoutRate1 = cs$dropout,
    dropoutRate2 = cs$dropout, dropoutTime = 365, typeOfComputation = "Schoenfeld")
  # events expected by the end of follow-up with n_total subjects (analysis at accrual + follow-up)
  pw_fixed <- getPowerSurvival(
    alpha = 0.05, sided = 2, hazardRatio = cs$hazard_ratio, median2 = cs$median_reference,
    accrualTime = acc, maxNumberOfSubjects = n_total,
    maxNumberOfEvents = ss$maxNumberOfEvents * n_total / ss$maxNumberOfSubjects,
    dropoutRate1 = cs$dropout, dropoutRate2 = cs$dropout, dropoutTime = 365,
    typeOfComputation = "Schoenfeld")
  out[[cs$id]] <- c(cs, list(
    n_subjects = ss$maxNumberOfSubjects, n_events = ss$maxNumberOfEvents,
    analysis_time = ss$analysisTime[1, 1],
    n_per_arm = n_total / 2,
    power_at_events = pw$overallReject,
    analysis_time_power = pw$analysisTime[1, 1],
    events_at_n_total = ss$maxNumberOfEvents * n_total / ss$maxNumberOfSubjects,
    power_at_n_total = pw_fixed$overallReject,
    analysis_time_at_n_total = pw_fixed$analysisTime[1, 1]))
}
out$versions <- list(R = R.version.string, rpact = as.character(packageVersion("rpact")))
write_json(out, "tests/reference/design_rpact.json", auto_unbox = TRUE, digits = NA, pretty = TRUE)
