"""More than one machine: two API processes, two workers and a scheduler over one
database, with each broker (PostgreSQL always; Redis and RabbitMQ when reachable).

What must hold when requests land on different processes: round-robin routing stays
fair (the cursor lives in the database, not in a process), a pooled lead is won exactly
once however many partners race for it through whichever server, and every job runs
exactly once however many workers consume the queue.

The two API processes serve the whole module; they leave the outbox to the scheduler
(`PRM_RELAY_OUTBOX_IN_API=false`), so they need no broker. Routing and claims involve no
broker, so they run once; the jobs test runs once per broker, each with its own two
workers and scheduler. Bounded: about a minute on a busy two-core machine, most of it
starting processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest
from bench.leads_support import (
    copy_leads,
    issuer_for,
    make_tenant,
    partner_users,
    seed_partners,
)

from prm.auth.principal import Principal
from prm.db.engine import Database
from prm.db.urls import libpq_dsn
from prm.graphql.relay import decode_global_id, encode_global_id
from prm.leads.models import DistributionMode, DistributionRule
from tests.scaling import cluster
from tests.scaling.cluster import Deployment, scratch_database

CREATE_RULE = """mutation($input: CreateDistributionRuleInput!) {
  createDistributionRule(input: $input) { distributionRule { id } errors { code } } }"""
CREATE_LEAD = """mutation($input: CreateLeadInput!) {
  createLead(input: $input) { lead { id status } errors { code } } }"""
CLAIM = "mutation($id: ID!) { claimLead(id: $id) { lead { id } errors { code } } }"
JOBS_DEADLINE_SECONDS = 90
RECOMPUTE = "mutation($p: String!) { recomputeMetrics(period: $p) { job { id } errors { code } } }"


@pytest.fixture(scope="module")
def deployment(owner_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """One scratch database for the module (each test has its own tenant)."""
    with scratch_database(owner_url) as database:
        yield cluster.deployment(database, tmp_path_factory.mktemp("deployment"))


@pytest.fixture(scope="module")
def servers(deployment: Deployment) -> Iterator[tuple[str, str]]:
    with cluster.running_api(deployment) as bases:
        yield bases


@pytest.fixture(scope="module", params=["postgres", "redis", "rabbitmq"])
def jobs_on(
    request: pytest.FixtureRequest, deployment: Deployment, servers: tuple[str, str]
) -> Iterator[str]:
    """Two workers and a scheduler on one broker; yields the broker kind."""
    kind: str = request.param
    with contextlib.ExitStack() as stack:
        try:
            broker = stack.enter_context(cluster.broker_url(kind))
        except cluster.Unavailable as reason:
            pytest.skip(f"{kind} broker: {reason}")
        stack.enter_context(cluster.running_jobs(deployment, kind, broker))
        yield kind


def _headers(deployment: Deployment, principal: Principal) -> dict[str, str]:
    return {"Authorization": f"Bearer {issuer_for(deployment.settings).issue(principal)}"}


async def _graphql(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any], headers: dict[str, str]
) -> dict[str, Any]:
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


def _owner_rows(deployment: Deployment, sql: str, *params: object) -> list[tuple[Any, ...]]:
    """Read as the owner (RLS does not apply): what the test checks, not what it tests."""
    with psycopg.connect(libpq_dsn(deployment.owner_url)) as conn:
        return list(conn.execute(sql, params).fetchall())


def _job_uuid(global_id: str) -> uuid.UUID:
    decoded = decode_global_id(global_id)
    assert decoded is not None, global_id
    assert decoded[0] == "Job", global_id
    return decoded[1]


def test_round_robin_stays_fair_across_api_processes(
    deployment: Deployment, servers: tuple[str, str]
) -> None:
    partners, leads = 4, 24
    tenant, admin = make_tenant(deployment.settings, slug=f"rr-{uuid.uuid4().hex[:8]}")
    database = Database.from_settings(deployment.settings)
    try:
        partner_ids = seed_partners(
            database, tenant.id, partners, rng=random.Random(1), territories=False
        )
    finally:
        database.sync_engine.dispose()
    headers = _headers(deployment, admin)

    async def run() -> list[dict[str, Any]]:
        clients = [httpx.AsyncClient(base_url=base, timeout=30) for base in servers]
        try:
            await _graphql(
                clients[0],
                CREATE_RULE,
                {
                    "input": {
                        "name": "everyone in turn",
                        "priority": 1,
                        "mode": "OFFER",
                        "strategy": "ROUND_ROBIN",
                    }
                },
                headers,
            )
            gate = asyncio.Semaphore(8)

            async def create(n: int) -> dict[str, Any]:
                async with gate:
                    data = await _graphql(
                        clients[n % 2],  # alternately through both servers
                        CREATE_LEAD,
                        {"input": {"companyName": f"Company {n}", "country": "US"}},
                        headers,
                    )
                    payload: dict[str, Any] = data["createLead"]
                    return payload

            return await asyncio.gather(*(create(n) for n in range(leads)))
        finally:
            for client in clients:
                await client.aclose()

    payloads = asyncio.run(run())
    assert all(not p["errors"] and p["lead"]["status"] == "OFFERED" for p in payloads)
    offers = dict(
        _owner_rows(
            deployment,
            "SELECT partner_id, count(*) FROM lead_offers WHERE tenant_id = %s GROUP BY 1",
            tenant.id,
        )
    )
    assert offers == {partner: leads // partners for partner in partner_ids}


def test_a_pooled_lead_is_won_once_across_api_processes(
    deployment: Deployment, servers: tuple[str, str]
) -> None:
    claimers, leads, contenders = 8, 24, 4
    tenant, _ = make_tenant(deployment.settings, slug=f"pool-{uuid.uuid4().hex[:8]}")
    database = Database.from_settings(deployment.settings)
    try:
        partner_ids = seed_partners(
            database, tenant.id, claimers, rng=random.Random(2), territories=False
        )
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
    finally:
        database.sync_engine.dispose()
    principals = partner_users(deployment.owner_url, tenant.id, partner_ids)
    lead_ids = copy_leads(
        deployment.owner_url,
        tenant.id,
        leads,
        status="POOLED",
        rule_id=rule_id,
        rng=random.Random(3),
    )
    headers = [_headers(deployment, principal) for principal in principals]
    rng = random.Random(4)
    # Each lead's contenders one after another, half of them through each server.
    attempts = [
        (lead, claimer, n % 2)
        for lead in lead_ids
        for n, claimer in enumerate(rng.sample(range(claimers), contenders))
    ]

    async def run() -> list[tuple[uuid.UUID, int, str]]:
        clients = [httpx.AsyncClient(base_url=base, timeout=30) for base in servers]
        gate = asyncio.Semaphore(32)

        async def claim(lead: uuid.UUID, claimer: int, server: int) -> tuple[uuid.UUID, int, str]:
            async with gate:
                data = await _graphql(
                    clients[server],
                    CLAIM,
                    {"id": encode_global_id("Lead", lead)},
                    headers[claimer],
                )
            errors = data["claimLead"]["errors"]
            return lead, claimer, errors[0]["code"] if errors else "WON"

        try:
            return await asyncio.gather(*(claim(*attempt) for attempt in attempts))
        finally:
            for client in clients:
                await client.aclose()

    outcomes = asyncio.run(run())
    assert Counter(code for _, _, code in outcomes) == {
        "WON": leads,
        "ALREADY_CLAIMED": leads * (contenders - 1),
    }
    winners = {lead: partner_ids[claimer] for lead, claimer, code in outcomes if code == "WON"}
    assert set(winners) == set(lead_ids)  # one winner per lead, so every lead was won once
    held = dict(
        _owner_rows(
            deployment,
            "SELECT id, partner_id FROM leads WHERE tenant_id = %s AND status = 'ACCEPTED'",
            tenant.id,
        )
    )
    assert held == winners
    claimed = dict(
        _owner_rows(
            deployment,
            "SELECT lead_id, count(*) FROM lead_events WHERE tenant_id = %s "
            "AND kind = 'CLAIMED' GROUP BY 1",
            tenant.id,
        )
    )
    assert claimed == dict.fromkeys(lead_ids, 1)


def test_every_job_runs_once_across_workers(
    deployment: Deployment, servers: tuple[str, str], jobs_on: str
) -> None:
    quarters = [f"{year}-Q{q}" for year in (2022, 2023, 2024, 2025) for q in (1, 2, 3, 4)]
    tenant, admin = make_tenant(deployment.settings, slug=f"jobs-{uuid.uuid4().hex[:8]}")
    headers = _headers(deployment, admin)

    async def run() -> list[str]:
        clients = [httpx.AsyncClient(base_url=base, timeout=30) for base in servers]

        async def ask(n: int, period: str) -> str:
            data = await _graphql(clients[n % 2], RECOMPUTE, {"p": period}, headers)
            assert not data["recomputeMetrics"]["errors"], data
            job_id: str = data["recomputeMetrics"]["job"]["id"]
            return job_id

        try:
            return await asyncio.gather(*(ask(n, p) for n, p in enumerate(quarters)))
        finally:
            for client in clients:
                await client.aclose()

    asked = {
        _job_uuid(job_id): period
        for job_id, period in zip(asyncio.run(run()), quarters, strict=True)
    }

    # A quarter's recompute asks for `programs.evaluate` in its own transaction: one more
    # job per recompute whose work committed, so a recompute that ran twice shows twice.
    # Generous: the workers are still starting (seconds each on a busy machine); a pass
    # takes ~10 s.
    deadline = time.monotonic() + JOBS_DEADLINE_SECONDS
    while True:
        jobs = _owner_rows(
            deployment,
            "SELECT id, kind, status, attempts, args, result FROM jobs WHERE tenant_id = %s",
            tenant.id,
        )
        recomputes = [job for job in jobs if job[1] == "metrics.recompute"]
        evaluations = [job for job in jobs if job[1] == "programs.evaluate"]
        settled = all(job[2] in ("SUCCEEDED", "FAILED") for job in jobs)
        if (settled and len(evaluations) >= len(asked)) or time.monotonic() > deadline:
            break
        time.sleep(0.25)

    assert {job[0] for job in recomputes} >= set(asked)
    outbox = _owner_rows(
        deployment, "SELECT count(*) FROM job_outbox WHERE tenant_id = %s", tenant.id
    )[0][0]
    unsettled = [(job[1], job[2], job[3]) for job in jobs if job[2] != "SUCCEEDED" or job[3] != 1]
    assert unsettled == [], f"{jobs_on}: {outbox} still in the outbox"
    for job in recomputes:
        if job[0] in asked:
            assert job[4] == {"period": asked[job[0]]}
            assert job[5]["period"] == asked[job[0]]
    quarter_recomputes = [job for job in recomputes if "-Q" in job[4]["period"]]
    assert len(evaluations) == len(quarter_recomputes)
