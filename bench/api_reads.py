"""Foundation reads: `me` and `users(first: 50)` under 16 concurrent clients against a
real server process, plus the SQL statements one request issues (it must not grow with
the page size)."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import httpx
import psycopg

from bench.harness import Figure, count_statements, load, running_server
from prm.app import create_app
from prm.auth.passwords import hash_password
from prm.db.engine import Database
from prm.db.urls import libpq_dsn
from prm.settings import Settings
from prm.tenants.service import create_tenant

NAME = "api_reads"
SIZES = {"small": 200, "large": 20_000}
PASSWORD = "bench-password-123"
CONCURRENCY = 16
REQUESTS = {"small": 2_000, "large": 2_000}

ME = "{ me { roles user { id email } tenant { id name } } }"
USERS = "query($n: Int) { users(first: $n) { edges { node { id email name roles } } pageInfo { hasNextPage endCursor } } }"


async def _seed(owner_url: str, settings: Settings, users: int) -> str:
    db = Database.from_settings(settings)
    try:
        async with db.session() as session:
            tenant, _ = await create_tenant(
                session,
                slug="bench",
                name="Bench",
                admin_email="admin@bench.example",
                admin_password=PASSWORD,
            )
    finally:
        await db.dispose()
    password_hash = hash_password(PASSWORD)
    # Bulk load with COPY as the owner (a superuser here, so RLS does not apply to it).
    with psycopg.connect(libpq_dsn(owner_url)) as conn, conn.cursor() as cursor:
        with cursor.copy(
            "COPY users (tenant_id, id, email, name, password_hash, roles) FROM STDIN"
        ) as copy:
            for n in range(users):
                copy.write_row(
                    (
                        tenant.id,
                        uuid.uuid4(),
                        f"user{n}@bench.example",
                        f"User {n}",
                        password_hash,
                        ["EMPLOYEE"],
                    )
                )
        conn.commit()
    return str(tenant.slug)


def _token(base: str, slug: str) -> str:
    response = httpx.post(
        f"{base}/oauth/token",
        data={
            "grant_type": "password",
            "username": "admin@bench.example",
            "password": PASSWORD,
            "tenant": slug,
        },
        timeout=30,
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


async def _statements(settings: Settings, token: str) -> dict[int, int]:
    """Statements per request for `me` (key 0) and for `users(first: n)`."""
    db = Database.from_settings(settings)
    app = create_app(settings, database=db)
    headers = {"Authorization": f"Bearer {token}"}
    counts: dict[int, int] = {}
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://bench"
        ) as client:
            for first in (0, 10, 50, 500):
                body = {"query": ME} if first == 0 else {"query": USERS, "variables": {"n": first}}
                await client.post("/graphql", json=body, headers=headers)  # warm caches
                with count_statements(db) as statements:
                    response = await client.post("/graphql", json=body, headers=headers)
                assert "errors" not in response.json(), response.text
                counts[first] = len(statements)
    finally:
        await db.dispose()
    return counts


def run(owner_url: str, size: str, workdir: Path) -> list[Figure]:
    settings = Settings(database_url=owner_url, data_dir=workdir, log_level="WARNING")
    slug = asyncio.run(_seed(owner_url, settings, SIZES[size]))
    figures = [Figure(NAME, "users in tenant", SIZES[size], "rows")]
    with running_server(owner_url, workdir) as base:
        token = _token(base, slug)
        headers = {"Authorization": f"Bearer {token}"}
        for label, body in (
            ("me", {"query": ME}),
            ("users(first: 50)", {"query": USERS, "variables": {"n": 50}}),
        ):

            async def send(
                client: httpx.AsyncClient, body: dict[str, object] = body
            ) -> httpx.Response:
                return await client.post("/graphql", json=body, headers=headers)

            result = asyncio.run(
                load(send, base_url=base, concurrency=CONCURRENCY, total=REQUESTS[size])
            )
            figures += [
                Figure(NAME, f"{label} throughput", result.rps, "req/s"),
                Figure(NAME, f"{label} p50", result.p50_ms, "ms"),
                Figure(NAME, f"{label} p99", result.p99_ms, "ms"),
                Figure(NAME, f"{label} errors", result.errors, "count"),
            ]
    counts = asyncio.run(_statements(settings, token))
    figures.append(Figure(NAME, "SQL statements: me", counts[0], "stmts"))
    for first in (10, 50, 500):
        figures.append(
            Figure(NAME, f"SQL statements: users(first: {first})", counts[first], "stmts")
        )
    return figures
