"""The scheduler asks daily for the volume rebates of the previous and current periods
of each active tenant with rebate rules, once while a request is pending."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, text

from prm.db.engine import Database
from prm.incentives.evaluate import REBATES
from prm.incentives.schedule import enqueue_scheduled_rebates
from prm.settings import Settings
from prm.workers.actors import run_job
from prm.workers.models import Job, JobStatus
from prm.workers.scheduler import INCENTIVE_REBATES, INCENTIVE_REBATES_INTERVAL, Scheduler
from tests.incentives.factories import make_world, rule_ok


def rebate_jobs(database: Database, tenant_id: uuid.UUID) -> list[Job]:
    with database.sync_session(tenant_id) as session:
        return list(
            session.scalars(select(Job).where(Job.kind == REBATES).order_by(Job.created_at))
        )


@pytest.mark.asyncio
async def test_the_scheduler_asks_daily_for_the_previous_and_current_rebate_periods(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings, database: Database
) -> None:
    scheduler = Scheduler(settings, database, broker=None)  # type: ignore[arg-type]
    tasks = {task.name: task for task in scheduler.tasks}
    assert tasks[INCENTIVE_REBATES].interval == INCENTIVE_REBATES_INTERVAL
    assert INCENTIVE_REBATES_INTERVAL.total_seconds() == 24 * 3600

    monthly = await make_world(database)
    both = await make_world(database)
    without = await make_world(database)  # no rebate rule: nothing to ask for
    inactive = await make_world(database)
    tiers = [{"threshold": "1000", "percent": "2"}]
    await rule_ok(
        client, app, monthly, name="Monthly", kind="VOLUME_REBATE", currency="USD",
        periodKind="MONTH", tiers=tiers,
    )  # fmt: skip
    await rule_ok(
        client, app, inactive, name="Monthly", kind="VOLUME_REBATE", currency="USD",
        periodKind="MONTH", tiers=tiers,
    )  # fmt: skip
    with database.owner_engine.begin() as conn:
        conn.execute(
            text("UPDATE tenants SET active = false WHERE id = :id"), {"id": inactive.tenant.id}
        )
    for kind in ("MONTH", "QUARTER"):
        await rule_ok(
            client, app, both, name=kind, kind="VOLUME_REBATE", currency="USD",
            periodKind=kind, tiers=tiers,
        )  # fmt: skip
    await rule_ok(client, app, without, name="Bonus", kind="REVENUE_PERCENT", percent="3")

    # 2027-01-15: the previous month is 2026-12, the previous quarter 2026-Q4.
    now = datetime(2027, 1, 15, 6, 0, tzinfo=UTC)
    enqueue_scheduled_rebates(database, now=now)
    enqueue_scheduled_rebates(database, now=now)  # the first ones are still pending
    assert sorted(job.args["period"] for job in rebate_jobs(database, monthly.tenant.id)) == [
        "2026-12",
        "2027-01",
    ]
    jobs = rebate_jobs(database, both.tenant.id)
    assert sorted(job.args["period"] for job in jobs) == [
        "2026-12",
        "2026-Q4",
        "2027-01",
        "2027-Q1",
    ]
    assert {job.status for job in jobs} == {JobStatus.QUEUED}
    assert rebate_jobs(database, without.tenant.id) == []
    assert rebate_jobs(database, inactive.tenant.id) == []

    # Once a job has run, the next day asks for its period again.
    first = rebate_jobs(database, monthly.tenant.id)[0]
    assert run_job(database, REBATES, monthly.tenant.id, first.id) is JobStatus.SUCCEEDED
    enqueue_scheduled_rebates(database, now=now)
    periods = [job.args["period"] for job in rebate_jobs(database, monthly.tenant.id)]
    assert sorted(periods) == sorted(["2026-12", "2027-01", first.args["period"]])
