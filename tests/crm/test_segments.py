"""Segments over GraphQL: each filter against a hand-built customer base (expected
contacts worked out below, not by the implementation), opted-out contacts never match,
invalid filters are INVALID naming the field and write nothing, updates replace filters,
`size`/`preview` batched for a page, and staff-only access."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, update

from prm.auth.principal import Role
from prm.crm.marketing_models import Segment
from prm.crm.models import Contact, Opportunity, OpportunityStage
from prm.crm.opportunities import DEFAULT_PROBABILITY
from prm.db.engine import Database
from prm.leads.models import Lead
from tests.crm.factories import gid, make_account, make_contact
from tests.factories import TenantWithAdmin, bearer, make_partner, make_tenant, make_user, unique
from tests.graphql.support import error_codes, gql
from tests.leads.factories import make_lead
from tests.statements import counting_statements

CREATE = """mutation ($input: CreateSegmentInput!) { createSegment(input: $input) {
  segment { id name description size preview(first: 100) { id lastName }
    filters { industries countries lifetimeValueMin { amount currency }
      lifetimeValueMax { amount currency } lastPurchaseAfter lastPurchaseBefore minLeadScore } }
  errors { code field message } } }"""
UPDATE = """mutation ($id: ID!, $input: UpdateSegmentInput!) { updateSegment(id: $id, input: $input) {
  segment { id name size filters { industries countries } } errors { code field } } }"""
DELETE = (
    """mutation ($id: ID!) { deleteSegment(id: $id) { segment { id } errors { code field } } }"""
)
SEGMENTS = """query ($first: Int) { segments(first: $first) { totalCount
  edges { node { name size preview(first: 2) { lastName } } } } }"""
NODE = """query ($id: ID!) { node(id: $id) { id } }"""


def at(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, 12, tzinfo=UTC)


@dataclass
class Base:
    """The customer base every filter test reads (see `build`)."""

    tenant: TenantWithAdmin
    contacts: dict[str, Contact]
    headers: dict[str, str]

    def ids(self, *names: str) -> list[str]:
        return sorted(gid("Contact", self.contacts[name]) for name in names)


async def won(
    database: Database,
    tenant_id: uuid.UUID,
    account_id: uuid.UUID,
    amount: str,
    currency: str,
    closed_at: datetime,
    stage: OpportunityStage = OpportunityStage.CLOSED_WON,
    source_lead_id: uuid.UUID | None = None,
) -> None:
    async with database.session(tenant_id) as session:
        session.add(
            Opportunity(
                tenant_id=tenant_id,
                account_id=account_id,
                name=unique("Deal"),
                amount=Decimal(amount),
                currency=currency,
                stage=stage,
                probability=DEFAULT_PROBABILITY[stage],
                closed_at=closed_at,
                source_lead_id=source_lead_id,
            )
        )


async def scored_lead(database: Database, tenant_id: uuid.UUID, score: int, **fields: Any) -> Lead:
    lead = await make_lead(database, tenant_id, route=False, **fields)
    async with database.session(tenant_id) as session:
        await session.execute(update(Lead).where(Lead.id == lead.id).values(score=score))
    return lead


async def build(app: FastAPI, database: Database) -> Base:
    """A tenant (USD) with:

    - `software_de`: Software, DE; won 600 USD (2026-03-10) + 500 USD (2026-06-01) and
      999 EUR (2026-07-01, not in the lifetime value: another currency) → value 1100 USD,
      last purchase 2026-07-01. Contacts `ada` and `opted` (opted out).
    - `retail_fr`: Retail, FR; won 200 USD (2025-01-15), lost 5000 USD → value 200, last
      purchase 2025-01-15; a lead scored 30 was converted into its lost deal. Contact `bea`.
    - `software_us`: Software, US; nothing won → value 0. Contact `cat`, whose email
      (mixed case) is a lead's, scored 80.
    - `dan`: a contact without an account.
    """
    tenant = await make_tenant(database)
    tid = tenant.id
    software_de = await make_account(database, tid, industry="Software", country="DE")
    retail_fr = await make_account(database, tid, industry="Retail", country="FR")
    software_us = await make_account(database, tid, industry="Software", country="US")
    await won(database, tid, software_de.id, "600", "USD", at(2026, 3, 10))
    await won(database, tid, software_de.id, "500", "USD", at(2026, 6, 1))
    await won(database, tid, software_de.id, "999", "EUR", at(2026, 7, 1))
    await won(database, tid, retail_fr.id, "200", "USD", at(2025, 1, 15))
    converted = await scored_lead(database, tid, 30)
    await won(
        database, tid, retail_fr.id, "5000", "USD", at(2025, 2, 1),
        stage=OpportunityStage.CLOSED_LOST, source_lead_id=converted.id,
    )  # fmt: skip
    cat_email = f"{unique('cat')}@Example.com"
    await scored_lead(database, tid, 80, email=cat_email)
    contacts = {
        "ada": await make_contact(database, tid, account_id=software_de.id, last_name="Ada"),
        "opted": await make_contact(database, tid, account_id=software_de.id, last_name="Opted"),
        "bea": await make_contact(database, tid, account_id=retail_fr.id, last_name="Bea"),
        "cat": await make_contact(
            database, tid, account_id=software_us.id, last_name="Cat", email=cat_email
        ),
        "dan": await make_contact(database, tid, last_name="Dan"),
    }
    async with database.session(tid) as session:
        await session.execute(
            update(Contact)
            .where(Contact.id == contacts["opted"].id)
            .values(marketing_opt_out=True, opted_out_at=at(2026, 1, 1))
        )
    return Base(tenant, contacts, bearer(app.state.issuer, tenant.admin))


def usd(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "USD"}


async def create(
    client: httpx.AsyncClient, base: Base, filters: dict[str, Any], name: str | None = None
) -> dict[str, Any]:
    body = await gql(
        client,
        CREATE,
        {"input": {"name": name or unique("seg"), "filters": filters}},
        headers=base.headers,
    )
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["createSegment"]
    return payload


async def segment_count(database: Database, tenant_id: uuid.UUID) -> int:
    async with database.session(tenant_id) as session:
        count = await session.scalar(
            select(func.count()).select_from(Segment).where(Segment.tenant_id == tenant_id)
        )
        return int(count or 0)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, ["ada", "bea", "cat", "dan"]),
        ({"industries": ["Software"]}, ["ada", "cat"]),
        ({"countries": ["de", "FR"]}, ["ada", "bea"]),
        ({"industries": ["Software"], "countries": ["US"]}, ["cat"]),
        ({"lifetimeValueMin": usd("1000")}, ["ada"]),
        ({"lifetimeValueMin": usd("1100")}, ["ada"]),
        ({"lifetimeValueMin": usd("1100.01")}, []),
        ({"lifetimeValueMax": usd("500")}, ["bea", "cat"]),
        ({"lifetimeValueMin": usd("100"), "lifetimeValueMax": usd("1100")}, ["ada", "bea"]),
        ({"lastPurchaseAfter": "2026-01-01"}, ["ada"]),
        ({"lastPurchaseAfter": "2026-07-01"}, ["ada"]),
        ({"lastPurchaseAfter": "2026-07-02"}, []),
        ({"lastPurchaseBefore": "2026-01-01"}, ["bea"]),
        ({"lastPurchaseAfter": "2025-01-01", "lastPurchaseBefore": "2026-07-01"}, ["bea"]),
        ({"minLeadScore": 50}, ["cat"]),
        ({"minLeadScore": 20}, ["bea", "cat"]),
        ({"minLeadScore": 81}, []),
        ({"industries": ["Retail"], "minLeadScore": 20}, ["bea"]),
    ],
)
async def test_each_filter_reaches_the_expected_contacts_never_opted_out_ones(
    client: httpx.AsyncClient,
    app: FastAPI,
    database: Database,
    filters: dict[str, Any],
    expected: list[str],
) -> None:
    base = await build(app, database)
    payload = await create(client, base, filters)
    assert payload["errors"] == []
    segment = payload["segment"]
    assert segment["size"] == len(expected)
    assert sorted(c["id"] for c in segment["preview"]) == base.ids(*expected)


@pytest.mark.asyncio
async def test_filters_are_stored_validated_and_normalised(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    base = await build(app, database)
    payload = await create(
        client,
        base,
        {
            "industries": [" Software ", "Software"],
            "countries": ["de"],
            "lifetimeValueMin": usd("10.5"),
            "lastPurchaseAfter": "2026-01-01",
            "minLeadScore": 10,
        },
    )
    filters = payload["segment"]["filters"]
    assert filters == {
        "industries": ["Software"],
        "countries": ["DE"],
        "lifetimeValueMin": usd("10.50"),
        "lifetimeValueMax": None,
        "lastPurchaseAfter": "2026-01-01",
        "lastPurchaseBefore": None,
        "minLeadScore": 10,
    }
    async with database.session(base.tenant.id) as session:
        stored = await session.scalar(select(Segment.filters))
    assert stored == {
        "industries": ["Software"],
        "countries": ["DE"],
        "lifetime_value_min": "10.5",
        "last_purchase_after": "2026-01-01",
        "min_lead_score": 10,
    }


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("filters", "field"),
    [
        ({"countries": ["XX"]}, "filters.countries"),
        ({"countries": [""]}, "filters.countries"),
        ({"industries": ["  "]}, "filters.industries"),
        ({"lifetimeValueMin": usd("500"), "lifetimeValueMax": usd("100")}, "filters.lifetimeValueMin"),
        ({"lifetimeValueMin": usd("-1")}, "filters.lifetimeValueMin.amount"),
        ({"lifetimeValueMax": {"amount": "5", "currency": "EUR"}}, "filters.lifetimeValueMax.currency"),
        ({"lifetimeValueMax": {"amount": "5", "currency": "ZZZ"}}, "filters.lifetimeValueMax.currency"),
        ({"lifetimeValueMax": usd("1.001")}, "filters.lifetimeValueMax.amount"),
        ({"lastPurchaseAfter": "2026-05-01", "lastPurchaseBefore": "2026-05-01"}, "filters.lastPurchaseAfter"),
        ({"lastPurchaseBefore": "1850-01-01"}, "filters.lastPurchaseBefore"),
        ({"minLeadScore": 101}, "filters.minLeadScore"),
        ({"minLeadScore": -1}, "filters.minLeadScore"),
    ],
)  # fmt: skip
async def test_invalid_filters_are_invalid_on_the_field_and_write_nothing(
    client: httpx.AsyncClient,
    app: FastAPI,
    database: Database,
    filters: dict[str, Any],
    field: str,
) -> None:
    tenant = await make_tenant(database)
    base = Base(tenant, {}, bearer(app.state.issuer, tenant.admin))
    payload = await create(client, base, filters)
    assert payload["segment"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("INVALID", field)]
    assert await segment_count(database, tenant.id) == 0


@pytest.mark.asyncio
async def test_a_malformed_date_is_rejected_by_the_schema(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    body = await gql(
        client,
        CREATE,
        {"input": {"name": "x", "filters": {"lastPurchaseAfter": "2026-13-45"}}},
        headers=bearer(app.state.issuer, tenant.admin),
    )
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert await segment_count(database, tenant.id) == 0


@pytest.mark.asyncio
async def test_update_replaces_filters_and_names_are_unique_delete_removes(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    base = await build(app, database)
    first = (await create(client, base, {"industries": ["Software"]}, name="Tech"))["segment"]
    assert first["size"] == 2
    again = await create(client, base, {}, name="Tech")
    assert [(e["code"], e["field"]) for e in again["errors"]] == [("DUPLICATE", "name")]

    body = await gql(
        client,
        UPDATE,
        {"id": first["id"], "input": {"name": "France", "filters": {"countries": ["FR"]}}},
        headers=base.headers,
    )
    updated = body["data"]["updateSegment"]
    assert updated["errors"] == []
    assert updated["segment"]["filters"] == {"industries": [], "countries": ["FR"]}
    assert updated["segment"]["size"] == 1

    bad = await gql(
        client,
        UPDATE,
        {"id": first["id"], "input": {"filters": {"countries": ["QQ"]}}},
        headers=base.headers,
    )
    assert bad["data"]["updateSegment"]["errors"] == [
        {"code": "INVALID", "field": "filters.countries"}
    ]
    async with database.session(base.tenant.id) as session:
        assert await session.scalar(select(Segment.filters)) == {"countries": ["FR"]}

    deleted = await gql(client, DELETE, {"id": first["id"]}, headers=base.headers)
    assert deleted["data"]["deleteSegment"]["errors"] == []
    assert await segment_count(database, base.tenant.id) == 0


@pytest.mark.asyncio
async def test_size_and_preview_are_batched_for_a_page_of_segments(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    base = await build(app, database)
    await create(client, base, {"industries": ["Software"]}, name="a")

    with counting_statements(database) as one:
        body = await gql(client, SEGMENTS, {"first": 10}, headers=base.headers)
    assert body["data"]["segments"]["edges"][0]["node"]["size"] == 2

    await create(client, base, {"countries": ["FR"]}, name="b")
    await create(client, base, {}, name="c")
    with counting_statements(database) as three:
        body = await gql(client, SEGMENTS, {"first": 10}, headers=base.headers)
    nodes = [edge["node"] for edge in body["data"]["segments"]["edges"]]
    assert [(n["name"], n["size"]) for n in nodes] == [("a", 2), ("b", 1), ("c", 4)]
    # preview(first: 2): the first two by id (creation order: ada, opted, bea, cat, dan).
    assert [c["lastName"] for c in nodes[2]["preview"]] == ["Ada", "Bea"]
    assert len(three) == len(one)


@pytest.mark.asyncio
async def test_segments_are_staff_only_and_foreign_ids_are_not_found(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    base = await build(app, database)
    segment = (await create(client, base, {}))["segment"]
    partner = await make_partner(database, base.tenant.id)
    partner_user = await make_user(
        database, base.tenant.id, roles=(Role.PARTNER_ADMIN,), partner_id=partner.id
    )
    partner_headers = bearer(app.state.issuer, partner_user)
    body = await gql(client, SEGMENTS, {}, headers=partner_headers)
    assert error_codes(body) == ["FORBIDDEN"]
    body = await gql(client, NODE, {"id": segment["id"]}, headers=partner_headers)
    assert body["data"]["node"] is None
    employee = await make_user(database, base.tenant.id, roles=(Role.EMPLOYEE,))
    body = await gql(
        client, CREATE, {"input": {"name": "x"}}, headers=bearer(app.state.issuer, employee)
    )
    assert error_codes(body) == ["FORBIDDEN"]

    other = await make_tenant(database)
    other_headers = bearer(app.state.issuer, other.admin)
    body = await gql(client, NODE, {"id": segment["id"]}, headers=other_headers)
    assert body["data"]["node"] is None
    body = await gql(
        client, UPDATE, {"id": segment["id"], "input": {"name": "mine"}}, headers=other_headers
    )
    assert body["data"]["updateSegment"]["errors"] == [{"code": "NOT_FOUND", "field": "id"}]
    body = await gql(client, DELETE, {"id": segment["id"]}, headers=other_headers)
    assert body["data"]["deleteSegment"]["errors"] == [{"code": "NOT_FOUND", "field": "id"}]
    assert await segment_count(database, base.tenant.id) == 1
