"""Webhooks over GraphQL: endpoints, event types, the delivery log (tenant admins only)."""
