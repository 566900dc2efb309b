"""Market development funds: budgets, allocations, fund requests, claims with proof of performance, payment."""
