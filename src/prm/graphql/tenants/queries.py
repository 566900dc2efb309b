"""Queries of the tenants domain: `me`, `users`, `apiClients`, `auditLog`."""

from __future__ import annotations

import asyncio

import strawberry
from sqlalchemy import false

from prm.errors import NotFound
from prm.graphql.context import Info
from prm.graphql.pagination import NEWEST_FIRST, Connection, Ordering, paginate
from prm.graphql.partners.types import load_partner
from prm.graphql.permissions import require_principal
from prm.graphql.relay import pk_of
from prm.graphql.tenants.inputs import UserFilter, UserOrder
from prm.graphql.tenants.types import (
    ApiClientType,
    AuditEntryType,
    TenantType,
    UserType,
    Viewer,
    load_user,
)
from prm.tenants import service
from prm.tenants.audit import readable_audit_log
from prm.tenants.models import ApiClient, Tenant, User


@strawberry.type
class Query:
    @strawberry.field(description="The caller: its tenant, user or API client, partner, roles.")
    async def me(self, info: Info) -> Viewer:
        principal = require_principal(info)
        context = info.context
        tenant_row = await context.session.get(Tenant, principal.tenant_id)
        if tenant_row is None:
            raise NotFound("no such tenant")
        user, partner, client = await asyncio.gather(
            load_user(context, principal.user_id) if principal.user_id else _none(),
            load_partner(context, principal.partner_id) if principal.partner_id else _none(),
            _api_client(info) if principal.kind == "api_client" else _none(),
        )
        return Viewer(
            tenant=TenantType.from_model(tenant_row),
            user=user,
            partner=partner,
            api_client=client,
            roles=sorted(principal.roles),
        )

    @strawberry.field(
        description="Users: an admin sees the whole tenant, a partner admin its organisation."
    )
    async def users(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: UserFilter | None = None,
        order_by: UserOrder | None = None,
    ) -> Connection[UserType]:
        principal = require_principal(info)
        statement = service.readable_users(principal)
        if filter is not None:
            partner_id = None
            if filter.partner_id is not None:
                partner_id = pk_of(filter.partner_id, "Partner")
                if partner_id is None:  # an id of nothing: nothing matches
                    statement = statement.where(false())
            statement = service.filter_users(
                statement,
                role=filter.role,
                active=filter.active,
                partner_id=partner_id,
                search=filter.search,
            )
        order = Ordering.by(None)
        if order_by is not None:
            order = Ordering.by(getattr(User, order_by.field.value), order_by.direction)
        return await paginate(
            info.context,
            statement,
            to_node=UserType.from_model,
            first=first,
            after=after,
            order=order,
        )

    @strawberry.field(description="The tenant's API clients (admins only).")
    async def api_clients(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[ApiClientType]:
        principal = require_principal(info)
        return await paginate(
            info.context,
            service.readable_api_clients(principal),
            to_node=ApiClientType.from_model,
            first=first,
            after=after,
        )

    @strawberry.field(description="Every successful mutation, newest first (admins only).")
    async def audit_log(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[AuditEntryType]:
        principal = require_principal(info)
        return await paginate(
            info.context,
            readable_audit_log(principal),
            to_node=AuditEntryType.from_model,
            first=first,
            after=after,
            order=NEWEST_FIRST,
        )


async def _none() -> None:
    return None


async def _api_client(info: Info) -> ApiClientType | None:
    principal = require_principal(info)
    if principal.subject_id is None:
        return None
    client = await info.context.loaders.by_id(ApiClient).load(principal.subject_id)
    return ApiClientType.from_model(client) if client else None
