# Writes tests/data/mini_trial_sas/*.sas7bdat from the CSV tables of tests/data/mini_trial, so
# the .sas7bdat reader has a real file to read (pyreadstat cannot write sas7bdat).
# Run from tests/data:  Rscript make_mini_trial_sas.R      (haven::write_sas, haven >= 2.5)
library(haven)
for (table in c("adsl", "adeff")) {
  df <- read.csv(file.path("mini_trial", paste0(table, ".csv")), colClasses = "character",
                 na.strings = character(0))
  for (col in c("AGE", "BASETAHC", "AVISITN", "ADY", "AVAL", "BASE", "CHG")) {
    if (col %in% names(df)) df[[col]] <- suppressWarnings(as.numeric(df[[col]]))
  }
  suppressWarnings(write_sas(df, file.path("mini_trial_sas", paste0(table, ".sas7bdat"))))
}
