"""Stock through GraphQL: levels per product and location, partner allocations capped by
what is on hand (also under concurrency), availability as staff and partners see it,
`available_quantities` for quotes, the all-or-nothing CSV import, and every bad input
answered with nothing written."""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy import select

from prm.auth.principal import Role
from prm.catalog.models import Product, StockAllocation, StockLevel
from prm.catalog.stock import available_quantities
from prm.db.engine import Database
from prm.partners.models import Partner
from prm.tenants.models import User
from tests.catalog.factories import make_product
from tests.crm.factories import gid
from tests.factories import bearer, make_partner, make_tenant, make_user, unique
from tests.graphql.support import error_codes, gql
from tests.statements import counting_statements

LEVEL_FIELDS = "id location onHand allocated updatedAt product { id sku }"
SET_LEVEL = f"""
mutation($input: SetStockLevelInput!) {{
  setStockLevel(input: $input) {{
    stockLevel {{ {LEVEL_FIELDS} }}
    errors {{ code field message }}
  }}
}}
"""
SET_ALLOCATION = """
mutation($input: SetStockAllocationInput!) {
  setStockAllocation(input: $input) {
    stockAllocation { id location quantity updatedAt product { id } partner { id } }
    errors { code field message }
  }
}
"""
IMPORT = """
mutation($file: Upload!) {
  importStockLevels(file: $file) {
    updated
    errors { code field message }
    rowErrors { rowNumber code column message }
  }
}
"""
LEVELS = f"""
query($first: Int, $after: String, $filter: StockLevelFilter) {{
  stockLevels(first: $first, after: $after, filter: $filter) {{
    edges {{ cursor node {{ {LEVEL_FIELDS} allocations {{ quantity partner {{ id }} }} }} }}
    pageInfo {{ hasNextPage endCursor }}
    totalCount
  }}
}}
"""
AVAILABILITY = """
query($id: ID!, $location: String) {
  node(id: $id) {
    ... on Product { availability(location: $location) {
      location onHand allocated available updatedAt
    } }
  }
}
"""


@dataclass
class Cast:
    tenant_id: uuid.UUID
    admin: User
    manager: User
    employee: User
    partner_a: Partner
    partner_b: Partner
    rep_a: User
    rep_b: User
    widget: Product
    gadget: Product


@pytest_asyncio.fixture
async def cast(database: Database) -> Cast:
    tenant = await make_tenant(database)
    partner_a = await make_partner(database, tenant.id)
    partner_b = await make_partner(database, tenant.id)
    return Cast(
        tenant_id=tenant.id,
        admin=tenant.admin,
        manager=await make_user(database, tenant.id, roles=(Role.MANAGER,)),
        employee=await make_user(database, tenant.id, roles=(Role.EMPLOYEE,)),
        partner_a=partner_a,
        partner_b=partner_b,
        rep_a=await make_user(
            database, tenant.id, roles=(Role.PARTNER_REP,), partner_id=partner_a.id
        ),
        rep_b=await make_user(
            database, tenant.id, roles=(Role.PARTNER_ADMIN,), partner_id=partner_b.id
        ),
        widget=await make_product(database, tenant.id, sku=unique("WID").upper()),
        gadget=await make_product(database, tenant.id, sku=unique("GAD").upper()),
    )


def auth(app: FastAPI, user: User) -> dict[str, str]:
    return bearer(app.state.issuer, user)


async def set_level(
    client: httpx.AsyncClient, app: FastAPI, user: User, product: Any, location: str, on_hand: int
) -> dict[str, Any]:
    product_id = product if isinstance(product, str) else gid("Product", product)
    body = await gql(
        client,
        SET_LEVEL,
        {"input": {"productId": product_id, "location": location, "onHand": on_hand}},
        headers=auth(app, user),
    )
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["setStockLevel"]
    return payload


async def allocate(
    client: httpx.AsyncClient,
    app: FastAPI,
    user: User,
    product: Any,
    partner: Any,
    location: str,
    quantity: int,
) -> dict[str, Any]:
    variables = {
        "input": {
            "productId": product if isinstance(product, str) else gid("Product", product),
            "partnerId": partner if isinstance(partner, str) else gid("Partner", partner),
            "location": location,
            "quantity": quantity,
        }
    }
    body = await gql(client, SET_ALLOCATION, variables, headers=auth(app, user))
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["setStockAllocation"]
    return payload


async def upload(
    client: httpx.AsyncClient, app: FastAPI, user: User, content: bytes
) -> dict[str, Any]:
    """A GraphQL multipart request carrying the CSV file."""
    operations = {"query": IMPORT, "variables": {"file": None}}
    response = await client.post(
        "/graphql",
        data={"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.file"]})},
        files={"0": ("stock.csv", content, "text/csv")},
        headers=auth(app, user),
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def imported(
    client: httpx.AsyncClient, app: FastAPI, user: User, content: bytes
) -> dict[str, Any]:
    body = await upload(client, app, user, content)
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["importStockLevels"]
    return payload


async def levels(database: Database, tenant_id: uuid.UUID) -> dict[tuple[uuid.UUID, str], int]:
    async with database.session(tenant_id) as session:
        rows = await session.execute(
            select(StockLevel.product_id, StockLevel.location, StockLevel.on_hand)
        )
        return {(product, location): on_hand for product, location, on_hand in rows}


async def allocations(
    database: Database, tenant_id: uuid.UUID
) -> dict[tuple[uuid.UUID, str, uuid.UUID], int]:
    async with database.session(tenant_id) as session:
        rows = await session.execute(
            select(
                StockAllocation.product_id,
                StockAllocation.location,
                StockAllocation.partner_id,
                StockAllocation.quantity,
            )
        )
        return {(p, loc, partner): quantity for p, loc, partner, quantity in rows}


async def availability(
    client: httpx.AsyncClient,
    app: FastAPI,
    user: User,
    product: Product,
    location: str | None = None,
) -> list[dict[str, Any]]:
    body = await gql(
        client,
        AVAILABILITY,
        {"id": gid("Product", product), "location": location},
        headers=auth(app, user),
    )
    assert "errors" not in body, body
    node = body["data"]["node"]
    assert node is not None
    assert "availability" in node, "Product.availability is missing"
    return [
        {key: row[key] for key in ("location", "onHand", "allocated", "available")}
        for row in node["availability"]
    ]


# Stock levels ------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_manager_sets_and_updates_a_stock_level(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: Cast
) -> None:
    created = await set_level(client, app, cast.manager, cast.widget, "  WH-North ", 40)
    assert created["errors"] == []
    level = created["stockLevel"]
    assert (level["location"], level["onHand"], level["allocated"]) == ("WH-North", 40, 0)
    assert level["product"] == {"id": gid("Product", cast.widget), "sku": cast.widget.sku}

    updated = await set_level(client, app, cast.admin, cast.widget, "WH-North", 12)
    assert updated["errors"] == []
    assert updated["stockLevel"]["id"] == level["id"]
    assert updated["stockLevel"]["onHand"] == 12
    assert updated["stockLevel"]["updatedAt"] >= level["updatedAt"]

    zero = await set_level(client, app, cast.manager, cast.widget, "WH-South", 0)
    assert zero["errors"] == []
    assert await levels(database, cast.tenant_id) == {
        (cast.widget.id, "WH-North"): 12,
        (cast.widget.id, "WH-South"): 0,
    }


@pytest.mark.asyncio
async def test_bad_stock_level_input_is_refused_and_writes_nothing(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: Cast
) -> None:
    other = await make_tenant(database)
    foreign = await make_product(database, other.id)
    cases: list[tuple[Any, str, int, tuple[str, str]]] = [
        (cast.widget, "WH-1", -1, ("INVALID", "onHand")),
        (cast.widget, "WH-1", 2**31, ("INVALID", "onHand")),
        (cast.widget, "   ", 5, ("INVALID", "location")),
        (cast.widget, "W" * 101, 5, ("INVALID", "location")),
        (foreign, "WH-1", 5, ("NOT_FOUND", "productId")),
        (gid("Partner", cast.partner_a), "WH-1", 5, ("NOT_FOUND", "productId")),
        ("not-an-id", "WH-1", 5, ("NOT_FOUND", "productId")),
    ]
    for product, location, on_hand, expected in cases:
        if isinstance(product, str) or on_hand < 2**31:
            payload = await set_level(client, app, cast.manager, product, location, on_hand)
            assert [(e["code"], e["field"]) for e in payload["errors"]] == [expected], payload
            assert payload["stockLevel"] is None
        else:
            # 2**31 does not fit GraphQL's Int: refused before the resolver runs.
            body = await gql(
                client,
                SET_LEVEL,
                {"input": {"productId": gid("Product", product), "location": location,
                           "onHand": on_hand}},
                headers=auth(app, cast.manager),
            )  # fmt: skip
            assert error_codes(body) == ["BAD_USER_INPUT"]
    for user in (cast.employee, cast.rep_a):
        body = await gql(
            client,
            SET_LEVEL,
            {"input": {"productId": gid("Product", cast.widget), "location": "X", "onHand": 1}},
            headers=auth(app, user),
        )
        assert error_codes(body) == ["FORBIDDEN"]
    assert await levels(database, cast.tenant_id) == {}
    assert await levels(database, other.id) == {}


# Allocations -------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_allocations_are_capped_by_what_is_on_hand(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: Cast
) -> None:
    await set_level(client, app, cast.manager, cast.widget, "WH-1", 10)
    first = await allocate(client, app, cast.manager, cast.widget, cast.partner_a, "WH-1", 4)
    assert first["errors"] == []
    allocation = first["stockAllocation"]
    assert (allocation["location"], allocation["quantity"]) == ("WH-1", 4)
    assert allocation["product"]["id"] == gid("Product", cast.widget)
    assert allocation["partner"]["id"] == gid("Partner", cast.partner_a)

    # 4 for A + 6 for B is exactly the 10 on hand; one more unit for B is over.
    assert (await allocate(client, app, cast.admin, cast.widget, cast.partner_b, " WH-1", 6))[
        "errors"
    ] == []
    over = await allocate(client, app, cast.manager, cast.widget, cast.partner_b, "WH-1", 7)
    assert [(e["code"], e["field"]) for e in over["errors"]] == [("LIMIT_EXCEEDED", "quantity")]
    assert "only 6 of the 10 units" in over["errors"][0]["message"]

    # Changing A's own allocation does not count A's old quantity against it.
    changed = await allocate(client, app, cast.manager, cast.widget, cast.partner_a, "WH-1", 3)
    assert changed["stockAllocation"]["id"] == allocation["id"]
    assert changed["stockAllocation"]["quantity"] == 3

    # on hand may not drop below the 3 + 6 allocated; to 9 is fine.
    below = await set_level(client, app, cast.manager, cast.widget, "WH-1", 8)
    assert [(e["code"], e["field"]) for e in below["errors"]] == [("INVALID", "onHand")]
    assert (await set_level(client, app, cast.manager, cast.widget, "WH-1", 9))["errors"] == []

    listed = await gql(client, LEVELS, headers=auth(app, cast.employee))
    node = listed["data"]["stockLevels"]["edges"][0]["node"]
    assert (node["onHand"], node["allocated"]) == (9, 9)
    assert [(a["quantity"], a["partner"]["id"]) for a in node["allocations"]] == [
        (6, gid("Partner", cast.partner_b)),
        (3, gid("Partner", cast.partner_a)),
    ]

    removed = await allocate(client, app, cast.manager, cast.widget, cast.partner_b, "WH-1", 0)
    assert removed == {"stockAllocation": None, "errors": []}
    assert await allocations(database, cast.tenant_id) == {
        (cast.widget.id, "WH-1", cast.partner_a.id): 3
    }
    assert await levels(database, cast.tenant_id) == {(cast.widget.id, "WH-1"): 9}


@pytest.mark.asyncio
async def test_bad_allocations_are_refused_and_write_nothing(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: Cast
) -> None:
    other = await make_tenant(database)
    foreign_partner = await make_partner(database, other.id)
    foreign_product = await make_product(database, other.id)
    await set_level(client, app, cast.manager, cast.widget, "WH-1", 10)
    cases: list[tuple[Any, Any, str, int, tuple[str, str]]] = [
        (cast.widget, cast.partner_a, "WH-2", 1, ("INVALID", "location")),
        (cast.widget, cast.partner_a, "", 1, ("INVALID", "location")),
        (cast.widget, cast.partner_a, "WH-1", -1, ("INVALID", "quantity")),
        (cast.widget, cast.partner_a, "WH-1", 11, ("LIMIT_EXCEEDED", "quantity")),
        (cast.widget, foreign_partner, "WH-1", 1, ("NOT_FOUND", "partnerId")),
        (cast.widget, gid("Product", cast.gadget), "WH-1", 1, ("NOT_FOUND", "partnerId")),
        (foreign_product, cast.partner_a, "WH-1", 1, ("NOT_FOUND", "productId")),
        (cast.gadget, cast.partner_a, "WH-1", 1, ("INVALID", "location")),
    ]
    for product, partner, location, quantity, expected in cases:
        payload = await allocate(client, app, cast.manager, product, partner, location, quantity)
        assert [(e["code"], e["field"]) for e in payload["errors"]] == [expected], payload
        assert payload["stockAllocation"] is None
    for user in (cast.employee, cast.rep_a):
        body = await gql(
            client,
            SET_ALLOCATION,
            {"input": {"productId": gid("Product", cast.widget),
                       "partnerId": gid("Partner", cast.partner_a),
                       "location": "WH-1", "quantity": 1}},
            headers=auth(app, user),
        )  # fmt: skip
        assert error_codes(body) == ["FORBIDDEN"]
    assert await allocations(database, cast.tenant_id) == {}
    assert await allocations(database, other.id) == {}


@pytest.mark.asyncio
async def test_two_allocations_racing_for_the_last_units_cannot_both_win(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: Cast
) -> None:
    """Real parallel requests, each on its own connection: 5 units, two partners ask for
    3 each at once. Exactly one gets them; the other is LIMIT_EXCEEDED."""
    for round_ in range(4):
        location = f"RACE-{round_}"
        await set_level(client, app, cast.manager, cast.widget, location, 5)
        outcomes = await asyncio.gather(
            allocate(client, app, cast.manager, cast.widget, cast.partner_a, location, 3),
            allocate(client, app, cast.admin, cast.widget, cast.partner_b, location, 3),
        )
        codes = sorted(
            "OK" if not payload["errors"] else payload["errors"][0]["code"] for payload in outcomes
        )
        assert codes == ["LIMIT_EXCEEDED", "OK"]
    held = await allocations(database, cast.tenant_id)
    assert sorted(held.values()) == [3, 3, 3, 3]
    assert {location for _, location, _ in held} == {f"RACE-{n}" for n in range(4)}


@pytest.mark.asyncio
async def test_lowering_on_hand_while_allocating_keeps_allocations_within_it(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: Cast
) -> None:
    """10 on hand; at once, on hand goes to 2 and 5 units are allocated. Whichever runs
    first wins; the allocations never exceed what is on hand."""
    for round_ in range(4):
        location = f"LOW-{round_}"
        await set_level(client, app, cast.manager, cast.widget, location, 10)
        lowered, allocated = await asyncio.gather(
            set_level(client, app, cast.admin, cast.widget, location, 2),
            allocate(client, app, cast.manager, cast.widget, cast.partner_a, location, 5),
        )
        assert bool(lowered["errors"]) != bool(allocated["errors"]), (lowered, allocated)
        on_hand = (await levels(database, cast.tenant_id))[(cast.widget.id, location)]
        held = (await allocations(database, cast.tenant_id)).get(
            (cast.widget.id, location, cast.partner_a.id), 0
        )
        assert (on_hand, held) in ((2, 0), (10, 5))


# Availability ------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_available_quantities_for_quotes(database: Database, cast: Cast) -> None:
    untracked = await make_product(database, cast.tenant_id)
    other = await make_tenant(database)
    foreign = await make_product(database, other.id)
    async with database.session(cast.tenant_id) as session:
        session.add_all(
            [
                StockLevel(tenant_id=cast.tenant_id, product_id=cast.widget.id,
                           location="A", on_hand=10),
                StockLevel(tenant_id=cast.tenant_id, product_id=cast.widget.id,
                           location="B", on_hand=4),
                StockLevel(tenant_id=cast.tenant_id, product_id=cast.gadget.id,
                           location="B", on_hand=1),
            ]
        )  # fmt: skip
        await session.flush()
        session.add_all(
            [
                StockAllocation(tenant_id=cast.tenant_id, product_id=cast.widget.id,
                                location="A", partner_id=cast.partner_a.id, quantity=3),
                StockAllocation(tenant_id=cast.tenant_id, product_id=cast.widget.id,
                                location="A", partner_id=cast.partner_b.id, quantity=2),
                StockAllocation(tenant_id=cast.tenant_id, product_id=cast.widget.id,
                                location="B", partner_id=cast.partner_b.id, quantity=4),
            ]
        )  # fmt: skip
    async with database.session(other.id) as session:
        session.add(StockLevel(tenant_id=other.id, product_id=foreign.id, location="A", on_hand=9))
    ids = [cast.widget.id, cast.gadget.id, untracked.id, foreign.id]

    async def available(partner_id: uuid.UUID | None, location: str | None) -> dict[Any, int]:
        async with database.session(cast.tenant_id) as session:
            return await available_quantities(
                session, cast.tenant_id, ids, partner_id=partner_id, location=location
            )

    # Widget: A has 10 with 3 (A) + 2 (B) allocated; B has 4, all allocated to B.
    # Staff count on neither allocation: (10 - 5) + (4 - 4).
    assert await available(None, None) == {cast.widget.id: 5 + 0, cast.gadget.id: 1}
    # Partner A keeps its own 3 at A: (10 - 2) + (4 - 4).
    assert await available(cast.partner_a.id, None) == {cast.widget.id: 8, cast.gadget.id: 1}
    # Partner B keeps its 2 at A and its 4 at B: (10 - 3) + 4.
    assert await available(cast.partner_b.id, None) == {cast.widget.id: 11, cast.gadget.id: 1}
    # At one location only; the gadget is tracked but has none at A.
    assert await available(cast.partner_b.id, "A") == {cast.widget.id: 7, cast.gadget.id: 0}
    assert await available(cast.partner_a.id, " B ") == {cast.widget.id: 0, cast.gadget.id: 1}
    assert await available(None, "C") == {cast.widget.id: 0, cast.gadget.id: 0}
    async with database.session(cast.tenant_id) as session:
        assert (
            await available_quantities(session, cast.tenant_id, [], partner_id=None, location=None)
            == {}
        )


@pytest.mark.asyncio
async def test_staff_and_partners_see_what_they_can_count_on(
    client: httpx.AsyncClient, app: FastAPI, cast: Cast
) -> None:
    await set_level(client, app, cast.manager, cast.widget, "Zeta", 2)
    await set_level(client, app, cast.manager, cast.widget, "Alpha", 10)
    await set_level(client, app, cast.manager, cast.widget, "Mid", 6)
    await allocate(client, app, cast.manager, cast.widget, cast.partner_a, "Alpha", 4)
    await allocate(client, app, cast.manager, cast.widget, cast.partner_a, "Mid", 6)

    def rows(*values: tuple[str, int, int, int]) -> list[dict[str, Any]]:
        keys = ("location", "onHand", "allocated", "available")
        return [dict(zip(keys, value, strict=True)) for value in values]

    # By location name. Staff count on nothing allocated; partner A on its own
    # allocation too; partner B (no allocation) on what A does not hold.
    assert await availability(client, app, cast.employee, cast.widget) == rows(
        ("Alpha", 10, 4, 6), ("Mid", 6, 6, 0), ("Zeta", 2, 0, 2)
    )
    assert await availability(client, app, cast.rep_a, cast.widget) == rows(
        ("Alpha", 10, 4, 10), ("Mid", 6, 6, 6), ("Zeta", 2, 0, 2)
    )
    assert await availability(client, app, cast.rep_b, cast.widget) == rows(
        ("Alpha", 10, 4, 6), ("Mid", 6, 6, 0), ("Zeta", 2, 0, 2)
    )
    assert await availability(client, app, cast.rep_a, cast.widget, " Mid") == rows(
        ("Mid", 6, 6, 6)
    )
    assert await availability(client, app, cast.rep_a, cast.widget, "Nowhere") == []
    assert await availability(client, app, cast.rep_a, cast.gadget) == []


@pytest.mark.asyncio
async def test_a_page_of_products_loads_availability_in_one_statement(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: Cast
) -> None:
    products = [cast.widget, cast.gadget]
    for _ in range(3):
        products.append(await make_product(database, cast.tenant_id))
    for index, product in enumerate(products):
        await set_level(client, app, cast.manager, product, "WH", index + 1)
    query = """
    query($skus: [String!]) { products(first: 10, filter: { skus: $skus }) {
      edges { node { sku availability { location available } } }
    } }"""
    with counting_statements(database) as statements:
        body = await gql(
            client,
            query,
            {"skus": [product.sku for product in products]},
            headers=auth(app, cast.rep_b),
        )
    assert "errors" not in body, body
    got = {
        edge["node"]["sku"]: edge["node"]["availability"]
        for edge in body["data"]["products"]["edges"]
    }
    assert got == {
        product.sku: [{"location": "WH", "available": index + 1}]
        for index, product in enumerate(products)
    }
    assert len([s for s in statements if "stock_levels" in s]) == 1


# Listing -----------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_staff_list_stock_levels_by_location_then_product(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: Cast
) -> None:
    first, second = sorted([cast.widget, cast.gadget], key=lambda product: product.id)
    for product in (second, first):
        for location in ("B", "A", "C"):
            await set_level(client, app, cast.manager, product, location, 1)
    other = await make_tenant(database)
    await set_level(client, app, other.admin, await make_product(database, other.id), "A", 1)
    expected = [(loc, gid("Product", p)) for loc in "ABC" for p in (first, second)]

    seen: list[tuple[str, str]] = []
    after = None
    while True:
        body = await gql(
            client, LEVELS, {"first": 4, "after": after}, headers=auth(app, cast.employee)
        )
        assert "errors" not in body, body
        connection = body["data"]["stockLevels"]
        assert connection["totalCount"] == 6
        seen += [(e["node"]["location"], e["node"]["product"]["id"]) for e in connection["edges"]]
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    assert seen == expected

    by_product = await gql(
        client,
        LEVELS,
        {"filter": {"productId": gid("Product", second)}},
        headers=auth(app, cast.manager),
    )
    edges = by_product["data"]["stockLevels"]["edges"]
    assert [e["node"]["location"] for e in edges] == ["A", "B", "C"]
    at = await gql(client, LEVELS, {"filter": {"location": "B"}}, headers=auth(app, cast.admin))
    assert [e["node"]["product"]["id"] for e in at["data"]["stockLevels"]["edges"]] == [
        gid("Product", first),
        gid("Product", second),
    ]
    for garbage in ("nope", gid("Partner", cast.partner_a)):
        none = await gql(
            client, LEVELS, {"filter": {"productId": garbage}}, headers=auth(app, cast.admin)
        )
        assert none["data"]["stockLevels"]["totalCount"] == 0

    bad_cursor = await gql(client, LEVELS, {"after": "xyz"}, headers=auth(app, cast.admin))
    assert error_codes(bad_cursor) == ["BAD_USER_INPUT"]
    forbidden = await gql(client, LEVELS, headers=auth(app, cast.rep_a))
    assert error_codes(forbidden) == ["FORBIDDEN"]


@pytest.mark.asyncio
async def test_stock_nodes_are_for_staff_only(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: Cast
) -> None:
    level = (await set_level(client, app, cast.manager, cast.widget, "WH", 5))["stockLevel"]
    allocation = (await allocate(client, app, cast.manager, cast.widget, cast.partner_a, "WH", 2))[
        "stockAllocation"
    ]
    query = """query($ids: [ID!]!) { nodes(ids: $ids) {
      ... on StockLevel { onHand } ... on StockAllocation { quantity } } }"""
    ids = [level["id"], allocation["id"]]
    staff = await gql(client, query, {"ids": ids}, headers=auth(app, cast.employee))
    assert staff["data"]["nodes"] == [{"onHand": 5}, {"quantity": 2}]
    for user in (cast.rep_a, (await make_tenant(database)).admin):
        hidden = await gql(client, query, {"ids": ids}, headers=auth(app, user))
        assert hidden["data"]["nodes"] == [None, None]


# CSV import --------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_stock_file_sets_every_level_it_lists(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: Cast
) -> None:
    await set_level(client, app, cast.manager, cast.widget, "WH-1", 99)
    await set_level(client, app, cast.manager, cast.gadget, "WH-9", 7)
    content = (
        "\ufeffLocation,SKU,On Hand\r\n"
        f" WH-1 ,{cast.widget.sku.lower()},5\r\n"
        f"WH-2,{cast.widget.sku},0\r\n"
        "\r\n"
        f'"WH, 3",{cast.gadget.sku},+12\r\n'
    ).encode()
    payload = await imported(client, app, cast.manager, content)
    assert payload == {"updated": 3, "errors": [], "rowErrors": []}
    assert await levels(database, cast.tenant_id) == {
        (cast.widget.id, "WH-1"): 5,
        (cast.widget.id, "WH-2"): 0,
        (cast.gadget.id, "WH, 3"): 12,
        (cast.gadget.id, "WH-9"): 7,
    }

    # The column name `on_hand` and a file without a BOM or final newline do too.
    again = f"sku,location,on_hand\n{cast.gadget.sku},WH-9,8".encode()
    assert (await imported(client, app, cast.admin, again))["updated"] == 1
    assert (await levels(database, cast.tenant_id))[(cast.gadget.id, "WH-9")] == 8


@pytest.mark.asyncio
async def test_a_stock_file_with_bad_rows_reports_them_all_and_writes_nothing(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: Cast
) -> None:
    await set_level(client, app, cast.manager, cast.widget, "WH-1", 10)
    await allocate(client, app, cast.manager, cast.widget, cast.partner_a, "WH-1", 6)
    before = await levels(database, cast.tenant_id)
    w, g = cast.widget.sku, cast.gadget.sku
    content = "\n".join(
        [
            "sku,location,on_hand",  # row 1
            f"{g},WH-2,4",  # 2: fine
            f"{g},WH-3,-1",  # 3: negative
            f"{g},WH-4,1.5",  # 4: not whole
            f"{g},,3",  # 5: no location
            "NO-SUCH-SKU,WH-2,1",  # 6: unknown SKU
            f"{g.lower()},WH-2,7",  # 7: same (sku, location) as row 2
            f"{w},WH-1,5",  # 8: below the 6 allocated
            f"{g},WH-5",  # 9: a field short
            f",WH-6,{'9' * 12}",  # 10: no SKU, too large
            f"{w},WH-1,6",  # 11: duplicates row 8 (which is itself bad)
        ]
    ).encode()
    body = await upload(client, app, cast.manager, content)
    payload = body["data"]["importStockLevels"]
    assert payload["updated"] == 0
    assert [(e["rowNumber"], e["code"], e["column"]) for e in payload["rowErrors"]] == [
        (3, "INVALID", "on_hand"),
        (4, "INVALID", "on_hand"),
        (5, "INVALID", "location"),
        (6, "NOT_FOUND", "sku"),
        (7, "DUPLICATE", None),
        (8, "INVALID", "on_hand"),
        (9, "INVALID", None),
        (10, "INVALID", "sku"),
        (10, "INVALID", "on_hand"),
        (11, "DUPLICATE", None),
    ]
    assert "row 2" in payload["rowErrors"][4]["message"]
    assert "6 units are allocated" in payload["rowErrors"][5]["message"]
    assert len(payload["errors"]) == len(payload["rowErrors"])
    assert all(e["field"] == "file" for e in payload["errors"])
    assert payload["errors"][0]["message"].startswith("row 3, on_hand: ")
    assert await levels(database, cast.tenant_id) == before


@pytest.mark.asyncio
async def test_bad_stock_files_are_refused_whole(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: Cast
) -> None:
    sku = cast.widget.sku
    cases: list[tuple[bytes, tuple[str, str], str]] = [
        (b"", ("INVALID", "file"), "empty"),
        (b"sku,location,on_hand\n", ("INVALID", "file"), "no data rows"),
        (f"{sku},WH,1\n".encode(), ("INVALID", "file"), "unknown column"),
        (b"sku,location\nA,B\n", ("INVALID", "file"), "missing: on_hand"),
        (b"sku,sku,location,on_hand\n", ("INVALID", "file"), "twice"),
        ("sku,location,on_hand\nCaf\u00e9,WH,1\n".encode("cp1252"), ("INVALID", "file"),
         "UTF-8"),
        (b'sku,location,on_hand\n"A,WH,1\n', ("INVALID", "file"), "not valid CSV"),
        (
            b"sku,location,on_hand\n" + f"{sku},WH,1\n".encode() * 100_001,
            ("LIMIT_EXCEEDED", "file"),
            "100000 rows",
        ),
        (
            b"sku,location,on_hand\n" + b"x" * (10 * 1024 * 1024),
            ("LIMIT_EXCEEDED", "file"),
            "10 MB",
        ),
    ]  # fmt: skip
    for content, expected, words in cases:
        body = await upload(client, app, cast.manager, content)
        assert "errors" not in body, body
        payload = body["data"]["importStockLevels"]
        assert [(e["code"], e["field"]) for e in payload["errors"]] == [expected], payload
        assert words in payload["errors"][0]["message"]
        assert payload["updated"] == 0
    for user in (cast.employee, cast.rep_a):
        forbidden = await upload(client, app, user, f"sku,location,on_hand\n{sku},WH,1".encode())
        assert error_codes(forbidden) == ["FORBIDDEN"]
    assert await levels(database, cast.tenant_id) == {}


@pytest.mark.asyncio
async def test_a_large_stock_file_is_imported_set_based(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: Cast
) -> None:
    """20,000 rows are a handful of statements, not one per row."""
    products = [cast.widget, cast.gadget]
    locations = [f"L{n:05d}" for n in range(10_000)]
    lines = ["sku,location,on_hand"] + [
        f"{product.sku},{location},{index % 50}"
        for index, (product, location) in enumerate(
            (product, location) for product in products for location in locations
        )
    ]
    with counting_statements(database) as statements:
        payload = await imported(client, app, cast.manager, "\n".join(lines).encode())
    assert payload["updated"] == 20_000
    assert len(statements) < 20
    stored = await levels(database, cast.tenant_id)
    assert len(stored) == 20_000
    assert stored[(cast.gadget.id, "L09999")] == (19_999 % 50)
