"""Background jobs: broker setup, the job table and outbox, actors and schedules."""
