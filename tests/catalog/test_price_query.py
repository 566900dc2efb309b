"""The `price` query through GraphQL: which book prices a product, volume breaks, tier
and partner discounts, promotions by targeting, code, window and usage, options,
bundles, who may price for whom, bad input as typed errors, and a statement count that
does not grow with the number of promotions or books."""

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
from sqlalchemy import event, select, update

from prm.auth.principal import Role
from prm.catalog.models import (
    PriceBook,
    Product,
    ProductOptionChoice,
    ProductOptionGroup,
    Promotion,
)
from prm.db.engine import Database
from prm.partners.models import Partner, PartnerTier
from prm.tenants.models import User
from tests.catalog.factories import make_price_book, make_product, make_promotion
from tests.crm.factories import gid
from tests.factories import (
    TenantWithAdmin,
    bearer,
    make_partner,
    make_tenant,
    make_tier,
    make_user,
)
from tests.graphql.support import gql

PRICE = """
query($input: PriceInput!) {
  price(input: $input) {
    product { id sku }
    quantity currency listUnitPrice unitPrice total listTotal savings
    adjustments { kind label unitAmount }
    options { choiceId group name unitAmount }
  }
}
"""
NOW = datetime.now(UTC)


@dataclass
class Cast:
    """A tenant with a 10% tier, a partner in it (Bavaria, Germany) with a rep, another
    partner, and an employee."""

    tenant: TenantWithAdmin
    tier: PartnerTier
    partner: Partner
    other_partner: Partner
    rep: User
    employee: User

    @property
    def id(self) -> uuid.UUID:
        return self.tenant.id


@pytest_asyncio.fixture
async def cast(database: Database) -> Cast:
    tenant = await make_tenant(database)
    tier = await make_tier(database, tenant.id)
    partner = await make_partner(database, tenant.id, tier_id=tier.id)
    other = await make_partner(database, tenant.id)
    async with database.session(tenant.id) as session:
        await session.execute(
            update(Partner).where(Partner.id == partner.id).values(country="DE", region="BY")
        )
    return Cast(
        tenant=tenant,
        tier=tier,
        partner=partner,
        other_partner=other,
        rep=await make_user(database, tenant.id, roles=(Role.PARTNER_REP,), partner_id=partner.id),
        employee=await make_user(database, tenant.id, roles=(Role.EMPLOYEE,)),
    )


async def ask(
    client: httpx.AsyncClient, app: FastAPI, user: User, product: Product | str, **input_: Any
) -> dict[str, Any]:
    """The whole response body of `price` for `user`."""
    input_["productId"] = product if isinstance(product, str) else gid("Product", product)
    input_.setdefault("quantity", 1)
    return await gql(client, PRICE, {"input": input_}, headers=bearer(app.state.issuer, user))


async def price(
    client: httpx.AsyncClient, app: FastAPI, user: User, product: Product, **input_: Any
) -> dict[str, Any]:
    body = await ask(client, app, user, product, **input_)
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["price"]
    return result


async def refused(
    client: httpx.AsyncClient, app: FastAPI, user: User, product: Product | str, **input_: Any
) -> tuple[str, str | None]:
    """The (code, field) of a refused price; the response has no data."""
    body = await ask(client, app, user, product, **input_)
    assert body["data"] is None, body
    [error] = body["errors"]
    assert error["path"] == ["price"]
    return error["extensions"]["code"], error["extensions"].get("field")


def steps(result: dict[str, Any]) -> list[tuple[str, str]]:
    return [(a["kind"], a["unitAmount"]) for a in result["adjustments"]]


def promotion_labels(result: dict[str, Any]) -> set[str]:
    return {a["label"] for a in result["adjustments"] if a["kind"] == "PROMOTION"}


async def set_rows(
    database: Database, tenant_id: uuid.UUID, model: Any, pk: Any, **values: Any
) -> None:
    async with database.session(tenant_id) as session:
        await session.execute(update(model).where(model.id == pk).values(**values))


# Which book -------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_the_partner_book_beats_the_tier_book_beats_the_default(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: Cast
) -> None:
    widget = await make_product(database, cast.id)
    await make_price_book(database, cast.id, [(widget, "100.00")])
    await make_price_book(database, cast.id, [(widget, "90.00")], tier_id=cast.tier.id)
    own = await make_price_book(database, cast.id, [(widget, "80.00")], partner_id=cast.partner.id)
    admin = cast.tenant.admin

    direct = await price(client, app, admin, widget)
    assert (direct["listUnitPrice"], direct["adjustments"]) == ("100.00", [])
    untiered = await price(client, app, admin, widget, partnerId=gid("Partner", cast.other_partner))
    assert untiered["listUnitPrice"] == "100.00"  # no tier, no book of its own: the default
    assert (await price(client, app, admin, widget, partnerId=gid("Partner", cast.partner)))[
        "listUnitPrice"
    ] == "80.00"

    await set_rows(database, cast.id, PriceBook, own.id, active=False)
    assert (await price(client, app, cast.rep, widget))["listUnitPrice"] == "90.00"


@pytest.mark.asyncio
async def test_books_out_of_their_window_in_another_currency_or_not_reached_are_skipped(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: Cast
) -> None:
    widget = await make_product(database, cast.id)
    await make_price_book(database, cast.id, [(widget, "100.00")])
    await make_price_book(
        database, cast.id, [(widget, "70.00")], partner_id=cast.partner.id,
        valid_until=NOW - timedelta(days=1),
    )  # fmt: skip
    await make_price_book(
        database, cast.id, [(widget, "60.00")], partner_id=cast.partner.id,
        valid_from=NOW + timedelta(days=30),
    )  # fmt: skip
    await make_price_book(
        database, cast.id, [(widget, "50.00")], partner_id=cast.partner.id, currency="EUR"
    )
    await make_price_book(database, cast.id, [(widget, "90.00", 10)], tier_id=cast.tier.id)

    assert (await price(client, app, cast.rep, widget))["listUnitPrice"] == "100.00"
    # The tier book starts at 10 units: from there it prices.
    assert (await price(client, app, cast.rep, widget, quantity=10))["listUnitPrice"] == "90.00"
    # Asked at a moment inside a window, that book prices.
    later = (NOW + timedelta(days=31)).isoformat()
    assert (await price(client, app, cast.rep, widget, at=later))["listUnitPrice"] == "60.00"
    euro = await price(client, app, cast.rep, widget, currency="eur")
    assert (euro["currency"], euro["listUnitPrice"]) == ("EUR", "50.00")


@pytest.mark.asyncio
async def test_the_volume_break_is_the_largest_minimum_the_quantity_reaches(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: Cast
) -> None:
    widget = await make_product(database, cast.id)
    await make_price_book(
        database, cast.id, [(widget, "100.00", 1), (widget, "90.00", 10), (widget, "75.00", 100)]
    )
    result = await price(client, app, cast.tenant.admin, widget, quantity=42)
    assert result["product"] == {"id": gid("Product", widget), "sku": widget.sku}
    assert (result["quantity"], result["currency"]) == (42, "USD")
    assert steps(result) == [("VOLUME", "-10.00")]
    # 42 x 90.00 = 3780.00; 42 x 100.00 = 4200.00
    assert (result["listUnitPrice"], result["unitPrice"]) == ("100.00", "90.00")
    assert (result["total"], result["listTotal"], result["savings"]) == (
        "3780.00",
        "4200.00",
        "420.00",
    )
    assert (await price(client, app, cast.tenant.admin, widget, quantity=9))[
        "unitPrice"
    ] == "100.00"
    assert (await price(client, app, cast.tenant.admin, widget, quantity=100))["unitPrice"] == (
        "75.00"
    )


# Discounts --------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_the_tier_and_then_the_partner_discount_apply(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: Cast
) -> None:
    widget = await make_product(database, cast.id)
    await make_price_book(database, cast.id, [(widget, "85.50")])
    tiered = await price(client, app, cast.rep, widget, quantity=3)
    # 10% of 85.50 = 8.55 → 76.95; x 3 = 230.85
    assert tiered["adjustments"] == [
        {"kind": "TIER", "label": f"{cast.tier.name} tier 10%", "unitAmount": "-8.55"}
    ]
    assert (tiered["unitPrice"], tiered["total"]) == ("76.95", "230.85")

    await set_rows(database, cast.id, Partner, cast.partner.id, discount_percent=Decimal("2.5"))
    both = await price(client, app, cast.rep, widget, quantity=3)
    # 2.5% of 76.95 = 1.92375 → 1.92 → 75.03; x 3 = 225.09
    assert steps(both) == [("TIER", "-8.55"), ("PARTNER", "-1.92")]
    assert (both["unitPrice"], both["total"], both["savings"]) == ("75.03", "225.09", "31.41")


@pytest.mark.asyncio
async def test_promotions_apply_by_tier_region_partner_and_product(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: Cast
) -> None:
    widget = await make_product(database, cast.id)
    gadget = await make_product(database, cast.id)
    await make_price_book(database, cast.id, [(widget, "100.00"), (gadget, "100.00")])
    other_tier = await make_tier(database, cast.id)
    targets: dict[str, dict[str, Any]] = {
        "everyone": {},
        "our tier": {"tier_ids": [cast.tier.id]},
        "another tier": {"tier_ids": [other_tier.id]},
        "our country": {"regions": ["de"]},
        "our region": {"regions": ["FR", "by"]},
        "elsewhere": {"regions": ["US", "CA"]},
        "us": {"partner_ids": [cast.partner.id]},
        "them": {"partner_ids": [cast.other_partner.id]},
        "the widget": {"product_ids": [widget.id]},
        "the gadget": {"product_ids": [gadget.id]},
        "us and the widget": {"partner_ids": [cast.partner.id], "product_ids": [widget.id]},
    }
    for n, (name, target) in enumerate(targets.items()):
        # Distinct small percentages, all stackable: every one that applies shows.
        await make_promotion(
            database, cast.id, name=name, percent=f"1.{n:02d}", stackable=True, **target
        )

    ours = await price(client, app, cast.rep, widget)
    assert promotion_labels(ours) == {
        "everyone", "our tier", "our country", "our region", "us", "the widget",
        "us and the widget",
    }  # fmt: skip
    theirs = await price(
        client, app, cast.tenant.admin, gadget, partnerId=gid("Partner", cast.other_partner)
    )
    assert promotion_labels(theirs) == {"everyone", "them", "the gadget"}
    direct = await price(client, app, cast.tenant.admin, widget)
    assert promotion_labels(direct) == {"everyone", "the widget"}


@pytest.mark.asyncio
async def test_the_best_single_promotion_or_the_stack_whichever_saves_more(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: Cast
) -> None:
    widget = await make_product(database, cast.id)
    await make_price_book(database, cast.id, [(widget, "200.00")])
    await make_promotion(database, cast.id, name="Spring 10%", percent="10", stackable=True)
    await make_promotion(database, cast.id, name="Ten off", amount="10.00", stackable=True)
    await make_promotion(database, cast.id, name="Clearance 12%", percent="12")
    # Stack: 10% of 200.00 = 20.00, then 10.00 = 30.00; the single 12% = 24.00.
    stacked = await price(client, app, cast.tenant.admin, widget)
    assert [(a["label"], a["unitAmount"]) for a in stacked["adjustments"]] == [
        ("Spring 10%", "-20.00"),
        ("Ten off", "-10.00"),
    ]
    await make_promotion(database, cast.id, name="Fifty off", amount="50.00")
    single = await price(client, app, cast.tenant.admin, widget)
    assert [(a["label"], a["unitAmount"]) for a in single["adjustments"]] == [
        ("Fifty off", "-50.00")
    ]
    assert single["unitPrice"] == "150.00"


@pytest.mark.asyncio
async def test_a_coded_promotion_needs_its_code_and_an_unknown_code_is_not_found(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: Cast
) -> None:
    widget = await make_product(database, cast.id)
    await make_price_book(database, cast.id, [(widget, "100.00")])
    coded = await make_promotion(database, cast.id, name="Spring", percent="15", code="SPRING26")
    await make_promotion(
        database, cast.id, name="Ended", percent="20", code="OLD", ends_at=NOW - timedelta(days=1),
        starts_at=NOW - timedelta(days=9),
    )  # fmt: skip

    assert promotion_labels(await price(client, app, cast.tenant.admin, widget)) == set()
    with_code = await price(client, app, cast.tenant.admin, widget, promotionCode=" spring26 ")
    assert steps(with_code) == [("PROMOTION", "-15.00")]
    assert await refused(client, app, cast.tenant.admin, widget, promotionCode="NOPE") == (
        "NOT_FOUND",
        "promotionCode",
    )
    # A code whose promotion is not running is as unknown as one never made.
    assert await refused(client, app, cast.tenant.admin, widget, promotionCode="old") == (
        "NOT_FOUND",
        "promotionCode",
    )
    # A code whose uses have all been taken is refused as such.
    used_up = await make_promotion(database, cast.id, percent="25", code="GONE", usage_cap=1)
    await set_rows(database, cast.id, Promotion, used_up.id, usage_count=1)
    assert await refused(client, app, cast.tenant.admin, widget, promotionCode="gone") == (
        "LIMIT_EXCEEDED",
        "promotionCode",
    )
    # Pricing is a question, not a use: the usage count stays.
    async with database.session(cast.id) as session:
        assert (
            await session.scalar(select(Promotion.usage_count).where(Promotion.id == coded.id)) == 0
        )


@pytest.mark.asyncio
async def test_used_up_and_out_of_window_promotions_do_not_apply(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: Cast
) -> None:
    widget = await make_product(database, cast.id)
    await make_price_book(database, cast.id, [(widget, "100.00")])
    used_up = await make_promotion(database, cast.id, name="Used up", percent="30", usage_cap=2)
    await set_rows(database, cast.id, Promotion, used_up.id, usage_count=2)
    await make_promotion(
        database, cast.id, name="Ended", percent="40",
        starts_at=NOW - timedelta(days=10), ends_at=NOW - timedelta(seconds=1),
    )  # fmt: skip
    await make_promotion(
        database, cast.id, name="Next month", percent="50",
        starts_at=NOW + timedelta(days=30), ends_at=NOW + timedelta(days=60),
    )  # fmt: skip
    await make_promotion(database, cast.id, name="Running", percent="5")

    now = await price(client, app, cast.tenant.admin, widget)
    assert promotion_labels(now) == {"Running"}
    later = await price(
        client, app, cast.tenant.admin, widget, at=(NOW + timedelta(days=31)).isoformat()
    )
    assert promotion_labels(later) == {"Next month"}


# Options and bundles ----------------------------------------------------------------


async def make_options(
    database: Database, product: Product, group: str, choices: dict[str, dict[str, str]]
) -> dict[str, str]:
    """One option group (choose at most one) with priced choices; their global ids by name."""
    async with database.session(product.tenant_id) as session:
        row = ProductOptionGroup(
            tenant_id=product.tenant_id, product_id=product.id, position=1, name=group,
            required=False, min_choices=0, max_choices=1,
        )  # fmt: skip
        session.add(row)
        await session.flush()
        made = [
            ProductOptionChoice(
                tenant_id=product.tenant_id,
                group_id=row.id,
                product_id=product.id,
                position=n,
                name=name,
                price_deltas=deltas,
            )
            for n, (name, deltas) in enumerate(choices.items())
        ]
        session.add_all(made)
        await session.flush()
        return {choice.name: gid("ProductOptionChoice", choice) for choice in made}


@pytest.mark.asyncio
async def test_options_add_their_delta_in_the_currency(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: Cast
) -> None:
    server = await make_product(database, cast.id)
    await make_price_book(database, cast.id, [(server, "1000.00")])
    await make_price_book(database, cast.id, [(server, "900.00")], currency="EUR")
    choices = await make_options(
        database, server, "Warranty",
        {"3 years": {"USD": "120.00"}, "5 years": {"USD": "200.00", "EUR": "180.00"},
         "1 year": {}},
    )  # fmt: skip

    result = await price(client, app, cast.rep, server, quantity=2, optionIds=[choices["3 years"]])
    # 1000.00 + 120.00 = 1120.00; tier 10% = 112.00 → 1008.00; x 2 = 2016.00
    assert result["options"] == [
        {"choiceId": choices["3 years"], "group": "Warranty", "name": "3 years",
         "unitAmount": "120.00"}
    ]  # fmt: skip
    assert (result["listUnitPrice"], result["unitPrice"], result["total"]) == (
        "1120.00",
        "1008.00",
        "2016.00",
    )
    euro = await price(
        client, app, cast.rep, server, currency="EUR", optionIds=[choices["5 years"]]
    )
    assert euro["listUnitPrice"] == "1080.00"
    free = await price(client, app, cast.rep, server, currency="EUR", optionIds=[choices["1 year"]])
    assert free["listUnitPrice"] == "900.00"
    assert Decimal(free["options"][0]["unitAmount"]) == 0

    assert await refused(
        client, app, cast.rep, server, currency="EUR", optionIds=[choices["3 years"]]
    ) == ("INVALID", "optionIds")
    # Two choices of a group that takes at most one
    assert await refused(
        client, app, cast.rep, server, optionIds=[choices["3 years"], choices["5 years"]]
    ) == ("INVALID", "optionIds")


@pytest.mark.asyncio
async def test_a_choice_of_another_product_or_not_a_choice_at_all_is_refused(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: Cast
) -> None:
    server = await make_product(database, cast.id)
    switch = await make_product(database, cast.id)
    await make_price_book(database, cast.id, [(server, "1000.00"), (switch, "300.00")])
    theirs = await make_options(database, switch, "Ports", {"48": {"USD": "100.00"}})
    assert await refused(client, app, cast.rep, server, optionIds=[theirs["48"]]) == (
        "INVALID",
        "optionIds",
    )
    assert await refused(client, app, cast.rep, server, optionIds=[gid("Product", server)]) == (
        "NOT_FOUND",
        "optionIds.0",
    )


@pytest.mark.asyncio
async def test_a_bundle_lists_at_its_items_and_takes_its_saving_last(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: Cast
) -> None:
    disk = await make_product(database, cast.id)
    chassis = await make_product(database, cast.id)
    kit = await make_product(
        database, cast.id, bundle_items=[(disk, 2), (chassis, 1)], bundle_discount_percent="10"
    )
    await make_price_book(
        database, cast.id, [(disk, "50.00"), (disk, "45.00", 6), (chassis, "30.00")]
    )
    one = await price(client, app, cast.tenant.admin, kit)
    # 2 x 50.00 + 30.00 = 130.00; bundle 10% = 13.00 → 117.00
    assert one["listUnitPrice"] == "130.00"
    assert one["adjustments"] == [
        {"kind": "BUNDLE", "label": "Bundle saving 10%", "unitAmount": "-13.00"}
    ]
    assert one["unitPrice"] == "117.00"
    # Three kits need six disks: the break saves 2 x 5.00 a kit → 120.00; 10% → 108.00
    three = await price(client, app, cast.tenant.admin, kit, quantity=3)
    assert steps(three) == [("VOLUME", "-10.00"), ("BUNDLE", "-12.00")]
    assert (three["unitPrice"], three["total"], three["listTotal"]) == (
        "108.00",
        "324.00",
        "390.00",
    )


# Who prices for whom, and bad input -------------------------------------------------


@pytest.mark.asyncio
async def test_a_partner_user_prices_only_for_its_own_partner(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: Cast
) -> None:
    widget = await make_product(database, cast.id)
    await make_price_book(database, cast.id, [(widget, "100.00")])
    own = await price(client, app, cast.rep, widget, partnerId=gid("Partner", cast.partner))
    assert own == await price(client, app, cast.rep, widget)
    assert steps(own) == [("TIER", "-10.00")]

    other = await refused(
        client, app, cast.rep, widget, partnerId=gid("Partner", cast.other_partner)
    )
    missing = await refused(client, app, cast.rep, widget, partnerId=gid("Partner", uuid.uuid4()))
    assert other == missing == ("NOT_FOUND", "partnerId")


@pytest.mark.asyncio
async def test_staff_may_price_for_any_partner_or_none(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: Cast
) -> None:
    widget = await make_product(database, cast.id)
    await make_price_book(database, cast.id, [(widget, "100.00")])
    for_partner = await price(
        client, app, cast.employee, widget, partnerId=gid("Partner", cast.partner)
    )
    assert for_partner["unitPrice"] == "90.00"
    assert (await price(client, app, cast.employee, widget))["unitPrice"] == "100.00"
    assert await refused(
        client, app, cast.employee, widget, partnerId=gid("Partner", uuid.uuid4())
    ) == ("NOT_FOUND", "partnerId")
    assert await refused(client, app, cast.employee, widget, partnerId=gid("Product", widget)) == (
        "NOT_FOUND",
        "partnerId",
    )


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("input_", "error"),
    [
        ({"quantity": 0}, ("INVALID", "quantity")),
        ({"quantity": -3}, ("INVALID", "quantity")),
        ({"quantity": 10_000_000}, ("INVALID", "quantity")),
        ({"currency": "ZZZ"}, ("INVALID", "currency")),
        ({"currency": ""}, ("INVALID", "currency")),
        ({"at": "2026-01-01T00:00:00"}, ("INVALID", "at")),
        ({"currency": "GBP"}, ("INVALID", "productId")),  # no book in GBP: no price
    ],
)
async def test_bad_input_is_a_typed_error(
    client: httpx.AsyncClient,
    app: FastAPI,
    database: Database,
    cast: Cast,
    input_: dict[str, Any],
    error: tuple[str, str],
) -> None:
    widget = await make_product(database, cast.id)
    await make_price_book(database, cast.id, [(widget, "100.00")])
    assert await refused(client, app, cast.tenant.admin, widget, **input_) == error


@pytest.mark.asyncio
async def test_products_that_cannot_be_priced_are_typed_errors(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: Cast
) -> None:
    retired = await make_product(database, cast.id, active=False)
    await make_price_book(database, cast.id, [(retired, "100.00")])
    elsewhere = await make_tenant(database)
    foreign = await make_product(database, elsewhere.id)
    await make_price_book(database, elsewhere.id, [(foreign, "100.00")])
    admin = cast.tenant.admin

    assert await refused(client, app, admin, foreign) == ("NOT_FOUND", "productId")
    assert await refused(client, app, admin, gid("Partner", cast.partner)) == (
        "NOT_FOUND",
        "productId",
    )
    assert await refused(client, app, admin, "not-an-id") == ("NOT_FOUND", "productId")
    assert await refused(client, app, admin, retired) == ("INVALID", "productId")
    # To a partner user a retired product does not exist.
    assert await refused(client, app, cast.rep, retired) == ("NOT_FOUND", "productId")


@pytest.mark.asyncio
async def test_pricing_needs_authentication(
    client: httpx.AsyncClient, database: Database, cast: Cast
) -> None:
    body = await gql(
        client, PRICE, {"input": {"productId": gid("Product", uuid.uuid4()), "quantity": 1}}
    )
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


# Statements -------------------------------------------------------------------------


async def statements_for(
    client: httpx.AsyncClient, app: FastAPI, database: Database, user: User, product: Product
) -> int:
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(args[2])

    engine = database.async_engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        await price(client, app, user, product, quantity=5, promotionCode="BENCH")
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return len(seen)


@pytest.mark.asyncio
async def test_the_statement_count_does_not_grow_with_promotions_or_books(
    client: httpx.AsyncClient, app: FastAPI, database: Database, cast: Cast
) -> None:
    part = await make_product(database, cast.id)
    kit = await make_product(database, cast.id, bundle_items=[(part, 2)])
    await make_price_book(database, cast.id, [(part, "10.00"), (part, "9.00", 5)])
    await make_promotion(database, cast.id, name="Bench", percent="5", code="BENCH")
    await make_options(database, kit, "Colour", {"Red": {}})
    few = await statements_for(client, app, database, cast.rep, kit)

    for n in range(25):
        await make_promotion(
            database, cast.id, percent=str(n % 9 + 1), stackable=n % 2 == 0,
            **({"product_ids": [kit.id]} if n % 3 == 0 else {}),
        )  # fmt: skip
    await make_price_book(database, cast.id, [(part, "9.50")], tier_id=cast.tier.id)
    await make_price_book(database, cast.id, [(part, "9.00")], partner_id=cast.partner.id)
    await make_price_book(database, cast.id, [(part, "8.00")], currency="EUR")
    await make_price_book(
        database, cast.id, [(part, "7.00")], partner_id=cast.partner.id,
        valid_until=NOW - timedelta(days=1),
    )  # fmt: skip
    many = await statements_for(client, app, database, cast.rep, kit)
    assert 0 < many == few, (few, many)
