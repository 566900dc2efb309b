"""Segments, campaigns, members and campaign metrics as the API shows them.

`Segment.size` / `Segment.preview` and `Campaign.metrics` are batched per request: a page
of segments costs one UNION ALL (two for previews), a page of campaigns one metrics
statement (`prm.crm.campaign_metrics`). Everything here is tenant staff's only: for a
partner user every id of these types is null / NOT_FOUND.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import TypeVar

import strawberry
from strawberry.dataloader import DataLoader

from prm.auth.principal import is_staff
from prm.crm import campaign_metrics, segments
from prm.crm.campaign_metrics import CampaignMetrics
from prm.crm.marketing_models import (
    Campaign,
    CampaignMember,
    CampaignStatus,
    MemberResponse,
    Segment,
)
from prm.crm.models import Contact
from prm.crm.segments import MAX_PREVIEW, SegmentFilters
from prm.graphql.context import Context, Info
from prm.graphql.crm.enums import ChannelEnum
from prm.graphql.crm.types import ContactType, load_contact
from prm.graphql.errors import BadUserInput
from prm.graphql.relay import Node, register_node
from prm.graphql.scalars import MoneyType
from prm.money import Money

CampaignStatusEnum = strawberry.enum(
    CampaignStatus,
    name="CampaignStatus",
    description="PLANNED → ACTIVE → COMPLETED; PLANNED or ACTIVE → CANCELLED.",
)
CampaignResponseEnum = strawberry.enum(
    MemberResponse,
    name="CampaignResponse",
    description="A member's response; the strongest is kept: OPENED < CLICKED < REPLIED < "
    "REGISTERED < PURCHASED < UNSUBSCRIBED (which also opts the contact out).",
)
DEFAULT_PREVIEW = 20


@strawberry.type(name="SegmentFilters", description="A segment's saved, validated filters.")
class SegmentFiltersType:
    industries: list[str]
    countries: list[str] = strawberry.field(description="ISO 3166-1 alpha-2 codes.")
    lifetime_value_min: MoneyType | None
    lifetime_value_max: MoneyType | None
    last_purchase_after: date | None = strawberry.field(
        description="The account's last won deal closed on or after this day (UTC)."
    )
    last_purchase_before: date | None = strawberry.field(
        description="The account's last won deal closed before this day (UTC)."
    )
    min_lead_score: int | None = strawberry.field(
        description="A lead with the contact's email, or converted at its account, scored "
        "at least this."
    )

    @classmethod
    def of(cls, filters: SegmentFilters, currency: str) -> SegmentFiltersType:
        return cls(
            industries=list(filters.industries),
            countries=list(filters.countries),
            lifetime_value_min=MoneyType.maybe(filters.lifetime_value_min, currency),
            lifetime_value_max=MoneyType.maybe(filters.lifetime_value_max, currency),
            last_purchase_after=filters.last_purchase_after,
            last_purchase_before=filters.last_purchase_before,
            min_lead_score=filters.min_lead_score,
        )


@strawberry.type(
    name="Segment",
    description="A saved filter over accounts and contacts; opted-out contacts never match.",
)
class SegmentType(Node):
    name: str
    description: str | None
    created_at: datetime
    updated_at: datetime
    record: strawberry.Private[Segment]

    @strawberry.field(description="The filters; money in the tenant's default currency.")
    async def filters(self, info: Info) -> SegmentFiltersType:
        currency = await _currency(info.context)
        return SegmentFiltersType.of(SegmentFilters.from_json(self.record.filters), currency)

    @strawberry.field(description="How many contacts the segment reaches now.")
    async def size(self, info: Info) -> int:
        loader = info.context.loaders.custom("marketing.segment_size", _size_loader(info.context))
        size: int = await loader.load(self.record)
        return size

    @strawberry.field(description="The first contacts the segment reaches (by id), at most 100.")
    async def preview(self, info: Info, first: int = DEFAULT_PREVIEW) -> list[ContactType]:
        if not 0 <= first <= MAX_PREVIEW:
            raise BadUserInput(f"`first` is between 0 and {MAX_PREVIEW}")
        loader = info.context.loaders.custom(
            f"marketing.segment_preview.{first}", _preview_loader(info.context, first)
        )
        contacts: list[Contact] = await loader.load(self.record)
        return [ContactType.from_model(contact) for contact in contacts]

    @classmethod
    def from_model(cls, segment: Segment) -> SegmentType:
        return cls.from_row(segment, record=segment)


def _size_loader(context: Context) -> Callable[[], DataLoader[Segment, int]]:
    def factory() -> DataLoader[Segment, int]:
        async def load(rows: Sequence[Segment]) -> list[int]:
            principal = context.principal
            assert principal is not None
            sizes = await segments.segment_sizes(context.session, principal, rows)
            return [sizes.get(row.id, 0) for row in rows]

        return DataLoader(load_fn=load, cache_key_fn=lambda row: row.id)

    return factory


def _preview_loader(
    context: Context, first: int
) -> Callable[[], DataLoader[Segment, list[Contact]]]:
    def factory() -> DataLoader[Segment, list[Contact]]:
        async def load(rows: Sequence[Segment]) -> list[list[Contact]]:
            principal = context.principal
            assert principal is not None
            found = await segments.segment_previews(context.session, principal, rows, first)
            return [found.get(row.id, []) for row in rows]

        return DataLoader(load_fn=load, cache_key_fn=lambda row: row.id)

    return factory


async def _currency(context: Context) -> str:
    def factory() -> DataLoader[uuid.UUID, str]:
        async def load(ids: Sequence[uuid.UUID]) -> list[str]:
            return [await segments.tenant_currency(context.session, pk) for pk in ids]

        return DataLoader(load_fn=load)

    principal = context.principal
    assert principal is not None
    currency: str = await context.loaders.custom("marketing.currency", factory).load(
        principal.tenant_id
    )
    return currency


@strawberry.type(
    name="CampaignMetrics",
    description="Live figures of a campaign; money in the tenant's default currency.",
)
class CampaignMetricsType:
    reach: int = strawberry.field(description="Members.")
    responses: int = strawberry.field(
        description="Members with any response recorded (an unsubscribe included)."
    )
    unsubscribes: int = strawberry.field(description="Members who unsubscribed.")
    response_rate: float | None = strawberry.field(description="responses / reach.")
    leads: int = strawberry.field(description="Leads captured with this campaign.")
    opportunities: int = strawberry.field(
        description="Opportunities attributed (converted from its leads)."
    )
    won_deals: int = strawberry.field(description="Attributed opportunities won.")
    won_revenue: MoneyType = strawberry.field(description="Σ of won attributed deals.")
    cost: MoneyType = strawberry.field(
        description="Σ of costs recorded with this campaign (the budget is not a cost)."
    )
    cost_per_lead: MoneyType | None = strawberry.field(description="cost / leads.")
    cost_per_sale: MoneyType | None = strawberry.field(description="cost / won deals.")
    success_rate: float | None = strawberry.field(description="wonDeals / reach.")

    @classmethod
    def of(cls, metrics: CampaignMetrics) -> CampaignMetricsType:
        def money(value: Money | None) -> MoneyType | None:
            return MoneyType.of(value) if value is not None else None

        return cls(
            reach=metrics.reach,
            responses=metrics.responses,
            unsubscribes=metrics.unsubscribes,
            response_rate=metrics.response_rate,
            leads=metrics.leads,
            opportunities=metrics.opportunities,
            won_deals=metrics.won_deals,
            won_revenue=MoneyType.of(metrics.won_revenue),
            cost=MoneyType.of(metrics.cost),
            cost_per_lead=money(metrics.cost_per_lead),
            cost_per_sale=money(metrics.cost_per_sale),
            success_rate=metrics.success_rate,
        )


@strawberry.type(name="Campaign", description="A marketing campaign.")
class CampaignType(Node):
    name: str
    channel: ChannelEnum  # type: ignore[valid-type]
    status: CampaignStatusEnum  # type: ignore[valid-type]
    budget: MoneyType | None = strawberry.field(
        description="The plan, in the tenant's currency; not a cost."
    )
    starts_on: date
    ends_on: date | None
    description: str | None
    created_at: datetime
    updated_at: datetime
    segment_pk: strawberry.Private[uuid.UUID | None]

    @strawberry.field(description="The segment members are drawn from by default.")
    async def segment(self, info: Info) -> SegmentType | None:
        return await load_segment(info.context, self.segment_pk) if self.segment_pk else None

    @strawberry.field(description="Reach, responses, attribution and cost (batched per page).")
    async def metrics(self, info: Info) -> CampaignMetricsType:
        context = info.context

        def factory() -> DataLoader[uuid.UUID, CampaignMetrics]:
            async def load(ids: Sequence[uuid.UUID]) -> list[CampaignMetrics]:
                principal = context.principal
                assert principal is not None
                found = await campaign_metrics.campaign_metrics(
                    context.session, principal, list(ids)
                )
                return [found[pk] for pk in ids]

            return DataLoader(load_fn=load)

        metrics = await context.loaders.custom("marketing.metrics", factory).load(self.pk)
        return CampaignMetricsType.of(metrics)

    @classmethod
    def from_model(cls, campaign: Campaign) -> CampaignType:
        return cls.from_row(
            campaign,
            budget=MoneyType.maybe(campaign.budget, campaign.currency),
            segment_pk=campaign.segment_id,
        )


@strawberry.type(name="CampaignMember", description="A contact a campaign reaches.")
class CampaignMemberType(Node):
    response: CampaignResponseEnum | None  # type: ignore[valid-type]
    responded_at: datetime | None = strawberry.field(
        description="When the kept (strongest) response was recorded."
    )
    created_at: datetime
    contact_pk: strawberry.Private[uuid.UUID]
    campaign_pk: strawberry.Private[uuid.UUID]

    @strawberry.field
    async def contact(self, info: Info) -> ContactType | None:
        return await load_contact(info.context, self.contact_pk)

    @strawberry.field
    async def campaign(self, info: Info) -> CampaignType | None:
        return await load_campaign(info.context, self.campaign_pk)

    @classmethod
    def from_model(cls, member: CampaignMember) -> CampaignMemberType:
        return cls.from_row(member, contact_pk=member.contact_id, campaign_pk=member.campaign_id)


M = TypeVar("M", Segment, Campaign, CampaignMember)


async def _staff_row(context: Context, model: type[M], pk: uuid.UUID) -> M | None:
    """The tenant's row (the loader scopes by tenant) for tenant staff, else None."""
    principal = context.principal
    if principal is None or not is_staff(principal):
        return None
    return await context.loaders.by_id(model).load(pk)


async def load_segment(context: Context, pk: uuid.UUID) -> SegmentType | None:
    row = await _staff_row(context, Segment, pk)
    return SegmentType.from_model(row) if row else None


async def load_campaign(context: Context, pk: uuid.UUID) -> CampaignType | None:
    row = await _staff_row(context, Campaign, pk)
    return CampaignType.from_model(row) if row else None


async def load_member(context: Context, pk: uuid.UUID) -> CampaignMemberType | None:
    row = await _staff_row(context, CampaignMember, pk)
    return CampaignMemberType.from_model(row) if row else None


register_node(SegmentType)(load_segment)
register_node(CampaignType)(load_campaign)
register_node(CampaignMemberType)(load_member)
