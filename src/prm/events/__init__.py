"""Domain events: what happened, told to subscribers (PostgreSQL NOTIFY) and to webhook
endpoints (delivery rows) when, and only when, the transaction that caused it commits."""
