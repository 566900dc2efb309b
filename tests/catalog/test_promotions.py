"""Promotions through GraphQL: creating percent and amount discounts with their targets,
changing and ending them, which promotions a partner user sees (aimed at it by partner,
tier or territory, and running), what staff filter by, and every bad input answered
with nothing written."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy import func, select, update

from prm.auth.principal import Role
from prm.catalog.models import Product, Promotion
from prm.db.engine import Database
from prm.partners.models import Partner, PartnerTier
from prm.tenants.models import User
from tests.catalog.factories import make_product, make_promotion
from tests.crm.factories import gid
from tests.factories import (
    TenantWithAdmin,
    bearer,
    make_partner,
    make_tenant,
    make_tier,
    make_user,
)
from tests.graphql.support import error_codes, gql
from tests.statements import counting_statements

FIELDS = """
    id name description code discountPercent discountAmount { amount currency }
    stackable startsAt endsAt endedAt usageCap usageCount regions isRunning
    tiers { id } partners { id } products { id }
"""
CREATE = f"""
mutation($input: CreatePromotionInput!) {{
  createPromotion(input: $input) {{
    promotion {{ {FIELDS} }}
    errors {{ code field message }}
  }}
}}
"""
UPDATE = f"""
mutation($id: ID!, $input: UpdatePromotionInput!) {{
  updatePromotion(id: $id, input: $input) {{
    promotion {{ {FIELDS} }}
    errors {{ code field message }}
  }}
}}
"""
END = f"""
mutation($id: ID!) {{
  endPromotion(id: $id) {{
    promotion {{ {FIELDS} }}
    errors {{ code field message }}
  }}
}}
"""
LIST = f"""
query($filter: PromotionFilter, $first: Int, $after: String) {{
  promotions(first: $first, after: $after, filter: $filter) {{
    edges {{ node {{ {FIELDS} }} }}
    pageInfo {{ hasNextPage endCursor }}
    totalCount
  }}
}}
"""
NODE = "query($id: ID!) { node(id: $id) { id ... on Promotion { name } } }"

NOW = datetime.now(UTC)
DAY = timedelta(days=1)


@dataclass
class Cast:
    tenant: TenantWithAdmin
    manager: User
    employee: User
    gold: PartnerTier
    silver: PartnerTier
    partner: Partner
    """In tier gold, country DE, region "Bavaria"."""
    other_partner: Partner
    """In tier silver, country FR, region "Normandy"."""
    rep: User
    router: Product
    switch: Product


async def place(database: Database, partner: Partner, country: str, region: str) -> None:
    async with database.session(partner.tenant_id) as session:
        await session.execute(
            update(Partner).where(Partner.id == partner.id).values(country=country, region=region)
        )


@pytest_asyncio.fixture
async def cast(database: Database) -> Cast:
    tenant = await make_tenant(database)
    gold = await make_tier(database, tenant.id, name="Gold")
    silver = await make_tier(database, tenant.id, name="Silver", rank=2)
    partner = await make_partner(database, tenant.id, tier_id=gold.id)
    other_partner = await make_partner(database, tenant.id, tier_id=silver.id)
    await place(database, partner, "DE", "Bavaria")
    await place(database, other_partner, "FR", "Normandy")
    return Cast(
        tenant=tenant,
        manager=await make_user(database, tenant.id, roles=(Role.MANAGER,)),
        employee=await make_user(database, tenant.id, roles=(Role.EMPLOYEE,)),
        gold=gold,
        silver=silver,
        partner=partner,
        other_partner=other_partner,
        rep=await make_user(database, tenant.id, roles=(Role.PARTNER_REP,), partner_id=partner.id),
        router=await make_product(database, tenant.id),
        switch=await make_product(database, tenant.id),
    )


def auth(app: FastAPI, user: User) -> dict[str, str]:
    return bearer(app.state.issuer, user)


def iso(moment: datetime) -> str:
    return moment.isoformat()


def window(**input_: Any) -> dict[str, Any]:
    """A promotion input running from yesterday to next week, with `input_` on top."""
    return {
        "name": "Spring sale",
        "discountPercent": "10",
        "startsAt": iso(NOW - DAY),
        "endsAt": iso(NOW + 7 * DAY),
        **input_,
    }


async def run(
    client: httpx.AsyncClient,
    app: FastAPI,
    user: User,
    query: str,
    variables: dict[str, Any],
    field: str,
) -> dict[str, Any]:
    body = await gql(client, query, variables, headers=auth(app, user))
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"][field]
    return payload


async def create(
    client: httpx.AsyncClient, app: FastAPI, user: User, input_: dict[str, Any]
) -> dict[str, Any]:
    return await run(client, app, user, CREATE, {"input": input_}, "createPromotion")


async def change(
    client: httpx.AsyncClient, app: FastAPI, user: User, promotion_id: str, **input_: Any
) -> dict[str, Any]:
    variables = {"id": promotion_id, "input": input_}
    return await run(client, app, user, UPDATE, variables, "updatePromotion")


async def end(
    client: httpx.AsyncClient, app: FastAPI, user: User, promotion_id: str
) -> dict[str, Any]:
    return await run(client, app, user, END, {"id": promotion_id}, "endPromotion")


async def listed(
    client: httpx.AsyncClient, app: FastAPI, user: User, filter_: dict[str, Any] | None = None
) -> list[str]:
    body = await gql(client, LIST, {"filter": filter_}, headers=auth(app, user))
    assert "errors" not in body, body
    return [edge["node"]["name"] for edge in body["data"]["promotions"]["edges"]]


def errors_of(payload: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [(e["code"], e["field"]) for e in payload["errors"]]


async def promotion_count(database: Database, tenant_id: uuid.UUID) -> int:
    async with database.session(tenant_id) as session:
        return int(await session.scalar(select(func.count()).select_from(Promotion)) or 0)


async def stored(database: Database, promotion: Promotion) -> Promotion:
    async with database.session(promotion.tenant_id) as session:
        return await session.get_one(Promotion, (promotion.tenant_id, promotion.id))


# Creating ----------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_manager_creates_a_targeted_percentage_promotion(
    client: httpx.AsyncClient, app: FastAPI, cast: Cast
) -> None:
    gold, router = gid("PartnerTier", cast.gold), gid("Product", cast.router)
    payload = await create(
        client,
        app,
        cast.manager,
        window(
            name=" Spring sale ",
            description="  Ten off routers ",
            code="  spring-2027_A ",
            discountPercent="12.5",
            tierIds=[gold, gold],
            regions=[" de", "Bavaria ", "DE"],
            partnerIds=[gid("Partner", cast.partner)],
            productIds=[router],
            stackable=True,
            usageCap=100,
        ),
    )
    assert payload["errors"] == []
    promotion = payload["promotion"]
    assert promotion["name"] == "Spring sale"
    assert promotion["description"] == "Ten off routers"
    assert promotion["code"] == "spring-2027_A"
    assert promotion["discountPercent"] == "12.50"
    assert promotion["discountAmount"] is None
    assert promotion["regions"] == ["DE", "BAVARIA"]
    assert promotion["tiers"] == [{"id": gold}]
    assert promotion["partners"] == [{"id": gid("Partner", cast.partner)}]
    assert promotion["products"] == [{"id": router}]
    assert (promotion["stackable"], promotion["usageCap"], promotion["usageCount"]) == (
        True,
        100,
        0,
    )
    assert promotion["isRunning"] is True
    assert promotion["endedAt"] is None
    assert datetime.fromisoformat(promotion["endsAt"]) == NOW + 7 * DAY


@pytest.mark.asyncio
async def test_an_amount_off_is_in_a_currency_and_untargeted_means_everyone(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: Cast
) -> None:
    payload = await create(
        client,
        app,
        cast.tenant.admin,
        window(discountPercent=None, discountAmount="5", currency="eur", startsAt=iso(NOW + DAY)),
    )
    assert payload["errors"] == []
    promotion = payload["promotion"]
    assert promotion["discountPercent"] is None
    assert promotion["discountAmount"] == {"amount": "5.00", "currency": "EUR"}
    assert promotion["isRunning"] is False  # it starts tomorrow
    assert (promotion["tiers"], promotion["regions"], promotion["partners"]) == ([], [], [])
    assert (promotion["products"], promotion["code"], promotion["stackable"]) == ([], None, False)
    async with database.session(cast.tenant.id) as session:
        row = await session.scalar(select(Promotion))
        assert row is not None
        assert (row.discount_amount, row.currency, row.usage_cap) == (Decimal("5"), "EUR", None)


@pytest.mark.asyncio
async def test_only_admins_and_managers_maintain_promotions(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: Cast
) -> None:
    promotion = await make_promotion(database, cast.tenant.id, name="Kept")
    promotion_id = gid("Promotion", promotion)
    for user in (cast.employee, cast.rep):
        for query, variables in (
            (CREATE, {"input": window()}),
            (UPDATE, {"id": promotion_id, "input": {"name": "Changed"}}),
            (END, {"id": promotion_id}),
        ):
            body = await gql(client, query, variables, headers=auth(app, user))
            assert error_codes(body) == ["FORBIDDEN"]
    assert await promotion_count(database, cast.tenant.id) == 1
    row = await stored(database, promotion)
    assert (row.name, row.ended_at) == ("Kept", None)


BAD_PROMOTIONS: list[tuple[dict[str, Any], tuple[str, str]]] = [
    ({"name": "  "}, ("INVALID", "name")),
    ({"name": "n" * 201}, ("INVALID", "name")),
    ({"description": "d" * 2001}, ("INVALID", "description")),
    ({"discountPercent": None}, ("INVALID", "discountPercent")),
    ({"discountAmount": "5", "currency": "USD"}, ("INVALID", "discountAmount")),
    ({"discountPercent": "0"}, ("INVALID", "discountPercent")),
    ({"discountPercent": "-5"}, ("INVALID", "discountPercent")),
    ({"discountPercent": "100.01"}, ("INVALID", "discountPercent")),
    ({"discountPercent": "12.345"}, ("INVALID", "discountPercent")),
    ({"discountPercent": "10", "currency": "USD"}, ("INVALID", "currency")),
    ({"discountPercent": None, "discountAmount": "5"}, ("INVALID", "currency")),
    (
        {"discountPercent": None, "discountAmount": "5", "currency": "US"},
        ("INVALID", "currency"),
    ),
    (
        {"discountPercent": None, "discountAmount": "0", "currency": "USD"},
        ("INVALID", "discountAmount"),
    ),
    (
        {"discountPercent": None, "discountAmount": "-1", "currency": "USD"},
        ("INVALID", "discountAmount"),
    ),
    (
        {"discountPercent": None, "discountAmount": "1.001", "currency": "USD"},
        ("INVALID", "discountAmount"),
    ),
    (
        {"discountPercent": None, "discountAmount": "1.5", "currency": "JPY"},
        ("INVALID", "discountAmount"),
    ),
    ({"endsAt": iso(NOW - DAY)}, ("INVALID", "endsAt")),
    ({"endsAt": iso(NOW - 2 * DAY)}, ("INVALID", "endsAt")),
    ({"startsAt": "2027-01-01T00:00:00"}, ("INVALID", "startsAt")),
    ({"code": "ab"}, ("INVALID", "code")),
    ({"code": "spring sale"}, ("INVALID", "code")),
    ({"code": "c" * 65}, ("INVALID", "code")),
    ({"code": "früh"}, ("INVALID", "code")),
    ({"regions": ["DE", "  "]}, ("INVALID", "regions.1")),
    ({"regions": ["r" * 101]}, ("INVALID", "regions.0")),
    ({"regions": [f"R{n}" for n in range(1001)]}, ("LIMIT_EXCEEDED", "regions")),
    ({"usageCap": 0}, ("INVALID", "usageCap")),
    ({"tierIds": ["GOLD", "UNKNOWN_TIER"]}, ("NOT_FOUND", "tierIds.1")),
    ({"tierIds": ["FOREIGN_TIER"]}, ("NOT_FOUND", "tierIds.0")),
    ({"partnerIds": ["garbage"]}, ("NOT_FOUND", "partnerIds.0")),
    ({"partnerIds": ["PARTNER", "FOREIGN_PARTNER"]}, ("NOT_FOUND", "partnerIds.1")),
    ({"partnerIds": ["GOLD"]}, ("NOT_FOUND", "partnerIds.0")),
    ({"productIds": ["ROUTER", "ROUTER", "FOREIGN_PRODUCT"]}, ("NOT_FOUND", "productIds.2")),
]


@pytest.mark.asyncio
async def test_bad_promotions_are_refused_and_nothing_is_written(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: Cast
) -> None:
    foreign = await make_tenant(database)
    ids = {
        "GOLD": gid("PartnerTier", cast.gold),
        "PARTNER": gid("Partner", cast.partner),
        "ROUTER": gid("Product", cast.router),
        "UNKNOWN_TIER": gid("PartnerTier", uuid.uuid4()),
        "FOREIGN_TIER": gid("PartnerTier", await make_tier(database, foreign.id)),
        "FOREIGN_PARTNER": gid("Partner", await make_partner(database, foreign.id)),
        "FOREIGN_PRODUCT": gid("Product", await make_product(database, foreign.id)),
    }
    for input_, error in BAD_PROMOTIONS:
        values = window(**input_)
        for key in ("tierIds", "partnerIds", "productIds"):
            if key in values:
                values[key] = [ids.get(value, value) for value in values[key]]
        payload = await create(client, app, cast.manager, values)
        assert payload["promotion"] is None, input_
        assert errors_of(payload) == [error], input_
        if error[1] == "endsAt":
            assert payload["errors"][0]["message"] == "a promotion cannot end before it starts"
        assert await promotion_count(database, cast.tenant.id) == 0


@pytest.mark.asyncio
async def test_codes_are_unique_case_insensitively(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: Cast
) -> None:
    existing = await make_promotion(database, cast.tenant.id, code="SPRING27")
    other = await make_promotion(database, cast.tenant.id, code="SUMMER27")
    payload = await create(client, app, cast.manager, window(code=" spring27 "))
    assert errors_of(payload) == [("DUPLICATE", "code")]
    assert payload["errors"][0]["message"].endswith(f"(existing: {gid('Promotion', existing)})")
    assert await promotion_count(database, cast.tenant.id) == 2

    renamed = await change(client, app, cast.manager, gid("Promotion", other), code="Spring27")
    assert errors_of(renamed) == [("DUPLICATE", "code")]
    recased = await change(client, app, cast.manager, gid("Promotion", other), code="summer27")
    assert recased["errors"] == []
    assert recased["promotion"]["code"] == "summer27"

    # Another tenant's codes are no concern.
    foreign = await make_tenant(database)
    await make_promotion(database, foreign.id, code="AUTUMN27")
    assert (await create(client, app, cast.manager, window(code="autumn27")))["errors"] == []


# Changing and ending -------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_promotion_changes_and_its_discount_can_change_kind(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: Cast
) -> None:
    promotion = await make_promotion(
        database, cast.tenant.id, name="Old", percent="10", regions=["de"], code="OLD1"
    )
    promotion_id = gid("Promotion", promotion)

    to_amount = await change(
        client,
        app,
        cast.manager,
        promotion_id,
        name="New",
        description="now an amount",
        discountAmount="7.5",
        currency="usd",
        regions=[],
        productIds=[gid("Product", cast.switch)],
        code=None,
        stackable=True,
        usageCap=5,
        endsAt=iso(NOW + 30 * DAY),
    )
    assert to_amount["errors"] == []
    changed = to_amount["promotion"]
    assert (changed["name"], changed["description"], changed["code"]) == (
        "New",
        "now an amount",
        None,
    )
    assert changed["discountPercent"] is None
    assert changed["discountAmount"] == {"amount": "7.50", "currency": "USD"}
    assert changed["regions"] == []
    assert changed["products"] == [{"id": gid("Product", cast.switch)}]
    assert (changed["stackable"], changed["usageCap"]) == (True, 5)
    assert datetime.fromisoformat(changed["endsAt"]) == NOW + 30 * DAY

    # A currency alone changes the amount's; a percentage drops the amount and currency.
    assert (await change(client, app, cast.manager, promotion_id, currency="EUR"))["promotion"][
        "discountAmount"
    ] == {"amount": "7.50", "currency": "EUR"}
    back = await change(client, app, cast.manager, promotion_id, discountPercent="15")
    assert (back["promotion"]["discountPercent"], back["promotion"]["discountAmount"]) == (
        "15.00",
        None,
    )
    row = await stored(database, promotion)
    assert (row.discount_percent, row.discount_amount, row.currency) == (Decimal(15), None, None)


BAD_CHANGES: list[tuple[dict[str, Any], tuple[str, str]]] = [
    ({"name": None}, ("INVALID", "name")),
    ({"discountPercent": None}, ("INVALID", "discountPercent")),
    ({"discountAmount": "3"}, ("INVALID", "currency")),
    ({"currency": "EUR"}, ("INVALID", "currency")),
    (
        {"discountPercent": "5", "discountAmount": "3", "currency": "USD"},
        ("INVALID", "discountAmount"),
    ),
    ({"endsAt": iso(NOW - 2 * DAY)}, ("INVALID", "endsAt")),
    ({"startsAt": iso(NOW + 8 * DAY)}, ("INVALID", "endsAt")),
    ({"startsAt": None}, ("INVALID", "startsAt")),
    ({"stackable": None}, ("INVALID", "stackable")),
    ({"usageCap": 2}, ("INVALID", "usageCap")),
    ({"usageCap": 0}, ("INVALID", "usageCap")),
    ({"productIds": [gid("Product", uuid.uuid4())]}, ("NOT_FOUND", "productIds.0")),
    ({"regions": [""]}, ("INVALID", "regions.0")),
]


@pytest.mark.asyncio
async def test_bad_changes_are_refused_and_nothing_is_written(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: Cast
) -> None:
    promotion = await make_promotion(
        database, cast.tenant.id, name="Kept", percent="10", usage_cap=10, regions=["DE"]
    )
    async with database.session(cast.tenant.id) as session:
        await session.execute(
            update(Promotion).where(Promotion.id == promotion.id).values(usage_count=3)
        )
    for input_, error in BAD_CHANGES:
        payload = await change(client, app, cast.manager, gid("Promotion", promotion), **input_)
        assert payload["promotion"] is None, input_
        assert errors_of(payload) == [error], input_
        row = await stored(database, promotion)
        assert (row.name, row.discount_percent, row.discount_amount, row.usage_cap) == (
            "Kept",
            Decimal(10),
            None,
            10,
        )
        assert (row.starts_at, row.ends_at, row.regions, row.product_ids) == (
            promotion.starts_at,
            promotion.ends_at,
            ["DE"],
            [],
        )


@pytest.mark.asyncio
async def test_the_cap_may_come_down_to_the_uses_counted(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: Cast
) -> None:
    promotion = await make_promotion(database, cast.tenant.id, usage_cap=10)
    async with database.session(cast.tenant.id) as session:
        await session.execute(
            update(Promotion).where(Promotion.id == promotion.id).values(usage_count=3)
        )
    payload = await change(client, app, cast.manager, gid("Promotion", promotion), usageCap=3)
    assert payload["errors"] == []
    assert (payload["promotion"]["usageCap"], payload["promotion"]["usageCount"]) == (3, 3)
    uncapped = await change(client, app, cast.manager, gid("Promotion", promotion), usageCap=None)
    assert uncapped["promotion"]["usageCap"] is None


@pytest.mark.asyncio
async def test_ending_a_promotion_stops_it_now_and_only_once(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: Cast
) -> None:
    running = await make_promotion(database, cast.tenant.id, name="Running")
    promotion_id = gid("Promotion", running)
    assert await listed(client, app, cast.rep) == ["Running"]

    before = datetime.now(UTC)
    payload = await end(client, app, cast.manager, promotion_id)
    assert payload["errors"] == []
    ended = payload["promotion"]
    ended_at = datetime.fromisoformat(ended["endedAt"])
    assert before <= ended_at <= datetime.now(UTC)
    assert datetime.fromisoformat(ended["endsAt"]) == ended_at
    assert ended["isRunning"] is False
    assert await listed(client, app, cast.rep) == []

    again = await end(client, app, cast.manager, promotion_id)
    assert errors_of(again) == [("INVALID_TRANSITION", "id")]
    changed = await change(client, app, cast.manager, promotion_id, endsAt=iso(NOW + 9 * DAY))
    assert errors_of(changed) == [("INVALID_TRANSITION", "id")]
    row = await stored(database, running)
    assert (row.ends_at, row.ended_at) == (ended_at, ended_at)


@pytest.mark.asyncio
async def test_an_expired_promotion_cannot_be_ended_and_a_future_one_never_runs(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: Cast
) -> None:
    expired = await make_promotion(
        database, cast.tenant.id, starts_at=NOW - 9 * DAY, ends_at=NOW - DAY
    )
    refused = await end(client, app, cast.manager, gid("Promotion", expired))
    assert errors_of(refused) == [("INVALID_TRANSITION", "id")]
    assert (await stored(database, expired)).ended_at is None

    future = await make_promotion(
        database, cast.tenant.id, starts_at=NOW + DAY, ends_at=NOW + 9 * DAY
    )
    payload = await end(client, app, cast.manager, gid("Promotion", future))
    assert payload["errors"] == []
    ended_at = datetime.fromisoformat(payload["promotion"]["endedAt"])
    row = await stored(database, future)
    assert row.ends_at == ended_at
    assert row.starts_at < row.ends_at
    body = await gql(
        client,
        LIST,
        {"filter": {"activeAt": iso(NOW + 2 * DAY)}},
        headers=auth(app, cast.manager),
    )
    assert body["data"]["promotions"]["edges"] == []


@pytest.mark.asyncio
async def test_promotions_of_another_tenant_or_none_are_not_found(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: Cast
) -> None:
    foreign = await make_tenant(database)
    theirs = await make_promotion(database, foreign.id, name="Theirs")
    for promotion_id in (gid("Promotion", theirs), gid("Promotion", uuid.uuid4()), "garbage"):
        assert errors_of(await change(client, app, cast.manager, promotion_id, name="Mine")) == [
            ("NOT_FOUND", "id")
        ]
        assert errors_of(await end(client, app, cast.manager, promotion_id)) == [
            ("NOT_FOUND", "id")
        ]
    row = await stored(database, theirs)
    assert (row.name, row.ended_at) == ("Theirs", None)


# Reading -------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_partner_user_sees_only_running_promotions_aimed_at_it(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: Cast
) -> None:
    tenant_id = cast.tenant.id
    seen = {
        "everyone": {},
        "by partner": {"partner_ids": [cast.other_partner.id, cast.partner.id]},
        "by tier": {"tier_ids": [cast.gold.id]},
        "by country": {"regions": ["de"]},
        "by region": {"regions": ["FR", "bavaria"]},
        "by all": {
            "partner_ids": [cast.partner.id],
            "tier_ids": [cast.silver.id, cast.gold.id],
            "regions": ["DE"],
            "product_ids": [cast.router.id],
        },
    }
    unseen = {
        "other partner": {"partner_ids": [cast.other_partner.id]},
        "other tier": {"tier_ids": [cast.silver.id]},
        "other region": {"regions": ["FR", "Normandy"]},
        "right partner, wrong region": {"partner_ids": [cast.partner.id], "regions": ["FR"]},
        "expired": {"starts_at": NOW - 9 * DAY, "ends_at": NOW - DAY},
        "future": {"starts_at": NOW + DAY, "ends_at": NOW + 9 * DAY},
    }
    for index, (name, targets) in enumerate({**seen, **unseen}.items()):
        if "starts_at" not in targets:
            targets = {**targets, "starts_at": NOW - DAY - index * timedelta(minutes=1)}
        await make_promotion(database, tenant_id, name=name, **targets)
    ended = await make_promotion(database, tenant_id, name="ended")
    assert (await end(client, app, cast.manager, gid("Promotion", ended)))["errors"] == []
    foreign = await make_tenant(database)
    await make_promotion(database, foreign.id, name="foreign")

    assert await listed(client, app, cast.rep) == list(seen)  # newest start first
    later = await listed(client, app, cast.rep, {"activeAt": iso(NOW + 2 * DAY)})
    assert later == ["future", *seen]

    body = await gql(client, LIST, headers=auth(app, cast.rep))
    nodes = {e["node"]["name"]: e["node"] for e in body["data"]["promotions"]["edges"]}
    # Aimed at two partners, it shows the partner user only itself.
    assert nodes["by partner"]["partners"] == [{"id": gid("Partner", cast.partner)}]
    assert nodes["by all"]["tiers"] == [
        {"id": gid("PartnerTier", cast.silver)},
        {"id": gid("PartnerTier", cast.gold)},
    ]

    async with database.session(tenant_id) as session:
        hidden = await session.scalar(select(Promotion.id).where(Promotion.name == "other tier"))
    body = await gql(client, NODE, {"id": gid("Promotion", hidden)}, headers=auth(app, cast.rep))
    assert body["data"]["node"] is None
    body = await gql(
        client, NODE, {"id": gid("Promotion", hidden)}, headers=auth(app, cast.manager)
    )
    assert body["data"]["node"]["name"] == "other tier"


@pytest.mark.asyncio
async def test_staff_see_every_promotion_and_filter_them(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: Cast
) -> None:
    tenant_id = cast.tenant.id
    await make_promotion(
        database,
        tenant_id,
        name="old",
        starts_at=NOW - 30 * DAY,
        ends_at=NOW - 20 * DAY,
        code="OLD-27",
    )
    await make_promotion(
        database,
        tenant_id,
        name="gold routers",
        starts_at=NOW - 2 * DAY,
        tier_ids=[cast.gold.id],
        product_ids=[cast.router.id],
    )
    await make_promotion(
        database, tenant_id, name="french", starts_at=NOW - 3 * DAY, regions=["FR"]
    )
    await make_promotion(database, tenant_id, name="all", starts_at=NOW - 4 * DAY)
    await make_promotion(
        database,
        tenant_id,
        name="next",
        starts_at=NOW + 5 * DAY,
        ends_at=NOW + 9 * DAY,
        product_ids=[cast.switch.id],
    )

    manager = cast.manager
    assert await listed(client, app, manager) == ["next", "gold routers", "french", "all", "old"]
    assert await listed(client, app, cast.employee) == await listed(client, app, manager)
    assert await listed(client, app, manager, {"activeAt": iso(NOW)}) == [
        "gold routers",
        "french",
        "all",
    ]
    assert await listed(client, app, manager, {"activeAt": iso(NOW - 25 * DAY)}) == ["old"]
    assert await listed(client, app, manager, {"code": "old-27"}) == ["old"]
    assert await listed(client, app, manager, {"productId": gid("Product", cast.switch)}) == [
        "next",
        "french",
        "all",
        "old",
    ]
    aimed = {"partnerId": gid("Partner", cast.partner)}
    assert await listed(client, app, manager, aimed) == ["next", "gold routers", "all", "old"]
    other = {"partnerId": gid("Partner", cast.other_partner), "activeAt": iso(NOW)}
    assert await listed(client, app, manager, other) == ["french", "all"]
    assert await listed(client, app, manager, {"partnerId": "garbage"}) == []
    # A partner user asking about another partner learns nothing.
    assert await listed(client, app, cast.rep, other) == []


@pytest.mark.asyncio
async def test_is_running_answers_for_any_moment(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: Cast
) -> None:
    promotion = await make_promotion(
        database, cast.tenant.id, starts_at=NOW + DAY, ends_at=NOW + 2 * DAY
    )
    query = """query($id: ID!, $a: DateTime, $b: DateTime, $c: DateTime) { node(id: $id) {
        ... on Promotion { now: isRunning a: isRunning(at: $a) b: isRunning(at: $b)
                           c: isRunning(at: $c) } } }"""
    variables = {
        "id": gid("Promotion", promotion),
        "a": iso(NOW + DAY),
        "b": iso(NOW + 2 * DAY),
        "c": iso(NOW + DAY + timedelta(hours=1)),
    }
    body = await gql(client, query, variables, headers=auth(app, cast.manager))
    assert body["data"]["node"] == {"now": False, "a": True, "b": False, "c": True}


@pytest.mark.asyncio
async def test_a_page_of_promotions_takes_the_same_statements_for_two_or_forty(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: Cast
) -> None:
    for n in range(40):
        await make_promotion(
            database,
            cast.tenant.id,
            starts_at=NOW - DAY - n * timedelta(minutes=1),
            tier_ids=[[cast.gold.id], [cast.silver.id]][n % 2],
            partner_ids=[[cast.partner.id], [cast.other_partner.id]][n % 2],
            product_ids=[[cast.router.id], [cast.switch.id]][n % 2],
        )

    async def statements_for(first: int) -> int:
        with counting_statements(database) as statements:
            body = await gql(client, LIST, {"first": first}, headers=auth(app, cast.manager))
        assert "errors" not in body, body
        assert len(body["data"]["promotions"]["edges"]) == first
        return len(statements)

    assert await statements_for(2) == await statements_for(40)
