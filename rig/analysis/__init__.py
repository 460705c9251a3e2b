"""Results and offline analysis: the one % of baseline, re-analysis, ABF input, summary, report, export."""
