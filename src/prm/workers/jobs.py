"""Asking for a job, and reading one back.

`enqueue_job` writes the `Job` row and its outbox message in the caller's transaction:
a transaction that rolls back leaves no trace and sends nothing; one that commits has
durably asked for the job, and the relay (`prm.workers.outbox`) hands it to the broker.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from prm.auth.principal import Principal, Role
from prm.db.ids import new_id
from prm.errors import InvalidInput
from prm.workers.kinds import JOBS
from prm.workers.models import Job, JobStatus, OutboxMessage
from prm.workers.outbox import mark_outbox_pending
from prm.workers.registry import JobRegistry


def _new_job(
    principal: Principal, kind: str, args: Mapping[str, Any], registry: JobRegistry
) -> tuple[Job, OutboxMessage]:
    job_kind = registry.get(kind)
    try:
        payload: dict[str, Any] = json.loads(json.dumps(dict(args)))
    except (TypeError, ValueError) as error:
        raise InvalidInput(f"job arguments must be JSON: {error}", field="args") from error
    now = datetime.now(UTC)  # set here so the caller can read it without a refresh
    job = Job(
        tenant_id=principal.tenant_id,
        id=new_id(),
        created_at=now,
        updated_at=now,
        kind=job_kind.name,
        status=JobStatus.QUEUED,
        args=payload,
        attempts=0,
        requested_by=principal.subject_id,
    )
    message = OutboxMessage(
        tenant_id=principal.tenant_id,
        job_id=job.id,
        actor=job_kind.name,
        queue=job_kind.queue,
        attempts=0,
    )
    return job, message


async def enqueue_job(
    session: AsyncSession,
    principal: Principal,
    kind: str,
    args: Mapping[str, Any] | None = None,
    *,
    registry: JobRegistry = JOBS,
) -> Job:
    """Ask for a job in the caller's transaction; it runs only if that transaction commits."""
    job, message = _new_job(principal, kind, args or {}, registry)
    session.add(job)
    await session.flush()  # the outbox row references the job
    session.add(message)
    await session.flush()
    mark_outbox_pending(session.sync_session)
    return job


def enqueue_job_sync(
    session: Session,
    principal: Principal,
    kind: str,
    args: Mapping[str, Any] | None = None,
    *,
    registry: JobRegistry = JOBS,
) -> Job:
    """`enqueue_job` for sync sessions (workers, the scheduler, the CLI)."""
    job, message = _new_job(principal, kind, args or {}, registry)
    session.add(job)
    session.flush()
    session.add(message)
    session.flush()
    mark_outbox_pending(session)
    return job


def can_see_job(principal: Principal, job: Job) -> bool:
    """Admins and managers see their tenant's jobs; anyone else only those they asked for."""
    if job.tenant_id != principal.tenant_id:
        return False
    if principal.has_any(Role.ADMIN, Role.MANAGER):
        return True
    return principal.subject_id is not None and job.requested_by == principal.subject_id


async def get_job(session: AsyncSession, principal: Principal, job_id: uuid.UUID) -> Job | None:
    """The job if the principal may see it, else None (existence does not leak)."""
    job = await session.scalar(
        select(Job).where(Job.tenant_id == principal.tenant_id, Job.id == job_id)
    )
    if job is None or not can_see_job(principal, job):
        return None
    return job
