"""Pure analysis of stored runs: thresholds (pass/fail), comparisons (verdicts)."""
