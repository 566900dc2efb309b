"""Inputs of marketing: segment filters, segments, campaigns and the `campaigns` filter."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import strawberry
from sqlalchemy import Select

from prm.crm.marketing_models import Campaign
from prm.crm.segments import SegmentFilters, validate_filters
from prm.graphql.crm.enums import ChannelEnum
from prm.graphql.marketing.types import CampaignStatusEnum
from prm.graphql.scalars import MoneyInput


def _money(value: MoneyInput | None) -> tuple[Decimal, str] | None:
    return (value.amount, value.currency) if value is not None else None


@strawberry.input(
    description="Which contacts a segment reaches; given filters are ANDed, a list matches "
    "any of its values; opted-out contacts are always excluded."
)
class SegmentFilterInput:
    industries: list[str] | None = strawberry.field(
        default=None, description="The contact's account is in one of these industries."
    )
    countries: list[str] | None = strawberry.field(
        default=None, description="ISO 3166-1 alpha-2 codes of the account's country."
    )
    lifetime_value_min: MoneyInput | None = strawberry.field(
        default=None,
        description="The account's lifetime value (Account.lifetimeValue; 0 without a won "
        "deal) is at least this, in the tenant's currency.",
    )
    lifetime_value_max: MoneyInput | None = strawberry.field(
        default=None, description="... and at most this."
    )
    last_purchase_after: date | None = strawberry.field(
        default=None, description="The account's last won deal closed on or after this day."
    )
    last_purchase_before: date | None = strawberry.field(
        default=None, description="The account's last won deal closed before this day."
    )
    min_lead_score: int | None = strawberry.field(
        default=None,
        description="A lead with the contact's email, or converted into a deal of its "
        "account, scored at least this (0..100).",
    )

    def validated(self, currency: str) -> SegmentFilters:
        return validate_filters(
            currency,
            industries=self.industries,
            countries=self.countries,
            lifetime_value_min=_money(self.lifetime_value_min),
            lifetime_value_max=_money(self.lifetime_value_max),
            last_purchase_after=self.last_purchase_after,
            last_purchase_before=self.last_purchase_before,
            min_lead_score=self.min_lead_score,
        )


@strawberry.input
class CreateSegmentInput:
    name: str
    description: str | None = None
    filters: SegmentFilterInput = strawberry.field(default_factory=SegmentFilterInput)


@strawberry.input(description="Given fields change; `filters` replace the old ones whole.")
class UpdateSegmentInput:
    name: str | None = None
    description: str | None = None
    filters: SegmentFilterInput | None = None


@strawberry.input
class CreateCampaignInput:
    name: str
    channel: ChannelEnum  # type: ignore[valid-type]
    starts_on: date
    ends_on: date | None = None
    budget: MoneyInput | None = strawberry.field(
        default=None, description="In the tenant's currency; a plan, not a cost."
    )
    segment_id: strawberry.ID | None = None
    description: str | None = None

    def budget_value(self) -> tuple[Decimal, str] | None:
        return _money(self.budget)


@strawberry.input(description="Given fields change; `status` follows CampaignStatus.")
class UpdateCampaignInput:
    name: str | None = None
    channel: ChannelEnum | None = None  # type: ignore[valid-type]
    status: CampaignStatusEnum | None = None  # type: ignore[valid-type]
    starts_on: date | None = None
    ends_on: date | None = None
    budget: MoneyInput | None = None
    segment_id: strawberry.ID | None = None
    description: str | None = None

    def budget_value(self) -> tuple[Decimal, str] | None:
        return _money(self.budget)


@strawberry.input
class CampaignFilter:
    status: CampaignStatusEnum | None = None  # type: ignore[valid-type]
    channel: ChannelEnum | None = None  # type: ignore[valid-type]

    def apply(self, statement: Select[Campaign]) -> Select[Campaign]:
        if self.status is not None:
            statement = statement.where(Campaign.status == self.status)
        if self.channel is not None:
            statement = statement.where(Campaign.channel == self.channel)
        return statement


@strawberry.input
class CampaignMemberFilter:
    responded: bool | None = strawberry.field(
        default=None, description="Only members with (true) or without (false) a response."
    )
