"""Employees, teams, objectives and quotas, compensation plans, reviews, training."""
