"""The partners API over GraphQL: tiers and partner organisations, their filters, orders
and pagination, the status lifecycle, who may do what, and that failures write nothing."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from prm.auth.principal import Role
from prm.db.engine import Database
from prm.partners.models import Partner, PartnerStatus
from prm.tenants.models import User
from tests.auth.helpers import client_credentials
from tests.factories import (
    make_api_client,
    make_partner,
    make_tenant,
    make_tier,
    make_user,
    unique,
)
from tests.graphql.support import error_codes, gql
from tests.partners.support import (
    Caller,
    Cast,
    audit_operations,
    gid,
    make_cast,
    partner_count,
    set_partner_columns,
    tier_count,
)
from tests.statements import counting_statements

TIERS = "{ partnerTiers { id name rank discountPercent leadWeight } }"
CREATE_TIER = """mutation ($input: CreatePartnerTierInput!) {
  createPartnerTier(input: $input) {
    partnerTier { id name rank discountPercent leadWeight } errors { code field message } } }"""
UPDATE_TIER = """mutation ($id: ID!, $input: UpdatePartnerTierInput!) {
  updatePartnerTier(id: $id, input: $input) {
    partnerTier { id name rank discountPercent leadWeight } errors { code field message } } }"""
PARTNER_FIELDS = """id name status statusReason statusChangedAt country region postalPrefixes
  capabilities capacity performanceScore notes tier { id name }"""
CREATE = f"""mutation ($input: CreatePartnerInput!) {{
  createPartner(input: $input) {{ partner {{ {PARTNER_FIELDS} }} errors {{ code field message }} }}
}}"""
UPDATE = f"""mutation ($id: ID!, $input: UpdatePartnerInput!) {{
  updatePartner(id: $id, input: $input) {{
    partner {{ {PARTNER_FIELDS} }} errors {{ code field message }} }}
}}"""
SET_STATUS = """mutation ($id: ID!, $status: PartnerStatus!, $reason: String) {
  setPartnerStatus(id: $id, status: $status, reason: $reason) {
    partner { id status statusReason statusChangedAt } errors { code field message } } }"""
PARTNERS = """query ($first: Int, $after: String, $filter: PartnerFilter, $orderBy: PartnerOrder) {
  partners(first: $first, after: $after, filter: $filter, orderBy: $orderBy) {
    totalCount pageInfo { hasNextPage hasPreviousPage endCursor }
    edges { cursor node { id name notes } } } }"""
NODE = """query ($id: ID!) { node(id: $id) { id ... on Partner { name notes } } }"""
PARTNER_USERS = """query ($id: ID!, $first: Int, $after: String) {
  node(id: $id) { ... on Partner {
    users(first: $first, after: $after) {
      totalCount pageInfo { hasNextPage endCursor } edges { node { email } } } } } }"""


def tier_input(**fields: Any) -> dict[str, Any]:
    return {"name": unique("Gold"), "rank": 1, "discountPercent": "10", "leadWeight": "1"} | fields


def names(body: dict[str, Any]) -> list[str]:
    return [edge["node"]["name"] for edge in body["data"]["partners"]["edges"]]


def errors_of(payload: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [(error["code"], error["field"]) for error in payload["errors"]]


# Tiers ---------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_an_admin_creates_and_changes_tiers_listed_best_first(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    cast = await make_cast(database)
    admin = Caller(client, app, cast.admin)
    silver = (await admin(CREATE_TIER, input=tier_input(name="Silver", rank=2)))["data"][
        "createPartnerTier"
    ]
    gold = (
        await admin(
            CREATE_TIER,
            input=tier_input(name="Gold", rank=1, discountPercent="12.50", leadWeight="2.5"),
        )
    )["data"]["createPartnerTier"]
    assert silver["errors"] == gold["errors"] == []
    assert gold["partnerTier"]["discountPercent"] == "12.50"
    assert gold["partnerTier"]["leadWeight"] == "2.500"

    listed = (await admin(TIERS))["data"]["partnerTiers"]
    assert [tier["name"] for tier in listed] == ["Gold", "Silver"]

    changed = (
        await admin(
            UPDATE_TIER,
            id=silver["partnerTier"]["id"],
            input={"rank": 0, "discountPercent": "15"},
        )
    )["data"]["updatePartnerTier"]
    assert changed["errors"] == []
    assert changed["partnerTier"] == silver["partnerTier"] | {"rank": 0, "discountPercent": "15.00"}
    listed = (await admin(TIERS))["data"]["partnerTiers"]
    assert [tier["name"] for tier in listed] == ["Silver", "Gold"]
    assert await audit_operations(database, cast.tenant) == [
        "createPartnerTier",
        "createPartnerTier",
        "updatePartnerTier",
    ]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [
        pytest.param({"name": "gold"}, "DUPLICATE", "name", id="duplicate name, any case"),
        pytest.param({"name": "  "}, "INVALID", "name", id="blank name"),
        pytest.param({"discountPercent": "100.01"}, "INVALID", "discountPercent", id="over 100"),
        pytest.param({"discountPercent": "-1"}, "INVALID", "discountPercent", id="negative"),
        pytest.param({"discountPercent": "NaN"}, "INVALID", "discountPercent", id="NaN"),
        pytest.param({"discountPercent": "1.234"}, "INVALID", "discountPercent", id="3 places"),
        pytest.param({"leadWeight": "-0.5"}, "INVALID", "leadWeight", id="negative weight"),
        pytest.param({"rank": -1}, "INVALID", "rank", id="negative rank"),
    ],
)
async def test_a_bad_tier_is_refused_and_nothing_written(
    client: httpx.AsyncClient,
    app: FastAPI,
    database: Database,
    fields: dict[str, Any],
    code: str,
    field: str,
) -> None:
    tenant = await make_tenant(database)
    await make_tier(database, tenant.id, name="Gold")
    body = await gql(
        client,
        CREATE_TIER,
        {"input": tier_input(**fields)},
        headers=Caller(client, app, tenant.admin).headers,
    )
    payload = body["data"]["createPartnerTier"]
    assert payload["partnerTier"] is None
    assert errors_of(payload) == [(code, field)]
    assert await tier_count(database, tenant) == 1
    assert await audit_operations(database, tenant) == []


@pytest.mark.asyncio
async def test_tier_updates_are_validated(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    other = await make_tenant(database)
    gold = await make_tier(database, tenant.id, name="Gold")
    silver = await make_tier(database, tenant.id, name="Silver")
    foreign = await make_tier(database, other.id, name="Bronze")
    admin = Caller(client, app, tenant.admin)

    async def codes(id: str, input: dict[str, Any]) -> list[tuple[str, str | None]]:
        return errors_of(
            (await admin(UPDATE_TIER, id=id, input=input))["data"]["updatePartnerTier"]
        )

    assert await codes(gid("PartnerTier", silver), {"name": "GOLD"}) == [("DUPLICATE", "name")]
    assert await codes(gid("PartnerTier", silver), {"name": None}) == [("INVALID", "name")]
    assert await codes(gid("PartnerTier", foreign), {"rank": 3}) == [("NOT_FOUND", "id")]
    assert await codes(gid("Partner", gold), {"rank": 3}) == [("NOT_FOUND", "id")]
    assert await codes("garbage", {"rank": 3}) == [("NOT_FOUND", "id")]
    # renaming a tier to its own name in another case is no conflict
    assert await codes(gid("PartnerTier", gold), {"name": "GOLD"}) == []
    assert await audit_operations(database, tenant) == ["updatePartnerTier"]


@pytest.mark.asyncio
@pytest.mark.parametrize("role", ["manager", "employee", "partner_admin", "partner_rep"])
async def test_every_principal_reads_tiers_but_only_admins_manage_them(
    client: httpx.AsyncClient, app: FastAPI, database: Database, role: str
) -> None:
    cast = await make_cast(database)
    tier = await make_tier(database, cast.tenant.id, name="Gold")
    caller = Caller(client, app, cast.user(role))
    assert [t["name"] for t in (await caller(TIERS))["data"]["partnerTiers"]] == ["Gold"]
    created = await caller(CREATE_TIER, input=tier_input())
    updated = await caller(UPDATE_TIER, id=gid("PartnerTier", tier), input={"rank": 5})
    assert error_codes(created) == error_codes(updated) == ["FORBIDDEN"]
    assert await tier_count(database, cast.tenant) == 1


# Creating and changing partners -------------------------------------------------------


@pytest.mark.asyncio
async def test_an_admin_creates_a_partner_with_every_field(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    tier = await make_tier(database, tenant.id, name="Gold")
    body = await Caller(client, app, tenant.admin)(
        CREATE,
        input={
            "name": " Acme Resellers ",
            "tierId": gid("PartnerTier", tier),
            "status": "ACTIVE",
            "country": "de",
            "region": "Bavaria",
            "postalPrefixes": ["80", " 81 ", "80"],
            "capabilities": ["Cloud", "security"],
            "capacity": 0,
            "notes": "met at the fair",
        },
    )
    payload = body["data"]["createPartner"]
    assert payload["errors"] == []
    partner = payload["partner"]
    assert partner == partner | {
        "name": "Acme Resellers",
        "status": "ACTIVE",
        "country": "DE",
        "region": "Bavaria",
        "postalPrefixes": ["80", "81"],
        "capabilities": ["cloud", "security"],
        "capacity": 0,
        "performanceScore": None,
        "notes": "met at the fair",
        "tier": {"id": gid("PartnerTier", tier), "name": "Gold"},
    }
    assert partner["statusChangedAt"] is not None
    assert await audit_operations(database, tenant) == ["createPartner"]


@pytest.mark.asyncio
async def test_a_new_partner_is_onboarding_without_a_tier(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    body = await Caller(client, app, tenant.admin)(CREATE, input={"name": "Plain"})
    partner = body["data"]["createPartner"]["partner"]
    assert partner["status"] == "ONBOARDING"
    assert partner["tier"] is None
    assert partner["postalPrefixes"] == partner["capabilities"] == []


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [
        pytest.param({"country": "XX"}, "INVALID", "country", id="unknown country"),
        pytest.param({"country": "USA"}, "INVALID", "country", id="alpha-3 country"),
        pytest.param({"capacity": -1}, "INVALID", "capacity", id="negative capacity"),
        pytest.param({"name": ""}, "INVALID", "name", id="blank name"),
        pytest.param({"name": "x" * 201}, "INVALID", "name", id="long name"),
        pytest.param({"tierId": "FOREIGN"}, "NOT_FOUND", "tierId", id="other tenant's tier"),
        pytest.param({"tierId": "PARTNER"}, "NOT_FOUND", "tierId", id="id of another type"),
        pytest.param({"tierId": "garbage"}, "NOT_FOUND", "tierId", id="garbage tier id"),
        pytest.param(
            {"capabilities": ["x" * 101]}, "INVALID", "capabilities", id="long capability"
        ),
    ],
)
async def test_a_bad_partner_is_refused_and_nothing_written(
    client: httpx.AsyncClient,
    app: FastAPI,
    database: Database,
    fields: dict[str, Any],
    code: str,
    field: str,
) -> None:
    tenant = await make_tenant(database)
    other = await make_tenant(database)
    foreign_tier = await make_tier(database, other.id)
    existing = await make_partner(database, tenant.id)
    replacements = {
        "FOREIGN": gid("PartnerTier", foreign_tier),
        "PARTNER": gid("Partner", existing),
    }
    fields = {k: replacements.get(v, v) if isinstance(v, str) else v for k, v in fields.items()}
    body = await Caller(client, app, tenant.admin)(CREATE, input={"name": "Acme"} | fields)
    payload = body["data"]["createPartner"]
    assert payload["partner"] is None
    assert errors_of(payload) == [(code, field)]
    assert await partner_count(database, tenant) == 1
    assert await audit_operations(database, tenant) == []


@pytest.mark.asyncio
async def test_an_update_changes_only_the_given_fields_and_null_clears(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    gold = await make_tier(database, tenant.id, name="Gold")
    silver = await make_tier(database, tenant.id, name="Silver")
    admin = Caller(client, app, tenant.admin)
    created = (
        await admin(
            CREATE,
            input={
                "name": "Acme",
                "tierId": gid("PartnerTier", gold),
                "country": "FR",
                "region": "IDF",
                "capacity": 5,
                "capabilities": ["cloud"],
            },
        )
    )["data"]["createPartner"]["partner"]

    moved = (
        await admin(
            UPDATE,
            id=created["id"],
            input={"tierId": gid("PartnerTier", silver), "capacity": 9, "status": "ONBOARDING"},
        )
    )["data"]["updatePartner"]
    assert moved["errors"] == []
    assert moved["partner"] == created | {
        "tier": {"id": gid("PartnerTier", silver), "name": "Silver"},
        "capacity": 9,
    }

    cleared = (
        await admin(
            UPDATE,
            id=created["id"],
            input={"tierId": None, "country": None, "capabilities": None, "name": "Acme 2"},
        )
    )["data"]["updatePartner"]["partner"]
    assert cleared == moved["partner"] | {
        "tier": None,
        "country": None,
        "capabilities": [],
        "name": "Acme 2",
    }
    assert await audit_operations(database, tenant) == [
        "createPartner",
        "updatePartner",
        "updatePartner",
    ]


@pytest.mark.asyncio
async def test_bad_updates_write_nothing(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    other = await make_tenant(database)
    partner = await make_partner(database, tenant.id, status=PartnerStatus.ACTIVE)
    theirs = await make_partner(database, other.id)
    foreign_tier = await make_tier(database, other.id)
    admin = Caller(client, app, tenant.admin)

    async def codes(id: str, input: dict[str, Any]) -> list[tuple[str, str | None]]:
        return errors_of((await admin(UPDATE, id=id, input=input))["data"]["updatePartner"])

    mine = gid("Partner", partner)
    # a valid change next to a bad one: neither is written
    assert await codes(mine, {"name": "Renamed", "country": "ZZ"}) == [("INVALID", "country")]
    assert await codes(mine, {"name": "Renamed", "capacity": -3}) == [("INVALID", "capacity")]
    assert await codes(mine, {"tierId": gid("PartnerTier", foreign_tier)}) == [
        ("NOT_FOUND", "tierId")
    ]
    assert await codes(mine, {"status": "SUSPENDED"}) == [("INVALID_TRANSITION", "status")]
    assert await codes(mine, {"name": None}) == [("INVALID", "name")]
    assert await codes(gid("Partner", theirs), {"name": "Mine now"}) == [("NOT_FOUND", "id")]
    assert await codes(gid("PartnerTier", partner), {"name": "x"}) == [("NOT_FOUND", "id")]

    async with database.session(tenant.id) as session:
        row = await session.get(Partner, (tenant.id, partner.id))
        assert row is not None
        assert (row.name, row.status, row.country) == (partner.name, PartnerStatus.ACTIVE, None)
    assert await audit_operations(database, tenant) == []


ALL = list(PartnerStatus)
ALLOWED = {
    (PartnerStatus.ONBOARDING, PartnerStatus.ACTIVE),
    (PartnerStatus.ONBOARDING, PartnerStatus.SUSPENDED),
    (PartnerStatus.ACTIVE, PartnerStatus.SUSPENDED),
    (PartnerStatus.SUSPENDED, PartnerStatus.ACTIVE),
}


@pytest.mark.asyncio
@pytest.mark.parametrize("source", ALL)
@pytest.mark.parametrize("target", ALL)
async def test_status_moves_only_along_the_lifecycle(
    client: httpx.AsyncClient,
    app: FastAPI,
    database: Database,
    source: PartnerStatus,
    target: PartnerStatus,
) -> None:
    tenant = await make_tenant(database)
    partner = await make_partner(database, tenant.id, status=source)
    body = await Caller(client, app, tenant.admin)(
        SET_STATUS, id=gid("Partner", partner), status=target.value, reason="quarterly review"
    )
    payload = body["data"]["setPartnerStatus"]
    async with database.session(tenant.id) as session:
        stored = await session.scalar(select(Partner.status).where(Partner.id == partner.id))
    if (source, target) in ALLOWED:
        assert payload["errors"] == []
        assert payload["partner"]["status"] == target.value
        assert payload["partner"]["statusReason"] == "quarterly review"
        assert stored is target
        assert await audit_operations(database, tenant) == ["setPartnerStatus"]
    else:
        assert payload["partner"] is None
        assert errors_of(payload) == [("INVALID_TRANSITION", "status")]
        assert stored is source
        assert await audit_operations(database, tenant) == []


@pytest.mark.asyncio
async def test_status_of_an_unseen_partner_is_not_found(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    other = await make_tenant(database)
    theirs = await make_partner(database, other.id, status=PartnerStatus.ONBOARDING)
    body = await Caller(client, app, tenant.admin)(
        SET_STATUS, id=gid("Partner", theirs), status="ACTIVE"
    )
    assert errors_of(body["data"]["setPartnerStatus"]) == [("NOT_FOUND", "id")]


@pytest.mark.asyncio
@pytest.mark.parametrize("role", ["manager", "employee", "partner_admin", "partner_rep"])
async def test_only_admins_create_or_change_partners(
    client: httpx.AsyncClient, app: FastAPI, database: Database, role: str
) -> None:
    cast = await make_cast(database)
    caller = Caller(client, app, cast.user(role))
    mine = gid("Partner", cast.partner)
    results = [
        await caller(CREATE, input={"name": "Sneaky"}),
        await caller(UPDATE, id=mine, input={"name": "Sneaky"}),
        await caller(SET_STATUS, id=mine, status="SUSPENDED"),
    ]
    assert [error_codes(body) for body in results] == [["FORBIDDEN"]] * 3
    assert await partner_count(database, cast.tenant) == 1
    assert await audit_operations(database, cast.tenant) == []


@pytest.mark.asyncio
async def test_an_api_client_with_the_admin_scope_manages_partners(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    tokens = {}
    for scope in ("admin", "manager"):
        api_client, secret = await make_api_client(database, tenant.id, scopes=(scope,))
        token = (await client_credentials(client, api_client.client_id, secret)).json()
        tokens[scope] = {"Authorization": f"Bearer {token['access_token']}"}

    made = await gql(client, CREATE, {"input": {"name": "Automated"}}, headers=tokens["admin"])
    assert made["data"]["createPartner"]["errors"] == []
    refused = await gql(client, CREATE, {"input": {"name": "Nope"}}, headers=tokens["manager"])
    assert error_codes(refused) == ["FORBIDDEN"]
    listed = await gql(client, PARTNERS, headers=tokens["manager"])
    assert names(listed) == ["Automated"]


# Reading: visibility ---------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("role", ["admin", "manager", "employee"])
async def test_tenant_staff_read_every_partner_and_its_notes(
    client: httpx.AsyncClient, app: FastAPI, database: Database, role: str
) -> None:
    cast = await make_cast(database)
    other = await make_partner(database, cast.tenant.id)
    await set_partner_columns(database, other, notes="slow payer")
    caller = Caller(client, app, cast.user(role))
    body = await caller(PARTNERS)
    assert sorted(names(body)) == sorted([cast.partner.name, other.name])
    assert body["data"]["partners"]["totalCount"] == 2
    node = (await caller(NODE, id=gid("Partner", other)))["data"]["node"]
    assert node == {"id": gid("Partner", other), "name": other.name, "notes": "slow payer"}


@pytest.mark.asyncio
@pytest.mark.parametrize("role", ["partner_admin", "partner_rep"])
async def test_a_partner_user_sees_only_its_own_organisation_without_notes(
    client: httpx.AsyncClient, app: FastAPI, database: Database, role: str
) -> None:
    cast = await make_cast(database)
    other = await make_partner(database, cast.tenant.id)
    await set_partner_columns(database, cast.partner, notes="internal")
    caller = Caller(client, app, cast.user(role))
    body = await caller(PARTNERS)
    assert body["data"]["partners"]["edges"] == [
        {
            "cursor": body["data"]["partners"]["edges"][0]["cursor"],
            "node": {"id": gid("Partner", cast.partner), "name": cast.partner.name, "notes": None},
        }
    ]
    assert body["data"]["partners"]["totalCount"] == 1
    assert (await caller(NODE, id=gid("Partner", other)))["data"]["node"] is None
    own = (await caller(NODE, id=gid("Partner", cast.partner)))["data"]["node"]
    assert own["notes"] is None
    filtered = await caller(PARTNERS, filter={"search": other.name})
    assert names(filtered) == []


@pytest.mark.asyncio
async def test_another_tenants_partners_are_invisible(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    cast = await make_cast(database)
    other = await make_tenant(database)
    theirs = await make_partner(database, other.id)
    caller = Caller(client, app, cast.admin)
    assert names(await caller(PARTNERS)) == [cast.partner.name]
    assert (await caller(NODE, id=gid("Partner", theirs)))["data"]["node"] is None


# Reading: filters, orders, pagination ----------------------------------------------------


async def walk(caller: Caller, page_size: int, **variables: Any) -> list[str]:
    """Every partner name, page by page, checking the page info on the way."""
    seen: list[str] = []
    after = None
    while True:
        body = await caller(PARTNERS, first=page_size, after=after, **variables)
        assert "errors" not in body, body
        connection = body["data"]["partners"]
        seen.extend(edge["node"]["name"] for edge in connection["edges"])
        assert connection["pageInfo"]["hasPreviousPage"] is (after is not None)
        if not connection["pageInfo"]["hasNextPage"]:
            return seen
        assert len(connection["edges"]) == page_size
        after = connection["pageInfo"]["endCursor"]


@pytest.mark.asyncio
async def test_every_order_pages_through_all_partners_in_order(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    gold = await make_tier(database, tenant.id, name="Gold", rank=1)
    silver = await make_tier(database, tenant.id, name="Silver", rank=2)
    plan = [
        ("delta", gold.id, 0.9),
        ("alpha", silver.id, None),
        ("echo", None, 0.5),
        ("bravo", gold.id, 0.5),
        ("charlie", silver.id, 0.7),
        ("foxtrot", None, None),
        ("golf", gold.id, 0.1),
    ]
    made: list[Partner] = []
    for name, tier_id, score in plan:
        partner = await make_partner(database, tenant.id, tier_id=tier_id)
        await set_partner_columns(database, partner, name=name, performance_score=score)
        made.append(partner)
    ids = {name: partner.id for (name, _, _), partner in zip(plan, made, strict=True)}
    rank = {gold.id: 1, silver.id: 2, None: 2**31 - 1}
    caller = Caller(client, app, tenant.admin)

    def expected(key: Any, descending: bool) -> list[str]:
        rows = sorted(plan, key=lambda row: (key(row), ids[row[0]]), reverse=descending)
        return [row[0] for row in rows]

    keys = {
        "NAME": lambda row: row[0],
        "TIER": lambda row: rank[row[1]],
        "SCORE": lambda row: row[2] if row[2] is not None else float("-inf"),
        "CREATED": lambda row: ids[row[0]],
    }
    for field, key in keys.items():
        for direction in ("ASC", "DESC"):
            order = {"field": field, "direction": direction}
            assert await walk(caller, 2, orderBy=order) == expected(key, direction == "DESC"), order
    assert await walk(caller, 3) == sorted(name for name, _, _ in plan)  # default: by name

    # a tier's new rank reorders its partners (the copied rank follows)
    await caller(UPDATE_TIER, id=gid("PartnerTier", silver), input={"rank": 0})
    rank[silver.id] = 0
    assert await walk(caller, 2, orderBy={"field": "TIER"}) == expected(keys["TIER"], False)
    # ... and so does moving a partner to another tier
    await caller(UPDATE, id=gid("Partner", made[0]), input={"tierId": gid("PartnerTier", silver)})
    plan[0] = ("delta", silver.id, 0.9)
    assert await walk(caller, 2, orderBy={"field": "TIER"}) == expected(keys["TIER"], False)


@pytest.mark.asyncio
async def test_a_cursor_of_another_order_is_refused(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    for _ in range(2):
        await make_partner(database, tenant.id)
    caller = Caller(client, app, tenant.admin)
    page = await caller(PARTNERS, first=1, orderBy={"field": "SCORE"})
    cursor = page["data"]["partners"]["pageInfo"]["endCursor"]
    for order in ({"field": "TIER"}, {"field": "SCORE", "direction": "DESC"}, None):
        body = await caller(PARTNERS, first=1, after=cursor, orderBy=order)
        assert error_codes(body) == ["BAD_USER_INPUT"]


@pytest.mark.asyncio
async def test_filters_narrow_the_list_and_combine(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    other = await make_tenant(database)
    gold = await make_tier(database, tenant.id, name="Gold")
    foreign_tier = await make_tier(database, other.id)
    admin = Caller(client, app, tenant.admin)
    specs = [
        {"name": "Alpine Cloud", "tierId": gid("PartnerTier", gold), "status": "ACTIVE",
         "country": "AT", "region": "Tyrol", "capabilities": ["cloud", "security"]},
        {"name": "Berlin Systems", "tierId": gid("PartnerTier", gold), "country": "DE",
         "region": "Berlin", "capabilities": ["Cloud"]},
        {"name": "Cloudy 100%_Deals", "status": "SUSPENDED", "country": "DE",
         "region": "Tyrol", "capabilities": ["hardware"]},
    ]  # fmt: skip
    for spec in specs:
        assert (await admin(CREATE, input=spec))["data"]["createPartner"]["errors"] == []

    async def matching(**filter: Any) -> list[str]:
        body = await admin(PARTNERS, filter=filter)
        assert body["data"]["partners"]["totalCount"] == len(names(body))
        return names(body)

    assert await matching(status="ACTIVE") == ["Alpine Cloud"]
    assert await matching(status="ONBOARDING") == ["Berlin Systems"]
    assert await matching(tierId=gid("PartnerTier", gold)) == ["Alpine Cloud", "Berlin Systems"]
    assert await matching(tierId=gid("PartnerTier", foreign_tier)) == []
    assert await matching(tierId="garbage") == []
    assert await matching(country="de") == ["Berlin Systems", "Cloudy 100%_Deals"]
    assert await matching(region="Tyrol") == ["Alpine Cloud", "Cloudy 100%_Deals"]
    assert await matching(capability="CLOUD") == ["Alpine Cloud", "Berlin Systems"]
    assert await matching(capability="security") == ["Alpine Cloud"]
    assert await matching(search="cloud") == ["Alpine Cloud", "Cloudy 100%_Deals"]
    assert await matching(search="100%_") == ["Cloudy 100%_Deals"]
    assert await matching(search="%") == ["Cloudy 100%_Deals"]
    assert await matching(country="DE", region="Tyrol", capability="hardware") == [
        "Cloudy 100%_Deals"
    ]
    assert await matching(country="DE", capability="security") == []
    body = await admin(PARTNERS, first=1, filter={"country": "DE"})
    assert body["data"]["partners"]["totalCount"] == 2
    assert body["data"]["partners"]["pageInfo"]["hasNextPage"] is True


@pytest.mark.asyncio
async def test_page_sizes_are_bounded(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    await make_partner(database, tenant.id)
    caller = Caller(client, app, tenant.admin)
    assert error_codes(await caller(PARTNERS, first=-1)) == ["BAD_USER_INPUT"]
    assert error_codes(await caller(PARTNERS, after="bogus")) == ["BAD_USER_INPUT"]
    assert len(names(await caller(PARTNERS, first=100_000))) == 1


# Partner users -------------------------------------------------------------------------


async def add_reps(database: Database, cast: Cast, count: int) -> None:
    async with database.session(cast.tenant.id) as session:
        session.add_all(
            User(
                tenant_id=cast.tenant.id,
                email=f"rep-{uuid.uuid4().hex}@example.com",
                name="Rep",
                roles=[Role.PARTNER_REP.value],
                partner_id=cast.partner.id,
            )
            for _ in range(count)
        )


@pytest.mark.asyncio
@pytest.mark.parametrize("role", ["admin", "partner_admin"])
async def test_admins_and_the_partners_admin_page_through_its_users(
    client: httpx.AsyncClient, app: FastAPI, database: Database, role: str
) -> None:
    cast = await make_cast(database)
    await add_reps(database, cast, 3)
    outsider = await make_partner(database, cast.tenant.id)
    await make_user(database, cast.tenant.id, roles=(Role.PARTNER_REP,), partner_id=outsider.id)
    async with database.session(cast.tenant.id) as session:
        expected = list(
            await session.scalars(
                select(User.email).where(User.partner_id == cast.partner.id).order_by(User.id)
            )
        )
    assert len(expected) == 5
    caller = Caller(client, app, cast.user(role))
    seen: list[str] = []
    after = None
    while True:
        body = await caller(PARTNER_USERS, id=gid("Partner", cast.partner), first=2, after=after)
        users = body["data"]["node"]["users"]
        assert users["totalCount"] == 5
        seen.extend(edge["node"]["email"] for edge in users["edges"])
        if not users["pageInfo"]["hasNextPage"]:
            break
        after = users["pageInfo"]["endCursor"]
    assert seen == expected


@pytest.mark.asyncio
@pytest.mark.parametrize("role", ["manager", "employee", "partner_rep"])
async def test_others_may_not_list_a_partners_users(
    client: httpx.AsyncClient, app: FastAPI, database: Database, role: str
) -> None:
    cast = await make_cast(database)
    body = await Caller(client, app, cast.user(role))(
        PARTNER_USERS, id=gid("Partner", cast.partner)
    )
    assert error_codes(body) == ["FORBIDDEN"]


@pytest.mark.asyncio
async def test_statements_per_partner_page_do_not_grow_with_the_page_size(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    tiers = [await make_tier(database, tenant.id) for _ in range(3)]
    async with database.session(tenant.id) as session:
        partners = [
            Partner(tenant_id=tenant.id, name=f"p{n:03}", tier_id=tiers[n % 3].id)
            for n in range(60)
        ]
        session.add_all(partners)
        await session.flush()
        session.add_all(
            User(
                tenant_id=tenant.id,
                email=f"u{n}-{uuid.uuid4().hex}@example.com",
                name="Rep",
                roles=[Role.PARTNER_REP.value],
                partner_id=partners[n % 60].id,
            )
            for n in range(240)
        )
    query = """query ($first: Int) { partners(first: $first) { totalCount edges { node {
        name tier { name } users(first: 5) { totalCount edges { node { email } } } } } } }"""
    caller = Caller(client, app, tenant.admin)
    counts = {}
    for first in (5, 50):
        with counting_statements(database) as statements:
            body = await caller(query, first=first)
        edges = body["data"]["partners"]["edges"]
        assert len(edges) == first
        assert all(len(edge["node"]["users"]["edges"]) == 4 for edge in edges)
        assert all(edge["node"]["users"]["totalCount"] == 4 for edge in edges)
        assert all(edge["node"]["tier"]["name"] for edge in edges)
        counts[first] = len(statements)
    assert counts[5] == counts[50]
    # tenant scope + token check (2) + page + count + tiers + user pages + user counts
    assert counts[50] <= 8


# The partner's own discount ------------------------------------------------------------

DISCOUNT = "partner { id discountPercent } errors { code field message }"
CREATE_DISCOUNTED = f"""mutation ($input: CreatePartnerInput!) {{
  createPartner(input: $input) {{ {DISCOUNT} }} }}"""
UPDATE_DISCOUNT = f"""mutation ($id: ID!, $input: UpdatePartnerInput!) {{
  updatePartner(id: $id, input: $input) {{ {DISCOUNT} }} }}"""


@pytest.mark.asyncio
async def test_a_partner_has_its_own_discount_from_0_to_100_percent(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    cast = await make_cast(database)
    admin = Caller(client, app, cast.admin)
    created = (await admin(CREATE_DISCOUNTED, input={"name": "Acme", "discountPercent": "7.5"}))[
        "data"
    ]["createPartner"]
    assert created["errors"] == []
    assert created["partner"]["discountPercent"] == "7.50"
    partner_id = created["partner"]["id"]
    plain = (await admin(CREATE_DISCOUNTED, input={"name": "Plain"}))["data"]["createPartner"]
    assert plain["partner"]["discountPercent"] is None

    for value, shown in [("100", "100.00"), ("0", "0.00"), ("12.25", "12.25"), (None, None)]:
        changed = (await admin(UPDATE_DISCOUNT, id=partner_id, input={"discountPercent": value}))[
            "data"
        ]["updatePartner"]
        assert changed["errors"] == []
        assert changed["partner"]["discountPercent"] == shown
    await admin(UPDATE_DISCOUNT, id=partner_id, input={"discountPercent": "5"})

    # the partner's own users see it
    mine = gid("Partner", cast.partner)
    await admin(UPDATE_DISCOUNT, id=mine, input={"discountPercent": "3"})
    body = await Caller(client, app, cast.partner_rep)(
        "query ($id: ID!) { node(id: $id) { ... on Partner { discountPercent } } }", id=mine
    )
    assert body["data"]["node"] == {"discountPercent": "3.00"}

    count = await partner_count(database, cast.tenant)
    operations = await audit_operations(database, cast.tenant)
    for bad in ("100.01", "-0.5", "1.234", "NaN"):
        refused = (await admin(CREATE_DISCOUNTED, input={"name": "Bad", "discountPercent": bad}))[
            "data"
        ]["createPartner"]
        assert (refused["partner"], errors_of(refused)) == (None, [("INVALID", "discountPercent")])
        refused = (
            await admin(UPDATE_DISCOUNT, id=partner_id, input={"name": "X", "discountPercent": bad})
        )["data"]["updatePartner"]
        assert (refused["partner"], errors_of(refused)) == (None, [("INVALID", "discountPercent")])
    assert await partner_count(database, cast.tenant) == count
    assert await audit_operations(database, cast.tenant) == operations
    async with database.session(cast.tenant.id) as session:
        row = await session.scalar(select(Partner).where(Partner.name == "Acme"))
        assert row is not None
        assert row.discount_percent == Decimal("5.00")
