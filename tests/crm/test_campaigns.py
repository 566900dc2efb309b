"""Campaigns over GraphQL: creation with validated budget and period, status transitions,
members drawn from a segment or by contact ids (opted-out contacts never become members,
re-running adds only new ones), responses kept by strength with UNSUBSCRIBED opting the
contact out, the `campaigns` filter, and staff-only access."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, update

from prm.auth.principal import Role
from prm.crm.marketing_models import Campaign, CampaignMember
from prm.crm.models import Contact
from prm.db.engine import Database
from prm.graphql.relay import decode_global_id
from tests.crm.factories import gid, make_account, make_contact
from tests.factories import TenantWithAdmin, bearer, make_partner, make_tenant, make_user, unique
from tests.graphql.support import error_codes, gql

CREATE = """mutation ($input: CreateCampaignInput!) { createCampaign(input: $input) {
  campaign { id name channel status budget { amount currency } startsOn endsOn
    segment { id } }
  errors { code field } } }"""
UPDATE = """mutation ($id: ID!, $input: UpdateCampaignInput!) { updateCampaign(id: $id, input: $input) {
  campaign { id status name } errors { code field } } }"""
SEGMENT = """mutation ($input: CreateSegmentInput!) { createSegment(input: $input) {
  segment { id } errors { code field } } }"""
ADD = """mutation ($campaignId: ID!, $segmentId: ID, $contactIds: [ID!]) {
  addCampaignMembers(campaignId: $campaignId, segmentId: $segmentId, contactIds: $contactIds) {
    campaign { id } added skippedOptedOut errors { code field } } }"""
RESPOND = """mutation ($campaignId: ID!, $contactId: ID!, $response: CampaignResponse!) {
  recordCampaignResponse(campaignId: $campaignId, contactId: $contactId, response: $response) {
    member { response respondedAt contact { id } campaign { id } }
    contact { id marketingOptOut optedOutAt } errors { code field } } }"""
CAMPAIGNS = """query ($filter: CampaignFilter) { campaigns(filter: $filter) {
  totalCount edges { node { name } } } }"""
MEMBERS = """query ($id: ID!, $filter: CampaignMemberFilter) {
  campaignMembers(campaignId: $id, filter: $filter) {
    totalCount edges { node { response contact { id } } } } }"""


async def mutate(
    client: httpx.AsyncClient, headers: dict[str, str], query: str, **variables: Any
) -> dict[str, Any]:
    body = await gql(client, query, variables, headers=headers)
    assert "errors" not in body, body
    payload: dict[str, Any] = next(iter(body["data"].values()))
    return payload


def admin(app: FastAPI, tenant: TenantWithAdmin) -> dict[str, str]:
    return bearer(app.state.issuer, tenant.admin)


async def new_campaign(
    client: httpx.AsyncClient, headers: dict[str, str], **fields: Any
) -> dict[str, Any]:
    payload = await mutate(
        client,
        headers,
        CREATE,
        input={"name": unique("camp"), "channel": "EMAIL", "startsOn": "2026-11-01"} | fields,
    )
    assert payload["errors"] == [], payload
    campaign: dict[str, Any] = payload["campaign"]
    return campaign


async def opt_out(database: Database, tenant_id: uuid.UUID, contact: Contact) -> None:
    async with database.session(tenant_id) as session:
        await session.execute(
            update(Contact).where(Contact.id == contact.id).values(marketing_opt_out=True)
        )


async def members_of(database: Database, tenant_id: uuid.UUID, campaign_gid: str) -> set[uuid.UUID]:
    decoded = decode_global_id(campaign_gid)
    assert decoded is not None
    campaign_id = decoded[1]
    async with database.session(tenant_id) as session:
        rows = await session.scalars(
            select(CampaignMember.contact_id).where(CampaignMember.campaign_id == campaign_id)
        )
        return set(rows)


async def campaign_count(database: Database, tenant_id: uuid.UUID) -> int:
    async with database.session(tenant_id) as session:
        count = await session.scalar(
            select(func.count()).select_from(Campaign).where(Campaign.tenant_id == tenant_id)
        )
        return int(count or 0)


@pytest.mark.asyncio
async def test_a_campaign_is_created_planned_with_budget_period_and_segment(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    headers = admin(app, tenant)
    segment = (await mutate(client, headers, SEGMENT, input={"name": "all"}))["segment"]
    campaign = await new_campaign(
        client,
        headers,
        name="Spring",
        channel="SOCIAL",
        budget={"amount": "2500.5", "currency": "USD"},
        endsOn="2026-12-31",
        segmentId=segment["id"],
    )
    assert campaign["status"] == "PLANNED"
    assert campaign["channel"] == "SOCIAL"
    assert campaign["budget"] == {"amount": "2500.50", "currency": "USD"}
    assert (campaign["startsOn"], campaign["endsOn"]) == ("2026-11-01", "2026-12-31")
    assert campaign["segment"] == {"id": segment["id"]}


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [
        ({"name": "  "}, "INVALID", "name"),
        ({"budget": {"amount": "-1", "currency": "USD"}}, "INVALID", "budget.amount"),
        ({"budget": {"amount": "10", "currency": "EUR"}}, "INVALID", "budget.currency"),
        ({"endsOn": "2026-10-31"}, "INVALID", "endsOn"),
        ({"startsOn": "1890-01-01"}, "INVALID", "startsOn"),
        ({"segmentId": gid("Segment", uuid.uuid4())}, "NOT_FOUND", "segmentId"),
        ({"segmentId": gid("Contact", uuid.uuid4())}, "NOT_FOUND", "segmentId"),
    ],
)
async def test_bad_campaign_input_is_a_typed_error_and_writes_nothing(
    client: httpx.AsyncClient,
    app: FastAPI,
    database: Database,
    fields: dict[str, Any],
    code: str,
    field: str,
) -> None:
    tenant = await make_tenant(database)
    payload = await mutate(
        client,
        admin(app, tenant),
        CREATE,
        input={"name": "c", "channel": "EMAIL", "startsOn": "2026-11-01"} | fields,
    )
    assert payload["campaign"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [(code, field)]
    assert await campaign_count(database, tenant.id) == 0


@pytest.mark.asyncio
async def test_status_moves_planned_active_completed_and_closed_campaigns_are_frozen(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    headers = admin(app, tenant)
    campaign = await new_campaign(client, headers)

    async def move(status: str) -> list[dict[str, Any]]:
        payload = await mutate(client, headers, UPDATE, id=campaign["id"], input={"status": status})
        errors: list[dict[str, Any]] = payload["errors"]
        return errors

    assert await move("COMPLETED") == [{"code": "INVALID_TRANSITION", "field": "status"}]
    assert await move("ACTIVE") == []
    assert await move("PLANNED") == [{"code": "INVALID_TRANSITION", "field": "status"}]
    assert await move("COMPLETED") == []
    assert await move("CANCELLED") == [{"code": "INVALID_TRANSITION", "field": "id"}]
    renamed = await mutate(client, headers, UPDATE, id=campaign["id"], input={"name": "x"})
    assert renamed["errors"] == [{"code": "INVALID_TRANSITION", "field": "id"}]
    contact = await make_contact(database, tenant.id)
    added = await mutate(
        client, headers, ADD, campaignId=campaign["id"], contactIds=[gid("Contact", contact)]
    )
    assert added["errors"] == [{"code": "INVALID_TRANSITION", "field": "campaignId"}]

    other = await new_campaign(client, headers)
    cancelled = await mutate(client, headers, UPDATE, id=other["id"], input={"status": "CANCELLED"})
    assert cancelled["campaign"]["status"] == "CANCELLED"


@pytest.mark.asyncio
async def test_members_from_a_segment_exclude_opted_out_and_rerunning_adds_only_new_ones(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    headers = admin(app, tenant)
    account = await make_account(database, tenant.id, country="DE")
    elsewhere = await make_account(database, tenant.id, country="FR")
    first = await make_contact(database, tenant.id, account_id=account.id)
    second = await make_contact(database, tenant.id, account_id=account.id)
    opted = await make_contact(database, tenant.id, account_id=account.id)
    await make_contact(database, tenant.id, account_id=elsewhere.id)
    await opt_out(database, tenant.id, opted)
    segment = (
        await mutate(
            client, headers, SEGMENT, input={"name": "de", "filters": {"countries": ["DE"]}}
        )
    )["segment"]
    campaign = await new_campaign(client, headers, segmentId=segment["id"])

    drawn = await mutate(client, headers, ADD, campaignId=campaign["id"])
    assert (drawn["errors"], drawn["added"]) == ([], 2)
    assert await members_of(database, tenant.id, campaign["id"]) == {first.id, second.id}

    again = await mutate(client, headers, ADD, campaignId=campaign["id"], segmentId=segment["id"])
    assert (again["errors"], again["added"]) == ([], 0)

    late = await make_contact(database, tenant.id, account_id=account.id)
    await opt_out(database, tenant.id, second)  # history stays; no future draw takes it
    third = await mutate(client, headers, ADD, campaignId=campaign["id"])
    assert third["added"] == 1
    assert await members_of(database, tenant.id, campaign["id"]) == {first.id, second.id, late.id}

    fresh = await new_campaign(client, headers, segmentId=segment["id"])
    drawn = await mutate(client, headers, ADD, campaignId=fresh["id"])
    assert drawn["added"] == 2
    assert await members_of(database, tenant.id, fresh["id"]) == {first.id, late.id}


@pytest.mark.asyncio
async def test_members_by_contact_ids_skip_opted_out_and_refuse_unknown_ids(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    headers = admin(app, tenant)
    campaign = await new_campaign(client, headers)
    alice = await make_contact(database, tenant.id)
    opted = await make_contact(database, tenant.id)
    await opt_out(database, tenant.id, opted)
    other = await make_tenant(database)
    foreign = await make_contact(database, other.id)

    for bad, code in [
        ([gid("Contact", alice), gid("Contact", foreign)], "NOT_FOUND"),
        ([gid("Contact", alice), gid("Account", alice.id)], "NOT_FOUND"),
        ([], "INVALID"),
    ]:
        refused = await mutate(client, headers, ADD, campaignId=campaign["id"], contactIds=bad)
        assert refused["errors"] == [{"code": code, "field": "contactIds"}]
    assert await members_of(database, tenant.id, campaign["id"]) == set()

    both = await mutate(
        client,
        headers,
        ADD,
        campaignId=campaign["id"],
        segmentId=gid("Segment", uuid.uuid4()),
        contactIds=[gid("Contact", alice)],
    )
    assert both["errors"][0]["code"] == "INVALID"
    no_segment = await mutate(client, headers, ADD, campaignId=campaign["id"])
    assert no_segment["errors"] == [{"code": "INVALID", "field": "segmentId"}]

    ids = [gid("Contact", alice), gid("Contact", opted)]
    added = await mutate(client, headers, ADD, campaignId=campaign["id"], contactIds=ids)
    assert (added["errors"], added["added"], added["skippedOptedOut"]) == ([], 1, 1)
    assert await members_of(database, tenant.id, campaign["id"]) == {alice.id}
    again = await mutate(client, headers, ADD, campaignId=campaign["id"], contactIds=ids)
    assert (again["added"], again["skippedOptedOut"]) == (0, 1)


@pytest.mark.asyncio
async def test_responses_keep_the_strongest_and_unsubscribing_opts_the_contact_out(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    headers = admin(app, tenant)
    employee = bearer(app.state.issuer, await make_user(database, tenant.id))
    campaign = await new_campaign(client, headers)
    contact = await make_contact(database, tenant.id)
    outsider = await make_contact(database, tenant.id)
    await mutate(
        client, headers, ADD, campaignId=campaign["id"], contactIds=[gid("Contact", contact)]
    )

    async def respond(response: str, who: Contact = contact) -> dict[str, Any]:
        return await mutate(
            client,
            employee,
            RESPOND,
            campaignId=campaign["id"],
            contactId=gid("Contact", who),
            response=response,
        )

    assert (await respond("OPENED"))["member"]["response"] == "OPENED"
    clicked = await respond("CLICKED")
    assert clicked["member"]["response"] == "CLICKED"
    weaker = await respond("OPENED")
    assert weaker["member"] == clicked["member"]  # response and its time kept
    assert weaker["contact"]["marketingOptOut"] is False

    gone = await respond("UNSUBSCRIBED")
    assert gone["member"]["response"] == "UNSUBSCRIBED"
    assert gone["contact"]["marketingOptOut"] is True
    assert gone["contact"]["optedOutAt"] is not None
    after = await respond("PURCHASED")
    assert after["member"]["response"] == "UNSUBSCRIBED"
    assert after["contact"]["optedOutAt"] == gone["contact"]["optedOutAt"]

    stranger = await respond("OPENED", outsider)
    assert stranger["errors"] == [{"code": "NOT_FOUND", "field": "contactId"}]

    # History stays; the contact is out of every future draw.
    body = await gql(client, MEMBERS, {"id": campaign["id"]}, headers=headers)
    assert body["data"]["campaignMembers"]["edges"] == [
        {"node": {"response": "UNSUBSCRIBED", "contact": {"id": gid("Contact", contact)}}}
    ]
    fresh = await new_campaign(client, headers)
    drawn = await mutate(
        client, headers, ADD, campaignId=fresh["id"], contactIds=[gid("Contact", contact)]
    )
    assert (drawn["added"], drawn["skippedOptedOut"]) == (0, 1)


@pytest.mark.asyncio
async def test_campaigns_filter_by_status_and_channel_and_members_by_response(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    headers = admin(app, tenant)
    mail = await new_campaign(client, headers, name="mail", channel="EMAIL")
    await new_campaign(client, headers, name="social", channel="SOCIAL")
    await new_campaign(client, headers, name="web", channel="WEB")
    await mutate(client, headers, UPDATE, id=mail["id"], input={"status": "ACTIVE"})

    async def names(filter: dict[str, Any]) -> list[str]:
        body = await gql(client, CAMPAIGNS, {"filter": filter}, headers=headers)
        return [edge["node"]["name"] for edge in body["data"]["campaigns"]["edges"]]

    assert await names({}) == ["web", "social", "mail"]
    assert await names({"status": "ACTIVE"}) == ["mail"]
    assert await names({"status": "PLANNED"}) == ["web", "social"]
    assert await names({"channel": "SOCIAL"}) == ["social"]
    assert await names({"status": "ACTIVE", "channel": "SOCIAL"}) == []

    a, b = await make_contact(database, tenant.id), await make_contact(database, tenant.id)
    await mutate(
        client,
        headers,
        ADD,
        campaignId=mail["id"],
        contactIds=[gid("Contact", a), gid("Contact", b)],
    )
    await mutate(
        client,
        headers,
        RESPOND,
        campaignId=mail["id"],
        contactId=gid("Contact", b),
        response="REPLIED",
    )
    body = await gql(
        client, MEMBERS, {"id": mail["id"], "filter": {"responded": True}}, headers=headers
    )
    assert body["data"]["campaignMembers"]["totalCount"] == 1
    body = await gql(
        client, MEMBERS, {"id": mail["id"], "filter": {"responded": False}}, headers=headers
    )
    assert body["data"]["campaignMembers"]["edges"] == [
        {"node": {"response": None, "contact": {"id": gid("Contact", a)}}}
    ]


@pytest.mark.asyncio
async def test_campaigns_are_staff_only_and_foreign_ids_are_not_found(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    headers = admin(app, tenant)
    campaign = await new_campaign(client, headers)
    contact = await make_contact(database, tenant.id)
    await mutate(
        client, headers, ADD, campaignId=campaign["id"], contactIds=[gid("Contact", contact)]
    )
    partner = await make_partner(database, tenant.id)
    partner_user = await make_user(
        database, tenant.id, roles=(Role.PARTNER_ADMIN,), partner_id=partner.id
    )
    partner_headers = bearer(app.state.issuer, partner_user)
    assert error_codes(await gql(client, CAMPAIGNS, {}, headers=partner_headers)) == ["FORBIDDEN"]
    body = await gql(
        client,
        RESPOND,
        {"campaignId": campaign["id"], "contactId": gid("Contact", contact), "response": "OPENED"},
        headers=partner_headers,
    )
    assert error_codes(body) == ["FORBIDDEN"]
    employee = bearer(app.state.issuer, await make_user(database, tenant.id))
    body = await gql(
        client, ADD, {"campaignId": campaign["id"], "contactIds": [gid("Contact", contact)]},
        headers=employee,
    )  # fmt: skip
    assert error_codes(body) == ["FORBIDDEN"]

    other = await make_tenant(database)
    other_headers = admin(app, other)
    body = await gql(
        client,
        "query($id: ID!) { node(id: $id) { id } }",
        {"id": campaign["id"]},
        headers=other_headers,
    )
    assert body["data"]["node"] is None
    moved = await mutate(
        client, other_headers, UPDATE, id=campaign["id"], input={"status": "ACTIVE"}
    )
    assert moved["errors"] == [{"code": "NOT_FOUND", "field": "id"}]
    foreign_contact = await make_contact(database, other.id)
    drawn = await mutate(
        client,
        other_headers,
        ADD,
        campaignId=campaign["id"],
        contactIds=[gid("Contact", foreign_contact)],
    )
    assert drawn["errors"] == [{"code": "NOT_FOUND", "field": "campaignId"}]
    body = await gql(client, MEMBERS, {"id": campaign["id"]}, headers=other_headers)
    assert body["data"]["campaignMembers"]["totalCount"] == 0
    responded = await mutate(
        client, other_headers, RESPOND, campaignId=campaign["id"],
        contactId=gid("Contact", contact), response="UNSUBSCRIBED",
    )  # fmt: skip
    assert responded["errors"] == [{"code": "NOT_FOUND", "field": "campaignId"}]
    async with database.session(tenant.id) as session:
        assert (
            await session.scalar(select(Contact.marketing_opt_out).where(Contact.id == contact.id))
            is False
        )
