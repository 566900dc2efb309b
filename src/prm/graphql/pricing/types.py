"""Price breakdowns as the API shows them: a `price` result's and a quote line's (frozen)
adjustments and chosen options share these types."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import strawberry

from prm.catalog.price_context import ChosenOption
from prm.catalog.pricing import Adjustment
from prm.graphql.relay import encode_global_id


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
