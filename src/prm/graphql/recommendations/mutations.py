"""`recomputeRecommendations`: recompute the tenant's product associations now rather
than at the scheduler's daily pass."""

from __future__ import annotations

import strawberry

from prm.auth.principal import Role
from prm.catalog.recommendation_compute import ASSOCIATIONS
from prm.graphql.context import Info
from prm.graphql.jobs.types import JobPayload, JobType
from prm.graphql.mutations import mutation
from prm.graphql.permissions import require_principal
from prm.workers.jobs import enqueue_job


@strawberry.type
class Mutation:
    @mutation(
        JobPayload,
        roles=(Role.ADMIN,),
        description="Recompute the cross-sell and up-sell associations behind "
        "`recommendations` in the background (the `catalog.associations` job); returns "
        "the job.",
    )
    async def recompute_recommendations(self, info: Info) -> JobPayload:
        job = await enqueue_job(info.context.session, require_principal(info), ASSOCIATIONS)
        return JobPayload(job=JobType.from_model(job))
