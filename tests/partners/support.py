"""Shared set-up of the partners tests: a tenant with one user of every role."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select, update

from prm.auth.principal import Role
from prm.db.engine import Database
from prm.graphql.relay import encode_global_id
from prm.partners.models import Partner, PartnerTier
from prm.tenants.models import AuditEntry, User
from tests.factories import TenantWithAdmin, bearer, make_partner, make_tenant, make_user
from tests.graphql.support import gql


@dataclass
class Cast:
    """A tenant, its own partner organisation, and a user of every role."""

    tenant: TenantWithAdmin
    partner: Partner
    admin: User
    manager: User
    employee: User
    partner_admin: User
    partner_rep: User

    def user(self, role: str) -> User:
        user: User = getattr(self, role)
        return user


async def make_cast(database: Database) -> Cast:
    tenant = await make_tenant(database)
    partner = await make_partner(database, tenant.id)
    return Cast(
        tenant=tenant,
        partner=partner,
        admin=tenant.admin,
        manager=await make_user(database, tenant.id, roles=(Role.MANAGER,)),
        employee=await make_user(database, tenant.id, roles=(Role.EMPLOYEE,)),
        partner_admin=await make_user(
            database, tenant.id, roles=(Role.PARTNER_ADMIN,), partner_id=partner.id
        ),
        partner_rep=await make_user(
            database, tenant.id, roles=(Role.PARTNER_REP,), partner_id=partner.id
        ),
    )


class Caller:
    """Sends GraphQL as one user."""

    def __init__(self, client: httpx.AsyncClient, app: FastAPI, user: User) -> None:
        self.client = client
        self.headers = bearer(app.state.issuer, user)

    async def __call__(self, query: str, **variables: Any) -> dict[str, Any]:
        return await gql(self.client, query, variables, headers=self.headers)


def gid(type_name: str, row: Any) -> str:
    return encode_global_id(type_name, row.id)


async def audit_operations(database: Database, tenant: TenantWithAdmin) -> list[str]:
    async with database.session(tenant.id) as session:
        rows = await session.scalars(
            select(AuditEntry.operation)
            .where(AuditEntry.tenant_id == tenant.id)
            .order_by(AuditEntry.created_at, AuditEntry.id)
        )
        return list(rows)


async def partner_count(database: Database, tenant: TenantWithAdmin) -> int:
    async with database.session(tenant.id) as session:
        return int(await session.scalar(select(func.count()).select_from(Partner)) or 0)


async def tier_count(database: Database, tenant: TenantWithAdmin) -> int:
    async with database.session(tenant.id) as session:
        return int(await session.scalar(select(func.count()).select_from(PartnerTier)) or 0)


async def set_partner_columns(database: Database, partner: Partner, **values: Any) -> None:
    """Write columns other services own (the metrics worker writes the score)."""
    async with database.session(partner.tenant_id) as session:
        await session.execute(
            update(Partner)
            .where(Partner.tenant_id == partner.tenant_id, Partner.id == partner.id)
            .values(**values)
        )
