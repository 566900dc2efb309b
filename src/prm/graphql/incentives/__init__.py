"""GraphQL of partner incentives and rebates."""
