"""Performance metrics: scorecards and analytical-CRM figures, as set-based SQL."""
