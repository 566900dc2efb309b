"""`Job` (a Node) and `JobPayload`, the payload of every mutation that starts a job."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import cast

import strawberry
from strawberry.scalars import JSON

from prm.graphql.context import Context
from prm.graphql.mutations import Payload
from prm.graphql.relay import Node, register_node
from prm.workers.jobs import get_job
from prm.workers.models import Job, JobStatus

JobStatusEnum = strawberry.enum(JobStatus, name="JobStatus", description="Where a job is.")


@strawberry.type(name="Job", description="A background job and how it went.")
class JobType(Node):
    kind: str = strawberry.field(description="What the job does, `domain.verb`.")
    status: JobStatusEnum  # type: ignore[valid-type]
    attempts: int = strawberry.field(description="Runs started so far (retries included).")
    created_at: datetime
    started_at: datetime | None = strawberry.field(description="When the last run started.")
    finished_at: datetime | None = strawberry.field(
        description="When it succeeded, or when its last run failed."
    )
    error: str | None = strawberry.field(description="Why the last run failed, if it did.")
    result: JSON | None = strawberry.field(description="What the job reported on success.")

    @classmethod
    def from_model(cls, job: Job) -> JobType:
        return cls.from_row(job, result=cast("JSON | None", job.result))


async def load_job(context: Context, pk: uuid.UUID) -> JobType | None:
    """Admins and managers see their tenant's jobs; others only the jobs they asked for."""
    if context.principal is None:
        return None
    job = await get_job(context.session, context.principal, pk)
    return JobType.from_model(job) if job is not None else None


register_node(JobType)(load_job)


@strawberry.type(description="The job a mutation started.")
class JobPayload(Payload):
    job: JobType | None = None
