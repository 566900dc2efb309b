"""Contacts: people at accounts. A contact is found as a duplicate by its email address
(case-insensitively) on create; opting out of marketing records when it happened."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Select, delete, func, literal_column, or_
from sqlalchemy.ext.asyncio import AsyncSession

from prm.auth.principal import Principal
from prm.crm.accounts import get_account
from prm.crm.fields import email_address, like_pattern, optional_text, required_text
from prm.crm.models import Contact
from prm.crm.visibility import is_staff, readable_contacts, require_manager, require_writer
from prm.db.locks import LockSpace, lock_keys
from prm.errors import Duplicate, InvalidInput, NotFound

MAX_PERSON_NAME = 100
MAX_PHONE = 40


@dataclass(frozen=True)
class ContactCriteria:
    account_id: uuid.UUID | None = None
    search: str | None = None
    """Case-insensitive substring of the full name or the email."""
    opted_out: bool | None = None


def filter_contacts(statement: Select[Contact], criteria: ContactCriteria) -> Select[Contact]:
    if criteria.account_id is not None:
        statement = statement.where(Contact.account_id == criteria.account_id)
    if criteria.opted_out is not None:
        statement = statement.where(Contact.marketing_opt_out.is_(criteria.opted_out))
    if criteria.search and criteria.search.strip():
        pattern = like_pattern(criteria.search)
        # spelt exactly as the trigram index on names is
        full_name = Contact.first_name.op("||")(literal_column("' '")).op("||")(Contact.last_name)
        statement = statement.where(
            or_(full_name.ilike(pattern, escape="\\"), Contact.email.ilike(pattern, escape="\\"))
        )
    return statement


async def get_contact(
    session: AsyncSession,
    principal: Principal,
    contact_id: uuid.UUID,
    *,
    field: str = "id",
    for_update: bool = False,
) -> Contact:
    """A contact the principal may see, or `NOT_FOUND` on `field`."""
    statement = readable_contacts(principal).where(Contact.id == contact_id)
    if for_update:
        statement = statement.with_for_update()
    contact = await session.scalar(statement)
    if contact is None:
        raise NotFound("no such contact", field=field)
    return contact


async def find_duplicate_contact(
    session: AsyncSession,
    principal: Principal,
    email: str,
    *,
    exclude: uuid.UUID | None = None,
) -> Contact | None:
    """The oldest visible contact with the same email address, ignoring case."""
    statement = readable_contacts(principal).where(func.lower(Contact.email) == email.lower())
    if exclude is not None:
        statement = statement.where(Contact.id != exclude)
    found: Contact | None = await session.scalar(statement.order_by(Contact.id).limit(1))
    return found


def _set_opt_out(contact: Contact, opted_out: bool) -> None:
    if opted_out and not contact.marketing_opt_out:
        contact.opted_out_at = datetime.now(UTC)
    elif not opted_out:
        contact.opted_out_at = None
    contact.marketing_opt_out = opted_out


async def create_contact(
    session: AsyncSession,
    principal: Principal,
    *,
    first_name: str,
    last_name: str,
    account_id: uuid.UUID | None = None,
    email: str | None = None,
    phone: str | None = None,
    marketing_opt_out: bool = False,
    allow_duplicate: bool = False,
) -> Contact:
    """A new contact. A partner user's must be at one of its partner's accounts (a contact
    is visible to partners only through its account)."""
    require_writer(principal)
    if account_id is None and not is_staff(principal):
        raise InvalidInput(
            "a partner's contact must belong to one of its accounts", field="accountId"
        )
    contact = Contact(
        tenant_id=principal.tenant_id,
        first_name=required_text(first_name, field="firstName", max_length=MAX_PERSON_NAME),
        last_name=required_text(last_name, field="lastName", max_length=MAX_PERSON_NAME),
        email=email_address(email),
        phone=optional_text(phone, field="phone", max_length=MAX_PHONE),
        marketing_opt_out=False,
    )
    if account_id is not None:
        contact.account_id = (
            await get_account(session, principal, account_id, field="accountId")
        ).id
    _set_opt_out(contact, marketing_opt_out)
    if contact.email and not allow_duplicate:
        await lock_keys(
            session,
            LockSpace.CRM_DUPLICATE,
            [f"{principal.tenant_id}:contact-email:{contact.email.lower()}"],
        )
        existing = await find_duplicate_contact(session, principal, contact.email)
        if existing is not None:
            raise Duplicate(
                f"a contact with the email {contact.email!r} exists",
                field="email",
                existing_key=f"Contact:{existing.id}",
            )
    session.add(contact)
    await session.flush()
    return contact


async def update_contact(
    session: AsyncSession,
    principal: Principal,
    contact_id: uuid.UUID,
    *,
    account_id: uuid.UUID | None = None,
    first_name: str | None = None,
    last_name: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    marketing_opt_out: bool | None = None,
) -> Contact:
    """Change the given fields (None leaves one as it is; a blank email or phone clears it)."""
    require_writer(principal)
    contact = await get_contact(session, principal, contact_id, for_update=True)
    if account_id is not None:
        contact.account_id = (
            await get_account(session, principal, account_id, field="accountId")
        ).id
    if first_name is not None:
        contact.first_name = required_text(
            first_name, field="firstName", max_length=MAX_PERSON_NAME
        )
    if last_name is not None:
        contact.last_name = required_text(last_name, field="lastName", max_length=MAX_PERSON_NAME)
    if email is not None:
        contact.email = email_address(email)
    if phone is not None:
        contact.phone = optional_text(phone, field="phone", max_length=MAX_PHONE)
    if marketing_opt_out is not None:
        _set_opt_out(contact, marketing_opt_out)
    contact.updated_at = datetime.now(UTC)  # not re-read after the flush
    await session.flush()
    return contact


async def delete_contact(
    session: AsyncSession, principal: Principal, contact_id: uuid.UUID
) -> Contact:
    """Delete a contact and its activities (admins and managers)."""
    require_manager(principal)
    contact = await get_contact(session, principal, contact_id, for_update=True)
    await session.execute(
        delete(Contact).where(Contact.tenant_id == principal.tenant_id, Contact.id == contact.id)
    )
    return contact
