"""Deal registration: partners register the deals they found; managers approve them."""
