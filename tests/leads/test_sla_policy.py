"""The lead-SLA policy over HTTP: violations (expired offers, rejections when counted)
pause lead delivery at the limit until the period ends; paused partners get no offers and
no pool claims; admins pause and resume by hand; partners see their own delivery only."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, update

from prm.auth.principal import Role
from prm.db.engine import Database
from prm.leads.models import DistributionMode, LeadOffer, LeadSlaPolicy, LeadStatus
from prm.leads.offers import expire_offers
from prm.partners.models import Partner, PartnerNotification
from tests.factories import make_tenant, make_user
from tests.graphql.support import error_codes, gql
from tests.leads.factories import make_lead, make_rule, make_territory_partner, run
from tests.leads.test_graphql import gid, headers, offer_of, partner_user
from tests.statements import counting_statements

SET_POLICY = """mutation ($input: SetLeadSlaPolicyInput!) { setLeadSlaPolicy(input: $input) {
  leadSlaPolicy { maxViolations periodKind countRejections active } errors { code field } } }"""
POLICY = "{ leadSlaPolicy { maxViolations periodKind countRejections active } }"
REJECT = """mutation ($id: ID!) { rejectLeadOffer(id: $id, reason: "too busy") {
  leadOffer { status } errors { code } } }"""
DELIVERY_FIELDS = "paused pausedUntil reason violations maxViolations period"
DELIVERY = f"""query ($id: ID!) {{ node(id: $id) {{ ... on Partner {{
  leadDelivery {{ {DELIVERY_FIELDS} }} }} }} }}"""
PARTNERS = f"{{ partners {{ edges {{ node {{ id leadDelivery {{ {DELIVERY_FIELDS} }} }} }} }} }}"
PAUSE = """mutation ($id: ID!, $until: DateTime!, $reason: String!) {
  pauseLeadDelivery(partnerId: $id, until: $until, reason: $reason) {
    partner { id leadDelivery { paused pausedUntil reason } } errors { code field } } }"""
RESUME = """mutation ($id: ID!, $reason: String!) {
  resumeLeadDelivery(partnerId: $id, reason: $reason) {
    partner { id leadDelivery { paused pausedUntil reason } } errors { code field } } }"""
CLAIM = """mutation ($id: ID!) { claimLead(id: $id) {
  lead { id status } errors { code message } } }"""
POOL = "{ leadPool { totalCount } }"


def month_of(moment: datetime) -> tuple[str, datetime]:
    """The month key of `moment` and the first instant after it, worked out by hand."""
    year, month = moment.year, moment.month
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=UTC)
    return f"{year}-{month:02d}", end


def iso(moment: datetime) -> str:
    return moment.isoformat()


async def set_policy(
    app: FastAPI, client: httpx.AsyncClient, admin: Any, **fields: Any
) -> dict[str, Any]:
    body = await gql(client, SET_POLICY, {"input": fields}, headers=headers(app, admin))
    result: dict[str, Any] = body["data"]["setLeadSlaPolicy"]
    return result


async def delivery(
    app: FastAPI, client: httpx.AsyncClient, user: Any, partner_id: uuid.UUID
) -> dict[str, Any] | None:
    body = await gql(
        client, DELIVERY, {"id": gid("Partner", partner_id)}, headers=headers(app, user)
    )
    node = body["data"]["node"]
    return node["leadDelivery"] if node else None


async def notifications(
    database: Database, tenant_id: uuid.UUID, partner_id: uuid.UUID
) -> list[tuple[str, str]]:
    async with database.session(tenant_id) as session:
        rows = await session.execute(
            select(PartnerNotification.kind, PartnerNotification.message)
            .where(PartnerNotification.partner_id == partner_id)
            .order_by(PartnerNotification.created_at, PartnerNotification.id)
        )
        return [(kind, message) for kind, message in rows]


async def make_due(
    database: Database, tenant_id: uuid.UUID, offer_ids: list[uuid.UUID], at: datetime
) -> None:
    async with database.session(tenant_id) as session:
        await session.execute(
            update(LeadOffer).where(LeadOffer.id.in_(offer_ids)).values(expires_at=at)
        )


async def expire(database: Database, tenant_id: uuid.UUID, now: datetime) -> int:
    return await run(database, tenant_id, lambda s: expire_offers(s, tenant_id, now=now))


async def reject(app: FastAPI, client: httpx.AsyncClient, user: Any, offer_id: uuid.UUID) -> None:
    body = await gql(client, REJECT, {"id": gid("LeadOffer", offer_id)}, headers=headers(app, user))
    assert body["data"]["rejectLeadOffer"]["errors"] == []


@pytest.mark.asyncio
async def test_the_nth_rejection_pauses_delivery_with_reason_and_notification(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    partner = await make_territory_partner(database, tenant.id)
    rep = await partner_user(database, tenant.id, partner.id)
    await make_rule(database, tenant.id)
    policy = await set_policy(app, client, tenant.admin, maxViolations=2, periodKind="MONTH")
    assert policy == {
        "leadSlaPolicy": {
            "maxViolations": 2, "periodKind": "MONTH", "countRejections": True, "active": True
        },
        "errors": [],
    }  # fmt: skip
    key, end = month_of(datetime.now(UTC))

    first = await make_lead(database, tenant.id)
    await reject(app, client, rep, (await offer_of(database, tenant.id, first.id)).id)
    assert await delivery(app, client, rep, partner.id) == {
        "paused": False, "pausedUntil": None, "reason": None,
        "violations": 1, "maxViolations": 2, "period": key,
    }  # fmt: skip
    assert await notifications(database, tenant.id, partner.id) == []

    second = await make_lead(database, tenant.id)
    await reject(app, client, rep, (await offer_of(database, tenant.id, second.id)).id)
    reason = f"2 offers expired or rejected in {key}; limit 2"
    assert await delivery(app, client, rep, partner.id) == {
        "paused": True, "pausedUntil": iso(end), "reason": reason,
        "violations": 2, "maxViolations": 2, "period": key,
    }  # fmt: skip
    sent = await notifications(database, tenant.id, partner.id)
    assert [kind for kind, _ in sent] == ["leads.paused"]
    assert reason in sent[0][1]

    # The only partner is paused: the next lead finds nobody to offer it to.
    third = await make_lead(database, tenant.id)
    assert third.status is LeadStatus.UNROUTABLE
    async with database.session(tenant.id) as session:
        offered = await session.scalar(
            select(func.count()).select_from(LeadOffer).where(LeadOffer.lead_id == third.id)
        )
    assert offered == 0


@pytest.mark.asyncio
async def test_expiries_pause_in_one_batch_and_rejections_count_only_when_asked(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    partner = await make_territory_partner(database, tenant.id)
    rep = await partner_user(database, tenant.id, partner.id)
    await make_rule(database, tenant.id)
    await set_policy(app, client, tenant.admin, maxViolations=2, countRejections=False)
    now = datetime.now(UTC)
    key, end = month_of(now)
    rejected, a, b = [await make_lead(database, tenant.id) for _ in range(3)]
    offers = {
        lead.id: (await offer_of(database, tenant.id, lead.id)).id for lead in (rejected, a, b)
    }

    await reject(app, client, rep, offers[rejected.id])
    assert (await delivery(app, client, rep, partner.id) or {})["violations"] == 0
    await make_due(database, tenant.id, [offers[a.id]], now - timedelta(minutes=5))
    assert await expire(database, tenant.id, now) == 1
    # One expiry, one rejection: two if rejections counted, but they are not.
    state = await delivery(app, client, rep, partner.id)
    assert state is not None
    assert (state["violations"], state["paused"]) == (1, False)

    # Two more expire in one batch: one pause, one notification.
    c = await make_lead(database, tenant.id)
    offers[c.id] = (await offer_of(database, tenant.id, c.id)).id
    await make_due(database, tenant.id, [offers[b.id], offers[c.id]], now - timedelta(minutes=1))
    assert await expire(database, tenant.id, now) == 2
    assert await delivery(app, client, rep, partner.id) == {
        "paused": True, "pausedUntil": iso(end), "reason": f"3 offers expired in {key}; limit 2",
        "violations": 3, "maxViolations": 2, "period": key,
    }  # fmt: skip
    assert [kind for kind, _ in await notifications(database, tenant.id, partner.id)] == [
        "leads.paused"
    ]


@pytest.mark.asyncio
async def test_a_pause_ends_with_its_period(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    partner = await make_territory_partner(database, tenant.id)
    rep = await partner_user(database, tenant.id, partner.id)
    await make_rule(database, tenant.id)
    await set_policy(app, client, tenant.admin, maxViolations=1, periodKind="QUARTER")
    lead = await make_lead(database, tenant.id)
    offer = await offer_of(database, tenant.id, lead.id)
    then = datetime(2026, 2, 10, 9, 0, tzinfo=UTC)  # in 2026-Q1, long over
    await make_due(database, tenant.id, [offer.id], then - timedelta(days=1))
    assert await expire(database, tenant.id, then) == 1

    async with database.session(tenant.id) as session:
        row = await session.get_one(Partner, (tenant.id, partner.id))
    assert row.leads_paused_until == datetime(2026, 4, 1, tzinfo=UTC)
    assert row.leads_paused_reason == "1 offers expired or rejected in 2026-Q1; limit 1"
    state = await delivery(app, client, rep, partner.id)
    assert state is not None
    assert (state["paused"], state["pausedUntil"], state["reason"]) == (False, None, None)
    again = await make_lead(database, tenant.id)
    assert again.status is LeadStatus.OFFERED
    assert (await offer_of(database, tenant.id, again.id)).partner_id == partner.id


@pytest.mark.asyncio
async def test_a_paused_partner_cannot_claim_until_resumed(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    partner = await make_territory_partner(database, tenant.id)
    rep = await partner_user(database, tenant.id, partner.id)
    await make_rule(database, tenant.id, mode=DistributionMode.POOL)
    lead = await make_lead(database, tenant.id)
    assert lead.status is LeadStatus.POOLED
    until = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0)
    admin = headers(app, tenant.admin)

    paused = await gql(
        client, PAUSE, {"id": gid("Partner", partner.id), "until": iso(until), "reason": "audit"},
        headers=admin,
    )  # fmt: skip
    assert paused["data"]["pauseLeadDelivery"] == {
        "partner": {
            "id": gid("Partner", partner.id),
            "leadDelivery": {"paused": True, "pausedUntil": iso(until), "reason": "audit"},
        },
        "errors": [],
    }
    pool = await gql(client, POOL, headers=headers(app, rep))
    assert pool["data"]["leadPool"]["totalCount"] == 0
    refused = await gql(client, CLAIM, {"id": gid("Lead", lead.id)}, headers=headers(app, rep))
    assert refused["data"]["claimLead"]["errors"] == [
        {
            "code": "NOT_ELIGIBLE",
            "message": f"lead delivery to your partner is paused until {until.isoformat()}: audit",
        }
    ]

    for bad, field in [
        ({"reason": " "}, "reason"),
        ({"id": gid("Partner", uuid.uuid4())}, "partnerId"),
    ]:
        variables = {"id": gid("Partner", partner.id), "reason": "ok", **bad}
        body = await gql(client, RESUME, variables, headers=admin)
        assert body["data"]["resumeLeadDelivery"]["errors"][0]["field"] == field
    resumed = await gql(
        client, RESUME, {"id": gid("Partner", partner.id), "reason": "talked"}, headers=admin
    )
    assert resumed["data"]["resumeLeadDelivery"]["partner"]["leadDelivery"] == {
        "paused": False, "pausedUntil": None, "reason": None
    }  # fmt: skip
    twice = await gql(
        client, RESUME, {"id": gid("Partner", partner.id), "reason": "again"}, headers=admin
    )
    assert twice["data"]["resumeLeadDelivery"]["errors"] == [
        {"code": "INVALID_TRANSITION", "field": "partnerId"}
    ]
    assert [kind for kind, _ in await notifications(database, tenant.id, partner.id)] == [
        "leads.paused", "leads.resumed"
    ]  # fmt: skip
    claimed = await gql(client, CLAIM, {"id": gid("Lead", lead.id)}, headers=headers(app, rep))
    assert claimed["data"]["claimLead"]["lead"]["status"] == "ACCEPTED"


@pytest.mark.asyncio
async def test_bad_policies_and_pauses_write_nothing_and_only_admins_write(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    partner = await make_territory_partner(database, tenant.id)
    rep = await partner_user(database, tenant.id, partner.id)
    manager = await make_user(database, tenant.id, roles=(Role.MANAGER,))
    foreign = await make_territory_partner(database, (await make_tenant(database)).id)

    bad = await set_policy(app, client, tenant.admin, maxViolations=0)
    assert bad == {"leadSlaPolicy": None, "errors": [{"code": "INVALID", "field": "maxViolations"}]}
    async with database.session(tenant.id) as session:
        count = await session.scalar(select(func.count()).select_from(LeadSlaPolicy))
    assert count == 0
    assert (await gql(client, POLICY, headers=headers(app, rep)))["data"]["leadSlaPolicy"] is None

    await set_policy(app, client, tenant.admin, maxViolations=5, periodKind="QUARTER")
    await set_policy(app, client, tenant.admin, maxViolations=-1, active=False)
    denied = await gql(
        client, SET_POLICY, {"input": {"maxViolations": 1}}, headers=headers(app, manager)
    )
    assert error_codes(denied) == ["FORBIDDEN"]
    for user in (rep, manager):
        read = await gql(client, POLICY, headers=headers(app, user))
        assert read["data"]["leadSlaPolicy"] == {
            "maxViolations": 5, "periodKind": "QUARTER", "countRejections": True, "active": True
        }  # fmt: skip

    admin = headers(app, tenant.admin)
    future = iso(datetime.now(UTC) + timedelta(days=1))
    past = iso(datetime.now(UTC) - timedelta(days=1))
    for variables, field in [
        ({"id": gid("Partner", partner.id), "until": past, "reason": "x"}, "until"),
        ({"id": gid("Partner", partner.id), "until": future, "reason": ""}, "reason"),
        ({"id": gid("Partner", foreign.id), "until": future, "reason": "x"}, "partnerId"),
    ]:
        body = await gql(client, PAUSE, variables, headers=admin)
        assert body["data"]["pauseLeadDelivery"]["errors"][0]["field"] == field
    by_rep = await gql(
        client, PAUSE, {"id": gid("Partner", partner.id), "until": future, "reason": "x"},
        headers=headers(app, rep),
    )  # fmt: skip
    assert error_codes(by_rep) == ["FORBIDDEN"]
    async with database.session(tenant.id) as session:
        row = await session.get_one(Partner, (tenant.id, partner.id))
        sent = await session.scalar(select(func.count()).select_from(PartnerNotification))
    assert (row.leads_paused_until, row.leads_paused_reason, sent) == (None, None, 0)


@pytest.mark.asyncio
async def test_partner_users_see_their_own_delivery_only_and_pages_batch(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    await set_policy(app, client, tenant.admin, maxViolations=3)
    mine = await make_territory_partner(database, tenant.id)
    theirs = await make_territory_partner(database, tenant.id)
    admin_of_mine = await partner_user(database, tenant.id, mine.id, Role.PARTNER_ADMIN)
    until = datetime.now(UTC) + timedelta(days=2)
    await gql(
        client, PAUSE, {"id": gid("Partner", theirs.id), "until": iso(until), "reason": "late"},
        headers=headers(app, tenant.admin),
    )  # fmt: skip

    assert await delivery(app, client, admin_of_mine, theirs.id) is None
    own = await gql(client, PARTNERS, headers=headers(app, admin_of_mine))
    nodes = [edge["node"] for edge in own["data"]["partners"]["edges"]]
    assert [(n["id"], n["leadDelivery"]["paused"]) for n in nodes] == [
        (gid("Partner", mine.id), False)
    ]
    staff = await gql(client, PARTNERS, headers=headers(app, tenant.admin))
    seen = {e["node"]["id"]: e["node"]["leadDelivery"] for e in staff["data"]["partners"]["edges"]}
    assert seen[gid("Partner", theirs.id)]["reason"] == "late"
    assert seen[gid("Partner", mine.id)]["paused"] is False

    async def statements_for_page() -> int:
        with counting_statements(database) as statements:
            body = await gql(client, PARTNERS, headers=headers(app, tenant.admin))
        assert "errors" not in body
        return len(statements)

    few = await statements_for_page()
    for _ in range(4):
        await make_territory_partner(database, tenant.id)
    assert await statements_for_page() == few
