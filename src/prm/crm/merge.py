"""Consolidation: merging a duplicate record into the one that stays.

Every related record moves to the target in one set-based UPDATE per table, the target
keeps its own values and takes the source's only where it has none, and the source is
deleted. Admins and managers only; the caller audits both ids.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import case, delete, update
from sqlalchemy.ext.asyncio import AsyncSession

from prm.auth.principal import Principal
from prm.crm.accounts import get_account
from prm.crm.contacts import get_contact
from prm.crm.models import Account, Activity, Contact, Opportunity
from prm.crm.visibility import require_manager
from prm.errors import InvalidInput

ACCOUNT_FILLS = ("domain", "industry", "country", "region", "owner_id", "partner_id")
CONTACT_FILLS = ("account_id", "email", "phone")


async def merge_accounts(
    session: AsyncSession, principal: Principal, *, source_id: uuid.UUID, target_id: uuid.UUID
) -> Account:
    """Move the source account's contacts, opportunities and activities to the target,
    then delete the source. Returns the target."""
    require_manager(principal)
    if source_id == target_id:
        raise InvalidInput("an account cannot be merged into itself", field="targetId")
    source = await get_account(session, principal, source_id, field="sourceId", for_update=True)
    target = await get_account(session, principal, target_id, field="targetId", for_update=True)
    tenant = principal.tenant_id
    for model in (Contact, Opportunity, Activity):
        await session.execute(
            update(model)
            .where(model.tenant_id == tenant, model.account_id == source.id)
            .values(account_id=target.id)
            .execution_options(synchronize_session=False)
        )
    for name in ACCOUNT_FILLS:
        if getattr(target, name) is None:
            setattr(target, name, getattr(source, name))
    target.updated_at = datetime.now(UTC)
    await session.execute(
        delete(Account)
        .where(Account.tenant_id == tenant, Account.id == source.id)
        .execution_options(synchronize_session=False)
    )
    session.expunge(source)
    await session.flush()
    return target


async def merge_contacts(
    session: AsyncSession, principal: Principal, *, source_id: uuid.UUID, target_id: uuid.UUID
) -> Contact:
    """Move the source contact's activities to the target, then delete the source.
    Activities that took their account from the source contact take the target's. A
    marketing opt-out on either side holds for the merged contact. Returns the target."""
    require_manager(principal)
    if source_id == target_id:
        raise InvalidInput("a contact cannot be merged into itself", field="targetId")
    source = await get_contact(session, principal, source_id, field="sourceId", for_update=True)
    target = await get_contact(session, principal, target_id, field="targetId", for_update=True)
    tenant = principal.tenant_id
    for name in CONTACT_FILLS:
        if getattr(target, name) is None:
            setattr(target, name, getattr(source, name))
    moved: dict[str, Any] = {"contact_id": target.id}
    if target.account_id is not None:
        moved["account_id"] = case(
            (Activity.opportunity_id.is_(None), target.account_id), else_=Activity.account_id
        )
    await session.execute(
        update(Activity)
        .where(Activity.tenant_id == tenant, Activity.contact_id == source.id)
        .values(moved)
        .execution_options(synchronize_session=False)
    )
    if source.marketing_opt_out and not target.marketing_opt_out:
        target.marketing_opt_out = True
        target.opted_out_at = source.opted_out_at
    target.updated_at = datetime.now(UTC)
    await session.execute(
        delete(Contact)
        .where(Contact.tenant_id == tenant, Contact.id == source.id)
        .execution_options(synchronize_session=False)
    )
    session.expunge(source)
    await session.flush()
    return target
