"""GraphQL subscriptions over `graphql-transport-ws` at `/graphql` (see `subscriptions`)."""
