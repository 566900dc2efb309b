"""The claim race: 64 concurrent claimers over HTTP on pooled leads (large 2,000, small
200), every lead contested by 4 different partners at the same moment. Prints claims/s,
attempts/s, p99 latency, the double wins (a lead won twice, or a success without a won
lead: must be 0), and the same race at the service layer alone (`pool.claim_lead` on 64
sessions, no HTTP or GraphQL) with the ratio of the two throughputs.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import psycopg

from bench.harness import Figure, running_server
from bench.leads_support import (
    bench_settings,
    copy_leads,
    issuer_for,
    make_tenant,
    partner_users,
    seed_partners,
)
from prm.auth.principal import Principal
from prm.db.engine import Database
from prm.db.urls import libpq_dsn
from prm.errors import DomainError
from prm.graphql.relay import encode_global_id
from prm.leads.models import DistributionMode, DistributionRule
from prm.leads.pool import claim_lead

NAME = "claims"
SIZES = {"small": 200, "large": 2_000}
CLAIMERS = 64
CONTENDERS = 4
CLAIM = "mutation($id: ID!) { claimLead(id: $id) { lead { id } errors { code } } }"

Attempt = tuple[uuid.UUID, int]  # (lead, claimer index)


def _attempts(leads: list[uuid.UUID], rng: random.Random) -> list[Attempt]:
    """Each lead's contenders one after another, so concurrent workers take them at once."""
    return [
        (lead, claimer) for lead in leads for claimer in rng.sample(range(CLAIMERS), CONTENDERS)
    ]


async def _race(
    attempts: list[Attempt], claim: Callable[[uuid.UUID, int], Awaitable[str]]
) -> tuple[float, list[float], dict[str, int], list[uuid.UUID]]:
    """Run `attempts` on CLAIMERS workers; outcome codes counted, won leads listed."""
    queue = list(reversed(attempts))
    latencies: list[float] = []
    outcomes: dict[str, int] = {}
    won: list[uuid.UUID] = []

    async def worker() -> None:
        while queue:
            lead, claimer = queue.pop()
            started = time.perf_counter()
            outcome = await claim(lead, claimer)
            latencies.append(time.perf_counter() - started)
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
            if outcome == "WON":
                won.append(lead)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CLAIMERS)))
    return time.perf_counter() - started, latencies, outcomes, won


def _p99(latencies: list[float]) -> float:
    ordered = sorted(latencies)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))] * 1000


def _claimed_twice(owner_url: str, tenant_id: uuid.UUID) -> int:
    """Leads whose history shows more than one claim (HTTP and service races alike)."""
    with psycopg.connect(libpq_dsn(owner_url)) as conn:
        row = conn.execute(
            "SELECT count(*) FROM (SELECT lead_id FROM lead_events WHERE tenant_id = %s "
            "AND kind = 'CLAIMED' GROUP BY lead_id HAVING count(*) > 1) AS twice",
            (tenant_id,),
        ).fetchone()
    return int(row[0]) if row else 0


def run(owner_url: str, size: str, workdir: Path) -> list[Figure]:
    settings = bench_settings(owner_url, workdir)
    rng = random.Random(4)
    tenant, _ = make_tenant(settings)
    database = Database.from_settings(settings)
    partners = seed_partners(database, tenant.id, CLAIMERS, rng=rng, territories=False)
    with database.sync_session(tenant.id) as session:
        rule = DistributionRule(
            tenant_id=tenant.id,
            name="pool everything",
            priority=1,
            mode=DistributionMode.POOL,
            countries=[],
            regions=[],
            postal_prefixes=[],
            capabilities=[],
            active=True,
        )
        session.add(rule)
        session.flush()
        rule_id = rule.id
    principals = partner_users(owner_url, tenant.id, partners)
    count = SIZES[size]
    http_leads = copy_leads(owner_url, tenant.id, count, status="POOLED", rule_id=rule_id, rng=rng)
    service_leads = copy_leads(
        owner_url, tenant.id, count, status="POOLED", rule_id=rule_id, rng=rng
    )
    issuer = issuer_for(settings)
    headers = [{"Authorization": f"Bearer {issuer.issue(p)}"} for p in principals]

    with running_server(owner_url, workdir) as base:

        async def over_http() -> tuple[float, list[float], dict[str, int], list[uuid.UUID]]:
            limits = httpx.Limits(max_connections=CLAIMERS, max_keepalive_connections=CLAIMERS)
            async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:

                async def claim(lead: uuid.UUID, claimer: int) -> str:
                    response = await client.post(
                        "/graphql",
                        json={"query": CLAIM, "variables": {"id": encode_global_id("Lead", lead)}},
                        headers=headers[claimer],
                    )
                    body = response.json()
                    if response.status_code != 200 or "errors" in body:
                        return "HTTP_ERROR"
                    payload = body["data"]["claimLead"]
                    return payload["errors"][0]["code"] if payload["errors"] else "WON"

                return await _race(_attempts(http_leads, rng), claim)

        http_seconds, http_latencies, http_outcomes, http_won = asyncio.run(over_http())

    async def at_service_layer() -> tuple[float, list[float], dict[str, int], list[uuid.UUID]]:
        db = Database.from_settings(settings)
        db.pool_size = CLAIMERS

        async def claim(lead: uuid.UUID, claimer: int) -> str:
            principal: Principal = principals[claimer]
            try:
                async with db.session(tenant.id) as session:
                    await session.run_sync(claim_lead, principal, lead)
            except DomainError as error:
                return error.code.value
            return "WON"

        try:
            return await _race(_attempts(service_leads, rng), claim)
        finally:
            await db.dispose()

    svc_seconds, svc_latencies, svc_outcomes, svc_won = asyncio.run(at_service_layer())
    http_rate = len(set(http_won)) / http_seconds
    svc_rate = len(set(svc_won)) / svc_seconds
    expected = ("WON", "ALREADY_CLAIMED")
    return [
        Figure(NAME, "pooled leads", count, "rows"),
        Figure(NAME, "HTTP leads won", len(set(http_won)), "count"),
        Figure(NAME, "HTTP claims/s (won)", http_rate, "claims/s"),
        Figure(NAME, "HTTP attempts/s", len(http_latencies) / http_seconds, "req/s"),
        Figure(NAME, "HTTP p99", _p99(http_latencies), "ms"),
        Figure(NAME, "HTTP double wins", len(http_won) - len(set(http_won)), "count"),
        Figure(
            NAME,
            "HTTP other answers",
            sum(v for k, v in http_outcomes.items() if k not in expected),
            "count",
        ),
        Figure(NAME, "service leads won", len(set(svc_won)), "count"),
        Figure(NAME, "service claims/s (won)", svc_rate, "claims/s"),
        Figure(NAME, "service p99", _p99(svc_latencies), "ms"),
        Figure(NAME, "service double wins", len(svc_won) - len(set(svc_won)), "count"),
        Figure(
            NAME,
            "service other answers",
            sum(v for k, v in svc_outcomes.items() if k not in expected),
            "count",
        ),
        Figure(
            NAME, "leads claimed twice (history)", _claimed_twice(owner_url, tenant.id), "count"
        ),
        Figure(NAME, "HTTP / service throughput", http_rate / svc_rate, "x"),
    ]
