"""Inputs, filters and orderings of the partners API. Update inputs distinguish an absent
field (unchanged) from an explicit null (cleared)."""

from __future__ import annotations

import enum
from decimal import Decimal

import strawberry

from prm.graphql.pagination import OrderDirection
from prm.graphql.partners.types import PartnerStatusEnum


@strawberry.input
class CreatePartnerTierInput:
    name: str
    rank: int = strawberry.field(description="Lower is better; 0 to 1,000,000.")
    discount_percent: Decimal = strawberry.field(description="0 to 100, two decimals.")
    lead_weight: Decimal = strawberry.field(description="Not negative, three decimals.")


@strawberry.input(description="Only the fields given change.")
class UpdatePartnerTierInput:
    name: str | None = strawberry.UNSET
    rank: int | None = strawberry.UNSET
    discount_percent: Decimal | None = strawberry.UNSET
    lead_weight: Decimal | None = strawberry.UNSET


@strawberry.input
class CreatePartnerInput:
    name: str
    tier_id: strawberry.ID | None = None
    status: PartnerStatusEnum | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="The initial status; ONBOARDING when omitted."
    )
    country: str | None = strawberry.field(default=None, description="ISO 3166-1 alpha-2.")
    region: str | None = None
    postal_prefixes: list[str] | None = None
    capabilities: list[str] | None = None
    capacity: int | None = strawberry.field(default=None, description="Not negative.")
    discount_percent: Decimal | None = strawberry.field(
        default=None,
        description="Its own discount on every price, on top of its tier's: 0 to 100, two "
        "decimals.",
    )
    notes: str | None = strawberry.field(default=None, description="Seen by tenant staff only.")


@strawberry.input(
    description="Only the fields given change; null clears a field. `status` must equal "
    "the current one (change it with setPartnerStatus)."
)
class UpdatePartnerInput:
    name: str | None = strawberry.UNSET
    tier_id: strawberry.ID | None = strawberry.UNSET
    status: PartnerStatusEnum | None = strawberry.UNSET  # type: ignore[valid-type]
    country: str | None = strawberry.UNSET
    region: str | None = strawberry.UNSET
    postal_prefixes: list[str] | None = strawberry.UNSET
    capabilities: list[str] | None = strawberry.UNSET
    capacity: int | None = strawberry.UNSET
    discount_percent: Decimal | None = strawberry.UNSET
    notes: str | None = strawberry.UNSET


@strawberry.input(description="Narrows `partners`; every field is optional and they combine.")
class PartnerFilter:
    status: PartnerStatusEnum | None = None  # type: ignore[valid-type]
    tier_id: strawberry.ID | None = None
    country: str | None = strawberry.field(default=None, description="ISO 3166-1 alpha-2.")
    region: str | None = None
    capability: str | None = strawberry.field(
        default=None, description="Partners that have this capability (case-insensitive)."
    )
    search: str | None = strawberry.field(
        default=None, description="Case-insensitive substring of the name."
    )


@strawberry.enum
class PartnerOrderField(enum.Enum):
    NAME = "NAME"
    TIER = "TIER"
    SCORE = "SCORE"
    CREATED = "CREATED"


@strawberry.input(
    description="TIER sorts by tier rank (partners without a tier last when ascending); "
    "SCORE treats an unscored partner as the lowest score. Ties break by id."
)
class PartnerOrder:
    field: PartnerOrderField
    direction: OrderDirection = OrderDirection.ASC
