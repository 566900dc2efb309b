"""The scheduler's daily request for volume rebates: `incentives.rebates` of the previous
and current month and quarter (and year, for yearly rules) of every active tenant.

The previous period is asked for too because deals of its last days close, reopen or are
corrected after it ends; the job only rewrites PENDING rows, so asking again is harmless.
A tenant without a volume rebate rule of a period kind gets no job for that kind (the job
would find nothing to do), and a period with a queued or running job younger than
`PENDING_WINDOW` is skipped, as the metrics recompute does.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from prm.auth.principal import Principal
from prm.db.engine import Database
from prm.incentives.evaluate import REBATES
from prm.incentives.models import IncentiveKind, IncentiveRule, RebatePeriodKind
from prm.metrics.periods import period_containing
from prm.metrics.recompute import PENDING_WINDOW
from prm.tenants.models import Tenant

log = logging.getLogger(__name__)

SCHEDULED_KINDS = (RebatePeriodKind.MONTH, RebatePeriodKind.QUARTER, RebatePeriodKind.YEAR)


def scheduled_periods(now: datetime, kinds: set[RebatePeriodKind]) -> list[str]:
    """The previous and current period of each of `kinds`, oldest first per kind."""
    keys: list[str] = []
    for kind in SCHEDULED_KINDS:
        if kind in kinds:
            current = period_containing(now, kind.value)
            keys += [current.previous().key, current.key]
    return keys


def _rebate_kinds(session: Session, tenant_id: uuid.UUID) -> set[RebatePeriodKind]:
    kinds = session.scalars(
        select(IncentiveRule.period_kind)
        .where(
            IncentiveRule.tenant_id == tenant_id,
            IncentiveRule.kind == IncentiveKind.VOLUME_REBATE,
            IncentiveRule.period_kind.is_not(None),
        )
        .distinct()
    )
    return {RebatePeriodKind(kind) for kind in kinds if kind is not None}


def _pending(session: Session, tenant_id: uuid.UUID, key: str, since: datetime) -> bool:
    from prm.workers.models import Job, JobStatus

    return bool(
        session.scalar(
            select(
                exists().where(
                    Job.tenant_id == tenant_id,
                    Job.kind == REBATES,
                    Job.status.in_((JobStatus.QUEUED, JobStatus.RUNNING)),
                    Job.args["period"].astext == key,
                    Job.created_at > since,
                )
            )
        )
    )


def enqueue_scheduled_rebates(database: Database, *, now: datetime | None = None) -> int:
    """Ask for `incentives.rebates` of the periods above for every active tenant with
    volume rebate rules, skipping a period already pending. `now` picks the periods; the
    pending window is always measured on the clock. Returns the jobs enqueued."""
    from prm.workers.jobs import enqueue_job_sync

    since = datetime.now(UTC) - PENDING_WINDOW
    now = now or datetime.now(UTC)
    with database.sync_session() as session:
        tenant_ids: list[uuid.UUID] = list(session.scalars(select(Tenant.id).where(Tenant.active)))
    enqueued = 0
    for tenant_id in tenant_ids:
        with database.sync_session(tenant_id) as session:
            for key in scheduled_periods(now, _rebate_kinds(session, tenant_id)):
                if not _pending(session, tenant_id, key, since):
                    enqueue_job_sync(session, Principal.system(tenant_id), REBATES, {"period": key})
                    enqueued += 1
    log.info("incentives: enqueued %d rebate jobs for %d tenants", enqueued, len(tenant_ids))
    return enqueued
