"""Tenant lifecycle. Creating a tenant is a platform operation (CLI, platform API)."""

from __future__ import annotations

import re
import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from prm.auth.passwords import hash_password, password_problem
from prm.auth.principal import Role
from prm.db.ids import new_id
from prm.db.tenancy import abind_tenant
from prm.errors import Duplicate, InvalidInput
from prm.tenants.models import Tenant, User

SLUG_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
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
