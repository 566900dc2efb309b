"""Partner organisations, tiers, partner users, programs and certifications."""
