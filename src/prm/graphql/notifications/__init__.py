"""GraphQL of partner notifications."""
