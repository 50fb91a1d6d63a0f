"""trialstats.report.sections."""
