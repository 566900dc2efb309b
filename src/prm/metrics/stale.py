"""Fresh scorecards after the events they count: an offer answered or expired, a lead
converted, an opportunity closed marks the month, quarter and year of the event stale
(`metrics_dirty`, in the event's own transaction), and the scheduler turns marks at least
`QUIET_SECONDS` old into one `metrics.recompute` job per tenant and period.

Events within those seconds share one recompute (a mark is kept, not moved, by later
marks, so a busy tenant is still recomputed every few seconds rather than never); with
the scheduler's tick, a scorecard shows an event within about half a minute.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from prm.auth.principal import Principal
from prm.db.engine import Database
from prm.metrics.models import MetricsDirty
from prm.metrics.periods import periods_containing

log = logging.getLogger(__name__)

QUIET_SECONDS = 5


def _marks(tenant_id: uuid.UUID, at: datetime) -> object:
    rows = [{"tenant_id": tenant_id, "period": p.key} for p in periods_containing(at)]
    return insert(MetricsDirty).values(rows).on_conflict_do_nothing()


def mark_stale_sync(session: Session, tenant_id: uuid.UUID, at: datetime) -> None:
    session.execute(_marks(tenant_id, at))  # type: ignore[call-overload]


async def mark_stale(session: AsyncSession, tenant_id: uuid.UUID, at: datetime) -> None:
    await session.execute(_marks(tenant_id, at))  # type: ignore[call-overload]


def enqueue_stale_recomputes(database: Database, *, now: datetime | None = None) -> int:
    """The scheduler's task: for each tenant with marks at least `QUIET_SECONDS` old,
    delete them and enqueue their recomputes in one tenant transaction (so a mark is
    never lost: the job is asked for in the transaction that removes it). Returns the
    number of jobs enqueued."""
    from prm.metrics.recompute import RECOMPUTE
    from prm.workers.jobs import enqueue_job_sync

    cutoff = (now or datetime.now(UTC)) - timedelta(seconds=QUIET_SECONDS)
    with database.sync_session() as session:
        tenants = list(
            session.scalars(
                select(MetricsDirty.tenant_id)
                .where(MetricsDirty.marked_at <= cutoff)
                .group_by(MetricsDirty.tenant_id)
            )
        )
    enqueued = 0
    for tenant_id in tenants:
        with database.sync_session(tenant_id) as session:
            periods = session.scalars(
                delete(MetricsDirty)
                .where(MetricsDirty.tenant_id == tenant_id, MetricsDirty.marked_at <= cutoff)
                .returning(MetricsDirty.period)
            ).all()
            for period in sorted(periods):
                enqueue_job_sync(
                    session, Principal.system(tenant_id), RECOMPUTE, {"period": period}
                )
                enqueued += 1
    if enqueued:
        log.info("stale metrics: enqueued %d recomputes", enqueued)
    return enqueued
