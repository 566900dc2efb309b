"""Activities: touch points on any channel (email, phone, web, store, social, chat, mail,
meeting), recorded by whoever had them.

An activity always carries the account of what it concerns: given, or taken from its
contact or its opportunity; so an account's timeline across every touch point is one
index range. Links must agree (a contact at one account and an opportunity at another is
refused), and a partner user records activities only on records it sees.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Select, delete
from sqlalchemy.ext.asyncio import AsyncSession

from prm.auth.principal import Principal
from prm.crm.accounts import get_account
from prm.crm.contacts import get_contact
from prm.crm.fields import MAX_SUMMARY, required_text
from prm.crm.models import Activity, Channel, Direction
from prm.crm.opportunities import get_opportunity
from prm.crm.visibility import (
    is_staff,
    readable_activities,
    require_manager,
    require_writer,
)
from prm.errors import InvalidInput, NotFound
from prm.leads.models import Lead
from prm.leads.visibility import readable_leads


@dataclass(frozen=True)
class ActivityCriteria:
    account_id: uuid.UUID | None = None
    contact_id: uuid.UUID | None = None
    opportunity_id: uuid.UUID | None = None
    channel: Channel | None = None
    direction: Direction | None = None
    occurred_from: datetime | None = None
    occurred_to: datetime | None = None


def filter_activities(statement: Select[Activity], criteria: ActivityCriteria) -> Select[Activity]:
    if criteria.account_id is not None:
        statement = statement.where(Activity.account_id == criteria.account_id)
    if criteria.contact_id is not None:
        statement = statement.where(Activity.contact_id == criteria.contact_id)
    if criteria.opportunity_id is not None:
        statement = statement.where(Activity.opportunity_id == criteria.opportunity_id)
    if criteria.channel is not None:
        statement = statement.where(Activity.channel == criteria.channel)
    if criteria.direction is not None:
        statement = statement.where(Activity.direction == criteria.direction)
    if criteria.occurred_from is not None:
        statement = statement.where(Activity.occurred_at >= criteria.occurred_from)
    if criteria.occurred_to is not None:
        statement = statement.where(Activity.occurred_at <= criteria.occurred_to)
    return statement


async def record_activity(
    session: AsyncSession,
    principal: Principal,
    *,
    channel: Channel,
    direction: Direction,
    summary: str,
    occurred_at: datetime | None = None,
    account_id: uuid.UUID | None = None,
    contact_id: uuid.UUID | None = None,
    opportunity_id: uuid.UUID | None = None,
    lead_id: uuid.UUID | None = None,
) -> Activity:
    """A new activity by the principal (its actor, when a user), on at least one record
    it may see (a lead by the leads domain's rules)."""
    require_writer(principal)
    clean_summary = required_text(summary, field="summary", max_length=MAX_SUMMARY)
    if occurred_at is not None:
        if occurred_at.tzinfo is None:
            raise InvalidInput("must include a time zone", field="occurredAt")
        occurred_at = occurred_at.astimezone(UTC)
    records = (account_id, contact_id, opportunity_id)
    if all(pk is None for pk in (*records, lead_id)):
        raise InvalidInput("an activity concerns an account, contact, lead or opportunity")
    if all(pk is None for pk in records) and not is_staff(principal):
        raise InvalidInput(
            "a partner's activity concerns one of its accounts, contacts or opportunities",
            field="accountId",
        )
    if lead_id is not None:
        lead = await session.scalar(
            readable_leads(principal).with_only_columns(Lead.id).where(Lead.id == lead_id)
        )
        if lead is None:
            raise NotFound("no such lead", field="leadId")
    accounts: dict[str, uuid.UUID] = {}
    if account_id is not None:
        accounts["accountId"] = (
            await get_account(session, principal, account_id, field="accountId")
        ).id
    if contact_id is not None:
        contact = await get_contact(session, principal, contact_id, field="contactId")
        if contact.account_id is not None:
            accounts["contactId"] = contact.account_id
    if opportunity_id is not None:
        opportunity = await get_opportunity(
            session, principal, opportunity_id, field="opportunityId"
        )
        accounts["opportunityId"] = opportunity.account_id
    if len(set(accounts.values())) > 1:
        field = next(name for name in ("opportunityId", "contactId") if name in accounts)
        raise InvalidInput(
            "belongs to another account than the activity's other links", field=field
        )
    activity = Activity(
        tenant_id=principal.tenant_id,
        channel=channel,
        direction=direction,
        summary=clean_summary,
        occurred_at=occurred_at or datetime.now(UTC),
        actor_user_id=principal.user_id,
        account_id=next(iter(accounts.values()), None),
        contact_id=contact_id,
        opportunity_id=opportunity_id,
        lead_id=lead_id,
    )
    session.add(activity)
    await session.flush()
    return activity


async def delete_activity(
    session: AsyncSession, principal: Principal, activity_id: uuid.UUID
) -> Activity:
    """Delete an activity (admins and managers)."""
    require_manager(principal)
    activity = await session.scalar(
        readable_activities(principal).where(Activity.id == activity_id).with_for_update()
    )
    if activity is None:
        raise NotFound("no such activity", field="id")
    await session.execute(
        delete(Activity).where(
            Activity.tenant_id == principal.tenant_id, Activity.id == activity.id
        )
    )
    return activity
