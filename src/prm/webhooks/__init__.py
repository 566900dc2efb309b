"""Webhooks: endpoints admins register for event types, signed deliveries, retries."""
