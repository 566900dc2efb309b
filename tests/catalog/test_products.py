"""Products through GraphQL: creating plain products, products with options and bundles;
updating, retiring and reactivating them; the list with its filters; who sees and who
maintains what; and every bad input refused with nothing written."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy import func, select

from prm.auth.principal import Role
from prm.catalog.models import (
    BundleItem,
    Product,
    ProductOptionChoice,
    ProductOptionGroup,
    StockLevel,
)
from prm.db.engine import Database
from prm.tenants.models import AuditEntry, User
from tests.catalog.factories import make_product
from tests.crm.factories import gid
from tests.factories import TenantWithAdmin, bearer, make_partner, make_tenant, make_user, unique
from tests.graphql.support import error_codes, gql
from tests.statements import counting_statements

CHOICE = "id name priceDeltas { amount currency }"
GROUP = f"id name required minChoices maxChoices choices {{ {CHOICE} }}"
FIELDS = f"""id sku name family description active isBundle bundleDiscountPercent retiredAt
  optionGroups {{ {GROUP} }}
  bundleItems {{ quantity product {{ id sku }} }}"""
PAYLOAD = f"product {{ {FIELDS} }} errors {{ code field message }}"
CREATE = f"""mutation ($input: CreateProductInput!) {{
  createProduct(input: $input) {{ {PAYLOAD} }} }}"""
UPDATE = f"""mutation ($id: ID!, $input: UpdateProductInput!) {{
  updateProduct(id: $id, input: $input) {{ {PAYLOAD} }} }}"""
RETIRE = f"mutation ($id: ID!) {{ retireProduct(id: $id) {{ {PAYLOAD} }} }}"
REACTIVATE = f"mutation ($id: ID!) {{ reactivateProduct(id: $id) {{ {PAYLOAD} }} }}"
PRODUCTS = """query ($first: Int, $after: String, $filter: ProductFilter) {
  products(first: $first, after: $after, filter: $filter) {
    totalCount pageInfo { hasNextPage endCursor } edges { node { sku name } } } }"""
NODE = """query ($id: ID!) { node(id: $id) { id
  ... on Product { sku active }
  ... on ProductOptionGroup { name }
  ... on ProductOptionChoice { name priceDeltas { amount currency } } } }"""


@dataclass
class Catalog:
    """A tenant with a user of every role and two plain products to bundle."""

    tenant: TenantWithAdmin
    manager: User
    employee: User
    partner_admin: User
    partner_rep: User
    switch: Product
    cable: Product


@pytest_asyncio.fixture
async def catalog(database: Database) -> Catalog:
    tenant = await make_tenant(database)
    partner = await make_partner(database, tenant.id)
    return Catalog(
        tenant=tenant,
        manager=await make_user(database, tenant.id, roles=(Role.MANAGER,)),
        employee=await make_user(database, tenant.id, roles=(Role.EMPLOYEE,)),
        partner_admin=await make_user(
            database, tenant.id, roles=(Role.PARTNER_ADMIN,), partner_id=partner.id
        ),
        partner_rep=await make_user(
            database, tenant.id, roles=(Role.PARTNER_REP,), partner_id=partner.id
        ),
        switch=await make_product(database, tenant.id, sku="SW-24", name="Switch"),
        cable=await make_product(database, tenant.id, sku="CAB-1", name="Cable"),
    )


async def call(
    client: httpx.AsyncClient, app: FastAPI, user: User, query: str, **variables: Any
) -> dict[str, Any]:
    return await gql(client, query, variables, headers=bearer(app.state.issuer, user))


async def payload(
    client: httpx.AsyncClient, app: FastAPI, user: User, query: str, **variables: Any
) -> dict[str, Any]:
    """The mutation's payload (the request must not fail at the transport level)."""
    body = await call(client, app, user, query, **variables)
    assert "errors" not in body, body
    result: dict[str, Any] = next(iter(body["data"].values()))
    return result


def errors_of(result: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [(error["code"], error["field"]) for error in result["errors"]]


@dataclass(frozen=True)
class Snapshot:
    """Every catalog row of a tenant that products touch, and its audit trail."""

    products: list[tuple[Any, ...]]
    groups: list[tuple[Any, ...]]
    choices: list[tuple[Any, ...]]
    items: list[tuple[Any, ...]]
    audit: list[str]


async def snapshot(database: Database, tenant_id: uuid.UUID) -> Snapshot:
    async with database.session(tenant_id) as session:

        async def rows(*columns: Any) -> list[tuple[Any, ...]]:
            result = await session.execute(select(*columns).order_by(*columns))
            return [tuple(row) for row in result]

        return Snapshot(
            products=await rows(
                Product.id,
                Product.sku,
                Product.name,
                Product.family,
                Product.active,
                Product.bundle_discount_percent,
                Product.updated_at,
            ),
            groups=await rows(ProductOptionGroup.id, ProductOptionGroup.name),
            choices=await rows(ProductOptionChoice.id, ProductOptionChoice.price_deltas),
            items=await rows(BundleItem.bundle_id, BundleItem.item_id, BundleItem.quantity),
            audit=list(
                await session.scalars(
                    select(AuditEntry.operation)
                    .where(AuditEntry.tenant_id == tenant_id)
                    .order_by(AuditEntry.created_at, AuditEntry.id)
                )
            ),
        )


def skus(body: dict[str, Any]) -> list[str]:
    return [edge["node"]["sku"] for edge in body["data"]["products"]["edges"]]


# Creating ------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_manager_creates_a_product_with_option_groups(
    client: httpx.AsyncClient, app: FastAPI, database: Database, catalog: Catalog
) -> None:
    result = await payload(
        client,
        app,
        catalog.manager,
        CREATE,
        input={
            "sku": "  NET-SW-48/v2_x.1 ",
            "name": " Switch 48-port ",
            "family": "networking",
            "description": "Rack mounted.",
            "optionGroups": [
                {
                    "name": "Support",
                    "required": True,
                    "choices": [
                        {"name": "Basic"},
                        {
                            "name": "Premium",
                            "priceDeltas": [
                                {"amount": "120", "currency": "usd"},
                                {"amount": "15000", "currency": "JPY"},
                            ],
                        },
                    ],
                },
                {
                    "name": "Extras",
                    "maxChoices": 2,
                    "choices": [
                        {"name": "Rails", "priceDeltas": [{"amount": "0", "currency": "EUR"}]},
                        {"name": "Fans", "priceDeltas": [{"amount": "9.5", "currency": "EUR"}]},
                    ],
                },
            ],
        },
    )
    assert result["errors"] == []
    product = result["product"]
    assert {k: product[k] for k in ("sku", "name", "family", "description")} == {
        "sku": "NET-SW-48/v2_x.1",
        "name": "Switch 48-port",
        "family": "networking",
        "description": "Rack mounted.",
    }
    assert (product["active"], product["isBundle"], product["retiredAt"]) == (True, False, None)
    assert product["bundleDiscountPercent"] is None
    assert product["bundleItems"] == []
    groups = [
        (g["name"], g["required"], g["minChoices"], g["maxChoices"])
        for g in product["optionGroups"]
    ]
    # required with no minimum: at least 1; optional: at least 0; the maximum defaults to 1
    assert groups == [("Support", True, 1, 1), ("Extras", False, 0, 2)]
    support, extras = product["optionGroups"]
    assert [(c["name"], c["priceDeltas"]) for c in support["choices"]] == [
        ("Basic", []),
        (
            "Premium",
            [{"amount": "15000", "currency": "JPY"}, {"amount": "120.00", "currency": "USD"}],
        ),
    ]
    assert [c["priceDeltas"] for c in extras["choices"]] == [
        [{"amount": "0.00", "currency": "EUR"}],
        [{"amount": "9.50", "currency": "EUR"}],
    ]

    async with database.session(catalog.tenant.id) as session:
        stored = await session.scalars(
            select(ProductOptionChoice.price_deltas).order_by(ProductOptionChoice.id)
        )
        assert list(stored) == [
            {},
            {"USD": "120.00", "JPY": "15000"},
            {"EUR": "0.00"},
            {"EUR": "9.50"},
        ]

    # the product, its groups and its choices are nodes
    premium = support["choices"][1]
    for node_id, expected in [
        (product["id"], {"sku": "NET-SW-48/v2_x.1", "active": True}),
        (support["id"], {"name": "Support"}),
        (premium["id"], {"name": "Premium", "priceDeltas": premium["priceDeltas"]}),
    ]:
        body = await call(client, app, catalog.partner_rep, NODE, id=node_id)
        assert body["data"]["node"] == {"id": node_id} | expected
    assert (await snapshot(database, catalog.tenant.id)).audit == ["createProduct"]


@pytest.mark.asyncio
async def test_a_bundle_is_made_of_other_products(
    client: httpx.AsyncClient, app: FastAPI, catalog: Catalog
) -> None:
    result = await payload(
        client,
        app,
        catalog.tenant.admin,
        CREATE,
        input={
            "sku": "KIT-1",
            "name": "Starter kit",
            "bundleDiscountPercent": "12.5",
            "bundleItems": [
                {"productId": gid("Product", catalog.switch), "quantity": 1},
                {"productId": gid("Product", catalog.cable), "quantity": 4},
            ],
        },
    )
    assert result["errors"] == []
    bundle = result["product"]
    assert (bundle["isBundle"], bundle["bundleDiscountPercent"]) == (True, "12.50")
    assert bundle["bundleItems"] == [
        {"quantity": 1, "product": {"id": gid("Product", catalog.switch), "sku": "SW-24"}},
        {"quantity": 4, "product": {"id": gid("Product", catalog.cable), "sku": "CAB-1"}},
    ]


# Updating, retiring --------------------------------------------------------------------


@pytest.mark.asyncio
async def test_an_update_changes_the_given_fields_and_replaces_options(
    client: httpx.AsyncClient, app: FastAPI, database: Database, catalog: Catalog
) -> None:
    created = (
        await payload(
            client,
            app,
            catalog.manager,
            CREATE,
            input={
                "sku": "AP-6",
                "name": "Access point",
                "family": "wifi",
                "description": "Indoor.",
                "optionGroups": [{"name": "Mount", "choices": [{"name": "Wall"}]}],
            },
        )
    )["product"]
    old_choice = created["optionGroups"][0]["choices"][0]["id"]
    stamped = "query ($id: ID!) { node(id: $id) { ... on Product { updatedAt } } }"

    async def updated_at() -> datetime:
        body = await call(client, app, catalog.manager, stamped, id=created["id"])
        return datetime.fromisoformat(body["data"]["node"]["updatedAt"])

    renamed = await payload(
        client,
        app,
        catalog.manager,
        UPDATE,
        id=created["id"],
        input={"name": "Access point 6E", "family": None},
    )
    assert renamed["errors"] == []
    assert renamed["product"] == created | {"name": "Access point 6E", "family": None}

    replaced = await payload(
        client,
        app,
        catalog.manager,
        UPDATE,
        id=created["id"],
        input={
            "sku": "ap-6e",
            "optionGroups": [
                {
                    "name": "Antenna",
                    "minChoices": 1,
                    "choices": [
                        {"name": "Internal"},
                        {"name": "External", "priceDeltas": [{"amount": "40", "currency": "USD"}]},
                    ],
                }
            ],
        },
    )
    assert replaced["errors"] == []
    product = replaced["product"]
    assert (product["sku"], product["description"]) == ("ap-6e", "Indoor.")
    assert [(g["name"], g["required"], g["minChoices"]) for g in product["optionGroups"]] == [
        ("Antenna", True, 1)
    ]
    # the replaced choice no longer exists
    body = await call(client, app, catalog.manager, NODE, id=old_choice)
    assert body["data"]["node"] is None

    first_stamp = await updated_at()
    cleared = await payload(
        client, app, catalog.manager, UPDATE, id=created["id"], input={"optionGroups": None}
    )
    assert cleared["product"]["optionGroups"] == []
    assert await updated_at() > first_stamp  # changing only the options changes the product
    state = await snapshot(database, catalog.tenant.id)
    assert (state.groups, state.choices) == ([], [])
    assert state.audit == ["createProduct", *["updateProduct"] * 3]


@pytest.mark.asyncio
async def test_a_bundles_items_and_saving_are_replaced(
    client: httpx.AsyncClient, app: FastAPI, database: Database, catalog: Catalog
) -> None:
    bundle = await make_product(
        database, catalog.tenant.id, bundle_items=[(catalog.switch, 1)], bundle_discount_percent="5"
    )
    result = await payload(
        client,
        app,
        catalog.manager,
        UPDATE,
        id=gid("Product", bundle),
        input={
            "bundleDiscountPercent": "7.25",
            "bundleItems": [
                {"productId": gid("Product", catalog.cable), "quantity": 2},
                {"productId": gid("Product", catalog.switch), "quantity": 3},
            ],
        },
    )
    assert result["errors"] == []
    assert result["product"]["bundleDiscountPercent"] == "7.25"
    assert [(i["product"]["sku"], i["quantity"]) for i in result["product"]["bundleItems"]] == [
        ("CAB-1", 2),
        ("SW-24", 3),
    ]
    state = await snapshot(database, catalog.tenant.id)
    assert sorted(state.items) == sorted(
        [(bundle.id, catalog.cable.id, 2), (bundle.id, catalog.switch.id, 3)]
    )


@pytest.mark.asyncio
async def test_retiring_and_reactivating(
    client: httpx.AsyncClient, app: FastAPI, database: Database, catalog: Catalog
) -> None:
    product_id = gid("Product", catalog.switch)
    retired = await payload(client, app, catalog.manager, RETIRE, id=product_id)
    assert retired["errors"] == []
    assert retired["product"]["active"] is False
    assert retired["product"]["retiredAt"] is not None

    again = await payload(client, app, catalog.manager, RETIRE, id=product_id)
    assert (again["product"], errors_of(again)) == (None, [("INVALID_TRANSITION", "id")])

    back = await payload(client, app, catalog.tenant.admin, REACTIVATE, id=product_id)
    assert back["errors"] == []
    assert (back["product"]["active"], back["product"]["retiredAt"]) == (True, None)

    again = await payload(client, app, catalog.manager, REACTIVATE, id=product_id)
    assert errors_of(again) == [("INVALID_TRANSITION", "id")]
    assert (await snapshot(database, catalog.tenant.id)).audit == [
        "retireProduct",
        "reactivateProduct",
    ]


# Who sees, who maintains ---------------------------------------------------------------


@pytest.mark.asyncio
async def test_partner_users_see_active_products_only(
    client: httpx.AsyncClient, app: FastAPI, database: Database, catalog: Catalog
) -> None:
    tenant_id = catalog.tenant.id
    retired = await make_product(database, tenant_id, sku="OLD-1", name="Old router", active=False)
    bundle = await make_product(
        database, tenant_id, sku="KIT-9", name="Kit", bundle_items=[(retired, 2)]
    )
    for user in (catalog.partner_admin, catalog.partner_rep):
        body = await call(client, app, user, PRODUCTS)
        assert skus(body) == ["CAB-1", "KIT-9", "SW-24"]  # by name: Cable, Kit, Switch
        assert body["data"]["products"]["totalCount"] == 3
        body = await call(client, app, user, PRODUCTS, filter={"active": False})
        assert skus(body) == []
        body = await call(client, app, user, NODE, id=gid("Product", retired))
        assert body["data"]["node"] is None
        # the bundle they see shows what it is made of, the retired component included
        body = await call(
            client,
            app,
            user,
            "query ($id: ID!) { node(id: $id) { ... on Product { bundleItems { "
            "quantity product { sku active } } } } }",
            id=gid("Product", bundle),
        )
        assert body["data"]["node"]["bundleItems"] == [
            {"quantity": 2, "product": {"sku": "OLD-1", "active": False}}
        ]
    for user in (catalog.employee, catalog.manager):
        body = await call(client, app, user, PRODUCTS)
        assert skus(body) == ["CAB-1", "KIT-9", "OLD-1", "SW-24"]


@pytest.mark.asyncio
@pytest.mark.parametrize("role", ["employee", "partner_admin", "partner_rep"])
async def test_only_admins_and_managers_maintain_the_catalog(
    client: httpx.AsyncClient, app: FastAPI, database: Database, catalog: Catalog, role: str
) -> None:
    user: User = getattr(catalog, role)
    before = await snapshot(database, catalog.tenant.id)
    product_id = gid("Product", catalog.switch)
    for query, variables in [
        (CREATE, {"input": {"sku": "NEW-1", "name": "New"}}),
        (UPDATE, {"id": product_id, "input": {"name": "Renamed"}}),
        (RETIRE, {"id": product_id}),
        (REACTIVATE, {"id": product_id}),
    ]:
        body = await call(client, app, user, query, **variables)
        assert error_codes(body) == ["FORBIDDEN"]
    assert await snapshot(database, catalog.tenant.id) == before


@pytest.mark.asyncio
async def test_another_tenants_products_are_not_found(
    client: httpx.AsyncClient, app: FastAPI, database: Database, catalog: Catalog
) -> None:
    other = await make_tenant(database)
    theirs = await make_product(database, other.id, sku="THEIRS-1")
    theirs_id = gid("Product", theirs)
    before = await snapshot(database, other.id)
    mine_before = await snapshot(database, catalog.tenant.id)
    admin = catalog.tenant.admin
    for query, variables in [
        (UPDATE, {"id": theirs_id, "input": {"name": "Mine now"}}),
        (RETIRE, {"id": theirs_id}),
        (REACTIVATE, {"id": theirs_id}),
        (RETIRE, {"id": gid("Partner", catalog.switch)}),  # an id of another type
        (RETIRE, {"id": "garbage"}),
    ]:
        assert errors_of(await payload(client, app, admin, query, **variables)) == [
            ("NOT_FOUND", "id")
        ]
    body = await call(client, app, admin, NODE, id=theirs_id)
    assert body["data"]["node"] is None
    body = await call(client, app, admin, PRODUCTS, filter={"skus": ["THEIRS-1"]})
    assert skus(body) == []
    assert await snapshot(database, other.id) == before
    assert await snapshot(database, catalog.tenant.id) == mine_before


# The list ------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_filters_narrow_the_list_and_combine(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    tid = tenant.id
    router = await make_product(database, tid, sku="RT-100", name="Router", family="net")
    await make_product(database, tid, sku="FW-100", name="Firewall 100%", family="sec")
    await make_product(database, tid, sku="FW_200", name="Firewall", family="sec", active=False)
    await make_product(database, tid, sku="AB-1", name="Antenna bracket", family="net")
    await make_product(database, tid, sku="KIT-NET", name="Net kit", bundle_items=[(router, 1)])

    async def listed(**filter: Any) -> list[str]:
        return skus(await call(client, app, tenant.admin, PRODUCTS, filter=filter))

    assert await listed() == ["AB-1", "FW_200", "FW-100", "KIT-NET", "RT-100"]
    assert await listed(family="net") == ["AB-1", "RT-100"]
    assert await listed(family="sec", active=True) == ["FW-100"]
    assert await listed(active=False) == ["FW_200"]
    assert await listed(isBundle=True) == ["KIT-NET"]
    assert await listed(isBundle=False, family="net") == ["AB-1", "RT-100"]
    # search: name or SKU, ignoring case; LIKE wildcards are plain characters
    assert await listed(search="ROUT") == ["RT-100"]
    assert await listed(search="net") == ["KIT-NET"]
    assert await listed(search="fw") == ["FW_200", "FW-100"]
    assert await listed(search="%") == ["FW-100"]
    assert await listed(search="_") == ["FW_200"]
    assert await listed(search="   ") == await listed()
    assert await listed(skus=["rt-100", "ab-1", "NOPE"]) == ["AB-1", "RT-100"]
    assert await listed(skus=["rt-100"], family="sec") == []
    assert await listed(skus=[]) == []

    body = await call(client, app, tenant.admin, PRODUCTS, filter={"skus": ["X"] * 501})
    assert error_codes(body) == ["BAD_USER_INPUT"]


@pytest.mark.asyncio
async def test_pages_follow_the_name_order(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    names = ["Delta", "alpha", "Charlie", "Bravo", "Echo"]
    for name in names:
        await make_product(database, tenant.id, sku=unique("P"), name=name)
    seen: list[str] = []
    after = None
    while True:
        body = await call(client, app, tenant.admin, PRODUCTS, first=2, after=after)
        page = body["data"]["products"]
        assert page["totalCount"] == 5
        seen += [edge["node"]["name"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    async with database.session(tenant.id) as session:
        expected = list(await session.scalars(select(Product.name).order_by(Product.name)))
    assert seen == expected  # the database's collation decides, not Python's
    assert sorted(seen) == sorted(names)


@pytest.mark.asyncio
async def test_availability_lists_the_products_stock(
    client: httpx.AsyncClient, app: FastAPI, database: Database, catalog: Catalog
) -> None:
    async with database.session(catalog.tenant.id) as session:
        session.add(
            StockLevel(
                tenant_id=catalog.tenant.id,
                product_id=catalog.switch.id,
                location="WH-1",
                on_hand=7,
            )
        )
    query = """query ($id: ID!, $location: String) { node(id: $id) { ... on Product {
      availability(location: $location) { location onHand available } } } }"""
    body = await call(client, app, catalog.manager, query, id=gid("Product", catalog.switch))
    assert body["data"]["node"]["availability"] == [
        {"location": "WH-1", "onHand": 7, "available": 7}
    ]
    body = await call(
        client, app, catalog.manager, query, id=gid("Product", catalog.switch), location="WH-2"
    )
    assert body["data"]["node"]["availability"] == []


async def make_page_of_products(database: Database, size: int) -> TenantWithAdmin:
    """`size` products, every other one a bundle of the previous, each plain one with two
    option groups of two choices."""
    tenant = await make_tenant(database)
    previous: Product | None = None
    for index in range(size):
        if previous is not None and index % 2:
            previous = await make_product(
                database, tenant.id, name=f"P{index:03}", bundle_items=[(previous, 2)]
            )
            continue
        previous = await make_product(database, tenant.id, name=f"P{index:03}")
        async with database.session(tenant.id) as session:
            for position in range(2):
                group = ProductOptionGroup(
                    tenant_id=tenant.id,
                    product_id=previous.id,
                    position=position,
                    name=f"G{position}",
                    required=False,
                    min_choices=0,
                    max_choices=1,
                )
                session.add(group)
                await session.flush()
                for number in range(2):
                    session.add(
                        ProductOptionChoice(
                            tenant_id=tenant.id,
                            group_id=group.id,
                            product_id=previous.id,
                            position=number,
                            name=f"C{number}",
                            price_deltas={"USD": "1.00"},
                        )
                    )
    return tenant


PAGE = """query ($first: Int!) { products(first: $first) { edges { node {
  sku optionGroups { name choices { id name priceDeltas { amount currency } } }
  bundleItems { quantity product { sku optionGroups { name } } }
  availability { location available } } } } }"""


@pytest.mark.asyncio
async def test_statements_per_page_do_not_grow_with_the_page(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    counts = []
    for size in (5, 40):
        tenant = await make_page_of_products(database, size)
        with counting_statements(database) as statements:
            body = await call(client, app, tenant.admin, PAGE, first=50)
        edges = body["data"]["products"]["edges"]
        assert len(edges) == size
        plain = [e["node"] for e in edges if not e["node"]["bundleItems"]]
        bundles = [e["node"] for e in edges if e["node"]["bundleItems"]]
        assert len(plain) == (size + 1) // 2
        assert len(bundles) == size // 2
        assert all(len(p["optionGroups"]) == 2 for p in plain)
        assert all(len(g["choices"]) == 2 for p in plain for g in p["optionGroups"])
        assert all(b["bundleItems"][0]["product"]["optionGroups"] for b in bundles)
        counts.append(len(statements))
    assert counts[0] == counts[1], counts


# Bad input -----------------------------------------------------------------------------


TWO = [{"name": "A"}, {"name": "B"}]
BAD_CREATES = [
    pytest.param({"sku": "  "}, "INVALID", "sku", id="blank sku"),
    pytest.param({"sku": "X" * 65}, "INVALID", "sku", id="long sku"),
    pytest.param({"sku": "HAS SPACE"}, "INVALID", "sku", id="sku with a space"),
    pytest.param({"sku": "NAÏVE-1"}, "INVALID", "sku", id="sku with a non-ASCII letter"),
    pytest.param({"sku": "A+B"}, "INVALID", "sku", id="sku with a plus"),
    pytest.param({"sku": "sw-24"}, "DUPLICATE", "sku", id="sku taken ignoring case"),
    pytest.param({"name": " "}, "INVALID", "name", id="blank name"),
    pytest.param({"name": "n" * 201}, "INVALID", "name", id="long name"),
    pytest.param({"family": "f" * 101}, "INVALID", "family", id="long family"),
    pytest.param(
        {"bundleDiscountPercent": "10"},
        "INVALID",
        "bundleDiscountPercent",
        id="saving of a product",
    ),
    pytest.param(
        {"bundleItems": [{"productId": "SWITCH", "quantity": 1}]},
        "INVALID",
        "bundleDiscountPercent",
        id="bundle without a saving",
    ),
    *[
        pytest.param(
            {
                "bundleDiscountPercent": percent,
                "bundleItems": [{"productId": "SWITCH", "quantity": 1}],
            },
            "INVALID",
            "bundleDiscountPercent",
            id=f"saving {percent}",
        )
        for percent in ("0", "100", "-5", "12.345")
    ],
    pytest.param(
        {"bundleDiscountPercent": "10", "bundleItems": []},
        "INVALID",
        "bundleItems",
        id="bundle of nothing",
    ),
    pytest.param(
        {
            "bundleDiscountPercent": "10",
            "bundleItems": [{"productId": "SWITCH", "quantity": 1}] * 101,
        },
        "INVALID",
        "bundleItems",
        id="101 items",
    ),
    *[
        pytest.param(
            {
                "bundleDiscountPercent": "10",
                "bundleItems": [
                    {"productId": "SWITCH", "quantity": 1},
                    {"productId": reference, "quantity": 1},
                ],
            },
            "NOT_FOUND",
            "bundleItems.1.productId",
            id=f"item {reference.lower()}",
        )
        for reference in ("FOREIGN", "GARBAGE", "WRONG_TYPE", "UNKNOWN")
    ],
    pytest.param(
        {"bundleDiscountPercent": "10", "bundleItems": [{"productId": "BUNDLE", "quantity": 1}]},
        "INVALID",
        "bundleItems.0.productId",
        id="nested bundle",
    ),
    pytest.param(
        {"bundleDiscountPercent": "10", "bundleItems": [{"productId": "RETIRED", "quantity": 1}]},
        "INVALID",
        "bundleItems.0.productId",
        id="retired item",
    ),
    pytest.param(
        {
            "bundleDiscountPercent": "10",
            "bundleItems": [
                {"productId": "SWITCH", "quantity": 1},
                {"productId": "SWITCH", "quantity": 2},
            ],
        },
        "INVALID",
        "bundleItems.1.productId",
        id="item twice",
    ),
    pytest.param(
        {"bundleDiscountPercent": "10", "bundleItems": [{"productId": "SWITCH", "quantity": 0}]},
        "INVALID",
        "bundleItems.0.quantity",
        id="zero quantity",
    ),
    pytest.param(
        {"optionGroups": [{"name": f"G{i}", "choices": [{"name": "C"}]} for i in range(51)]},
        "INVALID",
        "optionGroups",
        id="51 groups",
    ),
    pytest.param(
        {"optionGroups": [{"name": "G", "choices": [{"name": f"C{i}"} for i in range(101)]}]},
        "INVALID",
        "optionGroups.0.choices",
        id="101 choices",
    ),
    pytest.param(
        {"optionGroups": [{"name": "G", "choices": []}]},
        "INVALID",
        "optionGroups.0.choices",
        id="group without choices",
    ),
    pytest.param(
        {"optionGroups": [{"name": " ", "choices": TWO}]},
        "INVALID",
        "optionGroups.0.name",
        id="blank group name",
    ),
    pytest.param(
        {"optionGroups": [{"name": "Color", "choices": TWO}, {"name": "COLOR ", "choices": TWO}]},
        "INVALID",
        "optionGroups.1.name",
        id="group name twice",
    ),
    pytest.param(
        {"optionGroups": [{"name": "G", "choices": [{"name": "Red"}, {"name": "red"}]}]},
        "INVALID",
        "optionGroups.0.choices.1.name",
        id="choice name twice",
    ),
    pytest.param(
        {"optionGroups": [{"name": "G", "choices": [{"name": ""}]}]},
        "INVALID",
        "optionGroups.0.choices.0.name",
        id="blank choice name",
    ),
    pytest.param(
        {"optionGroups": [{"name": "G", "minChoices": -1, "choices": TWO}]},
        "INVALID",
        "optionGroups.0.minChoices",
        id="negative minimum",
    ),
    pytest.param(
        {"optionGroups": [{"name": "G", "maxChoices": 0, "choices": TWO}]},
        "INVALID",
        "optionGroups.0.maxChoices",
        id="zero maximum",
    ),
    pytest.param(
        {"optionGroups": [{"name": "G", "minChoices": 2, "maxChoices": 1, "choices": TWO}]},
        "INVALID",
        "optionGroups.0.minChoices",
        id="minimum above maximum",
    ),
    pytest.param(
        {"optionGroups": [{"name": "G", "maxChoices": 3, "choices": TWO}]},
        "INVALID",
        "optionGroups.0.maxChoices",
        id="maximum above the choices",
    ),
    pytest.param(
        {"optionGroups": [{"name": "G", "minChoices": 3, "choices": TWO}]},
        "INVALID",
        "optionGroups.0.maxChoices",
        id="minimum above the choices",
    ),
    pytest.param(
        {"optionGroups": [{"name": "G", "required": True, "minChoices": 0, "choices": TWO}]},
        "INVALID",
        "optionGroups.0.minChoices",
        id="required with no minimum",
    ),
    pytest.param(
        {"optionGroups": [{"name": "G", "required": False, "minChoices": 1, "choices": TWO}]},
        "INVALID",
        "optionGroups.0.required",
        id="optional with a minimum",
    ),
    *[
        pytest.param(
            {
                "optionGroups": [
                    {"name": "G", "choices": [{"name": "A"}, {"name": "B", "priceDeltas": deltas}]}
                ]
            },
            "INVALID",
            f"optionGroups.0.choices.1.priceDeltas.{at}",
            id=label,
        )
        for deltas, at, label in [
            (
                [{"amount": "1", "currency": "USD"}, {"amount": "2", "currency": "usd"}],
                "1.currency",
                "currency twice",
            ),
            ([{"amount": "1", "currency": "XXY"}], "0.currency", "unknown currency"),
            ([{"amount": "-1", "currency": "USD"}], "0.amount", "negative delta"),
            ([{"amount": "1.001", "currency": "USD"}], "0.amount", "sub-cent delta"),
            ([{"amount": "1.5", "currency": "JPY"}], "0.amount", "fractional yen"),
        ]
    ],
]


@pytest.mark.asyncio
@pytest.mark.parametrize(("fields", "code", "field"), BAD_CREATES)
async def test_a_bad_product_is_refused_and_nothing_written(
    client: httpx.AsyncClient,
    app: FastAPI,
    database: Database,
    catalog: Catalog,
    fields: dict[str, Any],
    code: str,
    field: str,
) -> None:
    tenant_id = catalog.tenant.id
    other = await make_tenant(database)
    bundle = await make_product(database, tenant_id, bundle_items=[(catalog.switch, 1)])
    retired = await make_product(database, tenant_id, active=False)
    references = {
        "SWITCH": gid("Product", catalog.switch),
        "BUNDLE": gid("Product", bundle),
        "RETIRED": gid("Product", retired),
        "FOREIGN": gid("Product", await make_product(database, other.id)),
        "GARBAGE": "not-an-id",
        "WRONG_TYPE": gid("Partner", catalog.cable),
        "UNKNOWN": gid("Product", uuid.uuid4()),
    }
    if fields.get("bundleItems"):
        fields = fields | {
            "bundleItems": [
                item | {"productId": references[item["productId"]]}
                for item in fields["bundleItems"]
            ]
        }
    before = await snapshot(database, tenant_id)
    result = await payload(
        client, app, catalog.manager, CREATE, input={"sku": "NEW-1", "name": "New"} | fields
    )
    assert result["product"] is None
    assert errors_of(result) == [(code, field)]
    assert await snapshot(database, tenant_id) == before


@pytest.mark.asyncio
async def test_bad_updates_write_nothing(
    client: httpx.AsyncClient, app: FastAPI, database: Database, catalog: Catalog
) -> None:
    tenant_id = catalog.tenant.id
    bundle = await make_product(
        database, tenant_id, sku="KIT-1", bundle_items=[(catalog.switch, 1)]
    )
    configured = (
        await payload(
            client,
            app,
            catalog.manager,
            CREATE,
            input={
                "sku": "CFG-1",
                "name": "Configurable",
                "optionGroups": [{"name": "Color", "choices": [{"name": "Red"}]}],
            },
        )
    )["product"]
    before = await snapshot(database, tenant_id)
    plain, kit = configured["id"], gid("Product", bundle)
    switch, cable = gid("Product", catalog.switch), gid("Product", catalog.cable)

    async def errors(id: str, input: dict[str, Any]) -> list[tuple[str, str | None]]:
        result = await payload(client, app, catalog.manager, UPDATE, id=id, input=input)
        assert result["product"] is None
        return errors_of(result)

    # a valid change beside a bad one: neither is written
    assert await errors(plain, {"name": "Renamed", "sku": "BAD SKU"}) == [("INVALID", "sku")]
    assert await errors(plain, {"name": "Renamed", "sku": "kit-1"}) == [("DUPLICATE", "sku")]
    assert await errors(plain, {"sku": None}) == [("INVALID", "sku")]
    assert await errors(plain, {"name": None}) == [("INVALID", "name")]
    assert await errors(plain, {"name": "Renamed", "bundleDiscountPercent": "10"}) == [
        ("INVALID", "bundleDiscountPercent")
    ]
    assert await errors(plain, {"bundleItems": [{"productId": switch, "quantity": 1}]}) == [
        ("INVALID", "bundleItems")
    ]
    assert await errors(
        plain,
        {
            "name": "Renamed",
            "optionGroups": [{"name": "Size", "maxChoices": 2, "choices": [{"name": "S"}]}],
        },
    ) == [("INVALID", "optionGroups.0.maxChoices")]
    assert await errors(kit, {"bundleDiscountPercent": None}) == [
        ("INVALID", "bundleDiscountPercent")
    ]
    assert await errors(kit, {"bundleDiscountPercent": "100"}) == [
        ("INVALID", "bundleDiscountPercent")
    ]
    assert await errors(kit, {"bundleItems": None}) == [("INVALID", "bundleItems")]
    assert await errors(kit, {"bundleItems": []}) == [("INVALID", "bundleItems")]
    assert await errors(
        kit,
        {
            "name": "Renamed",
            "bundleItems": [{"productId": cable, "quantity": 1}, {"productId": kit, "quantity": 1}],
        },
    ) == [("INVALID", "bundleItems.1.productId")]
    assert await errors(kit, {"bundleItems": [{"productId": plain, "quantity": -2}]}) == [
        ("INVALID", "bundleItems.0.quantity")
    ]
    assert await snapshot(database, tenant_id) == before


@pytest.mark.asyncio
async def test_a_sku_taken_concurrently_is_a_duplicate(
    client: httpx.AsyncClient, app: FastAPI, database: Database, catalog: Catalog
) -> None:
    results = await asyncio.gather(
        *(
            payload(client, app, catalog.manager, CREATE, input={"sku": sku, "name": "Racing"})
            for sku in ("RACE-1", "race-1", "Race-1")
        )
    )
    outcomes = sorted(tuple(errors_of(result)) for result in results)
    assert outcomes == [(), (("DUPLICATE", "sku"),), (("DUPLICATE", "sku"),)]
    async with database.session(catalog.tenant.id) as session:
        count = await session.scalar(
            select(func.count()).select_from(Product).where(func.lower(Product.sku) == "race-1")
        )
    assert count == 1
