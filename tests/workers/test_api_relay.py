"""An API process relays the jobs its requests commit at once, without a scheduler."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from sqlalchemy import func, select

from prm.app import create_app
from prm.db.engine import Database
from prm.settings import Settings
from prm.workers.models import OutboxMessage
from tests.factories import bearer, make_tenant

RUN_MAINTENANCE = "mutation { runMaintenance { job { id status } errors { code } } }"


async def outbox_rows(database: Database, tenant_id: uuid.UUID) -> int:
    async with database.session() as session:
        count = await session.scalar(
            select(func.count()).where(OutboxMessage.tenant_id == tenant_id)
        )
    return int(count or 0)


@pytest.mark.asyncio
async def test_a_job_asked_for_in_a_request_leaves_the_outbox_right_after_commit(
    settings: Settings, database: Database
) -> None:
    slow_sweeps = settings.model_copy(update={"outbox_poll_seconds": 3600.0})
    app = create_app(slow_sweeps, database=database)
    tenant = await make_tenant(database)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:

        async def run_maintenance() -> None:
            response = await client.post(
                "/graphql",
                json={"query": RUN_MAINTENANCE},
                headers=bearer(app.state.issuer, tenant.admin),
            )
            assert response.json()["data"]["runMaintenance"]["job"]["status"] == "QUEUED"

        await run_maintenance()  # no relay running: the job waits in the outbox
        await asyncio.sleep(0.2)
        assert await outbox_rows(database, tenant.id) == 1

        async with app.router.lifespan_context(app):
            await run_maintenance()
            for _ in range(100):
                if await outbox_rows(database, tenant.id) == 0:
                    break
                await asyncio.sleep(0.05)
            assert await outbox_rows(database, tenant.id) == 0
