"""Identity: passwords, signing keys, tokens, the OAuth endpoint and principals."""
