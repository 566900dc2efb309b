"""Accounts: the companies the tenant and its partners sell to.

Creating one checks for a duplicate first (same normalised name, or same web domain) among
the accounts the caller may see, unless the caller says the duplicate is deliberate.
Deleting one is refused while it has opportunities (won and lost deals feed revenue
metrics; merge the account instead); its contacts stay, unattached, and its activities go.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Select, delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from prm.auth.principal import Principal
from prm.crm.fields import (
    country_code,
    like_pattern,
    optional_text,
    partner_for_write,
    require_employee,
    required_text,
)
from prm.crm.models import Account, Opportunity
from prm.crm.visibility import readable_accounts, require_manager, require_writer
from prm.db.locks import LockSpace, lock_keys
from prm.errors import Conflict, Duplicate, InvalidInput, NotFound

LEGAL_SUFFIXES = frozenset(
    {
        "ab", "ag", "as", "bv", "co", "company", "corp", "corporation", "gmbh", "inc",
        "incorporated", "kg", "limited", "llc", "llp", "lp", "ltd", "nv", "oy", "plc", "pte",
        "pty", "sa", "sarl", "sas", "spa", "srl",
    }
)  # fmt: skip
"""Trailing words that name a legal form, not the company: "Acme Inc." is "acme"."""
DOMAIN_PATTERN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


def normalise_account_name(name: str) -> str:
    """Lowercase, accents and punctuation removed, trailing legal forms dropped, spaces
    collapsed: the key duplicates are found by. Never empty for a non-blank name."""
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    words = re.sub(r"[^\w\s]|_", " ", plain).split()
    while len(words) > 1 and words[-1] in LEGAL_SUFFIXES:
        words.pop()
    return " ".join(words)[:200] or name.strip().casefold()[:200]


def normalise_domain(value: str | None) -> str | None:
    """A bare host name: `https://www.Acme.com/about` is `acme.com`. Blank means none."""
    if value is None or not value.strip():
        return None
    host = value.strip().lower()
    host = re.sub(r"^[a-z][a-z0-9+.-]*://", "", host).split("/", 1)[0].split(":", 1)[0]
    host = host.removeprefix("www.").rstrip(".")
    if not DOMAIN_PATTERN.match(host):
        raise InvalidInput("is not a domain name", field="domain")
    return host


@dataclass(frozen=True)
class AccountCriteria:
    """What `accounts` may be narrowed by; every field optional, all combine."""

    owner_id: uuid.UUID | None = None
    partner_id: uuid.UUID | None = None
    country: str | None = None
    region: str | None = None
    industry: str | None = None
    search: str | None = None


def filter_accounts(statement: Select[Account], criteria: AccountCriteria) -> Select[Account]:
    if criteria.owner_id is not None:
        statement = statement.where(Account.owner_id == criteria.owner_id)
    if criteria.partner_id is not None:
        statement = statement.where(Account.partner_id == criteria.partner_id)
    if criteria.country:
        statement = statement.where(Account.country == criteria.country.strip().upper())
    if criteria.region:
        statement = statement.where(Account.region == criteria.region.strip())
    if criteria.industry:
        statement = statement.where(Account.industry == criteria.industry.strip())
    if criteria.search and criteria.search.strip():
        statement = statement.where(Account.name.ilike(like_pattern(criteria.search), escape="\\"))
    return statement


async def get_account(
    session: AsyncSession,
    principal: Principal,
    account_id: uuid.UUID,
    *,
    field: str = "id",
    for_update: bool = False,
) -> Account:
    """An account the principal may see, or `NOT_FOUND` on `field`."""
    statement = readable_accounts(principal).where(Account.id == account_id)
    if for_update:
        statement = statement.with_for_update()
    account = await session.scalar(statement)
    if account is None:
        raise NotFound("no such account", field=field)
    return account


async def find_duplicate_account(
    session: AsyncSession,
    principal: Principal,
    *,
    normalized_name: str,
    domain: str | None,
    exclude: uuid.UUID | None = None,
) -> Account | None:
    """The oldest visible account with the same normalised name or domain."""
    same = Account.normalized_name == normalized_name
    if domain is not None:
        same = or_(same, Account.domain == domain)
    statement = readable_accounts(principal).where(same)
    if exclude is not None:
        statement = statement.where(Account.id != exclude)
    found: Account | None = await session.scalar(statement.order_by(Account.id).limit(1))
    return found


async def lock_account_keys(
    session: AsyncSession, principal: Principal, normalized_name: str, domain: str | None
) -> None:
    """Serialise creations of accounts with the same name or domain, so two racing
    requests cannot both pass the duplicate check."""
    keys = [f"{principal.tenant_id}:account-name:{normalized_name}"]
    if domain is not None:
        keys.append(f"{principal.tenant_id}:account-domain:{domain}")
    await lock_keys(session, LockSpace.CRM_DUPLICATE, keys)


async def create_account(
    session: AsyncSession,
    principal: Principal,
    *,
    name: str,
    domain: str | None = None,
    industry: str | None = None,
    country: str | None = None,
    region: str | None = None,
    owner_id: uuid.UUID | None = None,
    partner_id: uuid.UUID | None = None,
    allow_duplicate: bool = False,
) -> Account:
    """A new account; a partner user's belongs to its partner."""
    require_writer(principal)
    clean_name = required_text(name, field="name")
    normalized = normalise_account_name(clean_name)
    clean_domain = normalise_domain(domain)
    account = Account(
        tenant_id=principal.tenant_id,
        name=clean_name,
        normalized_name=normalized,
        domain=clean_domain,
        industry=optional_text(industry, field="industry"),
        country=country_code(country),
        region=optional_text(region, field="region"),
        owner_id=(
            await require_employee(session, principal, owner_id, field="ownerId")
            if owner_id is not None
            else None
        ),
        partner_id=await partner_for_write(session, principal, partner_id),
    )
    if not allow_duplicate:
        await lock_account_keys(session, principal, normalized, clean_domain)
        existing = await find_duplicate_account(
            session, principal, normalized_name=normalized, domain=clean_domain
        )
        if existing is not None:
            if existing.normalized_name == normalized:
                message, field = f"an account named like {clean_name!r} exists", "name"
            else:
                message, field = f"an account with the domain {clean_domain!r} exists", "domain"
            raise Duplicate(message, field=field, existing_key=f"Account:{existing.id}")
    session.add(account)
    await session.flush()
    return account


async def update_account(
    session: AsyncSession,
    principal: Principal,
    account_id: uuid.UUID,
    *,
    name: str | None = None,
    domain: str | None = None,
    industry: str | None = None,
    country: str | None = None,
    region: str | None = None,
    owner_id: uuid.UUID | None = None,
    partner_id: uuid.UUID | None = None,
) -> Account:
    """Change the given fields (None leaves one as it is)."""
    require_writer(principal)
    account = await get_account(session, principal, account_id, for_update=True)
    if name is not None:
        account.name = required_text(name, field="name")
        account.normalized_name = normalise_account_name(account.name)
    if domain is not None:
        account.domain = normalise_domain(domain)
    if industry is not None:
        account.industry = optional_text(industry, field="industry")
    if country is not None:
        account.country = country_code(country)
    if region is not None:
        account.region = optional_text(region, field="region")
    if owner_id is not None:
        account.owner_id = await require_employee(session, principal, owner_id, field="ownerId")
    if partner_id is not None:
        account.partner_id = await partner_for_write(session, principal, partner_id)
    account.updated_at = datetime.now(UTC)  # not re-read after the flush
    await session.flush()
    return account


async def delete_account(
    session: AsyncSession, principal: Principal, account_id: uuid.UUID
) -> Account:
    """Delete an account that has no opportunities (admins and managers)."""
    require_manager(principal)
    account = await get_account(session, principal, account_id, for_update=True)
    deals = await session.scalar(
        select(func.count())
        .select_from(Opportunity)
        .where(Opportunity.tenant_id == principal.tenant_id, Opportunity.account_id == account.id)
    )
    if deals:
        raise Conflict(
            f"the account has {deals} opportunities: delete them or merge the account", field="id"
        )
    await session.execute(
        delete(Account).where(Account.tenant_id == principal.tenant_id, Account.id == account.id)
    )
    return account
