"""Leads: capture, scoring, distribution to partners, offers, the claim pool, working and converting."""
