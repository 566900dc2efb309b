"""GraphQL of partner onboarding checklists."""
