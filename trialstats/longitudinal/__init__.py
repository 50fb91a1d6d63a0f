"""trialstats.longitudinal."""
