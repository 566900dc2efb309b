"""`job(id:)`."""

from __future__ import annotations

import strawberry

from prm.graphql.context import Info
from prm.graphql.jobs.types import JobType, load_job
from prm.graphql.permissions import require_principal
from prm.graphql.relay import pk_of


@strawberry.type
class Query:
    @strawberry.field(
        description="A job the caller may see (its own, or any as admin or manager); else null."
    )
    async def job(self, info: Info, id: strawberry.ID) -> JobType | None:
        require_principal(info)
        pk = pk_of(id, "Job")
        return await load_job(info.context, pk) if pk is not None else None
