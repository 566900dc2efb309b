"""`job(id:)` and `runMaintenance` over HTTP: an admin starts maintenance and follows the
job to SUCCEEDED; a job is visible to its tenant's admins and managers and to whoever
asked for it, and is null for anyone else, including every other tenant."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from dramatiq import Worker
from dramatiq.broker import Broker
from fastapi import FastAPI

from prm.auth.principal import Role
from prm.db.engine import Database
from prm.graphql.relay import encode_global_id
from prm.tenants.models import User
from prm.workers.jobs import enqueue_job
from prm.workers.outbox import drain_outbox
from tests.factories import bearer, make_tenant, make_user, principal_of

RUN_MAINTENANCE = """
mutation { runMaintenance { job { id kind status createdAt finishedAt error } errors { code message } } }
"""
JOB = "query ($id: ID!) { job(id: $id) { id kind status createdAt finishedAt error } }"


async def graphql(
    client: httpx.AsyncClient, app: FastAPI, user: User, query: str, **variables: Any
) -> dict[str, Any]:
    response = await client.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers=bearer(app.state.issuer, user),
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def job_seen_by(client: httpx.AsyncClient, app: FastAPI, user: User, job_id: str) -> Any:
    body = await graphql(client, app, user, JOB, id=job_id)
    assert "errors" not in body, body
    return body["data"]["job"]


@pytest.mark.asyncio
async def test_an_admin_runs_maintenance_and_follows_the_job_to_success(
    client: httpx.AsyncClient,
    app: FastAPI,
    database: Database,
    postgres_broker: Broker,
    start_worker: Callable[[Broker], Worker],
) -> None:
    tenant = await make_tenant(database)

    body = await graphql(client, app, tenant.admin, RUN_MAINTENANCE)

    payload = body["data"]["runMaintenance"]
    assert payload["errors"] == []
    job = payload["job"]
    assert job["kind"] == "maintenance.purge"
    assert job["status"] == "QUEUED"
    assert job["finishedAt"] is None

    start_worker(postgres_broker)
    drain_outbox(database, broker=postgres_broker)
    for _ in range(300):
        seen = await job_seen_by(client, app, tenant.admin, job["id"])
        if seen["status"] == "SUCCEEDED":
            break
        await asyncio.sleep(0.05)
    assert seen["status"] == "SUCCEEDED"
    assert seen["finishedAt"] is not None
    assert seen["error"] is None


@pytest.mark.asyncio
async def test_only_admins_may_run_maintenance(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    manager = await make_user(database, tenant.id, roles=(Role.MANAGER,))

    body = await graphql(client, app, manager, RUN_MAINTENANCE)

    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


@pytest.mark.asyncio
async def test_a_job_is_visible_to_admins_managers_and_its_requester_only(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    requester = await make_user(database, tenant.id, roles=(Role.EMPLOYEE,))
    colleague = await make_user(database, tenant.id, roles=(Role.EMPLOYEE,))
    manager = await make_user(database, tenant.id, roles=(Role.MANAGER,))
    stranger = await make_tenant(database)
    async with database.session(tenant.id) as session:
        job = await enqueue_job(session, principal_of(requester), "maintenance.purge")
    job_id = encode_global_id("Job", job.id)

    for viewer in (requester, manager, tenant.admin):
        seen = await job_seen_by(client, app, viewer, job_id)
        assert seen["id"] == job_id
        assert seen["status"] == "QUEUED"
    assert await job_seen_by(client, app, colleague, job_id) is None
    assert await job_seen_by(client, app, stranger.admin, job_id) is None
    assert await job_seen_by(client, app, tenant.admin, encode_global_id("User", job.id)) is None
    assert await job_seen_by(client, app, tenant.admin, "not-an-id") is None
