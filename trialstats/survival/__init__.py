"""trialstats.survival."""
