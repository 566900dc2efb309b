"""Partner organisations and tiers as the API shows them. `PartnerType` and `load_partner`
are what other domains use to resolve a partner reference (visibility included)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import strawberry

from prm.graphql.context import Context, Info
from prm.graphql.errors import Forbidden
from prm.graphql.pagination import BY_ID, Connection, connection_of, decode_cursor, page_size
from prm.graphql.partners.loaders import partner_user_counts, partner_users_page
from prm.graphql.permissions import require_principal
from prm.graphql.relay import Node, register_node
from prm.partners import service
from prm.partners.models import CapabilityCertification, Partner, PartnerStatus, PartnerTier
from prm.tenants.service import can_list_partner_users

if TYPE_CHECKING:
    from prm.graphql.lead_sla.types import LeadDeliveryType
    from prm.graphql.leads.inputs import LeadFilter
    from prm.graphql.leads.types import LeadType
    from prm.graphql.scorecards.types import PartnerScorecardType
    from prm.graphql.tenants.types import UserType

PartnerStatusEnum = strawberry.enum(PartnerStatus, name="PartnerStatus")


@strawberry.type(name="PartnerTier", description="A level of the partner programme.")
class PartnerTierType(Node):
    name: str
    rank: int = strawberry.field(
        description="A higher rank is a higher tier (rules' `minTierRank` admits ranks at or "
        "above it)."
    )
    discount_percent: Decimal
    lead_weight: Decimal

    @classmethod
    def from_model(cls, tier: PartnerTier) -> PartnerTierType:
        return cls.from_row(tier)


@strawberry.type(name="Partner", description="A partner organisation: reseller, distributor.")
class PartnerType(Node):
    name: str
    status: PartnerStatusEnum  # type: ignore[valid-type]
    status_reason: str | None = strawberry.field(description="Why the status last changed.")
    status_changed_at: datetime | None
    country: str | None
    region: str | None
    postal_prefixes: list[str]
    capabilities: list[str]
    capacity: int | None = strawberry.field(description="Open leads it can hold at once.")
    discount_percent: Decimal | None = strawberry.field(
        description="Its own discount on every price (the PARTNER step), on top of its tier's."
    )
    performance_score: float | None = strawberry.field(
        description="The composite score lead routing reads; null until first computed."
    )
    created_at: datetime
    updated_at: datetime
    tier_pk: strawberry.Private[uuid.UUID | None]
    notes_text: strawberry.Private[str | None]

    @strawberry.field
    async def tier(self, info: Info) -> PartnerTierType | None:
        if self.tier_pk is None:
            return None
        tier = await info.context.loaders.by_id(PartnerTier).load(self.tier_pk)
        return PartnerTierType.from_model(tier) if tier else None

    @strawberry.field(description="Internal notes: tenant staff only (null for partner users).")
    def notes(self, info: Info) -> str | None:
        principal = info.context.principal
        return self.notes_text if principal is not None and service.is_staff(principal) else None

    @strawberry.field(
        description="The organisation's users, oldest first. For admins and the partner's "
        "own partner admins; anyone else is FORBIDDEN."
    )
    async def users(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Annotated[UserType, strawberry.lazy("prm.graphql.tenants.types")]]:
        from prm.graphql.tenants.types import UserType  # imports this module: not at the top

        context = info.context
        principal = require_principal(info)
        if not can_list_partner_users(principal, self.pk):
            raise Forbidden("only an admin or the partner's own admins may list its users")
        limit = page_size(context, first)
        key = decode_cursor(after, BY_ID)
        after_id = key[-1] if key is not None else None
        rows = await partner_users_page(context).load((self.pk, limit + 1, after_id))
        pk = self.pk

        async def count() -> int:
            return await partner_user_counts(context).load(pk)

        return connection_of(
            rows, limit=limit, after=after, order=BY_ID, to_node=UserType.from_model, count=count
        )

    @classmethod
    def from_model(cls, partner: Partner) -> PartnerType:
        return cls.from_row(
            partner,
            postal_prefixes=list(partner.postal_prefixes or []),
            capabilities=list(partner.capabilities or []),
            tier_pk=partner.tier_id,
            notes_text=partner.notes,
        )

    @strawberry.field(description="Leads the partner holds that the caller may see.")
    async def leads(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: Annotated[LeadFilter, strawberry.lazy("prm.graphql.leads.inputs")] | None = None,
    ) -> Connection[Annotated[LeadType, strawberry.lazy("prm.graphql.leads.types")]]:
        from prm.graphql.leads.types import partner_leads  # imports this module

        return await partner_leads(info, self.pk, first=first, after=after, filter=filter)

    @strawberry.field(
        description="Its scorecard of `period` (`2026-11`, `2026-Q4`, `2026`); null until "
        "computed. A malformed period is INVALID."
    )
    async def scorecard(
        self, info: Info, period: str
    ) -> Annotated[PartnerScorecardType, strawberry.lazy("prm.graphql.scorecards.types")] | None:
        from prm.graphql.scorecards.types import partner_scorecard  # imports this module

        return await partner_scorecard(info, self.pk, period)

    @strawberry.field(
        description="Whether leads reach the partner (paused by the lead-SLA policy or an "
        "admin, until when and why) and its violations in the current period."
    )
    async def lead_delivery(
        self, info: Info
    ) -> Annotated[LeadDeliveryType, strawberry.lazy("prm.graphql.lead_sla.types")]:
        from prm.graphql.lead_sla.types import lead_delivery  # keeps the domains apart

        return await lead_delivery(info, self.pk)


async def load_partner(context: Context, pk: uuid.UUID) -> PartnerType | None:
    """The partner if the caller may see it, else None. Batched per request."""
    if context.principal is None or not service.can_read_partner(context.principal, pk):
        return None
    partner = await context.loaders.by_id(Partner).load(pk)
    return PartnerType.from_model(partner) if partner else None


async def load_tier(context: Context, pk: uuid.UUID) -> PartnerTierType | None:
    """A tier of the caller's tenant (tiers are visible to every principal of it)."""
    if context.principal is None:
        return None
    tier = await context.loaders.by_id(PartnerTier).load(pk)
    return PartnerTierType.from_model(tier) if tier else None


@register_node(PartnerType)
async def _partner_node(context: Context, pk: uuid.UUID) -> PartnerType | None:
    return await load_partner(context, pk)


@register_node(PartnerTierType)
async def _tier_node(context: Context, pk: uuid.UUID) -> PartnerTierType | None:
    return await load_tier(context, pk)


@strawberry.type(
    name="CapabilityCertification",
    description="A capability that counts for routing only while one of the partner's users "
    "holds `certification` unexpired (see `recordTraining`).",
)
class CapabilityCertificationType:
    capability: str
    certification: str
    updated_at: datetime

    @classmethod
    def from_model(cls, row: CapabilityCertification) -> CapabilityCertificationType:
        return cls(
            capability=row.capability,
            certification=row.certification,
            updated_at=row.updated_at,
        )
