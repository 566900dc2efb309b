"""Real-time delivery of domain events to this process's GraphQL subscribers.

`prm.events.bus.emit` NOTIFYs `prm_events` at commit; each API process runs one
`listener.Listener` holding a dedicated connection that LISTENs on it and hands every
notification to the process's `hub.Hub`, which fans it out to the subscribers it may
concern (tenant, event type, partner). PostgreSQL NOTIFY is used whatever the broker
(`PRM_BROKER_URL=redis://…` included): every deployment has the database, and NOTIFY is
transactional (delivered at commit, never on rollback), which Redis pub/sub is not.
"""
