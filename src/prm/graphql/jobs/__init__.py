"""GraphQL of background jobs: `Job`, `job(id:)`, `runMaintenance`."""
