"""The `metrics.recompute` job: every snapshot of one tenant and period, in one
transaction, and the scheduler's periodic request for it.

One job recomputes partner scorecards, employee scorecards and customer metrics
together, so a failure in any step rolls all of them back: readers keep the previous
snapshots, and the retry (the job system's) recomputes them from scratch. Each step
replaces its rows whole, so a retry never double counts.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import exists, select, text
from sqlalchemy.orm import Session

from prm.auth.principal import Principal
from prm.db.engine import Database
from prm.metrics.partner_scorecards import compute_partner_scorecards
from prm.metrics.periods import parse_period, period_containing
from prm.tenants.models import Tenant

log = logging.getLogger(__name__)

RECOMPUTE = "metrics.recompute"
SCHEDULED_KINDS = ("MONTH", "QUARTER")
"""The periods the scheduler keeps fresh: the current month and quarter (the quarter's
partner scores feed PERFORMANCE routing)."""
STATEMENT_TIMEOUT = "600s"
WORK_MEM = "64MB"
"""Per recompute transaction (`SET LOCAL`): the year of a tenant with millions of offers
takes tens of seconds, and the median-hours sort spills to disk at the default 4 MB."""
PENDING_WINDOW = timedelta(hours=1)
"""A queued or running recompute younger than this makes the scheduler skip the period; an
older one (its worker lost) does not block the next."""


def recompute_period(session: Session, principal: Principal, *, period: str) -> dict[str, object]:
    """Recompute the tenant's partner scorecards, employee scorecards and customer metrics
    of `period` (`2026-11`, `2026-Q4`, `2026`); a bad period is `InvalidInput`, which the
    job system does not retry. Returns the period and the rows written."""
    from prm.metrics.customer_metrics import compute_customer_metrics
    from prm.metrics.employee_scorecards import compute_employee_scorecards

    parsed = parse_period(period)
    now = datetime.now(UTC)
    tenant_id = principal.tenant_id
    # A background job over a year of a big tenant's rows: not held to the API's
    # statement timeout, and given room to sort (the median) in memory.
    session.execute(text(f"SET LOCAL statement_timeout = '{STATEMENT_TIMEOUT}'"))
    session.execute(text(f"SET LOCAL work_mem = '{WORK_MEM}'"))
    partners = compute_partner_scorecards(session, tenant_id, parsed, now=now)
    employees = compute_employee_scorecards(session, tenant_id, parsed, now=now)
    compute_customer_metrics(session, tenant_id, parsed, now=now)
    if parsed.kind == "QUARTER":  # level criteria read quarterly partner scorecards
        from prm.partners.program_evaluation import PROGRAMS_EVALUATE
        from prm.workers.jobs import enqueue_job_sync

        enqueue_job_sync(session, principal, PROGRAMS_EVALUATE, {})
    return {"period": parsed.key, "partnerScorecards": partners, "employeeScorecards": employees}


def enqueue_scheduled_recomputes(database: Database, *, now: datetime | None = None) -> int:
    """Ask for `metrics.recompute` of the current month and quarter of every active
    tenant, skipping a period that already has one pending. Returns the jobs enqueued."""
    from prm.workers.jobs import enqueue_job_sync
    from prm.workers.models import Job, JobStatus

    now = now or datetime.now(UTC)
    periods = [period_containing(now, kind).key for kind in SCHEDULED_KINDS]
    with database.sync_session() as session:
        tenant_ids: list[uuid.UUID] = list(session.scalars(select(Tenant.id).where(Tenant.active)))
    enqueued = 0
    for tenant_id in tenant_ids:
        with database.sync_session(tenant_id) as session:
            for key in periods:
                pending = session.scalar(
                    select(
                        exists().where(
                            Job.tenant_id == tenant_id,
                            Job.kind == RECOMPUTE,
                            Job.status.in_((JobStatus.QUEUED, JobStatus.RUNNING)),
                            Job.args["period"].astext == key,
                            Job.created_at > now - PENDING_WINDOW,
                        )
                    )
                )
                if not pending:
                    enqueue_job_sync(
                        session, Principal.system(tenant_id), RECOMPUTE, {"period": key}
                    )
                    enqueued += 1
    log.info("metrics: enqueued %d recomputes for %d tenants", enqueued, len(tenant_ids))
    return enqueued
