"""GraphQL of the lead-SLA policy and paused lead delivery."""
