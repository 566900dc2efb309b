"""Across API processes: an offer made through process A reaches a subscriber connected
to process B (PostgreSQL NOTIFY fans out to every process's listener), and a listener
whose connection is killed reconnects and keeps delivering."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import httpx
import psycopg
import pytest
from fastapi import FastAPI

from prm.auth.principal import Role
from prm.db.engine import Database
from prm.db.urls import libpq_dsn
from prm.graphql.relay import encode_global_id
from prm.realtime.listener import APPLICATION_NAME
from prm.settings import Settings
from tests.factories import make_tenant, make_user, principal_of, unique
from tests.leads.factories import make_lead, make_rule, make_territory_partner
from tests.realtime.support import authenticated, listeners, running_server, settle

OFFERED = "subscription { leadOffered { id partner { id } lead { id companyName } } }"
CREATE_LEAD = """mutation ($input: CreateLeadInput!) {
  createLead(input: $input) { lead { id status } errors { code message } } }"""


@pytest.fixture(scope="module")
def servers(owner_url: str, settings: Settings, app: FastAPI) -> Iterator[tuple[str, str]]:
    with (
        running_server(owner_url, settings.data_dir) as a,
        running_server(owner_url, settings.data_dir) as b,
    ):
        yield a, b


@pytest.mark.asyncio
async def test_an_offer_made_through_one_process_reaches_a_subscriber_of_another(
    database: Database, app: FastAPI, servers: tuple[str, str], owner_url: str
) -> None:
    process_a, process_b = servers
    tenant = await make_tenant(database)
    await make_rule(database, tenant.id)
    partner = await make_territory_partner(database, tenant.id, country="US")
    user = await make_user(database, tenant.id, roles=(Role.PARTNER_REP,), partner_id=partner.id)
    issuer = app.state.issuer

    async with authenticated(process_b, issuer.issue(principal_of(user))) as sock:
        await sock.subscribe(OFFERED)
        # Process A's listener starts with its first subscription: open one there too.
        async with authenticated(process_a, issuer.issue(principal_of(tenant.admin))) as staff:
            await staff.subscribe(OFFERED)
            await settle(owner_url, 2)
            name = unique("Across")
            async with httpx.AsyncClient(base_url=process_a) as http:
                response = await http.post(
                    "/graphql",
                    json={
                        "query": CREATE_LEAD,
                        "variables": {"input": {"companyName": name, "country": "US"}},
                    },
                    headers={"Authorization": f"Bearer {issuer.issue(principal_of(tenant.admin))}"},
                )
            created = response.json()["data"]["createLead"]
            assert created["errors"] == []
            assert created["lead"]["status"] == "OFFERED"
            offer = (await sock.next_data())["leadOffered"]
            assert offer["lead"] == {"id": created["lead"]["id"], "companyName": name}
            assert offer["partner"] == {"id": encode_global_id("Partner", partner.id)}
            assert (await staff.next_data())["leadOffered"]["id"] == offer["id"]


@pytest.mark.asyncio
async def test_a_listener_reconnects_after_its_connection_is_killed(
    database: Database, app: FastAPI, servers: tuple[str, str], owner_url: str
) -> None:
    _, process_b = servers
    tenant = await make_tenant(database)
    await make_rule(database, tenant.id)
    partner = await make_territory_partner(database, tenant.id, country="US")
    user = await make_user(database, tenant.id, roles=(Role.PARTNER_REP,), partner_id=partner.id)

    async with authenticated(process_b, app.state.issuer.issue(principal_of(user))) as sock:
        await sock.subscribe(OFFERED)
        await settle(owner_url, 1)
        with psycopg.connect(libpq_dsn(owner_url), autocommit=True) as owner:
            before = {
                row[0]
                for row in owner.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                    " AND application_name = %s",
                    (APPLICATION_NAME,),
                )
            }
            owner.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND application_name = %s",
                (APPLICATION_NAME,),
            )
            deadline = time.monotonic() + 30  # a loaded CI machine is slow to notice
            while True:
                now = {
                    row[0]
                    for row in owner.execute(
                        "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                        " AND application_name = %s",
                        (APPLICATION_NAME,),
                    )
                }
                if len(now) == len(before) and not now & before:
                    break
                assert time.monotonic() < deadline, "the listeners did not reconnect"
                await asyncio.sleep(0.1)
        assert listeners(owner_url) == len(before)
        lead = await make_lead(database, tenant.id, country="US")
        offer = (await sock.next_data())["leadOffered"]
        assert offer["lead"]["id"] == encode_global_id("Lead", lead.id)
