"""Tenants, their users and API clients: the rules.

Creating a tenant is a platform operation (CLI, platform API). Everything else acts as a
principal inside its tenant: only an ADMIN manages users, API clients and settings. Who may
read which users lives in `readable_users` / `can_read_user`, the one place for it.
Functions never commit: the caller (a GraphQL mutation, the CLI) owns the transaction.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Select, any_, func, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from prm.auth.client_ids import new_client_id
from prm.auth.models import RefreshToken
from prm.auth.passwords import hash_password, hash_secret, new_secret, password_problem
from prm.auth.principal import PARTNER_ROLES, Principal, Role
from prm.auth.scopes import API_CLIENT_SCOPES
from prm.db.ids import new_id
from prm.db.tenancy import abind_tenant
from prm.errors import Conflict, Duplicate, Forbidden, InvalidInput, NotFound
from prm.partners.models import Partner
from prm.tenants.models import ApiClient, Tenant, User

SLUG_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
CURRENCY_PATTERN = re.compile(r"^[A-Z]{3}$")
MAX_NAME_LENGTH = 200
MAX_OFFER_SLA_HOURS = 24 * 365
MAX_DEAL_PROTECTION_DAYS = 3650
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def normalise_email(email: str) -> str:
    email = email.strip()
    if len(email) > 320 or not EMAIL_PATTERN.match(email):
        raise InvalidInput("is not a valid email address", field="email")
    return email.lower()


async def create_tenant(
    session: AsyncSession,
    *,
    slug: str,
    name: str,
    admin_email: str,
    admin_password: str,
    admin_name: str = "Administrator",
    default_currency: str = "USD",
) -> tuple[Tenant, User]:
    """A tenant and its first admin. Binds `session` to the new tenant (RLS requires it
    for the inserts), so the caller's transaction continues inside that tenant."""
    slug = slug.strip().lower()
    if not SLUG_PATTERN.match(slug):
        raise InvalidInput(
            "must be 1-63 lowercase letters, digits or dashes, not starting or ending with a dash",
            field="slug",
        )
    if not name.strip():
        raise InvalidInput("must not be blank", field="name")
    if problem := password_problem(admin_password):
        raise InvalidInput(problem, field="adminPassword")
    email = normalise_email(admin_email)
    taken = await session.scalar(
        select(func.count()).select_from(Tenant).where(Tenant.slug == slug)
    )
    if taken:
        raise Duplicate(f"a tenant with slug {slug!r} exists", field="slug")

    tenant_id = new_id()
    await abind_tenant(session, tenant_id)
    tenant = Tenant(id=tenant_id, slug=slug, name=name.strip(), default_currency=default_currency)
    session.add(tenant)
    await session.flush()
    admin = User(
        tenant_id=tenant_id,
        email=email,
        name=admin_name,
        password_hash=hash_password(admin_password),
        roles=[Role.ADMIN.value],
    )
    session.add(admin)
    await session.flush()
    return tenant, admin


async def get_tenant_by_slug(session: AsyncSession, slug: str) -> Tenant | None:
    result: Tenant | None = await session.scalar(
        select(Tenant).where(Tenant.slug == slug.strip().lower(), Tenant.active.is_(True))
    )
    return result


async def get_tenant(session: AsyncSession, tenant_id: uuid.UUID) -> Tenant | None:
    return await session.get(Tenant, tenant_id)


def _require_admin(principal: Principal, what: str) -> None:
    if not principal.has_any(Role.ADMIN):
        raise Forbidden(f"only an admin may {what}")


def _clean_name(name: str, *, field: str = "name") -> str:
    name = name.strip()
    if not name:
        raise InvalidInput("must not be blank", field=field)
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidInput(f"must be at most {MAX_NAME_LENGTH} characters", field=field)
    return name


# Users ---------------------------------------------------------------------------------


def readable_users(principal: Principal) -> Select[User]:
    """The users `principal` may list: an admin all of the tenant's, a partner admin its
    own organisation's; anyone else may not list users."""
    statement = select(User).where(User.tenant_id == principal.tenant_id)
    if principal.has_any(Role.ADMIN):
        return statement
    if principal.has_any(Role.PARTNER_ADMIN) and principal.partner_id is not None:
        return statement.where(User.partner_id == principal.partner_id)
    raise Forbidden("only an admin or a partner admin may list users")


def can_read_user(principal: Principal, user: User) -> bool:
    """Whether `principal` may see `user` (as a node): itself, or one it may list."""
    if user.tenant_id != principal.tenant_id:
        return False
    if principal.user_id == user.id or principal.has_any(Role.ADMIN):
        return True
    return (
        principal.has_any(Role.PARTNER_ADMIN)
        and principal.partner_id is not None
        and user.partner_id == principal.partner_id
    )


def can_list_partner_users(principal: Principal, partner_id: uuid.UUID) -> bool:
    """Whether `principal` may list a partner's users: an admin, or that partner's admin."""
    if principal.has_any(Role.ADMIN):
        return True
    return principal.has_any(Role.PARTNER_ADMIN) and principal.partner_id == partner_id


def _require_user_manager(principal: Principal, what: str) -> None:
    """Admins manage every user; a partner admin its own organisation's (checked by the
    caller against the user or partner at hand)."""
    if principal.has_any(Role.ADMIN):
        return
    if principal.has_any(Role.PARTNER_ADMIN) and principal.partner_id is not None:
        return
    raise Forbidden(f"only an admin or a partner admin may {what}")


def filter_users(
    statement: Select[User],
    *,
    role: Role | None = None,
    active: bool | None = None,
    partner_id: uuid.UUID | None = None,
    search: str | None = None,
) -> Select[User]:
    if role is not None:
        statement = statement.where(literal(role.value) == any_(User.roles))
    if active is not None:
        statement = statement.where(User.active.is_(active))
    if partner_id is not None:
        statement = statement.where(User.partner_id == partner_id)
    if search and search.strip():
        escaped = search.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
        statement = statement.where(
            or_(User.email.ilike(pattern, escape="\\"), User.name.ilike(pattern, escape="\\"))
        )
    return statement


async def invite_user(
    session: AsyncSession,
    principal: Principal,
    *,
    email: str,
    name: str,
    role: Role,
    partner_id: uuid.UUID | None = None,
    password: str | None = None,
) -> User:
    """A new user of the principal's tenant. Partner roles need a partner of the tenant;
    tenant roles take none. Without a password the user cannot sign in until one is set.
    A partner admin invites only partner users of its own organisation (the default)."""
    _require_user_manager(principal, "invite users")
    if not principal.has_any(Role.ADMIN):
        if role not in PARTNER_ROLES:
            raise Forbidden("a partner admin may invite only partner users")
        if partner_id is None:
            partner_id = principal.partner_id
        elif partner_id != principal.partner_id:
            raise NotFound("no such partner", field="partnerId")
    address = normalise_email(email)
    clean_name = _clean_name(name)
    if role in PARTNER_ROLES:
        if partner_id is None:
            raise InvalidInput("a partner role needs a partner", field="partnerId")
        partner = await session.scalar(
            select(Partner.id).where(
                Partner.tenant_id == principal.tenant_id, Partner.id == partner_id
            )
        )
        if partner is None:
            raise NotFound("no such partner", field="partnerId")
    elif partner_id is not None:
        raise InvalidInput("a tenant role cannot belong to a partner", field="partnerId")
    password_hash = None
    if password is not None:
        if problem := password_problem(password):
            raise InvalidInput(problem, field="password")
        password_hash = hash_password(password)
    taken = await session.scalar(
        select(User.id).where(
            User.tenant_id == principal.tenant_id, func.lower(User.email) == address
        )
    )
    if taken is not None:
        raise Duplicate("a user with this email exists", field="email")
    user = User(
        tenant_id=principal.tenant_id,
        email=address,
        name=clean_name,
        password_hash=password_hash,
        roles=[role.value],
        partner_id=partner_id,
        active=True,
    )
    session.add(user)
    await session.flush()
    return user


async def deactivate_user(session: AsyncSession, principal: Principal, user_id: uuid.UUID) -> User:
    """Deactivate a user: its tokens stop working at once (the bearer check reads
    `active`), and its refresh tokens are revoked. Idempotent. A partner admin reaches
    only its own organisation's users (others are NOT_FOUND)."""
    _require_user_manager(principal, "deactivate users")
    statement = select(User).where(User.tenant_id == principal.tenant_id, User.id == user_id)
    if not principal.has_any(Role.ADMIN):
        statement = statement.where(User.partner_id == principal.partner_id)
    user = await session.scalar(statement.with_for_update())
    if user is None:
        raise NotFound("no such user", field="id")
    if not user.active:
        return user
    if user.id == principal.user_id:
        raise InvalidInput("you cannot deactivate yourself", field="id")
    if Role.ADMIN.value in user.roles:
        other_admins = await session.scalar(
            select(func.count())
            .select_from(User)
            .where(
                User.tenant_id == principal.tenant_id,
                User.id != user.id,
                User.active.is_(True),
                literal(Role.ADMIN.value) == any_(User.roles),
            )
        )
        if not other_admins:
            raise Conflict("the last active admin cannot be deactivated", field="id")
    now = datetime.now(UTC)
    user.active = False
    user.deactivated_at = now
    await session.execute(
        update(RefreshToken)
        .where(
            RefreshToken.tenant_id == principal.tenant_id,
            RefreshToken.user_id == user.id,
            RefreshToken.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )
    await session.flush()
    return user


# API clients ---------------------------------------------------------------------------


@dataclass(frozen=True)
class NewApiClient:
    client: ApiClient
    secret: str
    """Shown once: only its hash is stored."""


def readable_api_clients(principal: Principal) -> Select[ApiClient]:
    _require_admin(principal, "manage API clients")
    return select(ApiClient).where(ApiClient.tenant_id == principal.tenant_id)


async def create_api_client(
    session: AsyncSession, principal: Principal, *, name: str, scopes: Iterable[str]
) -> NewApiClient:
    _require_admin(principal, "manage API clients")
    clean_name = _clean_name(name)
    wanted = sorted({scope.strip() for scope in scopes})
    if not wanted:
        raise InvalidInput("at least one scope is required", field="scopes")
    unknown = [scope for scope in wanted if scope not in API_CLIENT_SCOPES]
    if unknown:
        allowed = ", ".join(sorted(API_CLIENT_SCOPES))
        raise InvalidInput(f"unknown scopes {unknown}; allowed: {allowed}", field="scopes")
    secret = new_secret()
    client = ApiClient(
        tenant_id=principal.tenant_id,
        name=clean_name,
        client_id=new_client_id(principal.tenant_id),
        secret_hash=hash_secret(secret),
        scopes=wanted,
        created_by=principal.user_id,
    )
    session.add(client)
    await session.flush()
    return NewApiClient(client=client, secret=secret)


async def revoke_api_client(
    session: AsyncSession, principal: Principal, client_id: uuid.UUID
) -> ApiClient:
    """Revoke a client: its tokens stop working at once. Idempotent."""
    _require_admin(principal, "manage API clients")
    client = await session.scalar(
        select(ApiClient)
        .where(ApiClient.tenant_id == principal.tenant_id, ApiClient.id == client_id)
        .with_for_update()
    )
    if client is None:
        raise NotFound("no such API client", field="id")
    if client.revoked_at is None:
        client.revoked_at = datetime.now(UTC)
        await session.flush()
    return client


# Settings ------------------------------------------------------------------------------


async def update_tenant_settings(
    session: AsyncSession,
    principal: Principal,
    *,
    name: str | None = None,
    default_currency: str | None = None,
    offer_sla_hours: int | None = None,
    deal_protection_days: int | None = None,
) -> Tenant:
    """Change the given settings (None leaves one as it is)."""
    _require_admin(principal, "change tenant settings")
    tenant = await session.scalar(
        select(Tenant).where(Tenant.id == principal.tenant_id).with_for_update()
    )
    if tenant is None:
        raise NotFound("no such tenant")
    if name is not None:
        tenant.name = _clean_name(name)
    if default_currency is not None:
        currency = default_currency.strip().upper()
        if not CURRENCY_PATTERN.match(currency):
            raise InvalidInput("must be a three-letter ISO 4217 code", field="defaultCurrency")
        tenant.default_currency = currency
    if offer_sla_hours is not None:
        if not 1 <= offer_sla_hours <= MAX_OFFER_SLA_HOURS:
            raise InvalidInput(
                f"must be between 1 and {MAX_OFFER_SLA_HOURS}", field="offerSlaHours"
            )
        tenant.offer_sla_hours = offer_sla_hours
    if deal_protection_days is not None:
        if not 1 <= deal_protection_days <= MAX_DEAL_PROTECTION_DAYS:
            raise InvalidInput(
                f"must be between 1 and {MAX_DEAL_PROTECTION_DAYS}", field="dealProtectionDays"
            )
        tenant.deal_protection_days = deal_protection_days
    await session.flush()
    return tenant
