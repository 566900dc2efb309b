"""The partner portal under load: many partner users at once, each a closed loop (no
think time) over the portal's mix, against `prm serve`'s app in 2 uvicorn processes.

The mix, per request: list its PENDING offers (`leadOffers`, 20%), view the pool
(`leadPool`, 25%), claim a lead it last saw there (`claimLead`, 10%), price a product
(`price`, 25%), quote 1-5 lines (`createQuote`, 10%), view its scorecard
(`me { partner { scorecard } }`, 10%).

Large: 200 concurrent partner users (one PARTNER_REP per partner, 10 countries, 3 tiers),
10,000 pooled leads under a POOL rule (a partner sees its country's), 10 PENDING offers
per partner (half of them rejected by another partner first), the month's scorecards,
and `bench.catalog`'s catalog (20,000 products, tier and partner books, 200 promotions);
small: 20 users, 1,000 leads and a tenth of the catalog.

Prints throughput, p50/p99 overall and per operation, and the errors (must be 0): no
answer (dropped, timed out), a non-2xx, a GraphQL error, or an answer that is not what the
portal expects (no offers, no scorecard, a payload error). A claim that loses the race
answers `ALREADY_CLAIMED` in its payload: counted apart, not an error; a lead claimed twice
(its history) must be 0. The first few errors go to stderr.

Client and server share the machine: the load generator's CPU share is printed too (on 2
cores it competes with both API processes and PostgreSQL, so the figures include that).
"""

from __future__ import annotations

import asyncio
import os
import random
import resource
import sys
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg

from bench import catalog
from bench.harness import Figure, LoadResult, running_server
from bench.leads_support import (
    COUNTRIES,
    bench_settings,
    copy_leads,
    issuer_for,
    make_tenant,
    partner_users,
    seed_partners,
)
from prm.auth.principal import Principal
from prm.db.engine import Database
from prm.db.ids import new_id
from prm.db.urls import libpq_dsn
from prm.graphql.relay import encode_global_id
from prm.leads.models import DistributionMode, DistributionRule
from prm.metrics.periods import period_containing
from prm.metrics.recompute import recompute_period

NAME = "load"
SIZES = {
    "small": {"users": 20, "pooled": 1_000, "seconds": 20, **catalog.SIZES["small"]},
    "large": {"users": 200, "pooled": 10_000, "seconds": 60, **catalog.SIZES["large"]},
}
WARMING_USERS = 10
"""Users that send one request of each kind before the clock starts (both processes
import, connect and fill their caches); the others' first requests are part of the load."""
OFFERS_PER_PARTNER = 10
WORKERS = 2
MIX = {"leadOffers": 20, "leadPool": 25, "claimLead": 10, "price": 25, "createQuote": 10,
       "scorecard": 10}  # fmt: skip

OFFERS = """{ leadOffers(first: 20, filter: {status: PENDING}) {
  totalCount edges { node { id status expiresAt lead { id companyName country } } } } }"""
POOL = "{ leadPool(first: 20) { edges { node { id companyName country score createdAt } } } }"
CLAIM = "mutation($id: ID!) { claimLead(id: $id) { lead { id status } errors { code } } }"
PRICE = """query($input: PriceInput!) { price(input: $input) {
  currency listUnitPrice unitPrice total adjustments { kind label unitAmount } } }"""
QUOTE = """mutation($input: CreateQuoteInput!) { createQuote(input: $input) {
  quote { id number lineCount total { amount currency } } errors { code field message } } }"""
SCORECARD = """query($period: String!) { me { partner { id name scorecard(period: $period) {
  period score rank leadsOffered leadsRejected acceptanceRate revenueWon { amount currency }
} } } }"""


@dataclass
class Portal:
    """What the simulated users know: their tokens, their country's pooled leads, the
    catalog, and the period whose scorecards were computed."""

    headers: list[dict[str, str]]
    pool_by_user: list[list[uuid.UUID]]
    seeded: catalog.Seeded
    period: str


@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    won: int = 0
    lost_race: int = 0
    samples: list[str] = field(default_factory=list)

    def error(self, op: str, detail: str) -> None:
        self.errors[op] += 1
        if len(self.samples) < 5:
            self.samples.append(f"{op}: {detail[:400]}")


def seed_offers(
    owner_url: str, tenant_id: uuid.UUID, partners: list[uuid.UUID], rng: random.Random
) -> None:
    """Per partner, OFFERS_PER_PARTNER OFFERED leads: half PENDING to it (48 h left), half
    PENDING to it after the next partner rejected them an hour earlier."""
    leads = copy_leads(
        owner_url, tenant_id, len(partners) * OFFERS_PER_PARTNER, status="OFFERED", rng=rng
    )
    now = datetime.now(UTC)
    with psycopg.connect(libpq_dsn(owner_url)) as conn, conn.cursor() as cursor:
        with cursor.copy(
            "COPY lead_offers (tenant_id, id, lead_id, partner_id, status, offered_at,"
            " expires_at, responded_at, reject_reason) FROM STDIN"
        ) as copy:
            for n, lead_id in enumerate(leads):
                owner = n // OFFERS_PER_PARTNER
                offered = now - timedelta(minutes=rng.randrange(1, 50))
                if n % 2:
                    other = partners[(owner + 1) % len(partners)]
                    earlier = offered - timedelta(hours=1)
                    copy.write_row((tenant_id, new_id(), lead_id, other, "REJECTED", earlier,
                                    earlier + timedelta(hours=48), offered, "no capacity"))  # fmt: skip
                copy.write_row((tenant_id, new_id(), lead_id, partners[owner], "PENDING",
                                offered, offered + timedelta(hours=48), None, None))  # fmt: skip
        conn.commit()


def pool_rule(database: Database, tenant_id: uuid.UUID) -> uuid.UUID:
    """A POOL rule with no criteria: each pooled lead is open to its country's partners."""
    with database.sync_session(tenant_id) as session:
        rule = DistributionRule(
            tenant_id=tenant_id, name="pool", priority=1, mode=DistributionMode.POOL,
            countries=[], regions=[], postal_prefixes=[], capabilities=[], active=True,
        )  # fmt: skip
        session.add(rule)
        session.flush()
        return rule.id


def pools_by_country(owner_url: str, tenant_id: uuid.UUID) -> dict[str, list[uuid.UUID]]:
    with psycopg.connect(libpq_dsn(owner_url)) as conn:
        rows = conn.execute(
            "SELECT country, id FROM leads WHERE tenant_id = %s AND status = 'POOLED'",
            (tenant_id,),
        ).fetchall()
    found: dict[str, list[uuid.UUID]] = defaultdict(list)
    for country, lead_id in rows:
        found[country].append(lead_id)
    return found


def partner_countries(owner_url: str, tenant_id: uuid.UUID) -> dict[uuid.UUID, str]:
    with psycopg.connect(libpq_dsn(owner_url)) as conn:
        rows = conn.execute(
            "SELECT id, country FROM partners WHERE tenant_id = %s", (tenant_id,)
        ).fetchall()
    return {pk: country for pk, country in rows}


def claimed_twice(owner_url: str, tenant_id: uuid.UUID) -> int:
    """Leads whose history shows more than one claim."""
    with psycopg.connect(libpq_dsn(owner_url)) as conn:
        row = conn.execute(
            "SELECT count(*) FROM (SELECT lead_id FROM lead_events WHERE tenant_id = %s"
            " AND kind = 'CLAIMED' GROUP BY lead_id HAVING count(*) > 1) AS twice",
            (tenant_id,),
        ).fetchone()
    return int(row[0]) if row else 0


def seed(owner_url: str, workdir: Path, counts: dict[str, int]) -> tuple[uuid.UUID, Portal]:
    settings = bench_settings(owner_url, workdir)
    rng = random.Random(21)
    tenant, _ = make_tenant(settings)
    seeded = catalog.seed(owner_url, tenant.id, counts)
    database = Database.from_settings(settings)
    try:
        partners = seed_partners(database, tenant.id, counts["users"], rng=rng)
        rule_id = pool_rule(database, tenant.id)
        copy_leads(owner_url, tenant.id, counts["pooled"], status="POOLED", rule_id=rule_id,
                   countries=COUNTRIES, rng=rng)  # fmt: skip
        seed_offers(owner_url, tenant.id, partners, rng)
        with psycopg.connect(libpq_dsn(owner_url), autocommit=True) as conn:
            conn.execute("ANALYZE")
        period = period_containing(datetime.now(UTC), "MONTH").key
        with database.sync_session(tenant.id) as session:
            recompute_period(session, Principal.system(tenant.id), period=period)
    finally:
        database.sync_engine.dispose()
    principals = partner_users(owner_url, tenant.id, partners)
    issuer = issuer_for(settings)
    headers = [{"Authorization": f"Bearer {issuer.issue(p)}"} for p in principals]
    countries = partner_countries(owner_url, tenant.id)
    pools = pools_by_country(owner_url, tenant.id)
    pool_by_user = [list(pools[countries[p]]) for p in partners]
    return tenant.id, Portal(headers, pool_by_user, seeded, period)


def _gid(kind: str, pk: uuid.UUID) -> str:
    return encode_global_id(kind, pk)


class User:
    """One simulated partner user: picks operations from MIX and remembers the pool page
    it last saw (what it claims from; before any, its country's seeded leads)."""

    def __init__(self, portal: Portal, index: int, tally: Tally) -> None:
        self.portal = portal
        self.headers = portal.headers[index]
        self.fallback = portal.pool_by_user[index]
        self.seen: list[str] = []
        self.rng = random.Random(1_000 + index)
        self.tally = tally

    def pick(self) -> str:
        return self.rng.choices(list(MIX), weights=list(MIX.values()))[0]

    def line(self) -> dict[str, Any]:
        """A product of the catalog (a bundle one time in 50), a quantity across the
        volume breaks, its warranty option half the time it has one."""
        seeded = self.portal.seeded
        product = self.rng.choice(seeded.products)
        options = seeded.options.get(product, [])
        chosen = [options[0][0]] if options and self.rng.random() < 0.5 else []
        return {
            "productId": _gid("Product", product),
            "quantity": self.rng.choice([1, 3, 12, 40, 150]),
            "optionIds": [_gid("ProductOptionChoice", c) for c in chosen],
        }

    def body(self, op: str) -> dict[str, Any]:
        if op == "leadOffers":
            return {"query": OFFERS}
        if op == "leadPool":
            return {"query": POOL}
        if op == "claimLead":
            lead = (
                self.seen.pop(self.rng.randrange(len(self.seen)))
                if self.seen
                else _gid("Lead", self.rng.choice(self.fallback))
            )
            return {"query": CLAIM, "variables": {"id": lead}}
        if op == "price":
            return {"query": PRICE, "variables": {"input": {**self.line(), "currency": "USD"}}}
        if op == "createQuote":
            code = catalog.CODE if self.rng.random() < 0.5 else None
            lines = [self.line() for _ in range(self.rng.randrange(1, 6))]
            return {"query": QUOTE, "variables": {"input": {
                "currency": "USD", "promotionCode": code, "lines": lines,
            }}}  # fmt: skip
        return {"query": SCORECARD, "variables": {"period": self.portal.period}}

    def check(self, op: str, body: dict[str, Any], sent: dict[str, Any]) -> None:
        """Counts an answer that is not what the portal expects as an error."""
        data = body.get("data") or {}
        if op == "leadOffers":
            if not data["leadOffers"]["edges"]:
                self.tally.error(op, "no PENDING offers listed")
        elif op == "leadPool":
            self.seen = [edge["node"]["id"] for edge in data["leadPool"]["edges"]]
        elif op == "claimLead":
            codes = [e["code"] for e in data["claimLead"]["errors"]]
            if not codes and data["claimLead"]["lead"]["status"] == "ACCEPTED":
                self.tally.won += 1
            elif codes == ["ALREADY_CLAIMED"]:
                self.tally.lost_race += 1
            else:
                self.tally.error(op, f"{codes} for {sent['variables']['id']}")
        elif op == "price":
            if data["price"]["total"] is None:
                self.tally.error(op, str(body))
        elif op == "createQuote":
            payload = data["createQuote"]
            lines = len(sent["variables"]["input"]["lines"])
            if payload["errors"] or payload["quote"]["lineCount"] != lines:
                self.tally.error(op, str(payload))
        elif (data["me"]["partner"] or {}).get("scorecard") is None:
            self.tally.error(op, "no scorecard")

    async def request(self, client: httpx.AsyncClient, op: str, *, timed: bool) -> None:
        sent = self.body(op)
        started = time.perf_counter()
        try:
            response = await client.post("/graphql", json=sent, headers=self.headers)
        except httpx.HTTPError as problem:  # the server dropped or never answered it
            response = None
            failure = repr(problem)
        if timed:
            self.tally.latencies[op].append(time.perf_counter() - started)
        if response is None:
            self.tally.error(op, f"no answer: {failure}")
            return
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code >= 300 or "errors" in body or "data" not in body:
            self.tally.error(op, f"HTTP {response.status_code} {response.text}")
            return
        try:
            self.check(op, body, sent)
        except (KeyError, TypeError) as problem:
            self.tally.error(op, f"{problem!r}: {response.text}")


async def drive(base: str, portal: Portal, duration: float) -> tuple[Tally, float, float]:
    """A few users warm up (untimed), then every user loops for `duration` seconds (a
    request under way at the end still counts). Returns the tally, the wall seconds and
    the load generator's CPU seconds over the timed part."""
    users_count = len(portal.headers)
    limits = httpx.Limits(max_connections=users_count, max_keepalive_connections=users_count)
    tally = Tally()
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:
        users = [User(portal, n, tally) for n in range(users_count)]

        async def warm(user: User) -> None:
            for op in MIX:
                await user.request(client, op, timed=False)

        await asyncio.gather(*(warm(user) for user in users[:WARMING_USERS]))
        tally.won = tally.lost_race = 0

        async def loop(user: User) -> None:
            while time.perf_counter() < deadline:
                await user.request(client, user.pick(), timed=True)

        cpu = resource.getrusage(resource.RUSAGE_SELF)
        started = time.perf_counter()
        deadline = started + duration
        await asyncio.gather(*(loop(user) for user in users))
        seconds = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_SELF)
    cpu_seconds = (after.ru_utime - cpu.ru_utime) + (after.ru_stime - cpu.ru_stime)
    return tally, seconds, cpu_seconds


def run(owner_url: str, size: str, workdir: Path) -> list[Figure]:
    counts = SIZES[size]
    started = time.perf_counter()
    tenant_id, portal = seed(owner_url, workdir, counts)
    seeding = time.perf_counter() - started
    with running_server(owner_url, workdir, workers=WORKERS) as base:
        load_average = os.getloadavg()[0]
        tally, seconds, cpu_seconds = asyncio.run(drive(base, portal, counts["seconds"]))
    for sample in tally.samples:
        print(f"load error: {sample}", file=sys.stderr)
    twice = claimed_twice(owner_url, tenant_id)
    every = [latency for op in MIX for latency in tally.latencies[op]]
    overall = LoadResult(len(every), sum(tally.errors.values()), seconds, every)
    figures = [
        Figure(NAME, "concurrent partner users", counts["users"], "count"),
        Figure(NAME, "pooled leads", counts["pooled"], "rows"),
        Figure(NAME, "seeding", seeding, "s"),
        Figure(NAME, "timed run", seconds, "s"),
        Figure(NAME, "requests", overall.requests, "count"),
        Figure(NAME, "throughput", overall.rps, "req/s"),
        Figure(NAME, "overall p50", overall.p50_ms, "ms"),
        Figure(NAME, "overall p99", overall.p99_ms, "ms"),
        Figure(NAME, "errors", overall.errors, "count"),
    ]
    for op in MIX:
        latencies = tally.latencies[op]
        result = LoadResult(len(latencies), tally.errors[op], seconds, latencies)
        figures += [
            Figure(NAME, f"{op} p50", result.p50_ms, "ms"),
            Figure(NAME, f"{op} p99", result.p99_ms, "ms"),
        ]
    figures += [
        Figure(NAME, "claims won", tally.won, "count"),
        Figure(NAME, "claims lost the race (ALREADY_CLAIMED)", tally.lost_race, "count"),
        Figure(NAME, "leads claimed twice (history)", twice, "count"),
        Figure(NAME, "load generator CPU / wall", cpu_seconds / seconds, "x"),
        Figure(NAME, "machine load average (1 min) at start", load_average, "x"),
    ]
    return figures
