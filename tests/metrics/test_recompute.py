"""The `metrics.recompute` job: asked for through `recomputeMetrics` (admins and
managers), run by the worker, all-or-nothing (a failure keeps the previous snapshot and
the retry writes the right one), and requested by the scheduler for the current month
and quarter."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from prm.auth.principal import Principal, Role
from prm.crm.models import OpportunityStage
from prm.db.engine import Database
from prm.graphql.relay import decode_global_id
from prm.metrics import customer_metrics
from prm.metrics.periods import period_containing
from prm.metrics.recompute import RECOMPUTE, enqueue_scheduled_recomputes
from prm.settings import Settings
from prm.tenants.models import User
from prm.workers.actors import run_job
from prm.workers.jobs import enqueue_job_sync
from prm.workers.models import Job, JobStatus
from prm.workers.scheduler import METRICS_RECOMPUTE, METRICS_RECOMPUTE_INTERVAL, Scheduler
from tests.factories import bearer, make_tenant, make_user
from tests.graphql.support import error_codes, gql
from tests.metrics.test_partner_scorecards import at, builder, make_october, stored

RECOMPUTE_METRICS = """
mutation($period: String!) {
  recomputeMetrics(period: $period) {
    job { id kind status result }
    errors { code field message }
  }
}
"""
BOARD = """
query($period: String!) {
  partnerScorecards(period: $period) { edges { node { revenueWon { amount } rank } } }
}
"""


def auth(app: FastAPI, user: User) -> dict[str, str]:
    return bearer(app.state.issuer, user)


def recompute_jobs(database: Database, tenant_id: uuid.UUID) -> list[Job]:
    with database.sync_session(tenant_id) as session:
        return list(
            session.scalars(select(Job).where(Job.kind == RECOMPUTE).order_by(Job.created_at))
        )


def enqueue(database: Database, tenant_id: uuid.UUID, period: str) -> uuid.UUID:
    with database.sync_session(tenant_id) as session:
        job = enqueue_job_sync(session, Principal.system(tenant_id), RECOMPUTE, {"period": period})
    return job.id


@pytest.mark.asyncio
async def test_a_manager_asks_for_a_recompute_and_the_worker_writes_the_snapshots(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    october = await make_october(database)
    manager = await make_user(database, october.tenant.id, roles=(Role.MANAGER,))
    body = await gql(client, RECOMPUTE_METRICS, {"period": "2026-10"}, headers=auth(app, manager))
    payload = body["data"]["recomputeMetrics"]
    assert payload["errors"] == []
    assert (payload["job"]["kind"], payload["job"]["status"]) == (RECOMPUTE, "QUEUED")
    decoded = decode_global_id(payload["job"]["id"])
    assert decoded is not None
    [job] = recompute_jobs(database, october.tenant.id)
    assert (job.id, job.args) == (decoded[1], {"period": "2026-10"})
    board = await gql(client, BOARD, {"period": "2026-10"}, headers=auth(app, manager))
    assert board["data"]["partnerScorecards"]["edges"] == []  # not before the job runs

    assert run_job(database, RECOMPUTE, october.tenant.id, job.id) is JobStatus.SUCCEEDED

    [done] = recompute_jobs(database, october.tenant.id)
    assert done.status is JobStatus.SUCCEEDED
    assert done.result is not None
    assert (done.result["period"], done.result["partnerScorecards"]) == ("2026-10", 3)
    board = await gql(client, BOARD, {"period": "2026-10"}, headers=auth(app, manager))
    nodes = [edge["node"] for edge in board["data"]["partnerScorecards"]["edges"]]
    assert nodes == [
        {"revenueWon": {"amount": "3000.00"}, "rank": 1},
        {"revenueWon": {"amount": "1500.00"}, "rank": 2},
        {"revenueWon": {"amount": "0.00"}, "rank": 3},
    ]
    # The same job delivered again changes nothing.
    assert run_job(database, RECOMPUTE, october.tenant.id, job.id) is JobStatus.SUCCEEDED


@pytest.mark.asyncio
async def test_only_admins_and_managers_recompute_and_a_bad_period_asks_for_nothing(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    employee = await make_user(database, tenant.id, roles=(Role.EMPLOYEE,))
    body = await gql(client, RECOMPUTE_METRICS, {"period": "2026-10"}, headers=auth(app, employee))
    assert error_codes(body) == ["FORBIDDEN"]

    for period in ("2026-13", "last month", "1999"):
        body = await gql(
            client, RECOMPUTE_METRICS, {"period": period}, headers=auth(app, tenant.admin)
        )
        payload: dict[str, Any] = body["data"]["recomputeMetrics"]
        assert payload["job"] is None
        assert [(e["code"], e["field"]) for e in payload["errors"]] == [("INVALID", "period")]
    assert recompute_jobs(database, tenant.id) == []

    body = await gql(
        client, RECOMPUTE_METRICS, {"period": "2026-q4"}, headers=auth(app, tenant.admin)
    )
    assert body["data"]["recomputeMetrics"]["errors"] == []
    [job] = recompute_jobs(database, tenant.id)
    assert job.args == {"period": "2026-Q4"}


@pytest.mark.asyncio
async def test_a_failed_recompute_keeps_the_previous_snapshot_and_the_retry_replaces_it(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    october = await make_october(database)
    tenant_id = october.tenant.id
    first = enqueue(database, tenant_id, "2026-10")
    assert run_job(database, RECOMPUTE, tenant_id, first) is JobStatus.SUCCEEDED
    before = stored(database, tenant_id, "2026-10")
    assert before[october.a.id].revenue_won == Decimal("1500.00")

    build = await builder(database, october.tenant)
    build.deal(october.a.id, OpportunityStage.CLOSED_WON, "4500.00", closed=at(30))

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the customer metrics step fell over")

    monkeypatch.setattr(customer_metrics, "compute_customer_metrics", broken)
    second = enqueue(database, tenant_id, "2026-10")
    with pytest.raises(RuntimeError):
        run_job(database, RECOMPUTE, tenant_id, second)
    failed = {job.id: job for job in recompute_jobs(database, tenant_id)}[second]
    assert (failed.status, failed.error) == (JobStatus.FAILED, "internal error (RuntimeError)")
    during = stored(database, tenant_id, "2026-10")
    assert {pk: (row.revenue_won, row.computed_at) for pk, row in during.items()} == {
        pk: (row.revenue_won, row.computed_at) for pk, row in before.items()
    }

    monkeypatch.undo()
    assert run_job(database, RECOMPUTE, tenant_id, second) is JobStatus.SUCCEEDED
    after = stored(database, tenant_id, "2026-10")
    a = after[october.a.id]
    assert (a.revenue_won, a.deals_won, a.rank) == (Decimal("6000.00"), 4, 1)
    assert a.average_deal_size == Decimal("2000.00")  # 6000 over 3 USD wins


@pytest.mark.asyncio
async def test_the_scheduler_asks_for_the_current_month_and_quarter_once_per_tenant(
    settings: Settings, database: Database
) -> None:
    scheduler = Scheduler(settings, database, broker=None)  # type: ignore[arg-type]
    tasks = {task.name: task for task in scheduler.tasks}
    assert tasks[METRICS_RECOMPUTE].interval == METRICS_RECOMPUTE_INTERVAL

    tenant = await make_tenant(database)
    now = datetime.now(UTC)
    enqueue_scheduled_recomputes(database, now=now)
    enqueue_scheduled_recomputes(database, now=now)  # the first ones are still pending
    jobs = recompute_jobs(database, tenant.id)
    expected = {period_containing(now, kind).key for kind in ("MONTH", "QUARTER")}
    assert {job.args["period"] for job in jobs} == expected
    assert len(jobs) == 2
    assert {job.status for job in jobs} == {JobStatus.QUEUED}
