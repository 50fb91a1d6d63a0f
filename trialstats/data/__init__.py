"""Reading, validating and holding trial data (CDISC ADaM-style tables)."""
