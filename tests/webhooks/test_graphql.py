"""Webhooks over GraphQL: admins register endpoints (the secret shown once, stored
encrypted), bad URLs and unknown event types are refused with nothing written, http is
refused in production mode, only admins see or change webhooks, tenants never see each
other's endpoints or events, and the delivery log shows what was sent."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, text

from prm.app import create_app
from prm.db.engine import Database
from prm.events.bus import EVENT_TYPES
from prm.settings import Settings
from prm.webhooks.delivery import attempt_delivery
from prm.webhooks.models import WebhookEndpoint
from prm.webhooks.secrets import secret_box
from prm.webhooks.signing import verify
from tests.factories import TenantWithAdmin, make_tenant
from tests.graphql.support import error_codes
from tests.partners.support import Caller, make_cast
from tests.webhooks.support import Receiver, deliveries, due_rows, emit_event

ENDPOINT = "id url description eventTypes active failureCount disabledAt disabledReason"
CREATE = f"""mutation ($input: CreateWebhookEndpointInput!) {{
  createWebhookEndpoint(input: $input) {{
    webhookEndpoint {{ {ENDPOINT} }} secret errors {{ code field message }} }} }}"""
UPDATE = f"""mutation ($id: ID!, $input: UpdateWebhookEndpointInput!) {{
  updateWebhookEndpoint(id: $id, input: $input) {{
    webhookEndpoint {{ {ENDPOINT} }} secret errors {{ code field message }} }} }}"""
ROTATE = f"""mutation ($id: ID!) {{ rotateWebhookSecret(id: $id) {{
  webhookEndpoint {{ {ENDPOINT} }} secret errors {{ code field message }} }} }}"""
DELETE = """mutation ($id: ID!) { deleteWebhookEndpoint(id: $id) {
  webhookEndpoint { id } errors { code field message } } }"""
REDELIVER = """mutation ($id: ID!) { redeliverWebhook(id: $id) {
  webhookDelivery { id status attempts } errors { code field message } } }"""
ENDPOINTS = f"query {{ webhookEndpoints {{ totalCount edges {{ node {{ {ENDPOINT} }} }} }} }}"
EVENT_TYPES_QUERY = "query { webhookEventTypes { name description } }"
DELIVERIES = """query ($endpointId: ID, $first: Int, $after: String, $filter: WebhookDeliveryFilter) {
  webhookDeliveries(endpointId: $endpointId, first: $first, after: $after, filter: $filter) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { id eventId eventType status attempts lastStatusCode lastError deliveredAt
                   payload endpoint { id url } } } } }"""


async def endpoint_count(database: Database, tenant: TenantWithAdmin) -> int:
    async with database.session(tenant.id) as session:
        return int(await session.scalar(select(func.count()).select_from(WebhookEndpoint)) or 0)


async def create(caller: Caller, url: str, types: list[str] | None = None) -> dict[str, Any]:
    body = await caller(
        CREATE,
        input={
            "url": url,
            "eventTypes": ["lead.offered"] if types is None else types,
            "description": "CRM",
        },
    )
    payload: dict[str, Any] = body["data"]["createWebhookEndpoint"]
    return payload


def deliver_all(database: Database, settings: Settings, tenant_id: uuid.UUID) -> None:
    for delivery in deliveries(database, tenant_id):
        with database.sync_session(tenant_id) as session:
            attempt_delivery(session, tenant_id, delivery.id, settings=settings)


@pytest.mark.asyncio
async def test_the_secret_is_shown_once_and_stored_encrypted(
    client: httpx.AsyncClient, app: FastAPI, database: Database, settings: Settings
) -> None:
    tenant = await make_tenant(database)
    admin = Caller(client, app, tenant.admin)

    created = await create(admin, "https://hooks.example.com/prm", ["lead.offered", "case.opened"])

    assert created["errors"] == []
    endpoint = created["webhookEndpoint"]
    assert endpoint["url"] == "https://hooks.example.com/prm"
    assert endpoint["eventTypes"] == ["lead.offered", "case.opened"]
    assert (endpoint["active"], endpoint["failureCount"]) == (True, 0)
    secret = created["secret"]
    assert secret.startswith("whsec_")
    assert len(secret) >= 40

    listed = await admin(ENDPOINTS)
    assert listed["data"]["webhookEndpoints"]["totalCount"] == 1
    assert secret not in str(listed)
    updated = await admin(UPDATE, id=endpoint["id"], input={"description": "ERP"})
    assert updated["data"]["updateWebhookEndpoint"]["secret"] is None
    fields = await admin('query { __type(name: "WebhookEndpoint") { fields { name } } }')
    names = {f["name"] for f in fields["data"]["__type"]["fields"]}
    assert not {n for n in names if "secret" in n.lower()}

    async with database.session(tenant.id) as session:
        stored = await session.scalar(text("SELECT secret_encrypted FROM webhook_endpoints"))
    assert secret not in stored
    assert secret.removeprefix("whsec_") not in stored
    assert secret_box(settings).decrypt(stored) == secret

    rotated = await admin(ROTATE, id=endpoint["id"])
    new_secret = rotated["data"]["rotateWebhookSecret"]["secret"]
    assert new_secret.startswith("whsec_")
    assert new_secret != secret
    async with database.session(tenant.id) as session:
        stored = await session.scalar(text("SELECT secret_encrypted FROM webhook_endpoints"))
    assert secret_box(settings).decrypt(stored) == new_secret


@pytest.mark.asyncio
async def test_end_to_end_an_event_reaches_the_receiver_signed_and_is_logged(
    client: httpx.AsyncClient,
    app: FastAPI,
    database: Database,
    settings: Settings,
    receiver: Receiver,
) -> None:
    tenant = await make_tenant(database)
    admin = Caller(client, app, tenant.admin)
    created = await create(admin, receiver.url())
    secret = created["secret"]
    endpoint_id = created["webhookEndpoint"]["id"]
    receiver.statuses = [500]

    first = emit_event(database, tenant.id, leadId=str(uuid.uuid4()))
    deliver_all(database, settings, tenant.id)  # 500: retried later
    second = emit_event(database, tenant.id, "case.opened", caseId="c-1")  # not subscribed
    assert len(deliveries(database, tenant.id)) == 1

    [request] = receiver.requests
    assert verify(
        secret, request.body, request.headers["x-prm-timestamp"], request.headers["x-prm-signature"]
    )
    log = (await admin(DELIVERIES, endpointId=endpoint_id))["data"]["webhookDeliveries"]
    [node] = [edge["node"] for edge in log["edges"]]
    assert (node["status"], node["attempts"], node["lastStatusCode"]) == ("PENDING", 1, 500)
    assert node["eventId"] == str(first.id)
    assert node["payload"] == first.body()
    assert node["endpoint"] == {"id": endpoint_id, "url": receiver.url()}
    assert second.type == "case.opened"

    redelivered = await admin(REDELIVER, id=node["id"])
    assert redelivered["data"]["redeliverWebhook"]["errors"] == []
    deliver_all(database, settings, tenant.id)
    log = (await admin(DELIVERIES, filter={"status": "SUCCEEDED"}))["data"]["webhookDeliveries"]
    [node] = [edge["node"] for edge in log["edges"]]
    assert (node["attempts"], node["lastStatusCode"], node["lastError"]) == (2, 200, None)
    assert len(receiver.requests) == 2
    failed = await admin(DELIVERIES, filter={"status": "FAILED"})
    assert failed["data"]["webhookDeliveries"]["totalCount"] == 0


@pytest.mark.asyncio
async def test_the_delivery_log_is_newest_first_and_paginates(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    admin = Caller(client, app, tenant.admin)
    await create(admin, "https://hooks.example.com/a", ["lead.offered", "lead.claimed"])
    events = [emit_event(database, tenant.id, "lead.offered") for _ in range(3)]
    events.append(emit_event(database, tenant.id, "lead.claimed", leadId="x"))

    page = (await admin(DELIVERIES, first=2))["data"]["webhookDeliveries"]
    assert page["totalCount"] == 4
    assert page["pageInfo"]["hasNextPage"]
    rest = (await admin(DELIVERIES, first=2, after=page["pageInfo"]["endCursor"]))["data"]
    seen = [e["node"]["eventId"] for e in page["edges"] + rest["webhookDeliveries"]["edges"]]
    assert seen == [str(e.id) for e in reversed(events)]
    claimed = await admin(DELIVERIES, filter={"eventType": "lead.claimed"})
    assert [e["node"]["eventId"] for e in claimed["data"]["webhookDeliveries"]["edges"]] == [
        str(events[-1].id)
    ]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("url", "types", "field"),
    [
        ("https://hooks.example.com/x", ["lead.offered", "lead.exploded"], "eventTypes"),
        ("https://hooks.example.com/x", [], "eventTypes"),
        ("ftp://hooks.example.com/x", ["lead.offered"], "url"),
        ("https://user:pw@hooks.example.com/x", ["lead.offered"], "url"),
        ("https:///no-host", ["lead.offered"], "url"),
        ("https://hooks.example.com/" + "a" * 2000, ["lead.offered"], "url"),
    ],
)
async def test_bad_input_is_refused_and_writes_nothing(
    client: httpx.AsyncClient,
    app: FastAPI,
    database: Database,
    url: str,
    types: list[str],
    field: str,
) -> None:
    tenant = await make_tenant(database)
    created = await create(Caller(client, app, tenant.admin), url, types)
    assert created["webhookEndpoint"] is None
    assert created["secret"] is None
    assert [(e["code"], e["field"]) for e in created["errors"]] == [("INVALID", field)]
    assert await endpoint_count(database, tenant) == 0


@pytest.mark.asyncio
async def test_http_and_internal_urls_are_refused_in_production_mode(
    client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    production = create_app(
        settings.model_copy(update={"environment": "production"}), database=database
    )
    tenant = await make_tenant(database)
    transport = httpx.ASGITransport(app=production)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        admin = Caller(http, production, tenant.admin)
        refused = await create(admin, "http://hooks.example.com/x")
        assert [(e["code"], e["field"]) for e in refused["errors"]] == [("INVALID", "url")]
        assert await endpoint_count(database, tenant) == 0
        accepted = await create(admin, "https://hooks.example.com/x")
        assert accepted["errors"] == []
        endpoint_id = accepted["webhookEndpoint"]["id"]
        moved = await admin(UPDATE, id=endpoint_id, input={"url": "http://hooks.example.com/y"})
        assert moved["data"]["updateWebhookEndpoint"]["errors"][0]["field"] == "url"
        # Internal addresses would let an admin reach private services through the workers.
        for internal in (
            "https://localhost/x",
            "https://127.0.0.1/x",
            "https://10.1.2.3/x",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]/x",
        ):
            refused = await create(admin, internal)
            assert [(e["code"], e["field"]) for e in refused["errors"]] == [("INVALID", "url")]
        assert await endpoint_count(database, tenant) == 1
    listed = await Caller(client, production, tenant.admin)(ENDPOINTS)
    urls = [e["node"]["url"] for e in listed["data"]["webhookEndpoints"]["edges"]]
    assert urls == ["https://hooks.example.com/x"]


@pytest.mark.asyncio
async def test_only_admins_see_or_change_webhooks(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    cast = await make_cast(database)
    created = await create(Caller(client, app, cast.admin), "https://hooks.example.com/x")
    endpoint_id = created["webhookEndpoint"]["id"]
    emit_event(database, cast.tenant.id)
    [delivery] = deliveries(database, cast.tenant.id)
    for role in ("manager", "employee", "partner_admin", "partner_rep"):
        caller = Caller(client, app, cast.user(role))
        body = await caller(
            CREATE, input={"url": "https://evil.example.com", "eventTypes": ["lead.offered"]}
        )
        assert error_codes(body) == ["FORBIDDEN"], role
        for query, variables in (
            (ENDPOINTS, {}),
            (EVENT_TYPES_QUERY, {}),
            (DELIVERIES, {}),
            (ROTATE, {"id": endpoint_id}),
            (DELETE, {"id": endpoint_id}),
            (UPDATE, {"id": endpoint_id, "input": {"active": False}}),
        ):
            assert error_codes(await caller(query, **variables)) == ["FORBIDDEN"], (role, query)
        node = await caller("query ($id: ID!) { node(id: $id) { id } }", id=endpoint_id)
        assert node["data"]["node"] is None
    assert await endpoint_count(database, cast.tenant) == 1
    assert deliveries(database, cast.tenant.id)[0].id == delivery.id

    types = await Caller(client, app, cast.admin)(EVENT_TYPES_QUERY)
    assert {t["name"] for t in types["data"]["webhookEventTypes"]} == set(EVENT_TYPES)


@pytest.mark.asyncio
async def test_tenants_never_reach_each_others_endpoints_or_events(
    client: httpx.AsyncClient,
    app: FastAPI,
    database: Database,
    settings: Settings,
    receiver: Receiver,
) -> None:
    ours, theirs = await make_tenant(database), await make_tenant(database)
    us, them = Caller(client, app, ours.admin), Caller(client, app, theirs.admin)
    mine = (await create(us, receiver.url("/ours")))["webhookEndpoint"]["id"]
    await create(them, receiver.url("/theirs"))

    happened = emit_event(database, ours.id)
    deliver_all(database, settings, ours.id)
    deliver_all(database, settings, theirs.id)
    assert [r.headers["x-prm-event-id"] for r in receiver.to("/ours")] == [str(happened.id)]
    assert receiver.to("/theirs") == []
    [our_delivery] = deliveries(database, ours.id)

    for query, variables, name in (
        (UPDATE, {"id": mine, "input": {"active": False}}, "updateWebhookEndpoint"),
        (ROTATE, {"id": mine}, "rotateWebhookSecret"),
        (DELETE, {"id": mine}, "deleteWebhookEndpoint"),
    ):
        body = await them(query, **variables)
        assert [e["code"] for e in body["data"][name]["errors"]] == ["NOT_FOUND"]
    foreign_delivery = (await us(DELIVERIES))["data"]["webhookDeliveries"]["edges"][0]["node"]["id"]
    redeliver = await them(REDELIVER, id=foreign_delivery)
    assert [e["code"] for e in redeliver["data"]["redeliverWebhook"]["errors"]] == ["NOT_FOUND"]
    log = await them(DELIVERIES, endpointId=mine)
    assert log["data"]["webhookDeliveries"]["totalCount"] == 0
    assert (await them("query ($id: ID!) { node(id: $id) { id } }", id=mine))["data"][
        "node"
    ] is None
    assert [
        e["node"]["id"] for e in (await us(ENDPOINTS))["data"]["webhookEndpoints"]["edges"]
    ] == [mine]
    assert deliveries(database, ours.id)[0].attempts == our_delivery.attempts == 1


@pytest.mark.asyncio
async def test_disabling_gives_up_pending_deliveries_and_enabling_resets_the_count(
    client: httpx.AsyncClient,
    app: FastAPI,
    database: Database,
    settings: Settings,
    receiver: Receiver,
) -> None:
    tenant = await make_tenant(database)
    admin = Caller(client, app, tenant.admin)
    endpoint_id = (await create(admin, receiver.url()))["webhookEndpoint"]["id"]
    receiver.statuses = [500, 500]
    emit_event(database, tenant.id)
    emit_event(database, tenant.id)
    deliver_all(database, settings, tenant.id)

    disabled = (await admin(UPDATE, id=endpoint_id, input={"active": False}))["data"][
        "updateWebhookEndpoint"
    ]["webhookEndpoint"]
    assert (disabled["active"], disabled["failureCount"]) == (False, 2)
    assert disabled["disabledAt"]
    assert disabled["disabledReason"]
    assert {d.status.value for d in deliveries(database, tenant.id)} == {"FAILED"}
    assert due_rows(database, tenant.id) == {}
    emit_event(database, tenant.id)
    assert len(deliveries(database, tenant.id)) == 2
    some = (await admin(DELIVERIES))["data"]["webhookDeliveries"]["edges"][0]["node"]["id"]
    refused = (await admin(REDELIVER, id=some))["data"]["redeliverWebhook"]["errors"]
    assert [e["code"] for e in refused] == ["INVALID"]

    enabled = (await admin(UPDATE, id=endpoint_id, input={"active": True}))["data"][
        "updateWebhookEndpoint"
    ]["webhookEndpoint"]
    assert (enabled["active"], enabled["failureCount"], enabled["disabledReason"]) == (
        True,
        0,
        None,
    )
    emit_event(database, tenant.id)
    assert len(deliveries(database, tenant.id)) == 3

    deleted = await admin(DELETE, id=endpoint_id)
    assert deleted["data"]["deleteWebhookEndpoint"]["errors"] == []
    assert await endpoint_count(database, tenant) == 0
    assert deliveries(database, tenant.id) == []
