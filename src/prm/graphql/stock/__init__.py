"""Stock levels, partner allocations and availability in the GraphQL API."""
