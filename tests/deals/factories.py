"""Factories of deal registration: a tenant with two partners, their users and a manager;
registrations made through the service. Each commits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from prm.auth.principal import Role
from prm.db.engine import Database
from prm.deals import service
from prm.deals.models import DealRegistration
from prm.partners.models import Partner
from prm.tenants.models import User
from tests.factories import (
    TenantWithAdmin,
    make_partner,
    make_tenant,
    make_user,
    principal_of,
    unique,
)


@dataclass
class DealCast:
    tenant: TenantWithAdmin
    manager: User
    employee: User
    partner_a: Partner
    partner_b: Partner
    rep_a: User
    rep_b: User


async def make_deal_cast(database: Database) -> DealCast:
    tenant = await make_tenant(database)
    partner_a = await make_partner(database, tenant.id)
    partner_b = await make_partner(database, tenant.id)
    return DealCast(
        tenant=tenant,
        manager=await make_user(database, tenant.id, roles=(Role.MANAGER,)),
        employee=await make_user(database, tenant.id, roles=(Role.EMPLOYEE,)),
        partner_a=partner_a,
        partner_b=partner_b,
        rep_a=await make_user(
            database, tenant.id, roles=(Role.PARTNER_REP,), partner_id=partner_a.id
        ),
        rep_b=await make_user(
            database, tenant.id, roles=(Role.PARTNER_ADMIN,), partner_id=partner_b.id
        ),
    )


async def make_registration(
    database: Database,
    user: User,
    *,
    company_name: str | None = None,
    contact_email: str | None = None,
    approve_as: User | None = None,
    **fields: Any,
) -> DealRegistration:
    values = service.normalise_registration(
        company_name=company_name or unique("Company"), contact_email=contact_email, **fields
    )
    async with database.session(user.tenant_id) as session:
        row = await session.run_sync(
            lambda sync: service.register_deal(sync, principal_of(user), values)
        )
        if approve_as is not None:
            row = await session.run_sync(
                lambda sync: service.approve_registration(sync, principal_of(approve_as), row.id)
            )
    return row
