"""Partner incentives and rebates: rules per program level, earned incentives, statements."""
