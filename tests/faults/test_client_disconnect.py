"""A client that disconnects mid-request (its body half sent, or while its mutation waits
on a lock) does not break the server and leaves no transaction or lock behind.

Runs the API under uvicorn in a child process, on the test database, and speaks raw HTTP
over a socket so the test can hang up at the worst moment. About 10 s."""

from __future__ import annotations

import asyncio
import json
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest
from bench.harness import running_server
from prometheus_client.parser import text_string_to_metric_families

from prm.db.engine import Database
from prm.db.urls import libpq_dsn
from prm.settings import Settings
from tests.crm.factories import gid
from tests.factories import DEFAULT_PASSWORD, TenantWithAdmin, make_partner, make_tenant

UPDATE_PARTNER = """mutation ($id: ID!, $input: UpdatePartnerInput!) {
  updatePartner(id: $id, input: $input) { partner { name } errors { code } } }"""

WAITING_APP_BACKENDS = """
SELECT count(*) FROM pg_stat_activity
WHERE datname = current_database() AND usename = %s
  AND (state LIKE 'idle in transaction%%' OR wait_event_type = 'Lock')
"""


@pytest.fixture(scope="module")
def server(settings: Settings, owner_url: str) -> Iterator[str]:
    """One API process for this module's tests (it takes seconds to start)."""
    with running_server(owner_url, settings.data_dir) as base:
        yield base


def wait_for(condition: Callable[[], Any], *, within: float, what: str) -> Any:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def raw_post(base: str, path: str, headers: dict[str, str], body: bytes) -> socket.socket:
    """Open a connection and send a POST's head and `body` (maybe less than announced)."""
    parts = urlsplit(base)
    assert parts.hostname is not None
    assert parts.port is not None
    sock = socket.create_connection((parts.hostname, parts.port), timeout=5)
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    sock.sendall(f"POST {path} HTTP/1.1\r\nHost: {parts.hostname}\r\n{head}\r\n".encode() + body)
    return sock


def app_backends_waiting(owner: psycopg.Connection, role: str) -> int:
    row = owner.execute(WAITING_APP_BACKENDS, (role,)).fetchone()
    assert row is not None
    return int(row[0])


@pytest.mark.asyncio
async def test_hanging_up_mid_request_leaves_the_server_healthy_and_no_transaction_open(
    server: str, database: Database, settings: Settings, owner_url: str
) -> None:
    tenant = await make_tenant(database)
    partner = await make_partner(database, tenant.id)
    await asyncio.to_thread(hang_up_twice, server, settings, owner_url, tenant, partner.id)


def hang_up_twice(
    base: str, settings: Settings, owner_url: str, tenant: TenantWithAdmin, partner_id: uuid.UUID
) -> None:
    role = settings.app_db_role
    with (
        httpx.Client(base_url=base, timeout=10) as http,
        psycopg.connect(libpq_dsn(owner_url), autocommit=True) as owner,
    ):
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
        authorization = f"Bearer {signed_in.json()['access_token']}"

        # 1. The body never fully arrives: 10 of the 1000 announced bytes, then a hang-up.
        partial = raw_post(
            base,
            "/graphql",
            {"Content-Type": "application/json", "Content-Length": "1000",
             "Authorization": authorization},
            b'{"query": ',
        )  # fmt: skip
        partial.close()

        # 2. The mutation is running (waiting on the partner's row) when the client leaves.
        body = json.dumps(
            {
                "query": UPDATE_PARTNER,
                "variables": {"id": gid("Partner", partner_id), "input": {"name": "renamed"}},
            }
        ).encode()
        with psycopg.connect(libpq_dsn(owner_url)) as locker:
            locker.execute("SELECT 1 FROM partners WHERE id = %s FOR UPDATE", (partner_id,))
            mid = raw_post(
                base,
                "/graphql",
                {"Content-Type": "application/json", "Content-Length": str(len(body)),
                 "Authorization": authorization},
                body,
            )  # fmt: skip
            wait_for(
                lambda: app_backends_waiting(owner, role),
                within=10,
                what="the mutation to wait on the locked row",
            )
            mid.close()
            time.sleep(0.2)
            locker.rollback()

        # Nothing of either request stays open: no transaction idles, no lock is held.
        wait_for(
            lambda: app_backends_waiting(owner, role) == 0,
            within=10,
            what="the server to end the abandoned transactions",
        )
        with owner.transaction():
            owner.execute("SET LOCAL lock_timeout = '2s'")
            owner.execute("SELECT 1 FROM partners WHERE id = %s FOR UPDATE", (partner_id,))

        # The server is still serving.
        assert http.get("/healthz").status_code == 200
        after = http.post(
            "/graphql",
            json={"query": "{ me { roles } }"},
            headers={"Authorization": authorization},
        )
        assert after.status_code == 200, after.text
        assert "errors" not in after.json()


def server_errors(http: httpx.Client) -> float:
    """How many `/graphql` answers the server has counted as 500s."""
    for family in text_string_to_metric_families(http.get("/metrics").text):
        for sample in family.samples:
            if (
                sample.name == "prm_http_requests_total"
                and sample.labels.get("route") == "/graphql"
                and sample.labels.get("status") == "500"
            ):
                return sample.value
    return 0.0


@pytest.mark.asyncio
async def test_a_hang_up_before_the_body_is_not_counted_as_a_server_error(server: str) -> None:
    await asyncio.to_thread(hang_up_before_the_body, server)


def hang_up_before_the_body(base: str) -> None:
    with httpx.Client(base_url=base, timeout=10) as http:
        before = server_errors(http)
        partial = raw_post(
            base, "/graphql", {"Content-Type": "application/json", "Content-Length": "1000"}, b"{"
        )
        partial.close()
        time.sleep(0.5)
        assert http.get("/healthz").status_code == 200
        assert server_errors(http) == before
