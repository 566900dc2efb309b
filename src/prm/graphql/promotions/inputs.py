"""Inputs and the filter of promotions, and their translation into the domain's fields
and criteria. A target id that names nothing (garbage, another type) is `NOT_FOUND`; in
the filter it matches nothing."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

import strawberry

from prm.catalog.promotions import PromotionCriteria, PromotionFields
from prm.graphql.relay import pk_of

NOTHING = uuid.UUID(int=0)

_TARGETS = {"tier_ids": "PartnerTier", "partner_ids": "Partner", "product_ids": "Product"}


def _pks(values: list[strawberry.ID] | None, type_name: str) -> list[uuid.UUID | None] | None:
    return None if values is None else [pk_of(value, type_name) for value in values]


def _fields(values: dict[str, Any]) -> PromotionFields:
    fields = PromotionFields()
    for key, value in values.items():
        if value is strawberry.UNSET:
            continue
        if key in _TARGETS:
            value = _pks(value, _TARGETS[key])
        fields[key] = value  # type: ignore[literal-required]
    return fields


@strawberry.input(
    description="Exactly one of `discountPercent` and `discountAmount` (with `currency`). "
    "Empty or absent target lists mean no restriction."
)
class CreatePromotionInput:
    name: str
    code: str | None = strawberry.field(
        default=None,
        description="3 to 64 letters, digits, `_` or `-`, unique case-insensitively; with one, "
        "the promotion applies only to prices asked for with it.",
    )
    discount_percent: Decimal | None = strawberry.field(
        default=None, description="More than 0, at most 100, two decimals."
    )
    discount_amount: Decimal | None = strawberry.field(
        default=None, description="Off the unit price, in `currency`."
    )
    currency: str | None = strawberry.field(
        default=None, description="ISO 4217; required with `discountAmount` only."
    )
    tier_ids: list[strawberry.ID] | None = None
    regions: list[str] | None = strawberry.field(
        default=None, description="Country or region codes a partner's must match."
    )
    partner_ids: list[strawberry.ID] | None = None
    product_ids: list[strawberry.ID] | None = None
    starts_at: datetime
    ends_at: datetime = strawberry.field(description="Exclusive; after `startsAt`.")
    stackable: bool | None = strawberry.field(
        default=None, description="Combines with other stackable promotions (default false)."
    )
    usage_cap: int | None = strawberry.field(
        default=None, description="Quotes that may use it; null: no cap."
    )
    description: str | None = None

    def fields(self) -> PromotionFields:
        values = dict(vars(self))
        if values["stackable"] is None:
            values["stackable"] = False
        return _fields(values)


@strawberry.input(
    description="Only the fields given change. A discount given replaces the other kind "
    "(`discountPercent` clears the amount and its currency, and vice versa)."
)
class UpdatePromotionInput:
    name: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    code: str | None = strawberry.UNSET
    discount_percent: Decimal | None = strawberry.UNSET
    discount_amount: Decimal | None = strawberry.UNSET
    currency: str | None = strawberry.UNSET
    tier_ids: list[strawberry.ID] | None = strawberry.UNSET
    regions: list[str] | None = strawberry.UNSET
    partner_ids: list[strawberry.ID] | None = strawberry.UNSET
    product_ids: list[strawberry.ID] | None = strawberry.UNSET
    starts_at: datetime | None = strawberry.UNSET
    ends_at: datetime | None = strawberry.UNSET
    stackable: bool | None = strawberry.UNSET
    usage_cap: int | None = strawberry.field(
        default=strawberry.UNSET, description="Not below the uses counted; null: no cap."
    )

    def fields(self) -> PromotionFields:
        return _fields(dict(vars(self)))


@strawberry.input(description="Narrows `promotions`; every field is optional and they combine.")
class PromotionFilter:
    active_at: datetime | None = strawberry.field(
        default=None,
        description="Running at this moment (partner users: default now, staff: any time).",
    )
    code: str | None = strawberry.field(default=None, description="Case-insensitive.")
    product_id: strawberry.ID | None = strawberry.field(
        default=None, description="Applying to the product (untargeted ones included)."
    )
    partner_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="Aimed at the partner by id, tier or territory (untargeted included).",
    )

    def criteria(self) -> PromotionCriteria:
        return PromotionCriteria(
            active_at=self.active_at,
            code=self.code,
            product_id=_filter_pk(self.product_id, "Product"),
            partner_id=_filter_pk(self.partner_id, "Partner"),
        )


def _filter_pk(value: strawberry.ID | None, type_name: str) -> uuid.UUID | None:
    if value is None:
        return None
    return pk_of(value, type_name) or NOTHING
