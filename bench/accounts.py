"""The 360-degree account page: `accounts(first: 200)` with owner, partner, contacts,
opportunities and the last 5 activities each, over a tenant seeded with `COPY`.

Large: 10,000 accounts, 50,000 contacts, 30,000 opportunities, 200,000 activities (the
issue's figures); small: a tenth of that. Prints p50/p99 latency at `first: 200` and
`first: 20`, their ratio, and the SQL statements per request (constant whatever `first`).
"""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import psycopg

from bench.harness import (
    PASSWORD,
    Figure,
    count_statements,
    load,
    make_bench_tenant,
    running_server,
)
from prm.app import create_app
from prm.db.engine import Database
from prm.db.urls import libpq_dsn
from prm.settings import Settings

NAME = "accounts"
SIZES = {
    "small": {"accounts": 1_000, "contacts": 5_000, "opportunities": 3_000, "activities": 20_000},
    "large": {
        "accounts": 10_000,
        "contacts": 50_000,
        "opportunities": 30_000,
        "activities": 200_000,
    },
}
EMPLOYEES = 50
PARTNERS = 100
REQUESTS = 60
STAGES = ["PROSPECTING", "QUALIFICATION", "PROPOSAL", "NEGOTIATION", "CLOSED_WON", "CLOSED_LOST"]
CHANNELS = ["EMAIL", "PHONE", "WEB", "STORE", "SOCIAL", "CHAT", "MAIL", "MEETING"]

PAGE = """
query Accounts($n: Int!) {
  accounts(first: $n) {
    edges { node {
      id name country
      owner { name }
      partner { name }
      contacts(first: 5) { edges { node { firstName lastName email } } }
      opportunities(first: 5) { edges { node { name stage amount { amount currency } } } }
      activities(first: 5) { edges { node { channel summary occurredAt } } }
    } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


def seed(owner_url: str, tenant_id: uuid.UUID, counts: dict[str, int]) -> None:
    """Bulk rows with COPY as the owner (a superuser here: RLS does not filter COPY)."""
    rng = random.Random(7)
    now = datetime.now(UTC)
    employees = [uuid.uuid4() for _ in range(EMPLOYEES)]
    partners = [uuid.uuid4() for _ in range(PARTNERS)]
    accounts = [uuid.uuid4() for _ in range(counts["accounts"])]
    contacts: list[tuple[uuid.UUID, uuid.UUID]] = []
    opportunities: list[tuple[uuid.UUID, uuid.UUID]] = []
    with psycopg.connect(libpq_dsn(owner_url)) as conn, conn.cursor() as cur:
        with cur.copy("COPY employees (tenant_id, id, name, email) FROM STDIN") as copy:
            for n, pk in enumerate(employees):
                copy.write_row((tenant_id, pk, f"Employee {n}", f"e{n}@bench.example"))
        with cur.copy(
            "COPY partners (tenant_id, id, name, status, postal_prefixes, capabilities) FROM STDIN"
        ) as copy:
            for n, pk in enumerate(partners):
                copy.write_row((tenant_id, pk, f"Partner {n}", "ACTIVE", [], []))
        with cur.copy(
            "COPY accounts (tenant_id, id, name, normalized_name, country, owner_id, partner_id)"
            " FROM STDIN"
        ) as copy:
            for n, pk in enumerate(accounts):
                partner = rng.choice(partners) if n % 2 else None
                copy.write_row(
                    (
                        tenant_id,
                        pk,
                        f"Account {n}",
                        f"account {n}",
                        "US",
                        rng.choice(employees),
                        partner,
                    )
                )
        with cur.copy(
            "COPY contacts (tenant_id, id, account_id, first_name, last_name, email) FROM STDIN"
        ) as copy:
            for n in range(counts["contacts"]):
                pk, account = uuid.uuid4(), rng.choice(accounts)
                contacts.append((pk, account))
                copy.write_row((tenant_id, pk, account, "Contact", f"N{n}", f"c{n}@bench.example"))
        with cur.copy(
            "COPY opportunities (tenant_id, id, account_id, name, amount, currency, stage,"
            " probability, owner_id) FROM STDIN"
        ) as copy:
            for n in range(counts["opportunities"]):
                pk, account = uuid.uuid4(), rng.choice(accounts)
                opportunities.append((pk, account))
                stage = rng.choice(STAGES)
                amount = Decimal(rng.randrange(1_000, 500_000))
                copy.write_row(
                    (
                        tenant_id,
                        pk,
                        account,
                        f"Deal {n}",
                        amount,
                        "USD",
                        stage,
                        50,
                        rng.choice(employees),
                    )
                )
        with cur.copy(
            "COPY activities (tenant_id, id, channel, direction, summary, occurred_at,"
            " account_id, contact_id, opportunity_id) FROM STDIN"
        ) as copy:
            for n in range(counts["activities"]):
                kind = n % 3
                contact = opportunity = None
                if kind == 0:
                    account = rng.choice(accounts)
                elif kind == 1:
                    contact, account = rng.choice(contacts)
                else:
                    opportunity, account = rng.choice(opportunities)
                at = now - timedelta(minutes=rng.randrange(0, 525_600))
                copy.write_row(
                    (tenant_id, uuid.uuid4(), rng.choice(CHANNELS), "INBOUND", f"Touch {n}", at,
                     account, contact, opportunity)
                )  # fmt: skip
        cur.execute("ANALYZE")
        conn.commit()


def _token(base: str) -> str:
    response = httpx.post(
        f"{base}/oauth/token",
        data={
            "grant_type": "password",
            "username": "admin@bench.example",
            "password": PASSWORD,
            "tenant": "bench",
        },
        timeout=30,
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


async def _statements(settings: Settings, token: str, first: int) -> int:
    db = Database.from_settings(settings)
    app = create_app(settings, database=db)
    headers = {"Authorization": f"Bearer {token}"}
    body = {"query": PAGE, "variables": {"n": first}}
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://bench", timeout=60
        ) as client:
            await client.post("/graphql", json=body, headers=headers)
            with count_statements(db) as statements:
                response = await client.post("/graphql", json=body, headers=headers)
            assert "errors" not in response.json(), response.text[:500]
    finally:
        await db.dispose()
    return len(statements)


def run(owner_url: str, size: str, workdir: Path) -> list[Figure]:
    settings = Settings(database_url=owner_url, data_dir=workdir, log_level="WARNING")
    tenant_id = asyncio.run(make_bench_tenant(settings))
    counts = SIZES[size]
    seed(owner_url, tenant_id, counts)
    figures = [Figure(NAME, "accounts seeded", counts["accounts"], "rows")]
    p50: dict[int, float] = {}
    with running_server(owner_url, workdir) as base:
        token = _token(base)
        headers = {"Authorization": f"Bearer {token}"}
        for first in (20, 200):
            body = {"query": PAGE, "variables": {"n": first}}

            async def send(
                client: httpx.AsyncClient, body: dict[str, object] = body
            ) -> httpx.Response:
                return await client.post("/graphql", json=body, headers=headers)

            result = asyncio.run(load(send, base_url=base, concurrency=1, total=REQUESTS, warmup=5))
            p50[first] = result.p50_ms
            figures += [
                Figure(NAME, f"accounts(first: {first}) 360 p50", result.p50_ms, "ms"),
                Figure(NAME, f"accounts(first: {first}) 360 p99", result.p99_ms, "ms"),
                Figure(NAME, f"accounts(first: {first}) errors", result.errors, "count"),
            ]
    figures.append(Figure(NAME, "p50 ratio first: 200 / first: 20", p50[200] / p50[20], "x"))
    for first in (20, 200):
        count = asyncio.run(_statements(settings, token, first))
        figures.append(
            Figure(NAME, f"SQL statements: accounts(first: {first}) 360", count, "stmts")
        )
    return figures
