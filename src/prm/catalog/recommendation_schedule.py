"""The scheduler's daily request for `catalog.associations`: one job per active tenant
that has products (a tenant without any would compute nothing), skipped while one is
already queued or running and younger than `PENDING_WINDOW`, as the metrics recompute
does. Associations move slowly (they summarise every won deal), so once a day keeps them
fresh enough; `recomputeRecommendations` asks for one at once."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from prm.auth.principal import Principal
from prm.catalog.models import Product
from prm.catalog.recommendation_compute import ASSOCIATIONS
from prm.db.engine import Database
from prm.metrics.recompute import PENDING_WINDOW
from prm.tenants.models import Tenant

log = logging.getLogger(__name__)


def _wanted(session: Session, tenant_id: uuid.UUID, since: datetime) -> bool:
    from prm.workers.models import Job, JobStatus

    has_products = session.scalar(select(exists().where(Product.tenant_id == tenant_id)))
    pending = session.scalar(
        select(
            exists().where(
                Job.tenant_id == tenant_id,
                Job.kind == ASSOCIATIONS,
                Job.status.in_((JobStatus.QUEUED, JobStatus.RUNNING)),
                Job.created_at > since,
            )
        )
    )
    return bool(has_products) and not pending


def enqueue_scheduled_associations(database: Database) -> int:
    """Ask for `catalog.associations` of every active tenant with products, unless one is
    pending. Returns the jobs enqueued."""
    from prm.workers.jobs import enqueue_job_sync

    since = datetime.now(UTC) - PENDING_WINDOW
    with database.sync_session() as session:
        tenant_ids: list[uuid.UUID] = list(session.scalars(select(Tenant.id).where(Tenant.active)))
    enqueued = 0
    for tenant_id in tenant_ids:
        with database.sync_session(tenant_id) as session:
            if _wanted(session, tenant_id, since):
                enqueue_job_sync(session, Principal.system(tenant_id), ASSOCIATIONS)
                enqueued += 1
    log.info("catalog: enqueued %d association jobs for %d tenants", enqueued, len(tenant_ids))
    return enqueued
