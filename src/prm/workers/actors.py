"""The one wrapper around Dramatiq actors: every job runs the same way.

An actor takes ids only (`tenant_id`, `job_id`); its arguments live in the `Job` row.
Running a job:

1. in a short transaction, lock the job; stop if it already SUCCEEDED (a duplicate
   delivery or a re-send by the outbox relay); mark it RUNNING, count the attempt;
2. in the work transaction, lock the job again (a concurrent duplicate waits here, then
   sees SUCCEEDED), call the kind's service function with a session bound to the tenant,
   and mark the job SUCCEEDED with its result **in that same transaction**, so the effect
   and the success are committed together or not at all;
3. if the work raised, it was rolled back; record FAILED and the error in a separate
   transaction and re-raise, so Dramatiq's retries run (a later attempt goes back to 1).
   A worker shutting down interrupts the job (`notify_shutdown`): its work is rolled
   back, the job goes back to QUEUED and Dramatiq redelivers it, without using a retry.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import dramatiq
from dramatiq.broker import Broker
from dramatiq.middleware import Shutdown
from sqlalchemy import update

from prm.auth.principal import Principal
from prm.db.engine import Database
from prm.errors import DomainError
from prm.ops.metrics import record_job
from prm.workers.kinds import JOBS
from prm.workers.models import Job, JobStatus
from prm.workers.registry import JobKind, JobRegistry

log = logging.getLogger(__name__)

_MAX_ERROR_CHARS = 4_000


def run_job(
    database: Database,
    kind_name: str,
    tenant_id: uuid.UUID,
    job_id: uuid.UUID,
    *,
    registry: JobRegistry = JOBS,
) -> JobStatus | None:
    """Run one job idempotently; returns its final status of this attempt (None if the job
    no longer exists, e.g. its tenant was deleted). Raises what the service raised."""
    kind = registry.get(kind_name)
    with database.sync_session(tenant_id) as session:
        job = session.get(Job, (tenant_id, job_id), with_for_update=True)
        if job is None:
            log.warning("job %s of tenant %s not found; dropping", job_id, tenant_id)
            return None
        if job.status is JobStatus.SUCCEEDED:
            return JobStatus.SUCCEEDED
        job.status = JobStatus.RUNNING
        job.attempts += 1
        job.started_at = datetime.now(UTC)
        job.finished_at = None
        job.error = None

    started = time.perf_counter()
    try:
        with database.sync_session(tenant_id) as session:
            job = session.get(Job, (tenant_id, job_id), with_for_update=True)
            if job is None:
                return None
            if job.status is JobStatus.SUCCEEDED:
                return JobStatus.SUCCEEDED
            result = kind.run(session, Principal.system(tenant_id), **job.args)
            job.status = JobStatus.SUCCEEDED
            job.result = dict(result) if result is not None else None
            job.finished_at = datetime.now(UTC)
            job.error = None
    except Shutdown:
        _record(database, tenant_id, job_id, status=JobStatus.QUEUED, error=None)
        raise
    except BaseException as error:
        _record(database, tenant_id, job_id, status=JobStatus.FAILED, error=_describe(error))
        record_job(kind.name, ok=False, seconds=time.perf_counter() - started)
        raise
    record_job(kind.name, ok=True, seconds=time.perf_counter() - started)
    return JobStatus.SUCCEEDED


def _describe(error: BaseException) -> str:
    """What a client may read: a domain error's message; for anything else only its type
    (driver errors carry SQL and parameters; the worker log has the traceback)."""
    if isinstance(error, DomainError):
        return error.message[:_MAX_ERROR_CHARS]
    return f"internal error ({type(error).__name__})"


def _record(
    database: Database,
    tenant_id: uuid.UUID,
    job_id: uuid.UUID,
    *,
    status: JobStatus,
    error: str | None,
) -> None:
    """Record the outcome of a failed or interrupted attempt, unless it succeeded meanwhile."""
    try:
        with database.sync_session(tenant_id) as session:
            session.execute(
                update(Job)
                .where(
                    Job.tenant_id == tenant_id,
                    Job.id == job_id,
                    Job.status != JobStatus.SUCCEEDED,
                )
                .values(
                    status=status,
                    error=error,
                    finished_at=datetime.now(UTC) if status is JobStatus.FAILED else None,
                )
            )
    except Exception:
        log.exception("could not record the outcome of job %s", job_id)


def _actor_function(
    database: Database, kind_name: str, registry: JobRegistry
) -> Callable[[str, str], None]:
    def perform(tenant_id: str, job_id: str) -> None:
        run_job(database, kind_name, uuid.UUID(tenant_id), uuid.UUID(job_id), registry=registry)

    perform.__name__ = perform.__qualname__ = kind_name.replace(".", "_")
    return perform


def _retry_when(kind: JobKind) -> Callable[[int, BaseException], bool]:
    """Retry unexpected errors up to the kind's limit; an interrupted run always."""

    def retry_when(retries: int, error: BaseException) -> bool:
        if isinstance(error, DomainError):
            return False
        return isinstance(error, Shutdown) or retries < kind.max_retries

    return retry_when


def declare_actors(
    broker: Broker, database: Database, registry: JobRegistry = JOBS
) -> dict[str, dramatiq.Actor]:
    """Declare one actor per job kind on `broker` (idempotent per broker)."""
    actors: dict[str, dramatiq.Actor] = {}
    for kind in registry:
        if kind.name in broker.actors:
            actors[kind.name] = broker.get_actor(kind.name)
            continue
        actors[kind.name] = dramatiq.Actor(
            _actor_function(database, kind.name, registry),
            broker=broker,
            actor_name=kind.name,
            queue_name=kind.queue,
            priority=0,
            options={
                "max_retries": kind.max_retries,
                "min_backoff": kind.min_backoff_ms,
                "max_backoff": kind.max_backoff_ms,
                "time_limit": kind.time_limit_ms,
                "retry_when": _retry_when(kind),
                "notify_shutdown": True,
            },
        )
    return actors
