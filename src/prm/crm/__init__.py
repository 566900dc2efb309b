"""Accounts, contacts, opportunities, activities (touch points), cases, campaigns."""
