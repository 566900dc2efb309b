"""The Redis broker down (a proxy in front of the machine's Redis, cut by the test): the
API keeps working; a mutation that asks for a job still succeeds, because the job waits
in the outbox (same transaction as the request), and once the broker is back the API's
relay sends it and a worker runs it. With the PostgreSQL broker the broker is the
database: see `test_database_restart`. About 15 s; skipped without Redis."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from bench.harness import running_server

from prm.db.engine import Database
from prm.settings import Settings
from tests.factories import DEFAULT_PASSWORD, TenantWithAdmin, make_tenant
from tests.faults.proxy import TcpProxy
from tests.faults.support import child, prm_env

REDIS = ("127.0.0.1", 6379)
REDIS_DB = 12
"""A database of the shared Redis no other test uses, so no other worker takes our jobs."""

CREATE_PARTNER = """mutation ($input: CreatePartnerInput!) {
  createPartner(input: $input) { partner { id name } errors { code message } } }"""
RECOMPUTE_METRICS = """mutation ($period: String!) {
  recomputeMetrics(period: $period) { job { id status } errors { code message } } }"""
PRM_WORKER = "import sys; from prm.cli import main; sys.argv = ['prm', 'worker']; main()"
JOB = "query ($id: ID!) { job(id: $id) { status error } }"


def redis_available() -> bool:
    try:
        with socket.create_connection(REDIS, timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


pytestmark = pytest.mark.skipif(not redis_available(), reason="no Redis on 127.0.0.1:6379")


@pytest.fixture
def proxy() -> Iterator[TcpProxy]:
    proxy = TcpProxy(*REDIS)
    proxy.start()
    yield proxy
    proxy.close()


class Api:
    def __init__(self, http: httpx.Client, token: str) -> None:
        self.http = http
        self.token = token

    def gql(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        response = self.http.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {self.token}"},
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        assert "errors" not in body, body
        return body["data"]


@pytest.mark.asyncio
async def test_with_the_broker_down_jobs_wait_in_the_outbox_and_run_when_it_is_back(
    database: Database, settings: Settings, owner_url: str, proxy: TcpProxy
) -> None:
    tenant = await make_tenant(database)
    await asyncio.to_thread(broker_outage, settings, owner_url, proxy, tenant)


def broker_outage(
    settings: Settings, owner_url: str, proxy: TcpProxy, tenant: TenantWithAdmin
) -> None:
    through_proxy = f"redis://{proxy.url_host}/{REDIS_DB}"
    api_env = {"PRM_BROKER_URL": through_proxy, "PRM_OUTBOX_POLL_SECONDS": "0.2"}
    saved = {name: os.environ.get(name) for name in api_env}
    os.environ.update(api_env)  # running_server passes this process's environment on
    try:
        with (
            running_server(owner_url, settings.data_dir) as base,
            httpx.Client(base_url=base, timeout=10) as http,
        ):
            run_outage(http, tenant, settings, owner_url, proxy)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def run_outage(
    http: httpx.Client, tenant: TenantWithAdmin, settings: Settings, owner_url: str, proxy: TcpProxy
) -> None:
    signed_in = http.post(
        "/oauth/token",
        data={
            "grant_type": "password",
            "username": tenant.admin.email,
            "password": DEFAULT_PASSWORD,
            "tenant": tenant.tenant.slug,
        },
    )
    assert signed_in.status_code == 200, signed_in.text
    api = Api(http, signed_in.json()["access_token"])

    proxy.cut()
    started = time.monotonic()
    created = api.gql(CREATE_PARTNER, {"input": {"name": "made while the broker is down"}})
    assert created["createPartner"]["errors"] == []
    asked = api.gql(RECOMPUTE_METRICS, {"period": "2026-10"})["recomputeMetrics"]
    assert asked["errors"] == []
    assert asked["job"]["status"] == "QUEUED"
    assert time.monotonic() - started < 5
    job_id = asked["job"]["id"]

    # The worker reaches Redis directly: only the API's path to the broker is cut.
    worker_env = prm_env(
        owner_url, settings.data_dir, PRM_BROKER_URL=f"redis://{REDIS[0]}:{REDIS[1]}/{REDIS_DB}"
    )
    with child(["-c", PRM_WORKER], worker_env):
        time.sleep(3)  # the outage goes on; the relay keeps failing, the job waits
        assert api.gql(JOB, {"id": job_id})["job"]["status"] == "QUEUED"
        proxy.restore()
        deadline = time.monotonic() + 30
        while (job := api.gql(JOB, {"id": job_id})["job"])["status"] != "SUCCEEDED":
            assert job["status"] in ("QUEUED", "RUNNING"), job
            assert time.monotonic() < deadline, "the job never ran after the broker came back"
            time.sleep(0.2)
