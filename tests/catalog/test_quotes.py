"""Quotes through GraphQL: numbering without gaps under concurrency, lines priced and
frozen, every pricing step on one quote checked by hand, the lifecycle, promotion usage
caps, stock warnings, visibility, and every bad input answered with nothing written."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy import func, select, text, update

from prm.auth.passwords import hash_password
from prm.auth.principal import Role
from prm.catalog.models import (
    PriceBookEntry,
    Product,
    ProductOptionChoice,
    ProductOptionGroup,
    Promotion,
    Quote,
    QuoteCounter,
    QuoteLine,
    StockAllocation,
    StockLevel,
)
from prm.db.engine import Database
from prm.partners.models import Partner, PartnerTier
from prm.tenants.models import User
from tests.catalog.factories import make_price_book, make_product, make_promotion
from tests.crm.factories import gid, make_account, make_opportunity
from tests.factories import (
    DEFAULT_PASSWORD,
    bearer,
    make_partner,
    make_tenant,
    make_tier,
    unique,
)
from tests.graphql.support import error_codes, gql
from tests.statements import counting_statements

ERRORS = "errors { code field message }"
LINE_FIELDS = """id position sku productName quantity product { id }
  options { choiceId group name unitAmount }
  listUnitPrice unitPrice total adjustments { kind label unitAmount } stockWarning"""
QUOTE_FIELDS = f"""id number status currency validUntil location promotionCode notes
  subtotal {{ amount currency }} discountTotal {{ amount currency }} total {{ amount currency }}
  lineCount warningCount pricedAt sentAt acceptedAt expiredAt createdAt updatedAt
  partner {{ id }} account {{ id }} opportunity {{ id }} createdBy {{ id }}
  lines {{ {LINE_FIELDS} }}"""
CREATE = f"""mutation ($input: CreateQuoteInput!) {{
  createQuote(input: $input) {{ quote {{ {QUOTE_FIELDS} }} {ERRORS} }} }}"""
UPDATE = f"""mutation ($id: ID!, $input: UpdateQuoteInput!) {{
  updateQuote(id: $id, input: $input) {{ quote {{ {QUOTE_FIELDS} }} {ERRORS} }} }}"""
SEND = f"""mutation ($id: ID!) {{
  sendQuote(id: $id) {{ quote {{ {QUOTE_FIELDS} }} {ERRORS} }} }}"""
ACCEPT = f"""mutation ($id: ID!, $set: Boolean) {{
  acceptQuote(id: $id, setOpportunityAmount: $set) {{ quote {{ {QUOTE_FIELDS} }} {ERRORS} }} }}"""
EXPIRE = f"""mutation ($id: ID!) {{
  expireQuote(id: $id) {{ quote {{ {QUOTE_FIELDS} }} {ERRORS} }} }}"""
NODE = f"""query ($id: ID!) {{ node(id: $id) {{ ... on Quote {{ {QUOTE_FIELDS} }} }} }}"""
LIST = """query ($filter: QuoteFilter, $first: Int, $after: String) {
  quotes(first: $first, after: $after, filter: $filter) {
    edges { node { id number status } } pageInfo { hasNextPage endCursor } totalCount } }"""
OPPORTUNITY = """query ($id: ID!) {
  node(id: $id) { ... on Opportunity { amount { amount currency } } } }"""

TODAY = datetime.now(UTC).date()


@dataclass
class Cast:
    """A tenant with staff, a Gold-tier partner (10% tier, 5% partner discount, in DE)
    with its admin, a second partner with its rep, and a priced catalog: a router
    (100.00, 90.00 from 10 units, optional 20.00 premium support), a switch (50.00) and a
    bundle of one router and two switches saving 10%."""

    tenant_id: uuid.UUID
    admin: User
    manager: User
    employee: User
    tier: PartnerTier
    partner: Partner
    partner_admin: User
    other_partner: Partner
    other_rep: User
    router: Product
    switch: Product
    bundle: Product
    support_group: ProductOptionGroup
    premium: ProductOptionChoice
    basic: ProductOptionChoice


@cache
def _password_hash() -> str:
    return hash_password(DEFAULT_PASSWORD)


async def make_user(
    database: Database,
    tenant_id: uuid.UUID,
    *,
    roles: tuple[Role, ...],
    partner_id: uuid.UUID | None = None,
) -> User:
    """A user; tests here authenticate with bearer tokens, so one password hash serves
    them all (hashing is deliberately slow)."""
    async with database.session(tenant_id) as session:
        user = User(
            tenant_id=tenant_id,
            email=f"{unique('user')}@example.com",
            name="Test User",
            password_hash=_password_hash(),
            roles=[role.value for role in roles],
            partner_id=partner_id,
            active=True,
        )
        session.add(user)
    return user


async def make_options(
    database: Database, tenant_id: uuid.UUID, product: Product
) -> tuple[ProductOptionGroup, ProductOptionChoice, ProductOptionChoice]:
    """An optional "Support" group (at most one choice): Premium (+20.00 USD) or Basic
    (free)."""
    async with database.session(tenant_id) as session:
        group = ProductOptionGroup(
            tenant_id=tenant_id,
            product_id=product.id,
            position=1,
            name="Support",
            required=False,
            min_choices=0,
            max_choices=1,
        )
        session.add(group)
        await session.flush()
        premium = ProductOptionChoice(
            tenant_id=tenant_id,
            group_id=group.id,
            product_id=product.id,
            position=1,
            name="Premium",
            price_deltas={"USD": "20.00"},
        )
        basic = ProductOptionChoice(
            tenant_id=tenant_id,
            group_id=group.id,
            product_id=product.id,
            position=2,
            name="Basic",
            price_deltas={},
        )
        session.add_all([premium, basic])
    return group, premium, basic


async def make_cast(database: Database) -> Cast:
    tenant = await make_tenant(database)
    tid = tenant.id
    tier = await make_tier(database, tid, name="Gold")
    partner = await make_partner(database, tid, tier_id=tier.id)
    other_partner = await make_partner(database, tid)
    async with database.session(tid) as session:
        await session.execute(
            update(Partner)
            .where(Partner.id == partner.id)
            .values(discount_percent=Decimal("5"), country="DE")
        )
    router = await make_product(database, tid, sku="RTR-1", name="Router")
    switch = await make_product(database, tid, sku="SW-1", name="Switch")
    bundle = await make_product(
        database,
        tid,
        sku="KIT-1",
        name="Office kit",
        bundle_items=[(router, 1), (switch, 2)],
        bundle_discount_percent="10",
    )
    await make_price_book(
        database, tid, [(router, "100.00"), (router, "90.00", 10), (switch, "50.00")]
    )
    group, premium, basic = await make_options(database, tid, router)
    return Cast(
        tenant_id=tid,
        admin=tenant.admin,
        manager=await make_user(database, tid, roles=(Role.MANAGER,)),
        employee=await make_user(database, tid, roles=(Role.EMPLOYEE,)),
        tier=tier,
        partner=partner,
        partner_admin=await make_user(
            database, tid, roles=(Role.PARTNER_ADMIN,), partner_id=partner.id
        ),
        other_partner=other_partner,
        other_rep=await make_user(
            database, tid, roles=(Role.PARTNER_REP,), partner_id=other_partner.id
        ),
        router=router,
        switch=switch,
        bundle=bundle,
        support_group=group,
        premium=premium,
        basic=basic,
    )


@pytest_asyncio.fixture
async def cast(database: Database) -> Cast:
    return await make_cast(database)


def auth(app: FastAPI, user: User) -> dict[str, str]:
    return bearer(app.state.issuer, user)


def line(product: Product, quantity: int, *options: ProductOptionChoice) -> dict[str, Any]:
    return {
        "productId": gid("Product", product),
        "quantity": quantity,
        "optionIds": [gid("ProductOptionChoice", option) for option in options],
    }


async def call(
    client: httpx.AsyncClient,
    app: FastAPI,
    user: User,
    document: str,
    variables: dict[str, Any],
) -> dict[str, Any]:
    """The payload of a mutation (or the data of a query) that must not fail at the
    transport level."""
    body = await gql(client, document, variables, headers=auth(app, user))
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return next(iter(data.values())) if len(data) == 1 else data


async def create(
    client: httpx.AsyncClient, app: FastAPI, user: User, **input_: Any
) -> dict[str, Any]:
    return await call(client, app, user, CREATE, {"input": input_})


async def created(
    client: httpx.AsyncClient, app: FastAPI, user: User, **input_: Any
) -> dict[str, Any]:
    """A quote that must be created."""
    payload = await create(client, app, user, **input_)
    assert payload["errors"] == [], payload
    quote: dict[str, Any] = payload["quote"]
    return quote


async def quote_rows(database: Database, tenant_id: uuid.UUID) -> tuple[int, int, int | None]:
    """(quotes, quote lines, the counter's last number) of a tenant."""
    async with database.session(tenant_id) as session:
        quotes = await session.scalar(select(func.count()).select_from(Quote))
        lines = await session.scalar(select(func.count()).select_from(QuoteLine))
        last = await session.scalar(
            select(QuoteCounter.last_number).where(QuoteCounter.tenant_id == tenant_id)
        )
    return int(quotes or 0), int(lines or 0), last


async def usage_count(database: Database, tenant_id: uuid.UUID, promotion: Promotion) -> int:
    async with database.session(tenant_id) as session:
        count = await session.scalar(
            select(Promotion.usage_count).where(Promotion.id == promotion.id)
        )
    return int(count or 0)


def money(amount: str, currency: str = "USD") -> dict[str, str]:
    return {"amount": amount, "currency": currency}


def steps(quote_line: dict[str, Any]) -> list[tuple[str, str]]:
    return [(a["kind"], a["unitAmount"]) for a in quote_line["adjustments"]]


# Creating and pricing ------------------------------------------------------------------


@pytest.mark.asyncio
async def test_every_pricing_step_on_one_quote_totals_as_computed_by_hand(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: Cast
) -> None:
    promotion = await make_promotion(
        database, cast.tenant_id, name="Spring", percent="5", code="SPRING", regions=["DE"]
    )
    quote = await created(
        client,
        app,
        cast.partner_admin,
        lines=[
            line(cast.router, 10, cast.premium),
            line(cast.switch, 3),
            line(cast.bundle, 2),
        ],
        promotionCode="spring",
        validUntil=(TODAY + timedelta(days=30)).isoformat(),
        notes="  first offer ",
    )
    router, switch, bundle = quote["lines"]

    # Router x10 with premium support: list 100.00 + 20.00 = 120.00; the 10-unit break is
    # 90.00 (-10.00) → 110.00; tier 10% -11.00 → 99.00; partner 5% -4.95 → 94.05;
    # promotion 5% of 94.05 = 4.7025 → -4.70 → 89.35; x 10 = 893.50.
    assert router["position"] == 1
    assert (router["sku"], router["productName"], router["quantity"]) == ("RTR-1", "Router", 10)
    assert router["product"] == {"id": gid("Product", cast.router)}
    assert router["options"] == [
        {
            "choiceId": gid("ProductOptionChoice", cast.premium),
            "group": "Support",
            "name": "Premium",
            "unitAmount": "20.00",
        }
    ]
    assert router["listUnitPrice"] == "120.00"
    assert steps(router) == [
        ("VOLUME", "-10.00"),
        ("TIER", "-11.00"),
        ("PARTNER", "-4.95"),
        ("PROMOTION", "-4.70"),
    ]
    assert router["adjustments"][3]["label"] == "Spring"
    assert (router["unitPrice"], router["total"]) == ("89.35", "893.50")

    # Switch x3: 50.00; tier -5.00 → 45.00; partner -2.25 → 42.75; promotion 5% of 42.75
    # = 2.1375 → -2.14 → 40.61; x 3 = 121.83.
    assert switch["listUnitPrice"] == "50.00"
    assert steps(switch) == [("TIER", "-5.00"), ("PARTNER", "-2.25"), ("PROMOTION", "-2.14")]
    assert (switch["unitPrice"], switch["total"]) == ("40.61", "121.83")

    # Kit x2 (one router, two switches): list 100.00 + 2 x 50.00 = 200.00 (2 routers
    # reach no break); tier -20.00 → 180.00; partner -9.00 → 171.00; promotion 5% -8.55
    # → 162.45; bundle 10% of 162.45 = 16.245 → -16.25 → 146.20; x 2 = 292.40.
    assert bundle["listUnitPrice"] == "200.00"
    assert steps(bundle) == [
        ("TIER", "-20.00"),
        ("PARTNER", "-9.00"),
        ("PROMOTION", "-8.55"),
        ("BUNDLE", "-16.25"),
    ]
    assert (bundle["unitPrice"], bundle["total"]) == ("146.20", "292.40")

    # Subtotal 120.00 x 10 + 50.00 x 3 + 200.00 x 2 = 1750.00; total 893.50 + 121.83 +
    # 292.40 = 1307.73; discount 1750.00 - 1307.73 = 442.27.
    assert quote["subtotal"] == money("1750.00")
    assert quote["total"] == money("1307.73")
    assert quote["discountTotal"] == money("442.27")
    assert (quote["lineCount"], quote["warningCount"]) == (3, 0)
    assert quote["number"] == 1
    assert quote["status"] == "DRAFT"
    assert quote["currency"] == "USD"
    assert quote["promotionCode"] == "spring"
    assert quote["notes"] == "first offer"
    assert quote["partner"] == {"id": gid("Partner", cast.partner)}
    assert quote["createdBy"] == {"id": gid("User", cast.partner_admin)}
    assert quote["sentAt"] is None
    assert quote["acceptedAt"] is None
    # One quote used the promotion once, however many of its lines it discounted.
    assert await usage_count(database, cast.tenant_id, promotion) == 1


@pytest.mark.asyncio
async def test_a_quote_is_frozen_when_prices_and_promotions_change_later(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: Cast
) -> None:
    promotion = await make_promotion(database, cast.tenant_id, name="Launch", percent="10")
    quote = await created(client, app, cast.manager, lines=[line(cast.switch, 4)])
    # Direct customer: 50.00, promotion 10% -5.00 → 45.00 x 4 = 180.00.
    assert quote["lines"][0]["unitPrice"] == "45.00"
    assert quote["total"] == money("180.00")

    async with database.session(cast.tenant_id) as session:
        await session.execute(
            update(PriceBookEntry)
            .where(PriceBookEntry.product_id == cast.switch.id)
            .values(unit_price=Decimal("80.00"))
        )
        await session.execute(
            update(Promotion)
            .where(Promotion.id == promotion.id)
            .values(discount_percent=Decimal("50"))
        )
        await session.execute(
            update(Product).where(Product.id == cast.switch.id).values(name="Renamed switch")
        )

    again = await call(client, app, cast.manager, NODE, {"id": quote["id"]})
    assert again["lines"] == quote["lines"]
    assert again["lines"][0]["productName"] == "Switch"
    for key in ("subtotal", "discountTotal", "total", "pricedAt", "lineCount"):
        assert again[key] == quote[key]
    # The change is real: a new quote prices at 80.00, 50% off → 40.00 x 4 = 160.00.
    fresh = await created(client, app, cast.manager, lines=[line(cast.switch, 4)])
    assert fresh["lines"][0]["listUnitPrice"] == "80.00"
    assert fresh["total"] == money("160.00")


@pytest.mark.asyncio
async def test_concurrent_quotes_are_numbered_one_to_n_without_gaps(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: Cast
) -> None:
    good = [line(cast.switch, 1)]
    bad = [line(cast.switch, 0)]
    inputs = [{"lines": bad if n % 4 == 2 else good} for n in range(20)]
    payloads = await asyncio.gather(
        *(create(client, app, cast.employee, **input_) for input_ in inputs)
    )
    numbers = sorted(p["quote"]["number"] for p in payloads if p["quote"] is not None)
    failures = [p["errors"] for p in payloads if p["quote"] is None]
    assert numbers == list(range(1, 16))
    assert len(failures) == 5
    assert all(
        e == [{"code": "INVALID", "field": "lines.0.quantity", "message": e[0]["message"]}]
        for e in failures
    )
    assert await quote_rows(database, cast.tenant_id) == (15, 15, 15)
    after = await created(client, app, cast.employee, lines=good)
    assert after["number"] == 16


@pytest.mark.asyncio
async def test_numbers_are_per_tenant(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: Cast
) -> None:
    other = await make_cast(database)
    first = await created(client, app, cast.admin, lines=[line(cast.switch, 1)])
    second = await created(client, app, cast.admin, lines=[line(cast.switch, 1)])
    elsewhere = await created(client, app, other.admin, lines=[line(other.switch, 1)])
    assert (first["number"], second["number"], elsewhere["number"]) == (1, 2, 1)


@pytest.mark.asyncio
async def test_statements_per_quote_do_not_grow_with_its_lines(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: Cast
) -> None:
    await make_promotion(database, cast.tenant_id, percent="5", usage_cap=100)
    kinds = [
        line(cast.router, 2, cast.premium),
        line(cast.switch, 3),
        line(cast.bundle, 1),
        line(cast.router, 12, cast.basic),
        line(cast.switch, 7),
    ]

    async def statements_for(count: int) -> int:
        lines = [kinds[n % len(kinds)] for n in range(count)]
        with counting_statements(database) as statements:
            quote = await created(client, app, cast.partner_admin, lines=lines, location="WH-1")
        assert quote["lineCount"] == count
        return len(statements)

    few, many = await statements_for(5), await statements_for(60)
    assert few == many
    assert await quote_rows(database, cast.tenant_id) == (2, 65, 2)


# Bad input ---------------------------------------------------------------------------


def _bad_inputs() -> list[tuple[str, Callable[[Cast], dict[str, Any]], str, str]]:
    """(case, input built from the cast, code, field): each writes nothing."""
    return [
        ("no lines", lambda c: {"lines": []}, "INVALID", "lines"),
        ("zero quantity", lambda c: {"lines": [line(c.switch, 0)]}, "INVALID", "lines.0.quantity"),
        (
            "negative quantity on the second line",
            lambda c: {"lines": [line(c.switch, 1), line(c.router, -3)]},
            "INVALID",
            "lines.1.quantity",
        ),
        (
            "unknown product",
            lambda c: {
                "lines": [
                    line(c.switch, 1),
                    {"productId": gid("Product", uuid.uuid4()), "quantity": 1},
                ]
            },
            "NOT_FOUND",
            "lines.1.productId",
        ),
        (
            "not a product id",
            lambda c: {"lines": [{"productId": gid("Partner", c.partner), "quantity": 1}]},
            "NOT_FOUND",
            "lines.0.productId",
        ),
        (
            "two choices of a group that takes one",
            lambda c: {"lines": [line(c.router, 1, c.premium, c.basic)]},
            "INVALID",
            "lines.0.optionIds",
        ),
        (
            "a choice of another product",
            lambda c: {"lines": [line(c.switch, 1, c.premium)]},
            "INVALID",
            "lines.0.optionIds",
        ),
        (
            "unknown currency",
            lambda c: {"lines": [line(c.switch, 1)], "currency": "XQQ"},
            "INVALID",
            "currency",
        ),
        (
            "no price in the currency",
            lambda c: {"lines": [line(c.switch, 1)], "currency": "EUR"},
            "INVALID",
            "lines.0.productId",
        ),
        (
            "valid until yesterday",
            lambda c: {
                "lines": [line(c.switch, 1)],
                "validUntil": (TODAY - timedelta(days=1)).isoformat(),
            },
            "INVALID",
            "validUntil",
        ),
        (
            "unknown promotion code",
            lambda c: {"lines": [line(c.switch, 1)], "promotionCode": "NOPE"},
            "NOT_FOUND",
            "promotionCode",
        ),
        (
            "unknown partner",
            lambda c: {"lines": [line(c.switch, 1)], "partnerId": gid("Partner", uuid.uuid4())},
            "NOT_FOUND",
            "partnerId",
        ),
        (
            "unknown account",
            lambda c: {"lines": [line(c.switch, 1)], "accountId": gid("Account", uuid.uuid4())},
            "NOT_FOUND",
            "accountId",
        ),
    ]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("case", "build", "code", "field"),
    _bad_inputs(),
    ids=[case for case, *_ in _bad_inputs()],
)
async def test_bad_input_is_refused_with_nothing_written(
    client: httpx.AsyncClient,
    app: FastAPI,
    database: Database,
    cast: Cast,
    case: str,
    build: Callable[[Cast], dict[str, Any]],
    code: str,
    field: str,
) -> None:
    await created(client, app, cast.manager, lines=[line(cast.switch, 1)])
    before = await quote_rows(database, cast.tenant_id)
    assert before == (1, 1, 1)

    payload = await create(client, app, cast.manager, **build(cast))

    assert payload["quote"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [(code, field)], case
    assert await quote_rows(database, cast.tenant_id) == before
    assert (await created(client, app, cast.manager, lines=[line(cast.switch, 1)]))["number"] == 2


@pytest.mark.asyncio
async def test_another_tenants_product_is_not_found(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: Cast
) -> None:
    other = await make_cast(database)
    payload = await create(client, app, cast.admin, lines=[line(other.switch, 1)])
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [
        ("NOT_FOUND", "lines.0.productId")
    ]
    assert await quote_rows(database, cast.tenant_id) == (0, 0, None)
    assert await quote_rows(database, other.tenant_id) == (0, 0, None)


@pytest.mark.asyncio
async def test_a_required_option_group_must_be_chosen_from(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: Cast
) -> None:
    async with database.session(cast.tenant_id) as session:
        await session.execute(
            update(ProductOptionGroup)
            .where(ProductOptionGroup.id == cast.support_group.id)
            .values(required=True, min_choices=1)
        )
    payload = await create(client, app, cast.admin, lines=[line(cast.router, 1)])
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [
        ("INVALID", "lines.0.optionIds")
    ]
    assert await quote_rows(database, cast.tenant_id) == (0, 0, None)


@pytest.mark.asyncio
async def test_the_account_and_opportunity_must_be_visible_and_belong_together(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: Cast
) -> None:
    own = await make_account(database, cast.tenant_id, partner_id=cast.partner.id)
    deal = await make_opportunity(
        database, cast.tenant_id, account_id=own.id, partner_id=cast.partner.id
    )
    foreign = await make_account(database, cast.tenant_id, partner_id=cast.other_partner.id)
    foreign_deal = await make_opportunity(
        database, cast.tenant_id, account_id=foreign.id, partner_id=cast.other_partner.id
    )
    elsewhere = await make_account(database, cast.tenant_id, partner_id=cast.partner.id)
    lines = [line(cast.switch, 1)]

    async def refused(**input_: Any) -> list[tuple[str, str]]:
        payload = await create(client, app, cast.partner_admin, lines=lines, **input_)
        assert payload["quote"] is None
        return [(e["code"], e["field"]) for e in payload["errors"]]

    assert await refused(accountId=gid("Account", foreign)) == [("NOT_FOUND", "accountId")]
    assert await refused(opportunityId=gid("Opportunity", foreign_deal)) == [
        ("NOT_FOUND", "opportunityId")
    ]
    assert await refused(
        accountId=gid("Account", elsewhere), opportunityId=gid("Opportunity", deal)
    ) == [("INVALID", "opportunityId")]
    assert await quote_rows(database, cast.tenant_id) == (0, 0, None)

    # The opportunity alone brings its account.
    quote = await created(
        client, app, cast.partner_admin, lines=lines, opportunityId=gid("Opportunity", deal)
    )
    assert quote["account"] == {"id": gid("Account", own)}
    assert quote["opportunity"] == {"id": gid("Opportunity", deal)}


# Stock -------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_lines_short_of_stock_are_flagged_not_refused(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: Cast
) -> None:
    tid = cast.tenant_id
    untracked = await make_product(database, tid, sku="CABLE", name="Cable")
    await make_price_book(database, tid, [(untracked, "2.00")], name="Cables")
    async with database.session(tid) as session:
        session.add_all(
            [
                # Routers: 9 on hand at WH-1, 3 of them set aside for the other partner,
                # so the partner can count on 6 there; 50 more at WH-2.
                StockLevel(tenant_id=tid, product_id=cast.router.id, location="WH-1", on_hand=9),
                StockLevel(tenant_id=tid, product_id=cast.router.id, location="WH-2", on_hand=50),
                StockLevel(tenant_id=tid, product_id=cast.switch.id, location="WH-1", on_hand=100),
            ]
        )
        await session.flush()
        session.add(
            StockAllocation(
                tenant_id=tid,
                product_id=cast.router.id,
                location="WH-1",
                partner_id=cast.other_partner.id,
                quantity=3,
            )
        )

    async def warnings(location: str | None, *lines: dict[str, Any]) -> list[str | None]:
        quote = await created(client, app, cast.partner_admin, lines=list(lines), location=location)
        flags = [quote_line["stockWarning"] for quote_line in quote["lines"]]
        assert quote["warningCount"] == sum(1 for flag in flags if flag)
        return flags

    # 6 routers at WH-1 are enough; 7 are not; cables track no stock at all.
    assert await warnings("WH-1", line(cast.router, 6), line(untracked, 1000)) == [None, None]
    assert await warnings("WH-1", line(cast.router, 7), line(untracked, 1000)) == [
        "INSUFFICIENT_STOCK",
        None,
    ]
    # Demand adds up across the quote: 4 routers plus a kit of 2 (one router each) is 6,
    # fine; a kit of 3 makes 7, and both lines needing routers are short.
    assert await warnings("WH-1", line(cast.router, 4), line(cast.bundle, 2)) == [None, None]
    assert await warnings(
        "WH-1", line(cast.router, 4), line(cast.bundle, 3), line(cast.switch, 1)
    ) == ["INSUFFICIENT_STOCK", "INSUFFICIENT_STOCK", None]
    # A kit of 51 needs 102 switches: short although the routers would do (over all
    # locations: 6 + 50 = 56 routers).
    assert await warnings(None, line(cast.bundle, 51)) == ["INSUFFICIENT_STOCK"]
    assert await warnings(None, line(cast.router, 56)) == [None]
    # Nothing at all is stocked at WH-3.
    assert await warnings("WH-3", line(cast.switch, 1)) == ["INSUFFICIENT_STOCK"]


# Promotion usage ---------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_used_up_promotion_no_longer_applies(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: Cast
) -> None:
    promotion = await make_promotion(database, cast.tenant_id, percent="10", usage_cap=1)
    first = await created(client, app, cast.admin, lines=[line(cast.switch, 1)])
    second = await created(client, app, cast.admin, lines=[line(cast.switch, 1)])
    assert steps(first["lines"][0]) == [("PROMOTION", "-5.00")]
    assert steps(second["lines"][0]) == []
    assert await usage_count(database, cast.tenant_id, promotion) == 1


@pytest.mark.asyncio
async def test_two_concurrent_quotes_for_a_promotions_last_use_get_it_once(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: Cast
) -> None:
    promotion = await make_promotion(database, cast.tenant_id, percent="10", usage_cap=1)
    # Hold the promotion's row lock so both quotes are priced with it before either
    # counts its use; then let them race for the one use left.
    async with database.session(cast.tenant_id) as blocker:
        await blocker.execute(
            select(Promotion.id).where(Promotion.id == promotion.id).with_for_update()
        )
        racing = [
            asyncio.ensure_future(create(client, app, cast.admin, lines=[line(cast.switch, 2)]))
            for _ in range(2)
        ]
        for _ in range(200):
            waiting = await blocker.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                    " AND datname = current_database()"
                )
            )
            if waiting == 2:
                break
            await asyncio.sleep(0.05)
        assert waiting == 2
    payloads = await asyncio.gather(*racing)

    won = [p for p in payloads if p["quote"] is not None]
    lost = [p for p in payloads if p["quote"] is None]
    assert len(won) == 1
    assert len(lost) == 1
    assert steps(won[0]["quote"]["lines"][0]) == [("PROMOTION", "-5.00")]
    assert [(e["code"], e["field"]) for e in lost[0]["errors"]] == [
        ("LIMIT_EXCEEDED", "promotionCode")
    ]
    assert await usage_count(database, cast.tenant_id, promotion) == 1
    # The loser wrote nothing and took no number.
    assert await quote_rows(database, cast.tenant_id) == (1, 1, 1)


# Updating ----------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_updating_a_draft_reprices_it_and_moves_its_promotion_uses(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: Cast
) -> None:
    coded = await make_promotion(
        database, cast.tenant_id, name="Coded", percent="20", code="TWENTY", usage_cap=1
    )
    quote = await created(
        client, app, cast.partner_admin, lines=[line(cast.switch, 2)], promotionCode="TWENTY"
    )
    # 50.00; tier -5.00 → 45.00; partner -2.25 → 42.75; 20% -8.55 → 34.20 x 2 = 68.40.
    assert quote["total"] == money("68.40")
    assert await usage_count(database, cast.tenant_id, coded) == 1

    # New lines: the quote holds the promotion's only use, and keeps it on re-pricing.
    payload = await call(
        client,
        app,
        cast.partner_admin,
        UPDATE,
        {"id": quote["id"], "input": {"lines": [line(cast.switch, 1), line(cast.router, 1)]}},
    )
    assert payload["errors"] == []
    updated = payload["quote"]
    # Router: 100.00; tier -10.00 → 90.00; partner -4.50 → 85.50; 20% -17.10 → 68.40.
    assert [ql["unitPrice"] for ql in updated["lines"]] == ["34.20", "68.40"]
    assert [ql["position"] for ql in updated["lines"]] == [1, 2]
    assert updated["total"] == money("102.60")
    assert updated["subtotal"] == money("150.00")
    assert updated["number"] == quote["number"]
    assert updated["pricedAt"] > quote["pricedAt"]
    assert await usage_count(database, cast.tenant_id, coded) == 1
    assert (await quote_rows(database, cast.tenant_id))[:2] == (1, 2)

    # Dropping the code gives the use back.
    payload = await call(
        client,
        app,
        cast.partner_admin,
        UPDATE,
        {"id": quote["id"], "input": {"promotionCode": None}},
    )
    assert payload["errors"] == []
    assert payload["quote"]["promotionCode"] is None
    assert payload["quote"]["total"] == money("128.25")  # 42.75 + 85.50
    assert await usage_count(database, cast.tenant_id, coded) == 0

    # Notes alone change nothing priced.
    before = payload["quote"]
    payload = await call(
        client, app, cast.partner_admin, UPDATE, {"id": quote["id"], "input": {"notes": "call Tue"}}
    )
    assert payload["quote"]["notes"] == "call Tue"
    assert payload["quote"]["pricedAt"] == before["pricedAt"]
    assert payload["quote"]["lines"] == before["lines"]


@pytest.mark.asyncio
async def test_an_update_that_fails_changes_nothing(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: Cast
) -> None:
    promotion = await make_promotion(database, cast.tenant_id, percent="10", usage_cap=5)
    quote = await created(client, app, cast.admin, lines=[line(cast.switch, 2)])
    for input_, error in [
        ({"lines": [line(cast.switch, 1), line(cast.router, 0)]}, ("INVALID", "lines.1.quantity")),
        ({"lines": []}, ("INVALID", "lines")),
        ({"lines": None}, ("INVALID", "lines")),
        ({"validUntil": (TODAY - timedelta(days=2)).isoformat()}, ("INVALID", "validUntil")),
        ({"promotionCode": "NOPE"}, ("NOT_FOUND", "promotionCode")),
    ]:
        payload = await call(client, app, cast.admin, UPDATE, {"id": quote["id"], "input": input_})
        assert [(e["code"], e["field"]) for e in payload["errors"]] == [error], input_
    again = await call(client, app, cast.admin, NODE, {"id": quote["id"]})
    assert again == quote
    assert await usage_count(database, cast.tenant_id, promotion) == 1
    assert await quote_rows(database, cast.tenant_id) == (1, 1, 1)


@pytest.mark.asyncio
async def test_changing_the_account_keeps_it_consistent_with_the_opportunity(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: Cast
) -> None:
    account = await make_account(database, cast.tenant_id)
    other = await make_account(database, cast.tenant_id)
    deal = await make_opportunity(database, cast.tenant_id, account_id=account.id)
    other_deal = await make_opportunity(database, cast.tenant_id, account_id=other.id)
    quote = await created(
        client,
        app,
        cast.manager,
        lines=[line(cast.switch, 1)],
        accountId=gid("Account", account),
        opportunityId=gid("Opportunity", deal),
    )

    async def change(**input_: Any) -> dict[str, Any]:
        payload: dict[str, Any] = await call(
            client, app, cast.manager, UPDATE, {"id": quote["id"], "input": input_}
        )
        return payload

    moved = await change(accountId=gid("Account", other))
    assert [(e["code"], e["field"]) for e in moved["errors"]] == [("INVALID", "accountId")]
    moved = await change(opportunityId=gid("Opportunity", other_deal))
    assert [(e["code"], e["field"]) for e in moved["errors"]] == [("INVALID", "opportunityId")]
    moved = await change(
        accountId=gid("Account", other), opportunityId=gid("Opportunity", other_deal)
    )
    assert moved["errors"] == []
    assert moved["quote"]["account"] == {"id": gid("Account", other)}
    assert moved["quote"]["opportunity"] == {"id": gid("Opportunity", other_deal)}
    cleared = await change(opportunityId=None)
    assert cleared["errors"] == []
    assert cleared["quote"]["opportunity"] is None
    assert cleared["quote"]["account"] == {"id": gid("Account", other)}


# Lifecycle ---------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_quote_goes_from_draft_to_sent_to_accepted(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: Cast
) -> None:
    quote = await created(
        client,
        app,
        cast.partner_admin,
        lines=[line(cast.switch, 1)],
        validUntil=TODAY.isoformat(),
    )
    sent = await call(client, app, cast.partner_admin, SEND, {"id": quote["id"]})
    assert sent["errors"] == []
    assert sent["quote"]["status"] == "SENT"
    assert sent["quote"]["sentAt"] is not None

    for document, variables in [
        (SEND, {"id": quote["id"]}),
        (UPDATE, {"id": quote["id"], "input": {"notes": "too late"}}),
    ]:
        refused = await call(client, app, cast.partner_admin, document, variables)
        assert [(e["code"], e["field"]) for e in refused["errors"]] == [
            ("INVALID_TRANSITION", "status")
        ]

    accepted = await call(client, app, cast.partner_admin, ACCEPT, {"id": quote["id"]})
    assert accepted["errors"] == []
    assert accepted["quote"]["status"] == "ACCEPTED"
    assert accepted["quote"]["acceptedAt"] is not None
    assert accepted["quote"]["lines"] == quote["lines"]

    for document in (SEND, ACCEPT, EXPIRE):
        refused = await call(client, app, cast.partner_admin, document, {"id": quote["id"]})
        assert [e["code"] for e in refused["errors"]] == ["INVALID_TRANSITION"]
    again = await call(client, app, cast.admin, NODE, {"id": quote["id"]})
    assert again["status"] == "ACCEPTED"


@pytest.mark.asyncio
async def test_drafts_and_sent_quotes_expire_and_stay_expired(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: Cast
) -> None:
    draft = await created(client, app, cast.employee, lines=[line(cast.switch, 1)])
    sent = await created(client, app, cast.employee, lines=[line(cast.switch, 1)])
    await call(client, app, cast.employee, SEND, {"id": sent["id"]})
    for quote in (draft, sent):
        expired = await call(client, app, cast.employee, EXPIRE, {"id": quote["id"]})
        assert expired["errors"] == []
        assert expired["quote"]["status"] == "EXPIRED"
        assert expired["quote"]["expiredAt"] is not None
        for document in (SEND, ACCEPT, EXPIRE):
            refused = await call(client, app, cast.employee, document, {"id": quote["id"]})
            assert [e["code"] for e in refused["errors"]] == ["INVALID_TRANSITION"]
    # A draft cannot be accepted before it is sent.
    fresh = await created(client, app, cast.employee, lines=[line(cast.switch, 1)])
    refused = await call(client, app, cast.employee, ACCEPT, {"id": fresh["id"]})
    assert [e["code"] for e in refused["errors"]] == ["INVALID_TRANSITION"]


@pytest.mark.asyncio
async def test_a_quote_past_its_valid_until_cannot_be_sent_or_accepted(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: Cast
) -> None:
    draft = await created(client, app, cast.admin, lines=[line(cast.switch, 1)])
    sent = await created(client, app, cast.admin, lines=[line(cast.switch, 1)])
    await call(client, app, cast.admin, SEND, {"id": sent["id"]})
    async with database.session(cast.tenant_id) as session:
        await session.execute(update(Quote).values(valid_until=TODAY - timedelta(days=1)))

    refused = await call(client, app, cast.admin, SEND, {"id": draft["id"]})
    assert [(e["code"], e["field"]) for e in refused["errors"]] == [("EXPIRED", "validUntil")]
    refused = await call(client, app, cast.admin, ACCEPT, {"id": sent["id"]})
    assert [(e["code"], e["field"]) for e in refused["errors"]] == [("EXPIRED", "validUntil")]
    statuses = await call(client, app, cast.admin, LIST, {})
    assert sorted(edge["node"]["status"] for edge in statuses["edges"]) == ["DRAFT", "SENT"]
    expired = await call(client, app, cast.admin, EXPIRE, {"id": sent["id"]})
    assert expired["quote"]["status"] == "EXPIRED"


@pytest.mark.asyncio
async def test_accepting_can_set_the_opportunity_amount_to_the_quote_total(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: Cast
) -> None:
    account = await make_account(database, cast.tenant_id, partner_id=cast.partner.id)
    deal = await make_opportunity(
        database,
        cast.tenant_id,
        account_id=account.id,
        partner_id=cast.partner.id,
        amount="999.00",
        currency="EUR",
    )
    quote = await created(
        client,
        app,
        cast.partner_admin,
        lines=[line(cast.router, 2), line(cast.switch, 1)],
        opportunityId=gid("Opportunity", deal),
    )
    # Router 100.00 - 10% - 5% = 85.50 x 2 = 171.00; switch 50.00 - 5.00 - 2.25 = 42.75.
    assert quote["total"] == money("213.75")
    await call(client, app, cast.partner_admin, SEND, {"id": quote["id"]})
    accepted = await call(client, app, cast.partner_admin, ACCEPT, {"id": quote["id"], "set": True})
    assert accepted["errors"] == []
    opportunity = await call(
        client, app, cast.partner_admin, OPPORTUNITY, {"id": gid("Opportunity", deal)}
    )
    assert opportunity["amount"] == money("213.75")


@pytest.mark.asyncio
async def test_setting_the_opportunity_amount_needs_an_opportunity(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: Cast
) -> None:
    quote = await created(client, app, cast.manager, lines=[line(cast.switch, 1)])
    await call(client, app, cast.manager, SEND, {"id": quote["id"]})
    refused = await call(client, app, cast.manager, ACCEPT, {"id": quote["id"], "set": True})
    assert [(e["code"], e["field"]) for e in refused["errors"]] == [
        ("INVALID", "setOpportunityAmount")
    ]
    again = await call(client, app, cast.manager, NODE, {"id": quote["id"]})
    assert again["status"] == "SENT"
    accepted = await call(client, app, cast.manager, ACCEPT, {"id": quote["id"], "set": False})
    assert accepted["quote"]["status"] == "ACCEPTED"


# Visibility and listing ---------------------------------------------------------------


@pytest.mark.asyncio
async def test_partner_users_see_and_quote_for_their_own_partner_only(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: Cast
) -> None:
    ours = await created(client, app, cast.partner_admin, lines=[line(cast.switch, 1)])
    theirs = await created(client, app, cast.other_rep, lines=[line(cast.switch, 1)])
    direct = await created(client, app, cast.admin, lines=[line(cast.switch, 1)])
    for_partner = await created(
        client,
        app,
        cast.manager,
        lines=[line(cast.switch, 1)],
        partnerId=gid("Partner", cast.partner),
    )
    assert ours["partner"] == {"id": gid("Partner", cast.partner)}
    assert theirs["partner"] == {"id": gid("Partner", cast.other_partner)}
    assert direct["partner"] is None
    # Staff price for the partner as the partner would: 50.00 - 10% - 5% = 42.75.
    assert for_partner["total"] == ours["total"] == money("42.75")
    assert direct["total"] == theirs["total"] == money("50.00")

    listed = await call(client, app, cast.other_rep, LIST, {})
    assert [edge["node"]["id"] for edge in listed["edges"]] == [theirs["id"]]
    assert (await call(client, app, cast.other_rep, NODE, {"id": ours["id"]})) is None
    for document, variables in [
        (SEND, {"id": ours["id"]}),
        (EXPIRE, {"id": ours["id"]}),
        (UPDATE, {"id": ours["id"], "input": {"notes": "mine now"}}),
    ]:
        refused = await call(client, app, cast.other_rep, document, variables)
        assert [(e["code"], e["field"]) for e in refused["errors"]] == [("NOT_FOUND", "id")]

    refused = await create(
        client,
        app,
        cast.other_rep,
        lines=[line(cast.switch, 1)],
        partnerId=gid("Partner", cast.partner),
    )
    assert [(e["code"], e["field"]) for e in refused["errors"]] == [("NOT_FOUND", "partnerId")]

    everything = await call(client, app, cast.employee, LIST, {})
    assert [edge["node"]["number"] for edge in everything["edges"]] == [4, 3, 2, 1]
    assert everything["totalCount"] == 4
    mine = await call(client, app, cast.partner_admin, LIST, {})
    assert sorted(edge["node"]["id"] for edge in mine["edges"]) == sorted(
        [ours["id"], for_partner["id"]]
    )


@pytest.mark.asyncio
async def test_quotes_filter_and_page_newest_first(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: Cast
) -> None:
    account = await make_account(database, cast.tenant_id)
    deal = await make_opportunity(database, cast.tenant_id, account_id=account.id)
    one = await created(client, app, cast.admin, lines=[line(cast.switch, 1)])
    two = await created(
        client,
        app,
        cast.admin,
        lines=[line(cast.switch, 1)],
        opportunityId=gid("Opportunity", deal),
    )
    three = await created(
        client,
        app,
        cast.admin,
        lines=[line(cast.switch, 1)],
        partnerId=gid("Partner", cast.partner),
    )
    await call(client, app, cast.admin, SEND, {"id": three["id"]})

    async def numbers(**filter_: Any) -> list[int]:
        listed = await call(client, app, cast.admin, LIST, {"filter": filter_})
        return [edge["node"]["number"] for edge in listed["edges"]]

    assert await numbers() == [3, 2, 1]
    assert await numbers(status="SENT") == [3]
    assert await numbers(status="DRAFT") == [2, 1]
    assert await numbers(partnerId=gid("Partner", cast.partner)) == [3]
    assert await numbers(accountId=gid("Account", account)) == [2]
    assert await numbers(opportunityId=gid("Opportunity", deal)) == [2]
    assert await numbers(number=1) == [1]
    assert await numbers(partnerId="garbage") == []
    assert (one["number"], two["number"]) == (1, 2)

    page = await call(client, app, cast.admin, LIST, {"first": 2})
    assert [edge["node"]["number"] for edge in page["edges"]] == [3, 2]
    assert page["pageInfo"]["hasNextPage"] is True
    rest = await call(
        client, app, cast.admin, LIST, {"first": 2, "after": page["pageInfo"]["endCursor"]}
    )
    assert [edge["node"]["number"] for edge in rest["edges"]] == [1]
    assert rest["pageInfo"]["hasNextPage"] is False


@pytest.mark.asyncio
async def test_a_page_of_quotes_with_lines_is_a_fixed_number_of_statements(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: Cast
) -> None:
    page = f"""query {{ quotes(first: 50) {{ edges {{ node {{ {QUOTE_FIELDS} }} }} }} }}"""

    async def statements_for_page() -> int:
        with counting_statements(database) as statements:
            listed = await call(client, app, cast.manager, page, {})
        assert all(edge["node"]["lines"] for edge in listed["edges"])
        return len(statements)

    account = await make_account(database, cast.tenant_id, partner_id=cast.partner.id)
    for _ in range(2):
        await created(
            client,
            app,
            cast.partner_admin,
            lines=[line(cast.router, 1, cast.premium), line(cast.bundle, 1)],
            accountId=gid("Account", account),
        )
    few = await statements_for_page()
    for _ in range(4):
        await created(
            client,
            app,
            cast.partner_admin,
            lines=[line(cast.switch, 2), line(cast.router, 3), line(cast.bundle, 1)],
            accountId=gid("Account", account),
        )
    assert await statements_for_page() == few


@pytest.mark.asyncio
async def test_a_quote_line_is_a_node_of_whoever_sees_its_quote(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: Cast
) -> None:
    quote = await created(client, app, cast.partner_admin, lines=[line(cast.switch, 3)])
    line_id = quote["lines"][0]["id"]
    document = "query ($id: ID!) { node(id: $id) { ... on QuoteLine { id quantity total } } }"
    seen = await call(client, app, cast.partner_admin, document, {"id": line_id})
    assert seen == {"id": line_id, "quantity": 3, "total": "128.25"}  # 42.75 x 3
    assert await call(client, app, cast.other_rep, document, {"id": line_id}) is None


@pytest.mark.asyncio
async def test_quoting_needs_authentication(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: Cast
) -> None:
    body = await gql(client, CREATE, {"input": {"lines": [line(cast.switch, 1)]}})
    assert error_codes(body) == ["UNAUTHENTICATED"]
    assert await quote_rows(database, cast.tenant_id) == (0, 0, None)


@pytest.mark.asyncio
async def test_the_stored_rows_match_what_the_api_shows(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: Cast
) -> None:
    promotion = await make_promotion(database, cast.tenant_id, percent="10")
    quote = await created(
        client, app, cast.partner_admin, lines=[line(cast.router, 1, cast.premium)]
    )
    async with database.session(cast.tenant_id) as session:
        row = await session.scalar(select(Quote))
        stored = await session.scalar(select(QuoteLine))
    assert row is not None
    assert stored is not None
    assert row.promotion_ids == [promotion.id]
    assert row.created_by == cast.partner_admin.id
    assert stored.options == [
        {"id": str(cast.premium.id), "group": "Support", "name": "Premium", "unitAmount": "20.00"}
    ]
    # 120.00; tier -12.00 → 108.00; partner -5.40 → 102.60; promotion -10.26 → 92.34.
    assert [a["kind"] for a in stored.adjustments] == ["TIER", "PARTNER", "PROMOTION"]
    assert stored.adjustments[2]["promotionId"] == str(promotion.id)
    assert (stored.list_unit_price, stored.unit_price) == (Decimal("120.00"), Decimal("92.34"))
    assert quote["total"] == money("92.34")
