"""GraphQL of market development funds."""
