"""Mutations of the tenants domain. Each parses, calls one service function, shapes the
payload; transactions, audit and error mapping come from `@mutation`."""

from __future__ import annotations

import strawberry

from prm.auth.principal import Role
from prm.graphql.context import Info
from prm.graphql.mutations import Payload, mutation
from prm.graphql.permissions import require_principal
from prm.graphql.relay import require_pk
from prm.graphql.tenants.inputs import (
    CreateApiClientInput,
    InviteUserInput,
    UpdateTenantSettingsInput,
)
from prm.graphql.tenants.types import ApiClientType, TenantType, UserType
from prm.tenants import service

ADMIN = (Role.ADMIN,)
USER_MANAGERS = (Role.ADMIN, Role.PARTNER_ADMIN)


@strawberry.type
class UserPayload(Payload):
    user: UserType | None = None


@strawberry.type
class ApiClientPayload(Payload):
    api_client: ApiClientType | None = None
    client_id: str | None = strawberry.field(
        default=None, description="Same as apiClient.clientId."
    )
    client_secret: str | None = strawberry.field(
        default=None, description="Shown once, now: only a hash is stored."
    )


@strawberry.type
class TenantPayload(Payload):
    tenant: TenantType | None = None


@strawberry.type
class Mutation:
    @mutation(
        UserPayload,
        roles=USER_MANAGERS,
        description="Add a user to the tenant (admins), or to the caller's own partner "
        "organisation (partner admins: partner roles only; partnerId defaults to its own).",
    )
    async def invite_user(self, info: Info, input: InviteUserInput) -> UserPayload:
        partner_id = None
        if input.partner_id is not None:
            partner_id = require_pk(input.partner_id, "Partner", field="partnerId")
        user = await service.invite_user(
            info.context.session,
            require_principal(info),
            email=input.email,
            name=input.name,
            role=Role(input.role),
            partner_id=partner_id,
            password=input.password,
        )
        return UserPayload(user=UserType.from_model(user))

    @mutation(
        UserPayload,
        roles=USER_MANAGERS,
        description="Stop a user's access at once (admins; partner admins for their "
        "organisation's users).",
    )
    async def deactivate_user(self, info: Info, id: strawberry.ID) -> UserPayload:
        user = await service.deactivate_user(
            info.context.session, require_principal(info), require_pk(id, "User", field="id")
        )
        return UserPayload(user=UserType.from_model(user))

    @mutation(
        ApiClientPayload,
        roles=ADMIN,
        description="A client-credentials client; its secret is returned once (admins only).",
    )
    async def create_api_client(self, info: Info, input: CreateApiClientInput) -> ApiClientPayload:
        created = await service.create_api_client(
            info.context.session, require_principal(info), name=input.name, scopes=input.scopes
        )
        return ApiClientPayload(
            api_client=ApiClientType.from_model(created.client),
            client_id=created.client.client_id,
            client_secret=created.secret,
        )

    @mutation(ApiClientPayload, roles=ADMIN, description="Stop a client's access (admins only).")
    async def revoke_api_client(self, info: Info, id: strawberry.ID) -> ApiClientPayload:
        client = await service.revoke_api_client(
            info.context.session,
            require_principal(info),
            require_pk(id, "ApiClient", field="id"),
        )
        return ApiClientPayload(api_client=ApiClientType.from_model(client))

    @mutation(TenantPayload, roles=ADMIN, description="Change tenant settings (admins only).")
    async def update_tenant_settings(
        self, info: Info, input: UpdateTenantSettingsInput
    ) -> TenantPayload:
        tenant = await service.update_tenant_settings(
            info.context.session,
            require_principal(info),
            name=input.name,
            default_currency=input.default_currency,
            offer_sla_hours=input.offer_sla_hours,
            deal_protection_days=input.deal_protection_days,
        )
        return TenantPayload(tenant=TenantType.from_model(tenant))
