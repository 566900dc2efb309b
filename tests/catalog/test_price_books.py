"""Price books through GraphQL: creating the default, a tier's and a partner's book,
non-overlapping validity windows (also under concurrency), changing books, replacing
entries with their volume-break rules, who sees which books, and every bad input
answered with nothing written."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy import func, select, update

from prm.app import create_app
from prm.auth.principal import Role
from prm.catalog import price_books
from prm.catalog.models import PriceBook, PriceBookEntry, Product
from prm.catalog.price_books import EntryInput
from prm.catalog.price_context import LineRequest, price_lines
from prm.db.engine import Database
from prm.partners.models import Partner, PartnerTier
from prm.settings import Settings
from prm.tenants.models import User
from tests.catalog.factories import make_price_book, make_product
from tests.crm.factories import gid
from tests.factories import (
    TenantWithAdmin,
    bearer,
    make_partner,
    make_tenant,
    make_tier,
    make_user,
    principal_of,
)
from tests.graphql.support import error_codes, gql
from tests.statements import counting_statements

BOOK = """
    id name currency scope isDefault active validFrom validUntil entryCount
    tier { id name } partner { id name }
"""
ENTRY = "id minQuantity unitPrice price { amount currency } product { id sku }"
CREATE = f"""
mutation($input: CreatePriceBookInput!) {{
  createPriceBook(input: $input) {{
    priceBook {{ {BOOK} }}
    errors {{ code field message }}
  }}
}}
"""
UPDATE = f"""
mutation($id: ID!, $input: UpdatePriceBookInput!) {{
  updatePriceBook(id: $id, input: $input) {{
    priceBook {{ {BOOK} }}
    errors {{ code field message }}
  }}
}}
"""
SET_ENTRIES = f"""
mutation($id: ID!, $entries: [PriceBookEntryInput!]!) {{
  setPriceBookEntries(priceBookId: $id, entries: $entries) {{
    priceBook {{ {BOOK} entries(first: 100) {{ edges {{ node {{ {ENTRY} }} }} totalCount }} }}
    errors {{ code field message }}
  }}
}}
"""
LIST = f"""
query($filter: PriceBookFilter, $first: Int, $after: String) {{
  priceBooks(first: $first, after: $after, filter: $filter) {{
    edges {{ node {{ {BOOK} }} }}
    pageInfo {{ hasNextPage endCursor }}
    totalCount
  }}
}}
"""
ENTRIES = f"""
query($id: ID!, $first: Int, $after: String, $filter: PriceBookEntryFilter) {{
  node(id: $id) {{
    ... on PriceBook {{
      entries(first: $first, after: $after, filter: $filter) {{
        edges {{ node {{ {ENTRY} }} }}
        pageInfo {{ hasNextPage endCursor }}
        totalCount
      }}
    }}
  }}
}}
"""
NODE = "query($id: ID!) { node(id: $id) { id ... on PriceBook { name } } }"

JAN = datetime(2027, 1, 1, tzinfo=UTC)
FEB = datetime(2027, 2, 1, tzinfo=UTC)
MAR = datetime(2027, 3, 1, tzinfo=UTC)
APR = datetime(2027, 4, 1, tzinfo=UTC)


@dataclass
class Cast:
    tenant: TenantWithAdmin
    manager: User
    employee: User
    tier: PartnerTier
    other_tier: PartnerTier
    partner: Partner
    other_partner: Partner
    rep: User
    product: Product
    other_product: Product


@pytest_asyncio.fixture
async def cast(database: Database) -> Cast:
    tenant = await make_tenant(database)
    tier = await make_tier(database, tenant.id, name="Gold")
    other_tier = await make_tier(database, tenant.id, name="Silver", rank=2)
    partner = await make_partner(database, tenant.id, tier_id=tier.id)
    other_partner = await make_partner(database, tenant.id, tier_id=other_tier.id)
    return Cast(
        tenant=tenant,
        manager=await make_user(database, tenant.id, roles=(Role.MANAGER,)),
        employee=await make_user(database, tenant.id, roles=(Role.EMPLOYEE,)),
        tier=tier,
        other_tier=other_tier,
        partner=partner,
        other_partner=other_partner,
        rep=await make_user(database, tenant.id, roles=(Role.PARTNER_REP,), partner_id=partner.id),
        product=await make_product(database, tenant.id, sku="ROUTER-1"),
        other_product=await make_product(database, tenant.id, sku="SWITCH-1"),
    )


def auth(app: FastAPI, user: User) -> dict[str, str]:
    return bearer(app.state.issuer, user)


async def create(
    client: httpx.AsyncClient, app: FastAPI, user: User, **input_: Any
) -> dict[str, Any]:
    body = await gql(client, CREATE, {"input": input_}, headers=auth(app, user))
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["createPriceBook"]
    return payload


async def change(
    client: httpx.AsyncClient, app: FastAPI, user: User, book_id: str, **input_: Any
) -> dict[str, Any]:
    body = await gql(client, UPDATE, {"id": book_id, "input": input_}, headers=auth(app, user))
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["updatePriceBook"]
    return payload


async def set_entries(
    client: httpx.AsyncClient,
    app: FastAPI,
    user: User,
    book_id: str,
    entries: list[dict[str, Any]],
) -> dict[str, Any]:
    body = await gql(
        client, SET_ENTRIES, {"id": book_id, "entries": entries}, headers=auth(app, user)
    )
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["setPriceBookEntries"]
    return payload


def errors_of(payload: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [(e["code"], e["field"]) for e in payload["errors"]]


def iso(moment: datetime) -> str:
    return moment.isoformat()


async def book_count(database: Database, tenant_id: uuid.UUID) -> int:
    async with database.session(tenant_id) as session:
        return int(await session.scalar(select(func.count()).select_from(PriceBook)) or 0)


async def stored_entries(database: Database, book: PriceBook) -> list[tuple[str, int, Decimal]]:
    """(sku, min quantity, unit price) of a book's entries, as stored."""
    async with database.session(book.tenant_id) as session:
        rows = await session.execute(
            select(Product.sku, PriceBookEntry.min_quantity, PriceBookEntry.unit_price)
            .join(Product, Product.id == PriceBookEntry.product_id)
            .where(PriceBookEntry.price_book_id == book.id)
            .order_by(Product.sku, PriceBookEntry.min_quantity)
        )
        return [(sku, quantity, price) for sku, quantity, price in rows]


async def stored_entry_count(database: Database, book: PriceBook) -> int:
    async with database.session(book.tenant_id) as session:
        count = await session.scalar(select(PriceBook.entry_count).where(PriceBook.id == book.id))
        return int(count or 0)


# Creating ----------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_manager_creates_the_default_a_tier_and_a_partner_book(
    client: httpx.AsyncClient, app: FastAPI, cast: Cast
) -> None:
    default = await create(
        client, app, cast.manager, name=" List prices ", currency="usd", isDefault=True
    )
    assert default["errors"] == []
    book = default["priceBook"]
    assert book["name"] == "List prices"
    assert book["currency"] == "USD"
    assert book["scope"] == "DEFAULT"
    assert book["isDefault"] is True
    assert book["active"] is True
    assert (book["validFrom"], book["validUntil"]) == (None, None)
    assert book["entryCount"] == 0
    assert (book["tier"], book["partner"]) == (None, None)

    tier = await create(
        client,
        app,
        cast.tenant.admin,
        name="Gold prices",
        currency="EUR",
        tierId=gid("PartnerTier", cast.tier),
        validFrom=iso(JAN),
        validUntil=iso(MAR),
        active=False,
    )
    assert tier["errors"] == []
    assert tier["priceBook"]["scope"] == "TIER"
    assert tier["priceBook"]["isDefault"] is False
    assert tier["priceBook"]["tier"] == {"id": gid("PartnerTier", cast.tier), "name": "Gold"}
    assert tier["priceBook"]["active"] is False
    assert datetime.fromisoformat(tier["priceBook"]["validFrom"]) == JAN
    assert datetime.fromisoformat(tier["priceBook"]["validUntil"]) == MAR

    partner = await create(
        client,
        app,
        cast.manager,
        name="Deal prices",
        currency="USD",
        partnerId=gid("Partner", cast.partner),
        isDefault=False,
    )
    assert partner["errors"] == []
    assert partner["priceBook"]["scope"] == "PARTNER"
    assert partner["priceBook"]["partner"] == {
        "id": gid("Partner", cast.partner),
        "name": cast.partner.name,
    }


@pytest.mark.asyncio
async def test_only_admins_and_managers_maintain_price_books(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: Cast
) -> None:
    book = await make_price_book(database, cast.tenant.id, [(cast.product, "10")])
    book_id = gid("PriceBook", book)
    for user in (cast.employee, cast.rep):
        for query, variables in (
            (CREATE, {"input": {"name": "x", "currency": "USD", "isDefault": True}}),
            (UPDATE, {"id": book_id, "input": {"name": "renamed"}}),
            (SET_ENTRIES, {"id": book_id, "entries": []}),
        ):
            body = await gql(client, query, variables, headers=auth(app, user))
            assert error_codes(body) == ["FORBIDDEN"]
    assert await book_count(database, cast.tenant.id) == 1
    assert await stored_entries(database, book) == [("ROUTER-1", 1, Decimal("10.0000"))]


BAD_BOOKS: list[tuple[dict[str, Any], tuple[str, str]]] = [
    ({"name": "  "}, ("INVALID", "name")),
    ({"name": "x" * 201}, ("INVALID", "name")),
    ({"currency": "XXY"}, ("INVALID", "currency")),
    ({"currency": ""}, ("INVALID", "currency")),
    ({"isDefault": None}, ("INVALID", "isDefault")),
    ({"isDefault": False}, ("INVALID", "isDefault")),
    ({"tierId": "TIER"}, ("INVALID", "tierId")),
    ({"tierId": "TIER", "partnerId": "PARTNER", "isDefault": None}, ("INVALID", "partnerId")),
    ({"validFrom": iso(MAR), "validUntil": iso(FEB)}, ("INVALID", "validUntil")),
    ({"validFrom": iso(MAR), "validUntil": iso(MAR)}, ("INVALID", "validUntil")),
    ({"validFrom": "2027-01-01T00:00:00"}, ("INVALID", "validFrom")),
    ({"isDefault": None, "tierId": "garbage"}, ("NOT_FOUND", "tierId")),
    ({"isDefault": None, "tierId": "PARTNER"}, ("NOT_FOUND", "tierId")),
    ({"isDefault": None, "partnerId": "UNKNOWN_PARTNER"}, ("NOT_FOUND", "partnerId")),
    ({"isDefault": None, "tierId": "FOREIGN_TIER"}, ("NOT_FOUND", "tierId")),
    ({"isDefault": None, "partnerId": "FOREIGN_PARTNER"}, ("NOT_FOUND", "partnerId")),
]


@pytest.mark.asyncio
async def test_bad_books_are_refused_and_nothing_is_written(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: Cast
) -> None:
    foreign = await make_tenant(database)
    ids = {
        "TIER": gid("PartnerTier", cast.tier),
        "PARTNER": gid("Partner", cast.partner),
        "UNKNOWN_PARTNER": gid("Partner", uuid.uuid4()),
        "FOREIGN_TIER": gid("PartnerTier", await make_tier(database, foreign.id)),
        "FOREIGN_PARTNER": gid("Partner", await make_partner(database, foreign.id)),
    }
    for input_, error in BAD_BOOKS:
        values = {"name": "Prices", "currency": "USD", "isDefault": True, **input_}
        for key in ("tierId", "partnerId"):
            if key in values:
                values[key] = ids.get(values[key], values[key])
        payload = await create(client, app, cast.manager, **values)
        assert payload["priceBook"] is None, input_
        assert errors_of(payload) == [error], input_
        assert await book_count(database, cast.tenant.id) == 0


# Validity windows ----------------------------------------------------------------------


@pytest.mark.asyncio
async def test_active_books_of_one_scope_target_and_currency_never_overlap(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: Cast
) -> None:
    tier_id = gid("PartnerTier", cast.tier)
    first = await create(
        client,
        app,
        cast.manager,
        name="Q1",
        currency="USD",
        tierId=tier_id,
        validFrom=iso(JAN),
        validUntil=iso(MAR),
    )
    assert first["errors"] == []

    overlapping = [
        {"validFrom": iso(FEB), "validUntil": iso(APR)},  # starts inside
        {"validUntil": iso(FEB)},  # unbounded start, ends inside
        {"validFrom": iso(JAN - timedelta(days=30))},  # unbounded end, covers it
        {},  # for ever
    ]
    for window in overlapping:
        refused = await create(
            client, app, cast.manager, name="Clash", currency="usd", tierId=tier_id, **window
        )
        assert errors_of(refused) == [("CONFLICT", "validFrom")], window
        assert "Q1" in refused["errors"][0]["message"]
    assert await book_count(database, cast.tenant.id) == 1

    allowed = [
        {"tierId": tier_id, "validFrom": iso(MAR), "validUntil": iso(APR)},  # adjacent
        {"tierId": tier_id, "validUntil": iso(JAN)},  # everything before
        {"tierId": tier_id, "currency": "EUR"},  # another currency
        {"tierId": tier_id, "active": False},  # inactive
        {"tierId": gid("PartnerTier", cast.other_tier)},  # another tier
        {"isDefault": True},  # another scope
        {"partnerId": gid("Partner", cast.partner)},
    ]
    for fields in allowed:
        payload = await create(
            client, app, cast.manager, **{"name": "Fine", "currency": "USD", **fields}
        )
        assert payload["errors"] == [], fields
    assert await book_count(database, cast.tenant.id) == 1 + len(allowed)


@pytest.mark.asyncio
async def test_two_overlapping_default_books_created_at_once_one_is_refused(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: Cast
) -> None:
    for _ in range(3):
        tenant = await make_tenant(database)
        manager = await make_user(database, tenant.id, roles=(Role.MANAGER,))
        created = await asyncio.gather(
            create(client, app, tenant.admin, name="A", currency="USD", isDefault=True),
            create(
                client, app, manager, name="B", currency="USD", isDefault=True, validFrom=iso(JAN)
            ),
        )
        outcomes = sorted(
            "CREATED" if not payload["errors"] else payload["errors"][0]["code"]
            for payload in created
        )
        assert outcomes == ["CONFLICT", "CREATED"]
        assert await book_count(database, tenant.id) == 1


@pytest.mark.asyncio
async def test_a_book_is_renamed_moved_and_deactivated_without_ever_overlapping(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: Cast
) -> None:
    q1 = await make_price_book(database, cast.tenant.id, name="Q1", valid_from=JAN, valid_until=MAR)
    q2 = await make_price_book(database, cast.tenant.id, name="Q2", valid_from=MAR, valid_until=APR)
    q2_id = gid("PriceBook", q2)

    renamed = await change(client, app, cast.manager, q2_id, name=" Spring ")
    assert renamed["errors"] == []
    assert renamed["priceBook"]["name"] == "Spring"

    moved_into_q1 = await change(client, app, cast.manager, q2_id, validFrom=iso(FEB))
    assert errors_of(moved_into_q1) == [("CONFLICT", "validFrom")]
    unbounded = await change(client, app, cast.manager, q2_id, validUntil=None)
    assert unbounded["errors"] == []
    assert unbounded["priceBook"]["validUntil"] is None

    deactivated = await change(client, app, cast.manager, q2_id, active=False)
    assert deactivated["priceBook"]["active"] is False
    # Inactive, it may overlap; coming back it may not.
    assert (await change(client, app, cast.manager, q2_id, validFrom=None))["errors"] == []
    refused = await change(client, app, cast.manager, q2_id, active=True)
    assert errors_of(refused) == [("CONFLICT", "validFrom")]
    back = await change(client, app, cast.manager, q2_id, active=True, validFrom=iso(MAR))
    assert back["errors"] == []
    assert back["priceBook"]["active"] is True

    async with database.session(cast.tenant.id) as session:
        row = await session.get_one(PriceBook, (cast.tenant.id, q2.id))
        assert (row.name, row.valid_from, row.valid_until, row.active) == (
            "Spring",
            MAR,
            None,
            True,
        )
        assert (await session.get_one(PriceBook, (cast.tenant.id, q1.id))).valid_until == MAR


BAD_CHANGES: list[tuple[dict[str, Any], tuple[str, str]]] = [
    ({"name": ""}, ("INVALID", "name")),
    ({"name": None}, ("INVALID", "name")),
    ({"active": None}, ("INVALID", "active")),
    ({"validUntil": iso(JAN)}, ("INVALID", "validUntil")),
    ({"validFrom": "2027-02-01T00:00:00"}, ("INVALID", "validFrom")),
]


@pytest.mark.asyncio
async def test_bad_changes_are_refused_and_nothing_is_written(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: Cast
) -> None:
    book = await make_price_book(database, cast.tenant.id, name="Q1", valid_from=JAN)
    for input_, error in BAD_CHANGES:
        payload = await change(client, app, cast.manager, gid("PriceBook", book), **input_)
        assert errors_of(payload) == [error], input_
        async with database.session(cast.tenant.id) as session:
            row = await session.get_one(PriceBook, (cast.tenant.id, book.id))
            assert (row.name, row.valid_from, row.valid_until, row.active) == (
                "Q1",
                JAN,
                None,
                True,
            )


@pytest.mark.asyncio
async def test_changing_a_book_of_another_tenant_or_none_is_not_found(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: Cast
) -> None:
    foreign = await make_tenant(database)
    foreign_book = await make_price_book(database, foreign.id, name="Theirs")
    for book_id in (gid("PriceBook", foreign_book), gid("PriceBook", uuid.uuid4()), "garbage"):
        payload = await change(client, app, cast.manager, book_id, name="Mine")
        assert errors_of(payload) == [("NOT_FOUND", "id")]
        entries = await set_entries(client, app, cast.manager, book_id, [])
        assert errors_of(entries) == [("NOT_FOUND", "priceBookId")]
    async with database.session(foreign.id) as session:
        assert (await session.get_one(PriceBook, (foreign.id, foreign_book.id))).name == "Theirs"


# Entries -------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_entries_are_replaced_as_a_whole_with_their_volume_breaks(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: Cast
) -> None:
    book = await make_price_book(database, cast.tenant.id, [(cast.other_product, "99")])
    router, switch = gid("Product", cast.product), gid("Product", cast.other_product)

    payload = await set_entries(
        client,
        app,
        cast.manager,
        gid("PriceBook", book),
        [
            {"productId": router, "unitPrice": "80.5", "minQuantity": 10},
            {"productId": switch, "unitPrice": "20"},
            {"productId": router, "unitPrice": "100.00"},
            {"productId": router, "unitPrice": "80.50", "minQuantity": 50},
            {"productId": router, "unitPrice": "75", "minQuantity": 100},
        ],
    )
    assert payload["errors"] == []
    assert payload["priceBook"]["entryCount"] == 5
    entries = payload["priceBook"]["entries"]
    assert entries["totalCount"] == 5
    nodes = [edge["node"] for edge in entries["edges"]]
    router_breaks = [
        (n["minQuantity"], n["unitPrice"], n["price"])
        for n in nodes
        if n["product"]["id"] == router
    ]
    assert router_breaks == [  # by break, whatever the order given
        (1, "100.00", {"amount": "100.00", "currency": "USD"}),
        (10, "80.50", {"amount": "80.50", "currency": "USD"}),
        (50, "80.50", {"amount": "80.50", "currency": "USD"}),
        (100, "75.00", {"amount": "75.00", "currency": "USD"}),
    ]
    assert await stored_entries(database, book) == [
        ("ROUTER-1", 1, Decimal("100.0000")),
        ("ROUTER-1", 10, Decimal("80.5000")),
        ("ROUTER-1", 50, Decimal("80.5000")),
        ("ROUTER-1", 100, Decimal("75.0000")),
        ("SWITCH-1", 1, Decimal("20.0000")),
    ]

    # Pricing reads them: 60 routers take the 50-unit break.
    async with database.session(cast.tenant.id) as session:
        priced = await price_lines(
            session,
            principal_of(cast.manager),
            [LineRequest(cast.product.id, 60)],
            partner_id=None,
            at=datetime.now(UTC),
            currency="USD",
        )
    assert priced.lines[0].breakdown.unit_price == Decimal("80.50")

    cleared = await set_entries(client, app, cast.manager, gid("PriceBook", book), [])
    assert cleared["errors"] == []
    assert cleared["priceBook"]["entryCount"] == 0
    assert cleared["priceBook"]["entries"] == {"edges": [], "totalCount": 0}
    assert await stored_entries(database, book) == []


@pytest.mark.asyncio
async def test_prices_follow_the_book_currency_minor_unit(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: Cast
) -> None:
    yen = await make_price_book(database, cast.tenant.id, currency="JPY")
    product = gid("Product", cast.product)
    refused = await set_entries(
        client,
        app,
        cast.manager,
        gid("PriceBook", yen),
        [{"productId": product, "unitPrice": "1000.5"}],
    )
    assert errors_of(refused) == [("INVALID", "entries.0.unitPrice")]
    accepted = await set_entries(
        client,
        app,
        cast.manager,
        gid("PriceBook", yen),
        [{"productId": product, "unitPrice": "1000"}],
    )
    node = accepted["priceBook"]["entries"]["edges"][0]["node"]
    assert (node["unitPrice"], node["price"]) == ("1000", {"amount": "1000", "currency": "JPY"})


BAD_ENTRIES: list[tuple[list[dict[str, Any]], tuple[str, str]]] = [
    ([{"unitPrice": "-0.01"}], ("INVALID", "entries.0.unitPrice")),
    ([{"unitPrice": "1.001"}], ("INVALID", "entries.0.unitPrice")),
    ([{"unitPrice": "NaN"}], ("INVALID", "entries.0.unitPrice")),
    (
        [{"unitPrice": "1"}, {"unitPrice": "1", "minQuantity": 0}],
        ("INVALID", "entries.1.minQuantity"),
    ),
    ([{"unitPrice": "1", "minQuantity": -5}], ("INVALID", "entries.0.minQuantity")),
    ([{"unitPrice": "1", "minQuantity": 1_000_001}], ("INVALID", "entries.0.minQuantity")),
    # The same break twice (minQuantity defaults to 1).
    (
        [
            {"unitPrice": "10"},
            {"unitPrice": "9", "minQuantity": 5},
            {"unitPrice": "10", "minQuantity": 1},
        ],
        ("INVALID", "entries.2.minQuantity"),
    ),
    # A higher break must not cost more, whatever the order given.
    (
        [{"unitPrice": "10"}, {"unitPrice": "10.01", "minQuantity": 10}],
        ("INVALID", "entries.1.unitPrice"),
    ),
    (
        [
            {"unitPrice": "8", "minQuantity": 100},
            {"unitPrice": "10"},
            {"unitPrice": "10.5", "minQuantity": 10},
        ],
        ("INVALID", "entries.2.unitPrice"),
    ),
    ([{"unitPrice": "1", "productId": "garbage"}], ("NOT_FOUND", "entries.0.productId")),
    (
        [{"unitPrice": "1"}, {"unitPrice": "1", "productId": "UNKNOWN"}],
        ("NOT_FOUND", "entries.1.productId"),
    ),
    (
        [{"unitPrice": "1"}, {"unitPrice": "1", "productId": "FOREIGN"}],
        ("NOT_FOUND", "entries.1.productId"),
    ),
    ([{"unitPrice": "1", "productId": "TIER"}], ("NOT_FOUND", "entries.0.productId")),
]


@pytest.mark.asyncio
async def test_bad_entries_are_refused_and_the_book_keeps_its_entries(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: Cast
) -> None:
    book = await make_price_book(database, cast.tenant.id, [(cast.product, "99", 1)])
    foreign = await make_tenant(database)
    ids = {
        "ROUTER": gid("Product", cast.product),
        "UNKNOWN": gid("Product", uuid.uuid4()),
        "FOREIGN": gid("Product", await make_product(database, foreign.id)),
        "TIER": gid("PartnerTier", cast.tier),
    }
    for entries, error in BAD_ENTRIES:
        named = [entry.get("productId", "ROUTER") for entry in entries]
        given = [{**e, "productId": ids.get(n, n)} for e, n in zip(entries, named, strict=True)]
        payload = await set_entries(client, app, cast.manager, gid("PriceBook", book), given)
        assert payload["priceBook"] is None, entries
        assert errors_of(payload) == [error], entries
        assert await stored_entries(database, book) == [("ROUTER-1", 1, Decimal("99.0000"))]
        assert await stored_entry_count(database, book) == 1


@pytest.mark.asyncio
async def test_replacing_entries_takes_the_same_statements_for_ten_or_a_thousand(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: Cast
) -> None:
    book = await make_price_book(database, cast.tenant.id)
    products = [cast.product, cast.other_product]

    async def replace(count: int) -> list[str]:
        entries = [
            {
                "productId": gid("Product", products[n % 2]),
                "unitPrice": str(Decimal(5000) - n),
                "minQuantity": n + 1,
            }
            for n in range(count)
        ]
        with counting_statements(database) as statements:
            payload = await set_entries(client, app, cast.manager, gid("PriceBook", book), entries)
        assert payload["errors"] == []
        assert payload["priceBook"]["entryCount"] == count
        return [s for s in statements if "price_book_entries" in s]

    small, large = await replace(10), await replace(1000)
    assert len(small) == len(large)
    assert sum(s.lstrip().upper().startswith("INSERT") for s in large) == 1
    assert sum(s.lstrip().upper().startswith("DELETE") for s in large) == 1
    assert await stored_entry_count(database, book) == 1000
    assert len(await stored_entries(database, book)) == 1000


@pytest_asyncio.fixture
async def roomy_app(settings: Settings, database: Database) -> AsyncIterator[FastAPI]:
    """An app taking request bodies large enough for the entry limit."""
    yield create_app(settings.model_copy(update={"max_body_bytes": 30_000_000}), database=database)


@pytest.mark.asyncio
async def test_at_most_fifty_thousand_entries_are_set_at_once(
    roomy_app: FastAPI, database: Database, cast: Cast
) -> None:
    book = await make_price_book(database, cast.tenant.id, [(cast.product, "99")])
    product = gid("Product", cast.product)
    entries = [
        {"productId": product, "unitPrice": "10", "minQuantity": n + 1} for n in range(50_001)
    ]
    transport = httpx.ASGITransport(app=roomy_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        too_many = await set_entries(
            client, roomy_app, cast.manager, gid("PriceBook", book), entries
        )
        assert errors_of(too_many) == [("LIMIT_EXCEEDED", "entries")]
    assert await stored_entries(database, book) == [("ROUTER-1", 1, Decimal("99.0000"))]

    # The limit itself fits: the entries go in as arrays, not one parameter per value
    # (the service directly, sparing the test GraphQL's coercion of 50,000 inputs).
    async with database.session(cast.tenant.id) as session:
        replaced = await price_books.set_price_book_entries(
            session,
            principal_of(cast.manager),
            book.id,
            [EntryInput(cast.product.id, Decimal(10), n + 1) for n in range(50_000)],
        )
        assert replaced.entry_count == 50_000
    assert await stored_entry_count(database, book) == 50_000
    async with database.session(cast.tenant.id) as session:
        stored = await session.scalar(
            select(func.count()).where(PriceBookEntry.price_book_id == book.id)
        )
    assert stored == 50_000


# Reading -------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_partner_user_sees_the_default_books_its_tiers_and_its_own(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: Cast
) -> None:
    tenant_id = cast.tenant.id
    await make_price_book(database, tenant_id, name="a-default")
    tier = await make_price_book(database, tenant_id, name="b-gold", tier_id=cast.tier.id)
    await make_price_book(database, tenant_id, name="c-own", partner_id=cast.partner.id)
    other_tier = await make_price_book(
        database, tenant_id, name="d-silver", tier_id=cast.other_tier.id
    )
    other_partner = await make_price_book(
        database, tenant_id, name="e-theirs", partner_id=cast.other_partner.id
    )
    foreign = await make_tenant(database)
    await make_price_book(database, foreign.id, name="a-foreign")

    body = await gql(client, LIST, headers=auth(app, cast.rep))
    listed = body["data"]["priceBooks"]
    assert [e["node"]["name"] for e in listed["edges"]] == ["a-default", "b-gold", "c-own"]
    assert listed["totalCount"] == 3
    for hidden in (other_tier, other_partner):
        body = await gql(
            client, NODE, {"id": gid("PriceBook", hidden)}, headers=auth(app, cast.rep)
        )
        assert body["data"]["node"] is None
    seen = await gql(client, NODE, {"id": gid("PriceBook", tier)}, headers=auth(app, cast.rep))
    assert seen["data"]["node"]["name"] == "b-gold"

    body = await gql(client, LIST, headers=auth(app, cast.employee))
    names = [e["node"]["name"] for e in body["data"]["priceBooks"]["edges"]]
    assert names == ["a-default", "b-gold", "c-own", "d-silver", "e-theirs"]


@pytest.mark.asyncio
async def test_books_are_filtered_by_currency_scope_target_and_state(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: Cast
) -> None:
    tenant_id = cast.tenant.id
    await make_price_book(database, tenant_id, name="usd")
    await make_price_book(database, tenant_id, name="eur", currency="EUR")
    await make_price_book(database, tenant_id, name="gold", tier_id=cast.tier.id)
    await make_price_book(database, tenant_id, name="silver", tier_id=cast.other_tier.id)
    await make_price_book(database, tenant_id, name="own", partner_id=cast.partner.id)
    off = await make_price_book(database, tenant_id, name="off", valid_until=JAN)
    async with database.session(tenant_id) as session:
        await session.execute(update(PriceBook).where(PriceBook.id == off.id).values(active=False))

    async def names(filter_: dict[str, Any]) -> list[str]:
        body = await gql(client, LIST, {"filter": filter_}, headers=auth(app, cast.manager))
        return [e["node"]["name"] for e in body["data"]["priceBooks"]["edges"]]

    assert await names({"currency": "eur"}) == ["eur"]
    assert await names({"scope": "TIER"}) == ["gold", "silver"]
    assert await names({"tierId": gid("PartnerTier", cast.tier)}) == ["gold"]
    assert await names({"partnerId": gid("Partner", cast.partner)}) == ["own"]
    assert await names({"partnerId": "garbage"}) == []
    assert await names({"active": False}) == ["off"]
    assert await names({"scope": "DEFAULT", "currency": "USD", "active": True}) == ["usd"]


@pytest.mark.asyncio
async def test_entries_are_paged_and_filtered_by_product(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: Cast
) -> None:
    book = await make_price_book(database, cast.tenant.id)
    entries = [
        {"productId": gid("Product", p), "unitPrice": str(100 - q), "minQuantity": q}
        for p in (cast.product, cast.other_product)
        for q in (1, 5, 10)
    ]
    assert (await set_entries(client, app, cast.manager, gid("PriceBook", book), entries))[
        "errors"
    ] == []

    seen: list[tuple[str, int]] = []
    after = None
    while True:
        body = await gql(
            client,
            ENTRIES,
            {"id": gid("PriceBook", book), "first": 4, "after": after},
            headers=auth(app, cast.rep),
        )
        page = body["data"]["node"]["entries"]
        assert page["totalCount"] == 6
        seen += [(e["node"]["product"]["sku"], e["node"]["minQuantity"]) for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert sorted(seen) == [(sku, q) for sku in ("ROUTER-1", "SWITCH-1") for q in (1, 5, 10)]
    # Each product's breaks come together, in ascending order.
    for sku in ("ROUTER-1", "SWITCH-1"):
        positions = [i for i, (s, _) in enumerate(seen) if s == sku]
        assert positions == list(range(positions[0], positions[0] + 3))
        assert [seen[i][1] for i in positions] == [1, 5, 10]

    body = await gql(
        client,
        ENTRIES,
        {"id": gid("PriceBook", book), "filter": {"productId": gid("Product", cast.other_product)}},
        headers=auth(app, cast.manager),
    )
    filtered = body["data"]["node"]["entries"]
    assert [(e["node"]["minQuantity"], e["node"]["unitPrice"]) for e in filtered["edges"]] == [
        (1, "99.00"),
        (5, "95.00"),
        (10, "90.00"),
    ]
    assert filtered["totalCount"] == 3


@pytest.mark.asyncio
async def test_a_page_of_books_with_entries_takes_the_same_statements_for_three_or_twenty(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    product = await make_product(database, tenant.id)
    tier = await make_tier(database, tenant.id)
    partner = await make_partner(database, tenant.id)
    for n in range(20):
        currency = ["USD", "EUR", "GBP", "JPY", "CHF"][n % 5]
        scope = {"tier_id": tier.id} if n % 3 == 1 else {"partner_id": partner.id}
        if n % 3 == 0:
            scope = {}
        await make_price_book(
            database,
            tenant.id,
            [(product, "10", 1), (product, "9", 10)],
            name=f"book-{n:02}",
            currency=currency,
            valid_from=JAN + timedelta(days=n),
            valid_until=JAN + timedelta(days=n, hours=1),
            **scope,
        )
    query = f"""query($first: Int!) {{ priceBooks(first: $first) {{ edges {{ node {{
        {BOOK} entries(first: 5) {{ edges {{ node {{ {ENTRY} }} }} totalCount }}
    }} }} }} }}"""

    async def statements_for(first: int) -> int:
        with counting_statements(database) as statements:
            body = await gql(client, query, {"first": first}, headers=auth(app, tenant.admin))
        assert "errors" not in body, body
        books = body["data"]["priceBooks"]["edges"]
        assert len(books) == first
        assert all(len(b["node"]["entries"]["edges"]) == 2 for b in books)
        return len(statements)

    assert await statements_for(3) == await statements_for(20)
