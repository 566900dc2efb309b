"""Housekeeping: the `maintenance.purge` job (per tenant) and the platform tick that
purges platform tables and enqueues that job for every active tenant."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, exists, select
from sqlalchemy.orm import Session

from prm.auth.principal import Principal
from prm.auth.rate_limit import purge_login_failures
from prm.auth.refresh_tokens import purge_expired_refresh_tokens
from prm.catalog.quote_expiry import expire_overdue_quotes
from prm.db.engine import Database
from prm.settings import Settings
from prm.tenants.models import Tenant
from prm.workers.models import Job, JobStatus

log = logging.getLogger(__name__)

PURGE = "maintenance.purge"
JOB_RETENTION_DAYS = 30


def purge_tenant(
    session: Session, principal: Principal, *, job_retention_days: int = JOB_RETENTION_DAYS
) -> dict[str, int]:
    """Delete the tenant's expired refresh tokens and its finished jobs older than the
    retention period, and expire its overdue quotes. Each step only touches what is past
    its use, so a retry or a second run in the same day changes nothing more."""
    now = datetime.now(UTC)
    tenant_id = principal.tenant_id
    tokens = purge_expired_refresh_tokens(session, tenant_id, now=now)
    jobs = session.execute(
        delete(Job).where(
            Job.tenant_id == tenant_id,
            Job.status.in_((JobStatus.SUCCEEDED, JobStatus.FAILED)),
            Job.finished_at < now - timedelta(days=job_retention_days),
        )
    )
    quotes = expire_overdue_quotes(session, tenant_id, now)
    return {
        "refresh_tokens": tokens,
        "jobs": int(getattr(jobs, "rowcount", 0) or 0),
        "quotes_expired": quotes,
    }


def run_platform_maintenance(settings: Settings, database: Database) -> int:
    """The daily platform tick: purge login failures that left the rate-limit window
    (a platform table, so never per tenant), then enqueue `maintenance.purge` for each
    active tenant that has none pending. Returns the number of jobs enqueued."""
    from prm.workers.jobs import enqueue_job_sync

    window = timedelta(seconds=settings.login_failure_window_seconds)
    with database.sync_session() as session:
        failures = purge_login_failures(session, datetime.now(UTC) - window)
        tenant_ids = list(session.scalars(select(Tenant.id).where(Tenant.active)))
    enqueued = 0
    for tenant_id in tenant_ids:
        with database.sync_session(tenant_id) as session:
            pending = session.scalar(
                select(
                    exists().where(
                        Job.tenant_id == tenant_id,
                        Job.kind == PURGE,
                        Job.status.in_((JobStatus.QUEUED, JobStatus.RUNNING)),
                        # A job stuck for a day (its worker lost) does not block the next.
                        Job.created_at > datetime.now(UTC) - timedelta(days=1),
                    )
                )
            )
            if not pending:
                enqueue_job_sync(session, Principal.system(tenant_id), PURGE, {})
                enqueued += 1
    log.info(
        "platform maintenance: purged %d login failures, enqueued %d tenant purges",
        failures,
        enqueued,
    )
    return enqueued
