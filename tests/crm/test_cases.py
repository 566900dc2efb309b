"""Customer service cases over GraphQL: SLA timers, the customer's value and loyalty on
the case, the whole relationship beside it, transitions and their history, who sees
which cases, bad input, and the events opening and assignment announce."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update

from prm.auth.principal import Role
from prm.crm.case_models import Case
from prm.db.engine import Database
from prm.graphql.relay import decode_global_id
from prm.webhooks.models import WebhookDelivery, WebhookEndpoint
from tests.crm.factories import gid, make_account, make_activity, make_contact, make_opportunity
from tests.crm.test_cases_support import (
    CASES,
    CLOSE,
    ESCALATE,
    HISTORY,
    NODE,
    OPEN,
    REOPEN,
    RESOLVE,
    RESPOND,
    SET_SLA,
    SLA_POLICIES,
    case_row,
    counts,
    customer,
    make_agent,
    make_queue,
    open_input,
)
from tests.factories import make_partner, make_tenant, make_user
from tests.graphql.support import error_codes
from tests.partners.support import Caller, make_cast
from tests.statements import counting_statements


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)


def pk(global_id: str) -> uuid.UUID:
    decoded = decode_global_id(global_id)
    assert decoded is not None
    return decoded[1]


@pytest.mark.asyncio
async def test_sla_timers_come_from_the_tenants_policy_or_the_documented_defaults(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    admin = Caller(client, app, tenant.admin)
    account = await make_account(database, tenant.id)
    set_body = await admin(SET_SLA, priority="NORMAL", first=45, resolution=300)
    assert set_body["data"]["setCaseSlaPolicy"]["errors"] == []

    normal = (await admin(OPEN, input=open_input(account)))["data"]["openCase"]["case"]
    high = (await admin(OPEN, input=open_input(account, priority="HIGH")))["data"]["openCase"][
        "case"
    ]

    opened = at(normal["createdAt"])
    assert at(normal["firstResponseDueAt"]) == opened + timedelta(minutes=45)
    assert at(normal["resolutionDueAt"]) == opened + timedelta(minutes=300)
    # HIGH has no policy of the tenant: the documented default, 2 hours and 1 day.
    opened = at(high["createdAt"])
    assert at(high["firstResponseDueAt"]) == opened + timedelta(hours=2)
    assert at(high["resolutionDueAt"]) == opened + timedelta(days=1)
    assert [normal["number"], high["number"]] == [1, 2]

    policies = (await admin(SLA_POLICIES))["data"]["caseSlaPolicies"]
    assert policies == [
        {
            "priority": "LOW",
            "firstResponseMinutes": 1440,
            "resolutionMinutes": 7200,
            "isDefault": True,
        },
        {
            "priority": "NORMAL",
            "firstResponseMinutes": 45,
            "resolutionMinutes": 300,
            "isDefault": False,
        },
        {
            "priority": "HIGH",
            "firstResponseMinutes": 120,
            "resolutionMinutes": 1440,
            "isDefault": True,
        },
        {
            "priority": "URGENT",
            "firstResponseMinutes": 30,
            "resolutionMinutes": 240,
            "isDefault": True,
        },
    ]


@pytest.mark.asyncio
async def test_bad_sla_policies_are_refused_and_only_admins_set_them(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    cast = await make_cast(database)
    admin = Caller(client, app, cast.admin)
    for first, resolution, field in (
        (0, 60, "firstResponseMinutes"),
        (60, 30, "resolutionMinutes"),
    ):
        body = await admin(SET_SLA, priority="LOW", first=first, resolution=resolution)
        assert body["data"]["setCaseSlaPolicy"]["errors"][0]["field"] == field
    manager = await Caller(client, app, cast.manager)(
        SET_SLA, priority="LOW", first=1, resolution=2
    )
    assert error_codes(manager) == ["FORBIDDEN"]
    policies = (await admin(SLA_POLICIES))["data"]["caseSlaPolicies"]
    assert all(policy["isDefault"] for policy in policies)


@pytest.mark.asyncio
async def test_a_case_carries_the_customers_value_loyalty_and_relationship(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    now = datetime.now(UTC)
    first_won, last_won = now - timedelta(days=730), now - timedelta(days=73)
    account = await customer(
        database, tenant.id, won=[("1000.00", first_won), ("500.50", last_won)]
    )
    contact = await make_contact(database, tenant.id, account_id=account.id)
    open_deal = await make_opportunity(database, tenant.id, account_id=account.id, amount="70")
    touch = await make_activity(database, tenant.id, account_id=account.id, occurred_at=now)
    stranger = await make_account(database, tenant.id)
    await make_opportunity(database, tenant.id, account_id=stranger.id, amount="9")

    body = await Caller(client, app, tenant.admin)(
        OPEN, input=open_input(account, contactId=gid("Contact", contact))
    )
    case = body["data"]["openCase"]["case"]

    # Independently: tenure 2 of 5 years -> 16, one repeat deal of 5 -> 6, last deal 73
    # days ago -> 30 * (1 - 73/365) = 24; 46 in all.
    years = 730 / 365.25
    expected = 40 * min(years, 5) / 5 + 30 * 1 / 5 + 30 * (1 - 73 / 365)
    assert case["loyaltyScore"] == pytest.approx(expected, abs=0.1)
    assert case["customerValue"] == {"amount": "1500.50", "currency": "USD"}
    assert case["contact"] == {"id": gid("Contact", contact)}

    view = await Caller(client, app, tenant.admin)(
        """query ($id: ID!) { node(id: $id) { ... on Case { customer {
          loyaltyScore lifetimeValue { amount currency } account { id }
          openOpportunities(first: 5) { totalCount edges { node { id } } }
          recentActivities(first: 5) { edges { node { id } } } } } } }""",
        id=case["id"],
    )
    seen = view["data"]["node"]["customer"]
    assert seen["lifetimeValue"] == {"amount": "1500.50", "currency": "USD"}
    assert seen["account"] == {"id": gid("Account", account)}
    assert seen["openOpportunities"]["totalCount"] == 1
    assert seen["openOpportunities"]["edges"][0]["node"]["id"] == gid("Opportunity", open_deal)
    assert [e["node"]["id"] for e in seen["recentActivities"]["edges"]] == [gid("Activity", touch)]


@pytest.mark.asyncio
async def test_a_new_customer_has_no_value_and_no_loyalty(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    account = await make_account(database, tenant.id)
    body = await Caller(client, app, tenant.admin)(OPEN, input=open_input(account))
    case = body["data"]["openCase"]["case"]
    assert case["loyaltyScore"] == 0
    assert case["customerValue"] == {"amount": "0.00", "currency": "USD"}
    assert case["status"] == "NEW"
    assert case["assignee"] is None


@pytest.mark.asyncio
async def test_a_case_moves_through_its_life_and_records_every_change(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    admin = Caller(client, app, tenant.admin)
    agent = await make_agent(database, tenant.id, skills=[], capacity=3)
    account = await make_account(database, tenant.id)
    case = (await admin(OPEN, input=open_input(account, priority="LOW")))["data"]["openCase"][
        "case"
    ]
    assert case["status"] == "ASSIGNED"
    assert case["assignee"]["id"] == gid("Employee", agent)

    responded = (await admin(RESPOND, id=case["id"], message="On it"))["data"]["respondToCase"]
    assert responded["errors"] == []
    first_answer = responded["case"]["firstRespondedAt"]
    assert first_answer is not None
    assert responded["case"]["status"] == "WAITING_ON_CUSTOMER"
    again = (await admin(RESPOND, id=case["id"], message="Still on it"))["data"]["respondToCase"]
    assert again["case"]["firstRespondedAt"] == first_answer

    before = datetime.now(UTC)
    escalated = (await admin(ESCALATE, id=case["id"], reason="Angry"))["data"]["escalateCase"][
        "case"
    ]
    after = datetime.now(UTC)
    assert escalated["status"] == "ESCALATED"
    assert escalated["priority"] == "NORMAL"
    assert escalated["escalationLevel"] == 1
    # LOW's 5 days tighten to NORMAL's default 3 days from the escalation.
    due = at(escalated["resolutionDueAt"])
    assert before + timedelta(days=3) <= due <= after + timedelta(days=3)

    resolved = (await admin(RESOLVE, id=case["id"], resolution="Replaced"))["data"]["resolveCase"][
        "case"
    ]
    assert resolved["status"] == "RESOLVED"
    assert resolved["resolvedAt"] is not None
    wrong = (await admin(RESOLVE, id=case["id"], resolution="Again"))["data"]["resolveCase"]
    assert [e["code"] for e in wrong["errors"]] == ["INVALID_TRANSITION"]

    reopened = (await admin(REOPEN, id=case["id"], reason="Broke again"))["data"]["reopenCase"][
        "case"
    ]
    assert reopened["status"] == "ASSIGNED"
    assert reopened["reopenCount"] == 1
    assert reopened["resolvedAt"] is None
    assert reopened["assignee"]["id"] == gid("Employee", agent)
    closed = (await admin(CLOSE, id=case["id"]))["data"]["closeCase"]["case"]
    assert closed["status"] == "CLOSED"
    assert closed["closedAt"] is not None
    twice = (await admin(CLOSE, id=case["id"]))["data"]["closeCase"]
    assert [e["code"] for e in twice["errors"]] == ["INVALID_TRANSITION"]

    history = (await admin(HISTORY, id=case["id"]))["data"]["node"]["history"]
    assert [(h["kind"], h["fromStatus"], h["toStatus"]) for h in history] == [
        ("opened", None, "NEW"),
        ("assigned", "NEW", "ASSIGNED"),
        ("responded", "ASSIGNED", "WAITING_ON_CUSTOMER"),
        ("responded", "WAITING_ON_CUSTOMER", "WAITING_ON_CUSTOMER"),
        ("escalated", "WAITING_ON_CUSTOMER", "ESCALATED"),
        ("resolved", "ESCALATED", "RESOLVED"),
        ("reopened", "RESOLVED", "ASSIGNED"),
        ("closed", "ASSIGNED", "CLOSED"),
    ]
    assert history[2]["note"] == "On it"
    assert history[1]["actor"] is None  # automatic routing
    assert history[2]["actor"] == {"id": gid("User", tenant.admin)}


@pytest.mark.asyncio
async def test_illegal_transitions_and_late_reopening_are_refused(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    admin = Caller(client, app, tenant.admin)
    account = await make_account(database, tenant.id)
    waiting = (await admin(OPEN, input=open_input(account)))["data"]["openCase"]["case"]
    assert waiting["status"] == "NEW"  # no agent
    for document, variables in (
        (RESPOND, {"message": "hi"}),
        (RESOLVE, {"resolution": "done"}),
        (REOPEN, {"reason": "why"}),
    ):
        body = await admin(document, id=waiting["id"], **variables)
        payload = next(iter(body["data"].values()))
        assert [e["code"] for e in payload["errors"]] == ["INVALID_TRANSITION"], document

    closed = (await admin(CLOSE, id=waiting["id"]))["data"]["closeCase"]["case"]
    assert closed["status"] == "CLOSED"
    async with database.session(tenant.id) as session:
        await session.execute(
            update(Case)
            .where(Case.tenant_id == tenant.id, Case.id == pk(waiting["id"]))
            .values(closed_at=datetime.now(UTC) - timedelta(days=31))
        )
    late = (await admin(REOPEN, id=waiting["id"], reason="late"))["data"]["reopenCase"]
    assert [e["code"] for e in late["errors"]] == ["EXPIRED"]
    assert (await case_row(database, tenant.id, pk(waiting["id"]))).status == "CLOSED"


@pytest.mark.asyncio
async def test_bad_input_gets_a_typed_error_and_writes_nothing(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    other = await make_tenant(database)
    admin = Caller(client, app, tenant.admin)
    account = await make_account(database, tenant.id)
    elsewhere = await make_account(database, other.id)
    other_account = await make_account(database, tenant.id)
    contact_elsewhere = await make_contact(database, tenant.id, account_id=other_account.id)
    foreign_queue = await make_queue(database, other.id, name="Billing", skills=[])
    cases = [
        (open_input(account, subject="   "), "INVALID", "subject"),
        (open_input(elsewhere), "NOT_FOUND", "accountId"),
        (open_input(account, accountId="garbage"), "NOT_FOUND", "accountId"),
        (
            open_input(account, contactId=gid("Contact", contact_elsewhere)),
            "NOT_FOUND",
            "contactId",
        ),
        (open_input(account, queueId=gid("CaseQueue", foreign_queue)), "NOT_FOUND", "queueId"),
    ]
    for payload_input, code, field in cases:
        body = await admin(OPEN, input=payload_input)
        errors = body["data"]["openCase"]["errors"]
        assert [(e["code"], e["field"]) for e in errors] == [(code, field)], payload_input
    assert await counts(database, tenant.id) == (0, 0)

    case = (await admin(OPEN, input=open_input(account)))["data"]["openCase"]["case"]
    empty = (await admin(RESPOND, id=case["id"], message=""))["data"]["respondToCase"]
    assert [(e["code"], e["field"]) for e in empty["errors"]] == [("INVALID", "message")]
    assert await counts(database, tenant.id) == (1, 1)


@pytest.mark.asyncio
async def test_who_sees_which_cases(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    cast = await make_cast(database)
    tenant_id = cast.tenant.id
    rival = await make_partner(database, tenant_id)
    rival_user = await make_user(
        database, tenant_id, roles=(Role.PARTNER_REP,), partner_id=rival.id
    )
    theirs = await make_account(database, tenant_id, partner_id=cast.partner.id)
    direct = await make_account(database, tenant_id)
    billing = await make_queue(database, tenant_id, name="Billing", skills=["billing"])
    returns = await make_queue(database, tenant_id, name="Returns", skills=["returns"])
    # The employee user is an agent of billing only, at capacity 0 (so nothing is routed).
    await make_agent(database, tenant_id, skills=["billing"], capacity=0, user_id=cast.employee.id)

    partner = Caller(client, app, cast.partner_rep)
    by_partner = await partner(OPEN, input=open_input(theirs, queueId=gid("CaseQueue", billing)))
    case = by_partner["data"]["openCase"]["case"]
    assert case["partner"] == {"id": gid("Partner", cast.partner)}
    refused = await partner(OPEN, input=open_input(direct))
    assert refused["data"]["openCase"]["errors"][0]["code"] == "NOT_FOUND"
    admin = Caller(client, app, cast.admin)
    in_returns = (await admin(OPEN, input=open_input(direct, queueId=gid("CaseQueue", returns))))[
        "data"
    ]["openCase"]["case"]

    def ids(body: dict[str, object]) -> set[str]:
        data = body["data"]
        assert isinstance(data, dict)
        return {edge["node"]["id"] for edge in data["cases"]["edges"]}

    assert ids(await admin(CASES)) == {case["id"], in_returns["id"]}
    assert ids(await Caller(client, app, cast.manager)(CASES)) == {case["id"], in_returns["id"]}
    assert ids(await partner(CASES)) == {case["id"]}
    assert ids(await Caller(client, app, cast.employee)(CASES)) == {case["id"]}
    rival_caller = Caller(client, app, rival_user)
    assert ids(await rival_caller(CASES)) == set()
    assert (await rival_caller(NODE, id=case["id"]))["data"]["node"] is None
    escalate = await rival_caller(ESCALATE, id=case["id"], reason="mine?")
    assert escalate["data"]["escalateCase"]["errors"][0]["code"] == "NOT_FOUND"
    # A partner user may escalate its own case but not work it.
    assert (await partner(ESCALATE, id=case["id"], reason="urgent"))["data"]["escalateCase"][
        "errors"
    ] == []
    assert error_codes(await partner(RESOLVE, id=case["id"], resolution="x")) == ["FORBIDDEN"]


@pytest.mark.asyncio
async def test_cases_filter_and_sort_by_due_time(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    admin = Caller(client, app, tenant.admin)
    account = await make_account(database, tenant.id)
    other = await make_account(database, tenant.id)
    low = (await admin(OPEN, input=open_input(account, priority="LOW")))["data"]["openCase"]["case"]
    urgent = (await admin(OPEN, input=open_input(other, priority="URGENT", kind="COMPLAINT")))[
        "data"
    ]["openCase"]["case"]
    normal = (await admin(OPEN, input=open_input(account)))["data"]["openCase"]["case"]
    async with database.session(tenant.id) as session:
        await session.execute(
            update(Case)
            .where(Case.tenant_id == tenant.id, Case.id == pk(normal["id"]))
            .values(first_response_due_at=datetime.now(UTC) - timedelta(minutes=1))
        )

    page = (await admin(CASES, first=2))["data"]["cases"]
    assert [e["node"]["id"] for e in page["edges"]] == [urgent["id"], normal["id"]]
    rest = (await admin(CASES, first=2, after=page["pageInfo"]["endCursor"]))["data"]["cases"]
    assert [e["node"]["id"] for e in rest["edges"]] == [low["id"]]

    async def only(filter_: dict[str, object]) -> list[str]:
        body = await admin(CASES, filter=filter_)
        return [e["node"]["id"] for e in body["data"]["cases"]["edges"]]

    assert await only({"breached": True}) == [normal["id"]]
    assert await only({"breached": False}) == [urgent["id"], low["id"]]
    assert await only({"priority": "URGENT"}) == [urgent["id"]]
    assert await only({"kind": "COMPLAINT"}) == [urgent["id"]]
    assert await only({"accountId": gid("Account", account)}) == [normal["id"], low["id"]]
    assert await only({"status": "NEW"}) == [urgent["id"], normal["id"], low["id"]]
    assert await only({"mine": True}) == []
    assert await only({"queueId": "garbage"}) == []


@pytest.mark.asyncio
async def test_opening_and_assigning_announce_events_with_the_partner(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    cast = await make_cast(database)
    tenant_id = cast.tenant.id
    async with database.session(tenant_id) as session:
        session.add(
            WebhookEndpoint(
                tenant_id=tenant_id,
                url="https://example.com/hook",
                event_types=["case.opened", "case.assigned"],
                secret_encrypted="x",
                active=True,
            )
        )
    agent = await make_agent(database, tenant_id, skills=[], capacity=1)
    account = await make_account(database, tenant_id, partner_id=cast.partner.id)
    body = await Caller(client, app, cast.partner_admin)(OPEN, input=open_input(account))
    case = body["data"]["openCase"]["case"]
    rejected = await Caller(client, app, cast.partner_admin)(
        OPEN, input=open_input(account, subject="")
    )
    assert rejected["data"]["openCase"]["errors"]

    async with database.session(tenant_id) as session:
        rows = list(
            await session.scalars(
                select(WebhookDelivery)
                .where(WebhookDelivery.tenant_id == tenant_id)
                .order_by(WebhookDelivery.created_at, WebhookDelivery.event_type.desc())
            )
        )
    assert [row.event_type for row in rows] == ["case.opened", "case.assigned"]
    opened, assigned = (row.payload["data"] for row in rows)
    case_id = str(pk(case["id"]))
    assert opened["caseId"] == case_id
    assert opened["partnerId"] == str(cast.partner.id)
    assert opened["accountId"] == str(account.id)
    assert assigned["caseId"] == case_id
    assert assigned["employeeId"] == str(agent.id)


@pytest.mark.asyncio
async def test_a_page_of_cases_with_everything_costs_the_same_as_a_small_one(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    admin = Caller(client, app, tenant.admin)
    queue = await make_queue(database, tenant.id, name="Desk", skills=[])
    await make_agent(database, tenant.id, skills=[], capacity=100)
    for _ in range(6):
        account = await customer(
            database, tenant.id, won=[("10", datetime.now(UTC) - timedelta(days=1))]
        )
        contact = await make_contact(database, tenant.id, account_id=account.id)
        await make_opportunity(database, tenant.id, account_id=account.id)
        await make_activity(database, tenant.id, account_id=account.id)
        await admin(
            OPEN,
            input=open_input(
                account, contactId=gid("Contact", contact), queueId=gid("CaseQueue", queue)
            ),
        )
    document = """query ($first: Int) { cases(first: $first) { edges { node {
      number account { name } contact { firstName } queue { name } assignee { name }
      customerValue { amount } history { kind assignee { name } }
      customer { loyaltyScore lifetimeValue { amount }
        openOpportunities(first: 3) { edges { node { name } } }
        recentActivities(first: 3) { edges { node { summary } } } } } } } }"""
    statements: dict[int, int] = {}
    for first in (2, 6):
        with counting_statements(database) as seen:
            body = await admin(document, first=first)
        assert "errors" not in body, body
        edges = body["data"]["cases"]["edges"]
        assert len(edges) == first
        assert all(edge["node"]["assignee"] and edge["node"]["queue"] for edge in edges)
        assert all(len(edge["node"]["history"]) == 2 for edge in edges)
        statements[first] = len(seen)
    assert statements[2] == statements[6]
    assert Decimal(edges[0]["node"]["customerValue"]["amount"]) == Decimal("10")
