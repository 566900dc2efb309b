"""Inputs and filters of price books. An id in a filter that names nothing (garbage,
another type) matches nothing."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

import strawberry
from sqlalchemy import Select

from prm.catalog.models import PriceBookEntry, PriceBookScope
from prm.catalog.price_books import EntryInput, PriceBookCriteria
from prm.graphql.relay import pk_of

PriceBookScopeEnum = strawberry.enum(
    PriceBookScope,
    name="PriceBookScope",
    description="Whom a book prices for: everyone (DEFAULT), one tier, or one partner.",
)

NOTHING = uuid.UUID(int=0)
"""Stands for an id that names nothing: no row has it, so a filter on it matches none."""


def filter_pk(value: strawberry.ID | None, type_name: str) -> uuid.UUID | None:
    if value is None:
        return None
    return pk_of(value, type_name) or NOTHING


@strawberry.input(description="Exactly one of `isDefault: true`, `tierId` and `partnerId`.")
class CreatePriceBookInput:
    name: str
    currency: str = strawberry.field(description="ISO 4217.")
    is_default: bool | None = None
    tier_id: strawberry.ID | None = None
    partner_id: strawberry.ID | None = None
    valid_from: datetime | None = strawberry.field(
        default=None, description="Null: valid since always."
    )
    valid_until: datetime | None = strawberry.field(
        default=None, description="Exclusive; null: valid for ever."
    )
    active: bool | None = strawberry.field(default=None, description="Default true.")


@strawberry.input(description="Only the fields given change; a null window end is unbounded.")
class UpdatePriceBookInput:
    name: str | None = strawberry.UNSET
    valid_from: datetime | None = strawberry.UNSET
    valid_until: datetime | None = strawberry.UNSET
    active: bool | None = strawberry.UNSET


@strawberry.input(
    description="A unit price from `minQuantity` units up (a volume break, default 1)."
)
class PriceBookEntryInput:
    product_id: strawberry.ID
    unit_price: Decimal
    min_quantity: int | None = None

    def entry(self) -> EntryInput:
        return EntryInput(
            product_id=pk_of(self.product_id, "Product"),
            unit_price=self.unit_price,
            min_quantity=self.min_quantity,
        )


@strawberry.input(description="Narrows `priceBooks`; every field is optional and they combine.")
class PriceBookFilter:
    currency: str | None = None
    scope: PriceBookScopeEnum | None = None  # type: ignore[valid-type]
    tier_id: strawberry.ID | None = None
    partner_id: strawberry.ID | None = None
    active: bool | None = None

    def criteria(self) -> PriceBookCriteria:
        return PriceBookCriteria(
            currency=self.currency,
            scope=self.scope,
            tier_id=filter_pk(self.tier_id, "PartnerTier"),
            partner_id=filter_pk(self.partner_id, "Partner"),
            active=self.active,
        )


@strawberry.input(description="Narrows a book's `entries`.")
class PriceBookEntryFilter:
    product_id: strawberry.ID | None = None

    def product_pk(self) -> uuid.UUID | None:
        return filter_pk(self.product_id, "Product")


def narrow_entries(
    statement: Select[PriceBookEntry], product_id: uuid.UUID
) -> Select[PriceBookEntry]:
    return statement.where(PriceBookEntry.product_id == product_id)
