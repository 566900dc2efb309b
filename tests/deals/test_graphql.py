"""Deal registration through GraphQL: registering, conflicts, approval and protection,
rejection, visibility, expiry, and every bad input answered with nothing written."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy import delete, func, select, update

from prm.auth.principal import Role
from prm.crm.models import OpportunityStage
from prm.db.engine import Database
from prm.deals.models import DealRegistration, ProtectionDeadline, RegistrationStatus
from prm.deals.service import expire_due_protections
from prm.tenants.models import User
from prm.workers.scheduler import DEAL_PROTECTION_EXPIRY, Scheduler
from tests.crm.factories import gid, make_account, make_opportunity
from tests.deals.factories import DealCast, make_deal_cast, make_registration
from tests.factories import bearer, make_tenant, make_user, unique
from tests.graphql.support import error_codes, gql
from tests.leads.factories import make_lead

FIELDS = """
    id status companyName contactEmail productInterest notes rejectReason protectedUntil
    estimatedValue { amount currency } hasConflicts
    conflicts { kind objectId matchedOn }
    partner { id }
"""
REGISTER = f"""
mutation($input: RegisterDealInput!) {{
  registerDeal(input: $input) {{
    dealRegistration {{ {FIELDS} }}
    errors {{ code field message }}
  }}
}}
"""
APPROVE = f"""
mutation($id: ID!) {{
  approveDealRegistration(id: $id) {{
    dealRegistration {{ {FIELDS} }}
    errors {{ code field message }}
  }}
}}
"""
REJECT = f"""
mutation($id: ID!, $reason: String!) {{
  rejectDealRegistration(id: $id, reason: $reason) {{
    dealRegistration {{ {FIELDS} }}
    errors {{ code field message }}
  }}
}}
"""
LIST = f"""
query($filter: DealRegistrationFilter, $first: Int, $after: String) {{
  dealRegistrations(first: $first, after: $after, filter: $filter) {{
    edges {{ node {{ {FIELDS} }} }}
    pageInfo {{ hasNextPage endCursor }}
    totalCount
  }}
}}
"""
NODE = "query($id: ID!) { node(id: $id) { ... on DealRegistration { id status } } }"


def auth(app: FastAPI, user: User) -> dict[str, str]:
    return bearer(app.state.issuer, user)


async def register(
    client: httpx.AsyncClient, app: FastAPI, user: User, **input_: Any
) -> dict[str, Any]:
    body = await gql(client, REGISTER, {"input": input_}, headers=auth(app, user))
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["registerDeal"]
    return payload


async def decide(
    client: httpx.AsyncClient, app: FastAPI, user: User, registration_id: str, reason: str | None
) -> dict[str, Any]:
    if reason is None:
        body = await gql(client, APPROVE, {"id": registration_id}, headers=auth(app, user))
        assert "errors" not in body, body
        payload: dict[str, Any] = body["data"]["approveDealRegistration"]
        return payload
    body = await gql(
        client, REJECT, {"id": registration_id, "reason": reason}, headers=auth(app, user)
    )
    assert "errors" not in body, body
    payload = body["data"]["rejectDealRegistration"]
    return payload


async def registration_count(database: Database, cast: DealCast) -> int:
    async with database.session(cast.tenant.id) as session:
        return int(await session.scalar(select(func.count()).select_from(DealRegistration)) or 0)


@pytest_asyncio.fixture
async def cast(database: Database) -> DealCast:
    return await make_deal_cast(database)


@pytest.mark.asyncio
async def test_a_partner_user_registers_a_deal_that_waits_for_a_manager(
    client: httpx.AsyncClient, app: FastAPI, cast: DealCast
) -> None:
    payload = await register(
        client,
        app,
        cast.rep_a,
        companyName="  Globex Corporation ",
        contactEmail="Hank@Globex.example",
        estimatedValue={"amount": "25000.50", "currency": "eur"},
        productInterest=["Routers", " routers", "Switches"],
        notes="met at the trade fair",
    )
    assert payload["errors"] == []
    registration = payload["dealRegistration"]
    assert registration["status"] == "PENDING"
    assert registration["companyName"] == "Globex Corporation"
    assert registration["contactEmail"] == "hank@globex.example"
    assert registration["estimatedValue"] == {"amount": "25000.50", "currency": "EUR"}
    assert registration["productInterest"] == ["routers", "switches"]
    assert registration["partner"]["id"] == gid("Partner", cast.partner_a)
    assert registration["hasConflicts"] is False
    assert registration["conflicts"] == []
    assert registration["protectedUntil"] is None


@pytest.mark.asyncio
@pytest.mark.parametrize("role", ["manager", "employee", "admin"])
async def test_only_partner_users_may_register(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: DealCast, role: str
) -> None:
    user = {"manager": cast.manager, "employee": cast.employee, "admin": cast.tenant.admin}[role]
    body = await gql(
        client, REGISTER, {"input": {"companyName": "Initech"}}, headers=auth(app, user)
    )
    assert error_codes(body) == ["FORBIDDEN"]
    assert await registration_count(database, cast) == 0


@pytest.mark.asyncio
async def test_registering_needs_authentication(client: httpx.AsyncClient) -> None:
    body = await gql(client, REGISTER, {"input": {"companyName": "Initech"}})
    assert error_codes(body) == ["UNAUTHENTICATED"]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("input_", "field"),
    [
        ({"companyName": "   "}, "companyName"),
        ({"companyName": "x" * 201}, "companyName"),
        ({"companyName": "Initech", "contactEmail": "not an email"}, "contactEmail"),
        (
            {"companyName": "Initech", "estimatedValue": {"amount": "10", "currency": "XXY"}},
            "estimatedValue.currency",
        ),
        (
            {"companyName": "Initech", "estimatedValue": {"amount": "-1", "currency": "USD"}},
            "estimatedValue.amount",
        ),
        (
            {"companyName": "Initech", "estimatedValue": {"amount": "1.001", "currency": "USD"}},
            "estimatedValue.amount",
        ),
        ({"companyName": "Initech", "notes": "n" * 5001}, "notes"),
    ],
)
async def test_bad_input_is_refused_and_nothing_is_written(
    client: httpx.AsyncClient,
    app: FastAPI,
    database: Database,
    cast: DealCast,
    input_: dict[str, Any],
    field: str,
) -> None:
    payload = await register(client, app, cast.rep_a, **input_)
    assert payload["dealRegistration"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("INVALID", field)]
    assert await registration_count(database, cast) == 0


@pytest.mark.asyncio
async def test_conflicts_are_recorded_and_shown_to_managers_only(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: DealCast
) -> None:
    tenant_id = cast.tenant.id
    lead = await make_lead(database, tenant_id, company_name="Acme Inc.", route=False)
    account = await make_account(database, tenant_id, name="Acme Holdings", domain="acme.example")
    await make_opportunity(database, tenant_id, account_id=account.id)
    other = await make_registration(database, cast.rep_b, company_name="ACME")

    payload = await register(
        client, app, cast.rep_a, companyName="acme", contactEmail="wile@acme.example"
    )
    assert payload["errors"] == []
    mine = payload["dealRegistration"]
    assert mine["hasConflicts"] is True
    assert mine["conflicts"] == []  # a partner user learns only that there is one

    body = await gql(client, NODE.replace("id status", FIELDS), {"id": mine["id"]},
                     headers=auth(app, cast.manager))  # fmt: skip
    conflicts = {
        (c["kind"], c["objectId"]): c["matchedOn"] for c in body["data"]["node"]["conflicts"]
    }
    assert conflicts == {
        ("LEAD", gid("Lead", lead)): ["COMPANY_NAME"],
        ("ACCOUNT", gid("Account", account)): ["EMAIL_DOMAIN"],
        ("DEAL_REGISTRATION", gid("DealRegistration", other)): ["COMPANY_NAME"],
    }


@pytest.mark.asyncio
async def test_free_mail_domains_closed_deals_and_own_registrations_are_no_conflict(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: DealCast
) -> None:
    tenant_id = cast.tenant.id
    await make_lead(
        database, tenant_id, company_name="Someone Else", email="someone@gmail.com", route=False
    )
    account = await make_account(database, tenant_id, name="Umbrella", domain="umbrella.example")
    await make_opportunity(
        database, tenant_id, account_id=account.id, stage=OpportunityStage.CLOSED_WON
    )
    await make_registration(database, cast.rep_a, company_name="Soylent")

    gmail = await register(
        client, app, cast.rep_a, companyName="Tyrell", contactEmail="eldon@gmail.com"
    )
    closed = await register(client, app, cast.rep_a, companyName="Umbrella")
    own = await register(client, app, cast.rep_a, companyName="Soylent")
    for payload in (gmail, closed, own):
        assert payload["errors"] == []
        assert payload["dealRegistration"]["hasConflicts"] is False


@pytest.mark.asyncio
async def test_approval_protects_the_partner_against_other_partners(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: DealCast
) -> None:
    mine = (
        await register(
            client,
            app,
            cast.rep_a,
            companyName="Cyberdyne Systems",
            contactEmail="a@cyberdyne.example",
        )
    )["dealRegistration"]
    before = datetime.now(UTC)
    approved = await decide(client, app, cast.manager, mine["id"], None)
    assert approved["errors"] == []
    registration = approved["dealRegistration"]
    assert registration["status"] == "APPROVED"
    until = datetime.fromisoformat(registration["protectedUntil"])
    assert before + timedelta(days=90) - timedelta(minutes=1) < until
    assert until < datetime.now(UTC) + timedelta(days=90, minutes=1)

    count = await registration_count(database, cast)
    by_name = await register(client, app, cast.rep_b, companyName="CYBERDYNE SYSTEMS, Inc.")
    by_domain = await register(
        client, app, cast.rep_b, companyName="Skynet", contactEmail="miles@cyberdyne.example"
    )
    for payload in (by_name, by_domain):
        assert payload["dealRegistration"] is None
        assert [e["code"] for e in payload["errors"]] == ["CONFLICT"]
        assert "Cyberdyne" not in payload["errors"][0]["message"]
    assert await registration_count(database, cast) == count

    # The protected partner itself may register more deals with the company.
    again = await register(client, app, cast.rep_a, companyName="Cyberdyne Systems")
    assert again["errors"] == []


@pytest.mark.asyncio
async def test_a_second_partner_cannot_be_approved_for_a_protected_company(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: DealCast
) -> None:
    first = await make_registration(database, cast.rep_a, company_name="Wayne Enterprises")
    second = await make_registration(database, cast.rep_b, company_name="Wayne Enterprises")
    assert (await decide(client, app, cast.manager, gid("DealRegistration", first), None))[
        "errors"
    ] == []
    refused = await decide(client, app, cast.manager, gid("DealRegistration", second), None)
    assert [e["code"] for e in refused["errors"]] == ["CONFLICT"]
    async with database.session(cast.tenant.id) as session:
        status = await session.scalar(
            select(DealRegistration.status).where(DealRegistration.id == second.id)
        )
    assert status is RegistrationStatus.PENDING


@pytest.mark.asyncio
async def test_deciding_twice_is_an_invalid_transition(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: DealCast
) -> None:
    approved = await make_registration(database, cast.rep_a, approve_as=cast.manager)
    rejected = await make_registration(database, cast.rep_a)
    assert (
        await decide(client, app, cast.manager, gid("DealRegistration", rejected), "no budget")
    )["errors"] == []
    for registration, reason in (
        (approved, None),
        (approved, "changed my mind"),
        (rejected, None),
        (rejected, "again"),
    ):
        payload = await decide(
            client, app, cast.tenant.admin, gid("DealRegistration", registration), reason
        )
        assert [(e["code"], e["field"]) for e in payload["errors"]] == [
            ("INVALID_TRANSITION", "id")
        ]


@pytest.mark.asyncio
async def test_rejection_needs_a_reason_and_a_manager(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: DealCast
) -> None:
    registration = await make_registration(database, cast.rep_a)
    registration_id = gid("DealRegistration", registration)
    blank = await decide(client, app, cast.manager, registration_id, "   ")
    assert [(e["code"], e["field"]) for e in blank["errors"]] == [("INVALID", "reason")]
    for user in (cast.rep_a, cast.employee):
        for document, variables in (
            (APPROVE, {"id": registration_id}),
            (REJECT, {"id": registration_id, "reason": "no"}),
        ):
            body = await gql(client, document, variables, headers=auth(app, user))
            assert error_codes(body) == ["FORBIDDEN"]
    payload = await decide(
        client, app, cast.manager, registration_id, " duplicate of a house deal "
    )
    assert payload["dealRegistration"]["status"] == "REJECTED"
    assert payload["dealRegistration"]["rejectReason"] == "duplicate of a house deal"


@pytest.mark.asyncio
async def test_unknown_and_foreign_ids_are_not_found(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: DealCast
) -> None:
    other_tenant = await make_tenant(database)
    other_partner_user = await make_deal_cast(database)
    foreign = await make_registration(database, other_partner_user.rep_a)
    lead = await make_lead(database, cast.tenant.id, route=False)
    for registration_id in (
        "garbage",
        gid("DealRegistration", foreign),
        gid("Lead", lead),
        gid("DealRegistration", other_tenant.tenant.id),
    ):
        for reason in (None, "nope"):
            payload = await decide(client, app, cast.manager, registration_id, reason)
            assert [(e["code"], e["field"]) for e in payload["errors"]] == [("NOT_FOUND", "id")]


@pytest.mark.asyncio
async def test_partner_users_see_their_own_partners_registrations_only(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: DealCast
) -> None:
    mine = await make_registration(database, cast.rep_a, company_name="Alpha")
    theirs = await make_registration(database, cast.rep_b, company_name="Alpha Two")
    colleague = await make_user(
        database,
        cast.tenant.id,
        roles=(Role.PARTNER_ADMIN,),
        partner_id=cast.partner_a.id,
    )
    for user in (cast.rep_a, colleague):
        body = await gql(client, LIST, {}, headers=auth(app, user))
        ids = [edge["node"]["id"] for edge in body["data"]["dealRegistrations"]["edges"]]
        assert ids == [gid("DealRegistration", mine)]
        hidden = await gql(
            client, NODE, {"id": gid("DealRegistration", theirs)}, headers=auth(app, user)
        )
        assert hidden["data"]["node"] is None
    staff = await gql(client, LIST, {}, headers=auth(app, cast.employee))
    ids = [edge["node"]["id"] for edge in staff["data"]["dealRegistrations"]["edges"]]
    assert ids == [gid("DealRegistration", theirs), gid("DealRegistration", mine)]
    assert staff["data"]["dealRegistrations"]["totalCount"] == 2


@pytest.mark.asyncio
async def test_filters_and_pages(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: DealCast
) -> None:
    approved = await make_registration(database, cast.rep_a, company_name="Filter Co")
    conflicted = await make_registration(database, cast.rep_b, company_name="Filter Co")
    plain = await make_registration(database, cast.rep_b, company_name=unique("Plain"))
    headers = auth(app, cast.manager)
    await decide(client, app, cast.manager, gid("DealRegistration", approved), None)

    async def ids(filter_: dict[str, Any], first: int = 50) -> list[str]:
        body = await gql(client, LIST, {"filter": filter_, "first": first}, headers=headers)
        return [edge["node"]["id"] for edge in body["data"]["dealRegistrations"]["edges"]]

    assert await ids({"status": "APPROVED"}) == [gid("DealRegistration", approved)]
    assert await ids({"hasConflicts": True}) == [gid("DealRegistration", conflicted)]
    assert await ids({"partnerId": gid("Partner", cast.partner_b)}) == [
        gid("DealRegistration", plain),
        gid("DealRegistration", conflicted),
    ]
    assert await ids({"partnerId": "garbage"}) == []
    first_page = await gql(client, LIST, {"first": 2}, headers=headers)
    connection = first_page["data"]["dealRegistrations"]
    assert connection["pageInfo"]["hasNextPage"] is True
    rest = await gql(
        client, LIST, {"first": 2, "after": connection["pageInfo"]["endCursor"]}, headers=headers
    )
    assert [e["node"]["id"] for e in rest["data"]["dealRegistrations"]["edges"]] == [
        gid("DealRegistration", approved)
    ]


@pytest.mark.asyncio
async def test_the_scheduler_expires_protection_and_frees_the_company(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: DealCast
) -> None:
    registration = await make_registration(
        database, cast.rep_a, company_name="Expiring Corp", approve_as=cast.manager
    )
    await asyncio.to_thread(expire_due_protections, database)  # not due yet: no change
    assert (await register(client, app, cast.rep_b, companyName="Expiring Corp"))["errors"]
    async with database.session(cast.tenant.id) as session:
        await session.execute(
            update(DealRegistration)
            .where(DealRegistration.id == registration.id)
            .values(protected_until=datetime.now(UTC) - timedelta(seconds=1))
        )
        await session.execute(
            delete(ProtectionDeadline).where(ProtectionDeadline.registration_id == registration.id)
        )
        session.add(
            ProtectionDeadline(
                tenant_id=cast.tenant.id,
                registration_id=registration.id,
                expires_at=datetime.now(UTC) - timedelta(seconds=1),
            )
        )
    assert await asyncio.to_thread(expire_due_protections, database) >= 1
    body = await gql(
        client, NODE, {"id": gid("DealRegistration", registration)}, headers=auth(app, cast.manager)
    )
    assert body["data"]["node"]["status"] == "EXPIRED"
    freed = await register(client, app, cast.rep_b, companyName="Expiring Corp")
    assert freed["errors"] == []


def test_the_scheduler_runs_the_expiry(settings: Any, database: Database) -> None:
    scheduler = Scheduler(settings, database, broker=None)  # type: ignore[arg-type]
    assert DEAL_PROTECTION_EXPIRY in [task.name for task in scheduler.tasks]


@pytest.mark.asyncio
async def test_two_partners_racing_for_a_company_cannot_both_be_protected(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: DealCast
) -> None:
    """Real parallel requests (each on its own connection): both register at once, then
    two managers approve both at once. Exactly one registration ends up APPROVED."""
    second_manager = await make_user(database, cast.tenant.id, roles=(Role.ADMIN,))
    for round_ in range(4):
        company = f"Race {round_} {unique('Co')}"
        registered = await asyncio.gather(
            register(client, app, cast.rep_a, companyName=company),
            register(client, app, cast.rep_b, companyName=company.upper()),
        )
        ids = [payload["dealRegistration"]["id"] for payload in registered]
        decided = await asyncio.gather(
            decide(client, app, cast.manager, ids[0], None),
            decide(client, app, second_manager, ids[1], None),
        )
        outcomes = sorted(
            "APPROVED" if not payload["errors"] else payload["errors"][0]["code"]
            for payload in decided
        )
        assert outcomes == ["APPROVED", "CONFLICT"]
    async with database.session(cast.tenant.id) as session:
        approved = await session.scalar(
            select(func.count())
            .select_from(DealRegistration)
            .where(DealRegistration.status == RegistrationStatus.APPROVED)
        )
    assert approved == 4
