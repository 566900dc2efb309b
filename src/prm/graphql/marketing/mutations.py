"""Mutations of marketing. Segments and campaigns are managed by admins and managers;
responses are recorded by any tenant staff. Each parses, calls one service function and
shapes the payload; `@mutation` owns the transaction (nothing is written on an error)."""

from __future__ import annotations

import uuid

import strawberry

from prm.auth.principal import TENANT_ROLES
from prm.crm import campaigns, segments
from prm.crm.segments import MARKETERS, tenant_currency
from prm.graphql.context import Info
from prm.graphql.crm.types import ContactType
from prm.graphql.marketing.inputs import (
    CreateCampaignInput,
    CreateSegmentInput,
    UpdateCampaignInput,
    UpdateSegmentInput,
)
from prm.graphql.marketing.types import (
    CampaignMemberType,
    CampaignResponseEnum,
    CampaignType,
    SegmentType,
)
from prm.graphql.mutations import Payload, mutation
from prm.graphql.permissions import require_principal
from prm.graphql.relay import require_pk


@strawberry.type
class SegmentPayload(Payload):
    segment: SegmentType | None = None


@strawberry.type
class CampaignPayload(Payload):
    campaign: CampaignType | None = None


@strawberry.type
class AddCampaignMembersPayload(Payload):
    campaign: CampaignType | None = None
    added: int = strawberry.field(default=0, description="New members (existing ones skipped).")
    skipped_opted_out: int = strawberry.field(
        default=0,
        description="Contacts given by id that opted out of marketing and were skipped "
        "(a segment never yields them).",
    )


@strawberry.type
class CampaignResponsePayload(Payload):
    member: CampaignMemberType | None = None
    contact: ContactType | None = None


def _pk(value: strawberry.ID | None, type_name: str, field: str) -> uuid.UUID | None:
    return require_pk(value, type_name, field=field) if value is not None else None


@strawberry.type
class Mutation:
    @mutation(
        SegmentPayload,
        roles=MARKETERS,
        description="Save a segment; invalid filters are INVALID naming the field.",
    )
    async def create_segment(self, info: Info, input: CreateSegmentInput) -> SegmentPayload:
        principal = require_principal(info)
        session = info.context.session
        filters = input.filters.validated(await tenant_currency(session, principal.tenant_id))
        segment = await segments.create_segment(
            session, principal, name=input.name, description=input.description, filters=filters
        )
        return SegmentPayload(segment=SegmentType.from_model(segment))

    @mutation(SegmentPayload, roles=MARKETERS, description="Change a segment's given fields.")
    async def update_segment(
        self, info: Info, id: strawberry.ID, input: UpdateSegmentInput
    ) -> SegmentPayload:
        principal = require_principal(info)
        session = info.context.session
        filters = None
        if input.filters is not None:
            filters = input.filters.validated(await tenant_currency(session, principal.tenant_id))
        segment = await segments.update_segment(
            session,
            principal,
            require_pk(id, "Segment", field="id"),
            name=input.name,
            description=input.description,
            filters=filters,
        )
        return SegmentPayload(segment=SegmentType.from_model(segment))

    @mutation(
        SegmentPayload,
        roles=MARKETERS,
        description="Delete a segment; campaigns keep the members drawn from it.",
    )
    async def delete_segment(self, info: Info, id: strawberry.ID) -> SegmentPayload:
        segment = await segments.delete_segment(
            info.context.session, require_principal(info), require_pk(id, "Segment", field="id")
        )
        return SegmentPayload(segment=SegmentType.from_model(segment))

    @mutation(CampaignPayload, roles=MARKETERS, description="A new, PLANNED campaign.")
    async def create_campaign(self, info: Info, input: CreateCampaignInput) -> CampaignPayload:
        campaign = await campaigns.create_campaign(
            info.context.session,
            require_principal(info),
            name=input.name,
            channel=input.channel,
            starts_on=input.starts_on,
            ends_on=input.ends_on,
            budget=input.budget_value(),
            segment_id=_pk(input.segment_id, "Segment", "segmentId"),
            description=input.description,
        )
        return CampaignPayload(campaign=CampaignType.from_model(campaign))

    @mutation(
        CampaignPayload,
        roles=MARKETERS,
        description="Change a campaign's given fields or status (PLANNED → ACTIVE → "
        "COMPLETED, or CANCELLED); a closed campaign is INVALID_TRANSITION.",
    )
    async def update_campaign(
        self, info: Info, id: strawberry.ID, input: UpdateCampaignInput
    ) -> CampaignPayload:
        campaign = await campaigns.update_campaign(
            info.context.session,
            require_principal(info),
            require_pk(id, "Campaign", field="id"),
            name=input.name,
            channel=input.channel,
            status=input.status,
            starts_on=input.starts_on,
            ends_on=input.ends_on,
            budget=input.budget_value(),
            segment_id=_pk(input.segment_id, "Segment", "segmentId"),
            description=input.description,
        )
        return CampaignPayload(campaign=CampaignType.from_model(campaign))

    @mutation(
        AddCampaignMembersPayload,
        roles=MARKETERS,
        description="Add members from a segment (the given one, else the campaign's) or from "
        "contact ids, in one INSERT … SELECT: opted-out contacts and existing members are "
        "skipped, so re-running adds only new contacts. Unknown contact ids are NOT_FOUND.",
    )
    async def add_campaign_members(
        self,
        info: Info,
        campaign_id: strawberry.ID,
        segment_id: strawberry.ID | None = None,
        contact_ids: list[strawberry.ID] | None = None,
    ) -> AddCampaignMembersPayload:
        contacts = None
        if contact_ids is not None:
            contacts = [require_pk(cid, "Contact", field="contactIds") for cid in contact_ids]
        draw = await campaigns.add_campaign_members(
            info.context.session,
            require_principal(info),
            require_pk(campaign_id, "Campaign", field="campaignId"),
            segment_id=_pk(segment_id, "Segment", "segmentId"),
            contact_ids=contacts,
        )
        return AddCampaignMembersPayload(
            campaign=CampaignType.from_model(draw.campaign),
            added=draw.added,
            skipped_opted_out=draw.skipped_opted_out,
        )

    @mutation(
        CampaignResponsePayload,
        roles=TENANT_ROLES,
        description="Record a member's response; the strongest is kept, and UNSUBSCRIBED "
        "also opts the contact out of marketing. NOT_FOUND unless the contact is a member.",
    )
    async def record_campaign_response(
        self,
        info: Info,
        campaign_id: strawberry.ID,
        contact_id: strawberry.ID,
        response: CampaignResponseEnum,  # type: ignore[valid-type]
    ) -> CampaignResponsePayload:
        recorded = await campaigns.record_campaign_response(
            info.context.session,
            require_principal(info),
            require_pk(campaign_id, "Campaign", field="campaignId"),
            require_pk(contact_id, "Contact", field="contactId"),
            response,
        )
        return CampaignResponsePayload(
            member=CampaignMemberType.from_model(recorded.member),
            contact=ContactType.from_model(recorded.contact),
        )
