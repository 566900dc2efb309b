"""`segments`, `campaigns` and `campaignMembers`: tenant staff only (a partner user is
FORBIDDEN: the tenant's marketing is not a partner's business)."""

from __future__ import annotations

import uuid

import strawberry

from prm.auth.principal import TENANT_ROLES
from prm.crm.campaigns import readable_campaigns, readable_members
from prm.crm.marketing_models import CampaignMember, Segment
from prm.crm.segments import readable_segments
from prm.graphql.context import Info
from prm.graphql.marketing.inputs import CampaignFilter, CampaignMemberFilter
from prm.graphql.marketing.types import CampaignMemberType, CampaignType, SegmentType
from prm.graphql.pagination import BY_ID, NEWEST_FIRST, Connection, Ordering, paginate
from prm.graphql.permissions import require_roles
from prm.graphql.relay import pk_of

BY_NAME = Ordering.by(Segment.name)
NO_ID = uuid.UUID(int=0)


@strawberry.type
class Query:
    @strawberry.field(description="Saved segments, by name (tenant staff).")
    async def segments(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[SegmentType]:
        statement = readable_segments(require_roles(info, *TENANT_ROLES))
        return await paginate(
            info.context,
            statement,
            to_node=SegmentType.from_model,
            first=first,
            after=after,
            order=BY_NAME,
        )

    @strawberry.field(description="Campaigns, newest first (tenant staff).")
    async def campaigns(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: CampaignFilter | None = None,
    ) -> Connection[CampaignType]:
        statement = readable_campaigns(require_roles(info, *TENANT_ROLES))
        if filter is not None:
            statement = filter.apply(statement)
        return await paginate(
            info.context,
            statement,
            to_node=CampaignType.from_model,
            first=first,
            after=after,
            order=NEWEST_FIRST,
        )

    @strawberry.field(
        description="A campaign's members in the order they were drawn (tenant staff); "
        "empty for an id that names no campaign of the tenant."
    )
    async def campaign_members(
        self,
        info: Info,
        campaign_id: strawberry.ID,
        first: int | None = None,
        after: str | None = None,
        filter: CampaignMemberFilter | None = None,
    ) -> Connection[CampaignMemberType]:
        principal = require_roles(info, *TENANT_ROLES)
        # An id that is garbage or of another type matches nothing, like a foreign one.
        statement = readable_members(principal, pk_of(campaign_id, "Campaign") or NO_ID)
        if filter is not None and filter.responded is not None:
            responded = CampaignMember.response.is_not(None)
            statement = statement.where(responded if filter.responded else ~responded)
        return await paginate(
            info.context,
            statement,
            to_node=CampaignMemberType.from_model,
            first=first,
            after=after,
            order=BY_ID,
        )
