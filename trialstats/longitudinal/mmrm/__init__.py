"""trialstats.longitudinal.mmrm."""
