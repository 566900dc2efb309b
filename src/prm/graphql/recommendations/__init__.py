"""GraphQL of cross-sell and up-sell: `recommendations(accountId:)` and
`recomputeRecommendations`."""
