"""`recomputeMetrics`: recompute a period's scorecards and customer metrics now rather
than at the scheduler's next pass."""

from __future__ import annotations

import strawberry

from prm.auth.principal import Role
from prm.graphql.context import Info
from prm.graphql.jobs.types import JobPayload, JobType
from prm.graphql.mutations import mutation
from prm.graphql.permissions import require_principal
from prm.metrics.periods import parse_period
from prm.metrics.recompute import RECOMPUTE
from prm.workers.jobs import enqueue_job


@strawberry.type
class Mutation:
    @mutation(
        JobPayload,
        roles=(Role.ADMIN, Role.MANAGER),
        description="Recompute the partner and employee scorecards and customer metrics of "
        "`period` (`2026-11`, `2026-Q4`, `2026`) in the background; returns the job. A "
        "malformed period is INVALID.",
    )
    async def recompute_metrics(self, info: Info, period: str) -> JobPayload:
        key = parse_period(period).key
        job = await enqueue_job(
            info.context.session, require_principal(info), RECOMPUTE, {"period": key}
        )
        return JobPayload(job=JobType.from_model(job))
