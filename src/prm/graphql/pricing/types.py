"""Price breakdowns as the API shows them: a `price` result's and a quote line's (frozen)
adjustments and chosen options share these types; `PriceResult` is the `price` answer."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import strawberry

from prm.catalog.price_context import ChosenOption, PricedLine
from prm.catalog.pricing import Adjustment
from prm.graphql.products.types import ProductType
from prm.graphql.relay import encode_global_id
from prm.money import round_money


@strawberry.type(
    name="PriceAdjustment",
    description="One step of a price: VOLUME, TIER, PARTNER, PROMOTION or BUNDLE, in the "
    "order applied. `unitAmount` is what it changed the unit price by (negative).",
)
class PriceAdjustmentType:
    kind: str
    label: str
    unit_amount: Decimal

    @classmethod
    def of(cls, adjustment: Adjustment) -> PriceAdjustmentType:
        return cls(
            kind=adjustment.kind.value, label=adjustment.label, unit_amount=adjustment.unit_amount
        )

    @classmethod
    def from_json(cls, frozen: dict[str, Any]) -> PriceAdjustmentType:
        """From a quote line's frozen breakdown (`Adjustment.as_json`)."""
        return cls(
            kind=frozen["kind"], label=frozen["label"], unit_amount=Decimal(frozen["unitAmount"])
        )


@strawberry.type(name="ChosenOption", description="An option choice priced into a line.")
class ChosenOptionType:
    choice_id: strawberry.ID = strawberry.field(description="The ProductOptionChoice's id.")
    group: str
    name: str
    unit_amount: Decimal = strawberry.field(description="What it adds to the unit list price.")

    @classmethod
    def of(cls, option: ChosenOption) -> ChosenOptionType:
        return cls.from_json(option.as_json())

    @classmethod
    def from_json(cls, frozen: dict[str, Any]) -> ChosenOptionType:
        return cls(
            choice_id=strawberry.ID(
                encode_global_id("ProductOptionChoice", uuid.UUID(frozen["id"]))
            ),
            group=frozen["group"],
            name=frozen["name"],
            unit_amount=Decimal(frozen["unitAmount"]),
        )


@strawberry.type(
    name="PriceResult",
    description="What `quantity` units of a product cost a buyer at a moment, with the steps "
    "from the list price to the net price.",
)
class PriceResultType:
    product: ProductType
    quantity: int
    currency: str
    list_unit_price: Decimal = strawberry.field(
        description="Before any adjustment: the base entry (a bundle: its items') plus options."
    )
    unit_price: Decimal = strawberry.field(description="After every adjustment; never negative.")
    total: Decimal = strawberry.field(description="unitPrice x quantity.")
    list_total: Decimal = strawberry.field(description="listUnitPrice x quantity.")
    savings: Decimal = strawberry.field(description="listTotal - total.")
    adjustments: list[PriceAdjustmentType] = strawberry.field(
        description="In the order applied: VOLUME, TIER, PARTNER, PROMOTION, BUNDLE."
    )
    options: list[ChosenOptionType]

    @classmethod
    def of(cls, line: PricedLine) -> PriceResultType:
        breakdown = line.breakdown
        list_total = round_money(breakdown.list_unit_price * breakdown.quantity, breakdown.currency)
        return cls(
            product=ProductType.from_model(line.product),
            quantity=breakdown.quantity,
            currency=breakdown.currency,
            list_unit_price=breakdown.list_unit_price,
            unit_price=breakdown.unit_price,
            total=breakdown.total,
            list_total=list_total,
            savings=list_total - breakdown.total,
            adjustments=[PriceAdjustmentType.of(a) for a in breakdown.adjustments],
            options=[ChosenOptionType.of(o) for o in line.options],
        )
