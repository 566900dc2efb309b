"""Activities over GraphQL: recording a touch point (actor, time, derived account, links
that must agree), deleting one, and the `activities` list, newest first."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from prm.auth.principal import Role
from prm.crm.models import Activity
from prm.db.engine import Database
from tests.crm.factories import (
    DELETE_ACTIVITY,
    RECORD_ACTIVITY,
    edge_ids,
    gid,
    make_account,
    make_contact,
    make_opportunity,
)
from tests.factories import TenantWithAdmin, bearer, make_tenant, make_user
from tests.graphql.support import error_codes, gql
from tests.leads.factories import make_lead

ACTIVITIES = """query ($filter: ActivityFilter, $first: Int, $after: String) {
  activities(filter: $filter, first: $first, after: $after) {
    totalCount edges { node { id summary } } pageInfo { hasNextPage endCursor } } }"""


async def activity_count(database: Database, tenant: TenantWithAdmin) -> int:
    async with database.session(tenant.id) as session:
        count = await session.scalar(
            select(func.count()).select_from(Activity).where(Activity.tenant_id == tenant.id)
        )
        return int(count or 0)


async def record(
    client: httpx.AsyncClient, headers: dict[str, str], **fields: Any
) -> dict[str, Any]:
    values = {"channel": "PHONE", "direction": "OUTBOUND", "summary": "Called"} | fields
    body = await gql(client, RECORD_ACTIVITY, {"input": values}, headers=headers)
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["recordActivity"]
    return payload


@pytest.mark.asyncio
async def test_an_activity_takes_its_account_from_its_contact_or_deal(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    account = await make_account(database, tenant.id)
    contact = await make_contact(database, tenant.id, account_id=account.id)
    deal = await make_opportunity(database, tenant.id, account_id=account.id)
    user = await make_user(database, tenant.id)
    headers = bearer(app.state.issuer, user)

    by_contact = await record(client, headers, contactId=gid("Contact", contact))
    by_deal = await record(
        client,
        headers,
        opportunityId=gid("Opportunity", deal),
        contactId=gid("Contact", contact),
        channel="MEETING",
        direction="INBOUND",
        occurredAt="2026-03-01T09:30:00+01:00",
    )

    first = by_contact["activity"]
    assert first["account"] == {"id": gid("Account", account)}
    assert first["contact"] == {"id": gid("Contact", contact)}
    assert first["occurredAt"] is not None
    second = by_deal["activity"]
    assert second["account"] == {"id": gid("Account", account)}
    assert second["opportunity"] == {"id": gid("Opportunity", deal)}
    assert (second["channel"], second["direction"]) == ("MEETING", "INBOUND")
    assert second["occurredAt"] == "2026-03-01T08:30:00+00:00"
    async with database.session(tenant.id) as session:
        actors = set(
            await session.scalars(
                select(Activity.actor_user_id).where(Activity.tenant_id == tenant.id)
            )
        )
    assert actors == {user.id}


@pytest.mark.asyncio
async def test_an_activity_may_concern_a_visible_lead(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    lead = await make_lead(database, tenant.id, route=False)
    headers = bearer(app.state.issuer, tenant.admin)
    payload = await record(client, headers, leadId=gid("Lead", lead))
    unknown = await record(client, headers, leadId=gid("Lead", uuid.uuid4()))
    assert payload["errors"] == []
    assert [(e["code"], e["field"]) for e in unknown["errors"]] == [("NOT_FOUND", "leadId")]
    async with database.session(tenant.id) as session:
        stored = list(
            await session.scalars(select(Activity.lead_id).where(Activity.tenant_id == tenant.id))
        )
    assert stored == [lead.id]


@pytest.mark.asyncio
async def test_bad_activity_input_is_a_typed_error_and_writes_nothing(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant, other = await make_tenant(database), await make_tenant(database)
    account = await make_account(database, tenant.id)
    elsewhere = await make_account(database, tenant.id)
    contact = await make_contact(database, tenant.id, account_id=account.id)
    deal_elsewhere = await make_opportunity(database, tenant.id, account_id=elsewhere.id)
    foreign_contact = await make_contact(database, other.id)
    headers = bearer(app.state.issuer, tenant.admin)
    cases: list[tuple[dict[str, Any], str, str | None]] = [
        ({}, "INVALID", None),
        ({"accountId": gid("Account", account), "summary": " "}, "INVALID", "summary"),
        (
            {
                "contactId": gid("Contact", contact),
                "opportunityId": gid("Opportunity", deal_elsewhere),
            },
            "INVALID",
            "opportunityId",
        ),
        (
            {"accountId": gid("Account", elsewhere), "contactId": gid("Contact", contact)},
            "INVALID",
            "contactId",
        ),
        ({"contactId": gid("Contact", foreign_contact)}, "NOT_FOUND", "contactId"),
        ({"opportunityId": "garbage"}, "NOT_FOUND", "opportunityId"),
    ]
    for fields, code, field in cases:
        payload = await record(client, headers, **fields)
        assert payload["activity"] is None
        assert [(e["code"], e["field"]) for e in payload["errors"]] == [(code, field)], fields
    assert await activity_count(database, tenant) == 0
    bad_channel = await gql(
        client,
        RECORD_ACTIVITY,
        {"input": {"channel": "PIGEON", "direction": "INBOUND", "summary": "coo"}},
        headers=headers,
    )
    assert error_codes(bad_channel) == ["BAD_USER_INPUT"]


@pytest.mark.asyncio
async def test_activities_list_newest_first_with_filters(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    account = await make_account(database, tenant.id)
    contact = await make_contact(database, tenant.id, account_id=account.id)
    deal = await make_opportunity(database, tenant.id, account_id=account.id)
    headers = bearer(app.state.issuer, tenant.admin)
    made = {}
    for summary, fields in (
        ("jan", {"accountId": gid("Account", account), "occurredAt": "2026-01-01T00:00:00Z"}),
        (
            "feb",
            {
                "contactId": gid("Contact", contact),
                "channel": "EMAIL",
                "occurredAt": "2026-02-01T00:00:00Z",
            },
        ),
        (
            "mar",
            {
                "opportunityId": gid("Opportunity", deal),
                "direction": "INBOUND",
                "occurredAt": "2026-03-01T00:00:00Z",
            },
        ),
    ):
        made[summary] = (await record(client, headers, summary=summary, **fields))["activity"]["id"]

    async def summaries(filter: dict[str, Any] | None = None) -> list[str]:
        body = await gql(client, ACTIVITIES, {"filter": filter}, headers=headers)
        assert "errors" not in body, body
        return [edge["node"]["summary"] for edge in body["data"]["activities"]["edges"]]

    assert await summaries() == ["mar", "feb", "jan"]
    assert await summaries({"accountId": gid("Account", account)}) == ["mar", "feb", "jan"]
    assert await summaries({"contactId": gid("Contact", contact)}) == ["feb"]
    assert await summaries({"opportunityId": gid("Opportunity", deal)}) == ["mar"]
    assert await summaries({"channel": "EMAIL"}) == ["feb"]
    assert await summaries({"direction": "INBOUND"}) == ["mar"]
    assert await summaries(
        {"occurredFrom": "2026-01-15T00:00:00Z", "occurredTo": "2026-02-15T00:00:00Z"}
    ) == ["feb"]
    page = await gql(client, ACTIVITIES, {"first": 2}, headers=headers)
    rest = await gql(
        client,
        ACTIVITIES,
        {"first": 2, "after": page["data"]["activities"]["pageInfo"]["endCursor"]},
        headers=headers,
    )
    assert edge_ids(rest["data"]["activities"]) == [made["jan"]]


@pytest.mark.asyncio
async def test_deleting_an_activity_needs_a_manager(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    account = await make_account(database, tenant.id)
    employee = bearer(app.state.issuer, await make_user(database, tenant.id))
    manager = bearer(app.state.issuer, await make_user(database, tenant.id, roles=(Role.MANAGER,)))
    activity_id = (await record(client, employee, accountId=gid("Account", account)))["activity"][
        "id"
    ]

    forbidden = await gql(client, DELETE_ACTIVITY, {"id": activity_id}, headers=employee)
    assert error_codes(forbidden) == ["FORBIDDEN"]
    deleted = await gql(client, DELETE_ACTIVITY, {"id": activity_id}, headers=manager)
    assert deleted["data"]["deleteActivity"] == {"activity": {"id": activity_id}, "errors": []}
    assert await activity_count(database, tenant) == 0
