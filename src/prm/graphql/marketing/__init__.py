"""Marketing in the API: segments, campaigns, members, responses and campaign metrics."""
