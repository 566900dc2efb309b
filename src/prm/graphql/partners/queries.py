"""Queries of the partners domain: `partnerTiers`, `partners`, `capabilityCertifications`."""

from __future__ import annotations

import strawberry
from sqlalchemy import Select, false, func, literal_column

from prm.graphql.context import Info
from prm.graphql.pagination import Connection, Ordering, paginate
from prm.graphql.partners.inputs import PartnerFilter, PartnerOrder, PartnerOrderField
from prm.graphql.partners.types import (
    CapabilityCertificationType,
    PartnerTierType,
    PartnerType,
)
from prm.graphql.permissions import require_principal
from prm.graphql.relay import pk_of
from prm.partners import service
from prm.partners.capability_certifications import list_capability_certifications
from prm.partners.models import Partner

SCORE_KEY = func.coalesce(
    Partner.performance_score, literal_column("'-Infinity'::double precision")
)
"""The SCORE sort key; the same expression as the index `ix_partners_tenant_score`."""
TIER_KEY = func.coalesce(Partner.tier_rank, literal_column("2147483647"))
"""The TIER sort key; the same expression as the index `ix_partners_tenant_tier_rank`."""


def partner_ordering(order_by: PartnerOrder | None) -> Ordering:
    if order_by is None:
        return Ordering.by(Partner.name)
    direction = order_by.direction
    match order_by.field:
        case PartnerOrderField.NAME:
            return Ordering.by(Partner.name, direction)
        case PartnerOrderField.CREATED:  # ids are UUIDv7: id order is creation order
            return Ordering.by(None, direction)
        case PartnerOrderField.SCORE:
            return Ordering.by_expression(
                "score",
                SCORE_KEY,
                lambda row: (
                    row.performance_score if row.performance_score is not None else float("-inf")
                ),
                direction,
            )
        case PartnerOrderField.TIER:
            return Ordering.by_expression(
                "tier",
                TIER_KEY,
                lambda row: row.tier_rank if row.tier_rank is not None else 2147483647,
                direction,
            )


def _filtered(statement: Select[Partner], filter: PartnerFilter | None) -> Select[Partner]:
    if filter is None:
        return statement
    tier_id = None
    if filter.tier_id is not None:
        tier_id = pk_of(filter.tier_id, "PartnerTier")
        if tier_id is None:  # an id of nothing: nothing matches
            return statement.where(false())
    return service.filter_partners(
        statement,
        status=filter.status,
        tier_id=tier_id,
        country=filter.country,
        region=filter.region,
        capability=filter.capability,
        search=filter.search,
    )


@strawberry.type
class Query:
    @strawberry.field(
        description="The partner programme's tiers by rank, ascending (a higher rank is a higher tier: rules' `minTierRank` admits ranks at or above it)."
    )
    async def partner_tiers(self, info: Info) -> list[PartnerTierType]:
        principal = require_principal(info)
        rows = await info.context.session.scalars(service.readable_tiers(principal))
        return [PartnerTierType.from_model(row) for row in rows]

    @strawberry.field(
        description="Capabilities that need a current certification before rules asking for "
        "them route to a partner, by capability. Readable by every user of the tenant."
    )
    async def capability_certifications(self, info: Info) -> list[CapabilityCertificationType]:
        rows = await list_capability_certifications(info.context.session, require_principal(info))
        return [CapabilityCertificationType.from_model(row) for row in rows]

    @strawberry.field(
        description="Partner organisations: every one for tenant staff, its own for a "
        "partner user. Ordered by name unless `orderBy` says otherwise."
    )
    async def partners(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: PartnerFilter | None = None,
        order_by: PartnerOrder | None = None,
    ) -> Connection[PartnerType]:
        principal = require_principal(info)
        statement = _filtered(service.readable_partners(principal), filter)
        return await paginate(
            info.context,
            statement,
            to_node=PartnerType.from_model,
            first=first,
            after=after,
            order=partner_ordering(order_by),
        )
