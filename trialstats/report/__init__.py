"""trialstats.report."""
