"""Subscriptions over graphql-transport-ws, through a real WebSocket client against a real
server process: each partner hears only its own offers, the pool only if it may claim
the lead, a bad token is refused at init, and a deactivated user's connection ends."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from types import SimpleNamespace

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update
from websockets.exceptions import ConnectionClosed

from prm.auth.principal import Role
from prm.db.engine import Database
from prm.graphql.relay import encode_global_id
from prm.graphql.subscriptions import stream
from prm.graphql.subscriptions.context import SubscriptionContext
from prm.leads.models import DistributionMode, LeadOffer
from prm.realtime.expiring import ExpiringOfferWarnings
from prm.realtime.hub import Hub
from prm.settings import Settings
from prm.tenants.models import User
from tests.crm.factories import make_account
from tests.crm.test_cases_support import make_agent, open_input
from tests.factories import make_tenant, make_user, principal_of, unique
from tests.leads.factories import make_lead, make_rule, make_territory_partner
from tests.realtime.support import authenticated, opened, running_server, settle

OFFERED = """subscription { leadOffered { id status expiresAt partner { id }
  lead { id companyName status } } }"""
POOL = "subscription { leadPoolChanged { kind leadId lead { id status companyName } } }"
OPEN_CASE = """mutation ($input: OpenCaseInput!) {
  openCase(input: $input) { case { id number } errors { code message } } }"""
CLAIM = """mutation ($id: ID!) { claimLead(id: $id) { lead { id status } errors { code } } }"""


def gid(type_name: str, pk: uuid.UUID) -> str:
    return encode_global_id(type_name, pk)


@pytest.fixture(scope="module")
def server(owner_url: str, settings: Settings, app: FastAPI) -> Iterator[str]:
    # `app` first: it creates the signing key the server process then loads.
    with running_server(owner_url, settings.data_dir) as base:
        yield base


def token(app: FastAPI, user: User) -> str:
    return str(app.state.issuer.issue(principal_of(user)))


async def partner_user(database: Database, tenant_id: uuid.UUID, partner_id: uuid.UUID) -> User:
    return await make_user(database, tenant_id, roles=(Role.PARTNER_REP,), partner_id=partner_id)


@pytest.mark.asyncio
async def test_a_partner_hears_its_own_lead_offers_and_no_one_elses(
    database: Database, app: FastAPI, server: str, owner_url: str
) -> None:
    tenant = await make_tenant(database)
    await make_rule(database, tenant.id)
    us = await make_territory_partner(database, tenant.id, country="US")
    de = await make_territory_partner(database, tenant.id, country="DE")
    us_user = await partner_user(database, tenant.id, us.id)
    de_user = await partner_user(database, tenant.id, de.id)
    # The same partner setup in another tenant: it must hear nothing of this one.
    other = await make_tenant(database)
    await make_rule(database, other.id)
    other_us = await make_territory_partner(database, other.id, country="US")
    other_user = await partner_user(database, other.id, other_us.id)

    async with (
        authenticated(server, token(app, us_user)) as us_socket,
        authenticated(server, token(app, de_user)) as de_socket,
        authenticated(server, token(app, other_user)) as other_socket,
        authenticated(server, token(app, tenant.admin)) as admin_socket,
    ):
        for sock in (us_socket, de_socket, other_socket, admin_socket):
            await sock.subscribe(OFFERED)
        await settle(owner_url, 1)

        name = unique("Acme")
        lead = await make_lead(database, tenant.id, country="US", company_name=name)
        offer = (await us_socket.next_data())["leadOffered"]
        assert offer["status"] == "PENDING"
        assert offer["partner"] == {"id": gid("Partner", us.id)}
        assert offer["lead"] == {
            "id": gid("Lead", lead.id),
            "companyName": name,
            "status": "OFFERED",
        }
        # Staff hear every offer of their tenant.
        assert (await admin_socket.next_data())["leadOffered"]["id"] == offer["id"]

        german = await make_lead(database, tenant.id, country="DE")
        offer = (await de_socket.next_data())["leadOffered"]
        assert offer["partner"] == {"id": gid("Partner", de.id)}
        assert offer["lead"]["id"] == gid("Lead", german.id)
        assert (await admin_socket.next_data())["leadOffered"]["id"] == offer["id"]

        assert await us_socket.nothing_for(1.0)  # not the German offer
        assert await de_socket.nothing_for(0.1)  # nor the American one (queued before)
        assert await other_socket.nothing_for(0.1)


@pytest.mark.asyncio
async def test_pool_changes_reach_only_partners_eligible_for_the_lead(
    database: Database, app: FastAPI, server: str, owner_url: str
) -> None:
    tenant = await make_tenant(database)
    await make_rule(database, tenant.id, mode=DistributionMode.POOL)
    first = await make_territory_partner(database, tenant.id, country="US")
    second = await make_territory_partner(database, tenant.id, country="US")
    outsider = await make_territory_partner(database, tenant.id, country="DE")
    first_user = await partner_user(database, tenant.id, first.id)
    second_user = await partner_user(database, tenant.id, second.id)
    outsider_user = await partner_user(database, tenant.id, outsider.id)

    async with (
        authenticated(server, token(app, first_user)) as first_socket,
        authenticated(server, token(app, second_user)) as second_socket,
        authenticated(server, token(app, outsider_user)) as outsider_socket,
    ):
        for sock in (first_socket, second_socket, outsider_socket):
            await sock.subscribe(POOL)
        await settle(owner_url, 1)

        name = unique("Pooled")
        lead = await make_lead(database, tenant.id, country="US", company_name=name)
        pooled = {
            "kind": "POOLED",
            "leadId": gid("Lead", lead.id),
            "lead": {"id": gid("Lead", lead.id), "status": "POOLED", "companyName": name},
        }
        assert (await first_socket.next_data())["leadPoolChanged"] == pooled
        assert (await second_socket.next_data())["leadPoolChanged"] == pooled

        async with httpx.AsyncClient(base_url=server) as http:
            response = await http.post(
                "/graphql",
                json={"query": CLAIM, "variables": {"id": gid("Lead", lead.id)}},
                headers={"Authorization": f"Bearer {token(app, first_user)}"},
            )
        assert response.json()["data"]["claimLead"]["errors"] == []

        claimed = (await first_socket.next_data())["leadPoolChanged"]
        assert claimed["kind"] == "CLAIMED"
        assert claimed["lead"]["status"] == "ACCEPTED"
        # The losing partner learns the lead left the pool, but may no longer see it.
        assert (await second_socket.next_data())["leadPoolChanged"] == {
            "kind": "CLAIMED",
            "leadId": gid("Lead", lead.id),
            "lead": None,
        }
        assert await outsider_socket.nothing_for(1.0)


@pytest.mark.asyncio
@pytest.mark.parametrize("authorization", ["Bearer not-a-token", None, "Basic abc"])
async def test_a_bad_or_missing_token_is_refused_at_connection_init(
    server: str, authorization: str | None
) -> None:
    async with opened(server) as sock:
        payload = {"authorization": authorization} if authorization else {}
        await sock.send({"type": "connection_init", "payload": payload})
        assert await sock.close_code() == 4403


@pytest.mark.asyncio
async def test_subscribing_before_connection_init_is_unauthorized(server: str) -> None:
    async with opened(server) as sock:
        await sock.subscribe(OFFERED)
        assert await sock.close_code() == 4401


@pytest.mark.asyncio
async def test_a_deactivated_user_loses_its_subscription(
    database: Database, app: FastAPI, server: str, owner_url: str
) -> None:
    tenant = await make_tenant(database)
    await make_rule(database, tenant.id)
    partner = await make_territory_partner(database, tenant.id, country="US")
    user = await partner_user(database, tenant.id, partner.id)

    async with authenticated(server, token(app, user)) as sock:
        await sock.subscribe(OFFERED)
        await settle(owner_url, 1)
        await make_lead(database, tenant.id, country="US")
        assert (await sock.next_data())["leadOffered"]["partner"]["id"] == gid(
            "Partner", partner.id
        )

        async with database.session(tenant.id) as session:
            await session.execute(
                update(User)
                .where(User.tenant_id == tenant.id, User.id == user.id)
                .values(active=False)
            )
        await make_lead(database, tenant.id, country="US")  # an offer it may no longer hear
        message = None
        with contextlib.suppress(ConnectionClosed):  # the close is what we expect
            message = await sock.receive(5)
        assert message is None, f"a deactivated user received {message}"
        assert await sock.close_code() == 4403


@pytest.mark.asyncio
async def test_a_partner_user_cannot_subscribe_to_case_assignments(
    database: Database, app: FastAPI, server: str
) -> None:
    tenant = await make_tenant(database)
    partner = await make_territory_partner(database, tenant.id, country="US")
    user = await partner_user(database, tenant.id, partner.id)
    async with authenticated(server, token(app, user)) as sock:
        op = await sock.subscribe("subscription { caseAssigned { id number } }")
        message = await sock.receive()
        assert message["id"] == op
        assert message["type"] in ("error", "next"), message
        errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
        assert errors[0].get("extensions", {}).get("code") == "FORBIDDEN", errors


@pytest.mark.asyncio
async def test_offer_expiring_reaches_the_offered_partner_only(
    database: Database, app: FastAPI, server: str, owner_url: str
) -> None:
    tenant = await make_tenant(database)
    await make_rule(database, tenant.id)
    us = await make_territory_partner(database, tenant.id, country="US")
    de = await make_territory_partner(database, tenant.id, country="DE")
    us_user = await partner_user(database, tenant.id, us.id)
    de_user = await partner_user(database, tenant.id, de.id)
    lead = await make_lead(database, tenant.id, country="US")
    async with database.session(tenant.id) as session:
        offer = await session.scalar(
            select(LeadOffer).where(LeadOffer.tenant_id == tenant.id, LeadOffer.lead_id == lead.id)
        )
    assert offer is not None

    expiring = "subscription { offerExpiring { id status expiresAt lead { id } } }"
    async with (
        authenticated(server, token(app, us_user)) as us_socket,
        authenticated(server, token(app, de_user)) as de_socket,
    ):
        await us_socket.subscribe(expiring)
        await de_socket.subscribe(expiring)
        await settle(owner_url, 1)
        ExpiringOfferWarnings(database)(offer.expires_at - timedelta(minutes=15, seconds=-10))
        warned = (await us_socket.next_data())["offerExpiring"]
        assert warned["id"] == gid("LeadOffer", offer.id)
        assert warned["status"] == "PENDING"
        assert warned["lead"] == {"id": gid("Lead", lead.id)}
        assert datetime.fromisoformat(warned["expiresAt"]) == offer.expires_at
        assert await de_socket.nothing_for(1.0)


@pytest.mark.asyncio
async def test_an_agent_hears_of_the_cases_assigned_to_it_only(
    database: Database, app: FastAPI, server: str, owner_url: str
) -> None:
    tenant = await make_tenant(database)
    agent_user = await make_user(database, tenant.id, roles=(Role.EMPLOYEE,))
    colleague_user = await make_user(database, tenant.id, roles=(Role.EMPLOYEE,))
    agent = await make_agent(database, tenant.id, skills=[], capacity=5, user_id=agent_user.id)
    # Not taking cases (no capacity): routing never picks it.
    await make_agent(database, tenant.id, skills=[], capacity=None, user_id=colleague_user.id)
    account = await make_account(database, tenant.id)

    assigned = "subscription { caseAssigned { id number subject assignee { id } } }"
    async with (
        authenticated(server, token(app, agent_user)) as agent_socket,
        authenticated(server, token(app, colleague_user)) as colleague_socket,
    ):
        await agent_socket.subscribe(assigned)
        await colleague_socket.subscribe(assigned)
        await settle(owner_url, 1)
        async with httpx.AsyncClient(base_url=server) as http:
            response = await http.post(
                "/graphql",
                json={"query": OPEN_CASE, "variables": {"input": open_input(account)}},
                headers={"Authorization": f"Bearer {token(app, tenant.admin)}"},
            )
        opened = response.json()["data"]["openCase"]
        assert opened["errors"] == []
        case = (await agent_socket.next_data())["caseAssigned"]
        assert case == {
            "id": opened["case"]["id"],
            "number": opened["case"]["number"],
            "subject": "Printer on fire",
            "assignee": {"id": gid("Employee", agent.id)},
        }
        assert await colleague_socket.nothing_for(1.0)


@pytest.mark.asyncio
async def test_a_subscription_over_http_is_a_bad_request(client: httpx.AsyncClient) -> None:
    response = await client.post("/graphql", json={"query": OFFERED})
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


@pytest.mark.asyncio
async def test_between_events_the_principal_is_rechecked_periodically(
    database: Database, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stream, "RECHECK_SECONDS", 0.1)
    monkeypatch.setattr(stream, "hub_for", lambda _: Hub())  # no events needed
    ended = asyncio.Event()

    async def end(self: SubscriptionContext, reason: str = "") -> None:
        ended.set()

    monkeypatch.setattr(SubscriptionContext, "end", end)
    tenant = await make_tenant(database)
    partner = await make_territory_partner(database, tenant.id, country="US")
    user = await partner_user(database, tenant.id, partner.id)
    connection = SubscriptionContext(
        settings=app.state.settings, database=database, issuer=app.state.issuer, request_id="t"
    )
    assert await connection.connect(f"Bearer {token(app, user)}")
    info = SimpleNamespace(context=connection)
    waiting = asyncio.ensure_future(
        anext(stream.events(info, frozenset({"lead.offered"}), partner_id=partner.id))  # type: ignore[arg-type]
    )
    try:
        await asyncio.sleep(0.5)  # several re-checks pass while the user is active
        assert not ended.is_set()
        async with database.session(tenant.id) as session:
            await session.execute(
                update(User)
                .where(User.tenant_id == tenant.id, User.id == user.id)
                .values(active=False)
            )
        await asyncio.wait_for(ended.wait(), 5)
    finally:
        waiting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await waiting
