"""Marketing campaigns: channel, budget and period, the contacts they reach (members) and
their responses.

- Status: PLANNED → ACTIVE → COMPLETED, and PLANNED or ACTIVE → CANCELLED; anything else
  is INVALID_TRANSITION. A COMPLETED or CANCELLED campaign is closed: it is not edited and
  draws no members, but still records responses (they arrive late, and an unsubscribe must
  always be honoured).
- The budget is a plan in the tenant's currency, not a cost: costs are what admins record
  (`recordCost` with `campaignId`), and only those feed the metrics.
- Members are drawn in ONE `INSERT … SELECT`: from a segment (`prm.crm.segments`, which
  never yields opted-out contacts), or from contact ids. Opted-out contacts given by id
  are skipped, not refused, and counted in the result (a list exported from elsewhere
  should not fail because one person opted out); unknown or foreign ids are NOT_FOUND and
  nothing is written. Existing members are skipped (`NOT EXISTS` plus `ON CONFLICT DO
  NOTHING` for a concurrent draw), so re-running a draw adds only the new contacts.
- A member's `response` is the strongest recorded, by `RESPONSE_RANK`: OPENED < CLICKED <
  REPLIED < REGISTERED < PURCHASED < UNSUBSCRIBED. Unsubscribing is final (a later
  response never replaces it) and also opts the contact out of marketing
  (`marketing_opt_out`, `opted_out_at`), which keeps it out of every later draw; its
  memberships and responses stay as history.

Read by tenant staff; written by admins and managers, except responses, which any tenant
staff (or an integration holding a staff role) records.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import Select, Uuid, and_, func, literal, select, update
from sqlalchemy.dialects.postgresql import Insert, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from prm.auth.principal import Principal
from prm.crm.fields import optional_text, required_text
from prm.crm.marketing_models import Campaign, CampaignMember, CampaignStatus, MemberResponse
from prm.crm.models import Channel, Contact
from prm.crm.names import refuse_taken_name
from prm.crm.segments import (
    MAX_DESCRIPTION,
    SegmentFilters,
    get_segment,
    matching_contacts,
    require_marketer,
    require_marketing_reader,
    tenant_currency,
)
from prm.errors import ErrorCode, InvalidInput, NotFound
from prm.metrics.periods import MAX_YEAR, MIN_YEAR
from prm.money import Money

MAX_CONTACT_IDS = 1000

TRANSITIONS: dict[CampaignStatus, frozenset[CampaignStatus]] = {
    CampaignStatus.PLANNED: frozenset({CampaignStatus.ACTIVE, CampaignStatus.CANCELLED}),
    CampaignStatus.ACTIVE: frozenset({CampaignStatus.COMPLETED, CampaignStatus.CANCELLED}),
    CampaignStatus.COMPLETED: frozenset(),
    CampaignStatus.CANCELLED: frozenset(),
}
CLOSED = frozenset({CampaignStatus.COMPLETED, CampaignStatus.CANCELLED})

RESPONSE_RANK: dict[MemberResponse, int] = {
    MemberResponse.OPENED: 1,
    MemberResponse.CLICKED: 2,
    MemberResponse.REPLIED: 3,
    MemberResponse.REGISTERED: 4,
    MemberResponse.PURCHASED: 5,
    MemberResponse.UNSUBSCRIBED: 6,
}


def _invalid_transition(message: str, field: str) -> InvalidInput:
    return InvalidInput(message, field=field, code=ErrorCode.INVALID_TRANSITION)


def readable_campaigns(principal: Principal) -> Select[Campaign]:
    require_marketing_reader(principal)
    return select(Campaign).where(Campaign.tenant_id == principal.tenant_id)


async def get_campaign(
    session: AsyncSession,
    principal: Principal,
    campaign_id: uuid.UUID,
    *,
    field: str = "id",
    for_update: bool = False,
) -> Campaign:
    statement = readable_campaigns(principal).where(Campaign.id == campaign_id)
    if for_update:
        statement = statement.with_for_update()
    campaign = await session.scalar(statement)
    if campaign is None:
        raise NotFound("no such campaign", field=field)
    return campaign


def require_campaign_sync(
    session: Session, tenant_id: uuid.UUID, campaign_id: uuid.UUID, *, field: str = "campaignId"
) -> uuid.UUID:
    """For attribution (a lead's campaign): the id if it is the tenant's, else NOT_FOUND."""
    found = session.scalar(
        select(Campaign.id).where(Campaign.tenant_id == tenant_id, Campaign.id == campaign_id)
    )
    if found is None:
        raise NotFound("no such campaign", field=field)
    return campaign_id


async def require_campaign(
    session: AsyncSession, tenant_id: uuid.UUID, campaign_id: uuid.UUID, *, field: str
) -> uuid.UUID:
    """The async form of `require_campaign_sync` (a cost's campaign)."""
    found = await session.scalar(
        select(Campaign.id).where(Campaign.tenant_id == tenant_id, Campaign.id == campaign_id)
    )
    if found is None:
        raise NotFound("no such campaign", field=field)
    return campaign_id


def _day(value: date, field: str) -> date:
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise InvalidInput(f"the year must be between {MIN_YEAR} and {MAX_YEAR}", field=field)
    return value


def _budget(value: tuple[Decimal | str, str] | None, currency: str) -> Decimal | None:
    if value is None:
        return None
    money = Money.parse(value[0], value[1], field="budget")
    if money.currency != currency:
        raise InvalidInput(
            f"budgets are in the tenant's currency {currency}", field="budget.currency"
        )
    return money.amount


def _check_period(starts_on: date, ends_on: date | None) -> None:
    _day(starts_on, "startsOn")
    if ends_on is not None:
        _day(ends_on, "endsOn")
        if ends_on < starts_on:
            raise InvalidInput("must not be before startsOn", field="endsOn")


async def create_campaign(
    session: AsyncSession,
    principal: Principal,
    *,
    name: str,
    channel: Channel,
    starts_on: date,
    ends_on: date | None = None,
    budget: tuple[Decimal | str, str] | None = None,
    segment_id: uuid.UUID | None = None,
    description: str | None = None,
) -> Campaign:
    """A PLANNED campaign; INVALID for a blank name, a budget that is negative or not in
    the tenant's currency, an end before the start; NOT_FOUND for a foreign segment."""
    require_marketer(principal)
    clean_name = required_text(name, field="name")
    currency = await tenant_currency(session, principal.tenant_id)
    amount = _budget(budget, currency)
    _check_period(starts_on, ends_on)
    if segment_id is not None:
        await get_segment(session, principal, segment_id, field="segmentId")
    await refuse_taken_name(session, Campaign, principal.tenant_id, clean_name, what="a campaign")
    campaign = Campaign(
        tenant_id=principal.tenant_id,
        name=clean_name,
        channel=channel,
        status=CampaignStatus.PLANNED,
        budget=amount,
        currency=currency,
        starts_on=starts_on,
        ends_on=ends_on,
        segment_id=segment_id,
        description=optional_text(description, field="description", max_length=MAX_DESCRIPTION),
    )
    session.add(campaign)
    await session.flush()
    return campaign


async def update_campaign(
    session: AsyncSession,
    principal: Principal,
    campaign_id: uuid.UUID,
    *,
    name: str | None = None,
    channel: Channel | None = None,
    status: CampaignStatus | None = None,
    starts_on: date | None = None,
    ends_on: date | None = None,
    budget: tuple[Decimal | str, str] | None = None,
    segment_id: uuid.UUID | None = None,
    description: str | None = None,
) -> Campaign:
    """Change the given fields and/or move the status (see `TRANSITIONS`). A closed
    campaign is INVALID_TRANSITION for any change."""
    require_marketer(principal)
    campaign = await get_campaign(session, principal, campaign_id, for_update=True)
    if campaign.status in CLOSED:
        raise _invalid_transition(f"a {campaign.status.value} campaign is closed", "id")
    if status is not None and status != campaign.status:
        if status not in TRANSITIONS[campaign.status]:
            raise _invalid_transition(
                f"a {campaign.status.value} campaign cannot become {status.value}", "status"
            )
        campaign.status = status
    if name is not None:
        clean_name = required_text(name, field="name")
        await refuse_taken_name(
            session,
            Campaign,
            principal.tenant_id,
            clean_name,
            what="a campaign",
            exclude=campaign.id,
        )
        campaign.name = clean_name
    if channel is not None:
        campaign.channel = channel
    if budget is not None:
        campaign.budget = _budget(budget, campaign.currency)
    new_start = starts_on if starts_on is not None else campaign.starts_on
    new_end = ends_on if ends_on is not None else campaign.ends_on
    _check_period(new_start, new_end)
    campaign.starts_on, campaign.ends_on = new_start, new_end
    if segment_id is not None:
        await get_segment(session, principal, segment_id, field="segmentId")
        campaign.segment_id = segment_id
    if description is not None:
        campaign.description = optional_text(
            description, field="description", max_length=MAX_DESCRIPTION
        )
    await session.flush()
    return campaign


@dataclass(frozen=True)
class MemberDraw:
    campaign: Campaign
    added: int
    skipped_opted_out: int


def _member_insert(campaign: Campaign, source: Select[Contact]) -> Insert:
    """`INSERT INTO campaign_members … SELECT` the contacts of `source` not yet members."""
    not_member = ~(
        select(CampaignMember.id)
        .where(
            CampaignMember.tenant_id == Contact.tenant_id,
            CampaignMember.campaign_id == campaign.id,
            CampaignMember.contact_id == Contact.id,
        )
        .exists()
    )
    rows = source.where(not_member).with_only_columns(
        Contact.tenant_id,
        func.gen_random_uuid(),
        literal(campaign.id, Uuid),
        Contact.id,
        Contact.account_id,
    )
    return (
        insert(CampaignMember)
        .from_select(["tenant_id", "id", "campaign_id", "contact_id", "account_id"], rows)
        .on_conflict_do_nothing(
            index_elements=[
                CampaignMember.tenant_id,
                CampaignMember.campaign_id,
                CampaignMember.contact_id,
            ]
        )
    )


async def add_campaign_members(
    session: AsyncSession,
    principal: Principal,
    campaign_id: uuid.UUID,
    *,
    segment_id: uuid.UUID | None = None,
    contact_ids: Sequence[uuid.UUID] | None = None,
) -> MemberDraw:
    """Draw members from a segment (the given one, else the campaign's) or from contact
    ids (exactly one source); see the module doc for what is skipped."""
    require_marketer(principal)
    if segment_id is not None and contact_ids is not None:
        raise InvalidInput("give a segment or contact ids, not both", field="contactIds")
    campaign = await get_campaign(session, principal, campaign_id, field="campaignId")
    if campaign.status in CLOSED:
        raise _invalid_transition(
            f"a {campaign.status.value} campaign draws no members", "campaignId"
        )
    tenant_id = principal.tenant_id
    if contact_ids is not None:
        ids = set(contact_ids)
        if not ids:
            raise InvalidInput("give at least one contact", field="contactIds")
        if len(ids) > MAX_CONTACT_IDS:
            raise InvalidInput(f"at most {MAX_CONTACT_IDS} contacts at once", field="contactIds")
        known, opted_out = (
            await session.execute(
                select(
                    func.count(),
                    func.count().filter(Contact.marketing_opt_out.is_(True)),
                ).where(Contact.tenant_id == tenant_id, Contact.id.in_(ids))
            )
        ).one()
        if known != len(ids):
            raise NotFound("no such contact", field="contactIds")
        source = select(Contact).where(
            Contact.tenant_id == tenant_id,
            Contact.id.in_(ids),
            Contact.marketing_opt_out.is_(False),
        )
        skipped = int(opted_out)
    else:
        segment_pk = segment_id if segment_id is not None else campaign.segment_id
        if segment_pk is None:
            raise InvalidInput("the campaign has no segment: give one", field="segmentId")
        segment = await get_segment(session, principal, segment_pk, field="segmentId")
        currency = await tenant_currency(session, tenant_id)
        source = matching_contacts(tenant_id, SegmentFilters.from_json(segment.filters), currency)
        skipped = 0
    result = await session.execute(_member_insert(campaign, source))
    added = int(getattr(result, "rowcount", 0) or 0)  # a CursorResult for an INSERT
    return MemberDraw(campaign, added, skipped)


@dataclass(frozen=True)
class RecordedResponse:
    member: CampaignMember
    contact: Contact


async def record_campaign_response(
    session: AsyncSession,
    principal: Principal,
    campaign_id: uuid.UUID,
    contact_id: uuid.UUID,
    response: MemberResponse,
    *,
    now: datetime | None = None,
) -> RecordedResponse:
    """Record a member's response, keeping the strongest (`RESPONSE_RANK`); UNSUBSCRIBED
    also opts the contact out. NOT_FOUND unless the contact is a member of the campaign."""
    require_marketing_reader(principal)
    moment = now or datetime.now(UTC)
    tenant_id = principal.tenant_id
    await get_campaign(session, principal, campaign_id, field="campaignId")
    member = await session.scalar(
        select(CampaignMember)
        .where(
            CampaignMember.tenant_id == tenant_id,
            CampaignMember.campaign_id == campaign_id,
            CampaignMember.contact_id == contact_id,
        )
        .with_for_update()
    )
    if member is None:
        raise NotFound("the contact is not a member of the campaign", field="contactId")
    current = RESPONSE_RANK[member.response] if member.response is not None else 0
    if RESPONSE_RANK[response] > current:
        member.response = response
        member.responded_at = moment
    if response is MemberResponse.UNSUBSCRIBED:
        await session.execute(
            update(Contact)
            .where(
                Contact.tenant_id == tenant_id,
                Contact.id == contact_id,
                Contact.marketing_opt_out.is_(False),
            )
            .values(marketing_opt_out=True, opted_out_at=moment)
            .execution_options(synchronize_session=False)
        )
    await session.flush()
    contact = await session.scalar(
        select(Contact)
        .where(and_(Contact.tenant_id == tenant_id, Contact.id == contact_id))
        .execution_options(populate_existing=True)
    )
    assert contact is not None  # the member's foreign key guarantees it
    return RecordedResponse(member, contact)


def readable_members(principal: Principal, campaign_id: uuid.UUID) -> Select[CampaignMember]:
    require_marketing_reader(principal)
    return select(CampaignMember).where(
        CampaignMember.tenant_id == principal.tenant_id,
        CampaignMember.campaign_id == campaign_id,
    )
