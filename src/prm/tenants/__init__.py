"""Tenants, their users, API clients and the audit log."""
