"""Partner organisations and tiers as the API shows them (the fields that exist so far;
sub-connections such as `Partner.users` join with the partners API)."""

from __future__ import annotations

import uuid
from decimal import Decimal

import strawberry

from prm.auth.principal import TENANT_ROLES, Principal
from prm.graphql.context import Context, Info
from prm.graphql.relay import Node, register_node
from prm.partners.models import Partner, PartnerStatus, PartnerTier

PartnerStatusEnum = strawberry.enum(PartnerStatus, name="PartnerStatus")


def can_read_partner(principal: Principal, partner_id: uuid.UUID) -> bool:
    """Tenant staff see every partner; a partner user only its own organisation."""
    return principal.has_any(*TENANT_ROLES) or principal.partner_id == partner_id


@strawberry.type(name="PartnerTier")
class PartnerTierType(Node):
    name: str
    rank: int
    discount_percent: Decimal
    lead_weight: Decimal

    @classmethod
    def from_model(cls, tier: PartnerTier) -> PartnerTierType:
        return cls.from_row(tier)


@strawberry.type(name="Partner")
class PartnerType(Node):
    name: str
    status: PartnerStatusEnum  # type: ignore[valid-type]
    country: str | None
    region: str | None
    postal_prefixes: list[str]
    capabilities: list[str]
    capacity: int | None
    performance_score: float | None
    tier_pk: strawberry.Private[uuid.UUID | None]

    @strawberry.field
    async def tier(self, info: Info) -> PartnerTierType | None:
        if self.tier_pk is None:
            return None
        tier = await info.context.loaders.by_id(PartnerTier).load(self.tier_pk)
        return PartnerTierType.from_model(tier) if tier else None

    @classmethod
    def from_model(cls, partner: Partner) -> PartnerType:
        return cls.from_row(
            partner,
            postal_prefixes=list(partner.postal_prefixes or []),
            capabilities=list(partner.capabilities or []),
            tier_pk=partner.tier_id,
        )


async def load_partner(context: Context, pk: uuid.UUID) -> PartnerType | None:
    """The partner if the caller may see it, else None."""
    if context.principal is None or not can_read_partner(context.principal, pk):
        return None
    partner = await context.loaders.by_id(Partner).load(pk)
    return PartnerType.from_model(partner) if partner else None


@register_node(PartnerType)
async def _partner_node(context: Context, pk: uuid.UUID) -> PartnerType | None:
    return await load_partner(context, pk)


@register_node(PartnerTierType)
async def _tier_node(context: Context, pk: uuid.UUID) -> PartnerTierType | None:
    if context.principal is None:
        return None
    tier = await context.loaders.by_id(PartnerTier).load(pk)
    return PartnerTierType.from_model(tier) if tier else None
