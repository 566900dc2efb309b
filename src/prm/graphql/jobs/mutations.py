"""`runMaintenance`: start the tenant's `maintenance.purge` now rather than at the daily tick."""

from __future__ import annotations

import strawberry

from prm.auth.principal import Role
from prm.graphql.context import Info
from prm.graphql.jobs.types import JobPayload, JobType
from prm.graphql.mutations import mutation
from prm.graphql.permissions import require_principal
from prm.workers.jobs import enqueue_job
from prm.workers.maintenance import PURGE


@strawberry.type
class Mutation:
    @mutation(
        JobPayload,
        roles=(Role.ADMIN,),
        description="Purge the tenant's expired tokens and old jobs now; returns the job.",
    )
    async def run_maintenance(self, info: Info) -> JobPayload:
        job = await enqueue_job(info.context.session, require_principal(info), PURGE)
        return JobPayload(job=JobType.from_model(job))
