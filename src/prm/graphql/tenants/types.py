"""Tenants, users, API clients and audit entries as the API shows them."""

from __future__ import annotations

import uuid
from datetime import datetime

import strawberry

from prm.auth.principal import Role
from prm.graphql.context import Context, Info
from prm.graphql.partners.types import PartnerType, load_partner
from prm.graphql.relay import Node, encode_global_id, register_node
from prm.tenants.models import ApiClient, AuditEntry, Tenant, User
from prm.tenants.service import can_read_user

RoleEnum = strawberry.enum(Role, name="Role")


@strawberry.type(name="Tenant", description="The company using prm: the caller's own.")
class TenantType(Node):
    slug: str
    name: str
    default_currency: str
    offer_sla_hours: int
    deal_protection_days: int
    created_at: datetime

    @classmethod
    def from_model(cls, tenant: Tenant) -> TenantType:
        return cls.from_row(tenant)


@strawberry.type(name="User", description="A person who signs in: tenant staff or partner user.")
class UserType(Node):
    email: str
    name: str
    roles: list[RoleEnum]  # type: ignore[valid-type]
    active: bool
    created_at: datetime
    deactivated_at: datetime | None
    last_login_at: datetime | None
    partner_pk: strawberry.Private[uuid.UUID | None]

    @strawberry.field(description="The partner organisation of a partner user.")
    async def partner(self, info: Info) -> PartnerType | None:
        if self.partner_pk is None:
            return None
        return await load_partner(info.context, self.partner_pk)

    @classmethod
    def from_model(cls, user: User) -> UserType:
        return cls.from_row(
            user, roles=[Role(role) for role in user.roles], partner_pk=user.partner_id
        )


@strawberry.type(name="ApiClient", description="Machine access by client credentials.")
class ApiClientType(Node):
    name: str
    client_id: str
    scopes: list[str]
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None

    @classmethod
    def from_model(cls, client: ApiClient) -> ApiClientType:
        return cls.from_row(client, scopes=list(client.scopes))


_PRINCIPAL_TYPES = {"user": "User", "api_client": "ApiClient"}


@strawberry.type(name="AuditEntry", description="One successful mutation: who, what, when.")
class AuditEntryType(Node):
    at: datetime
    principal_kind: str = strawberry.field(description="user, api_client or platform.")
    operation: str
    request_id: str | None
    principal_pk: strawberry.Private[uuid.UUID | None]
    object_keys: strawberry.Private[list[str]]

    @strawberry.field(description="Global id of the acting user or API client.")
    def principal_id(self) -> strawberry.ID | None:
        type_name = _PRINCIPAL_TYPES.get(self.principal_kind)
        if type_name is None or self.principal_pk is None:
            return None
        return strawberry.ID(encode_global_id(type_name, self.principal_pk))

    @strawberry.field(description="Global ids of the objects the mutation created or changed.")
    def object_ids(self) -> list[strawberry.ID]:
        ids: list[strawberry.ID] = []
        for key in self.object_keys:
            type_name, _, pk = key.partition(":")
            try:
                ids.append(strawberry.ID(encode_global_id(type_name, uuid.UUID(pk))))
            except ValueError:
                continue
        return ids

    @strawberry.field(description="The acting user, if a user acted.")
    async def user(self, info: Info) -> UserType | None:
        if self.principal_kind != "user" or self.principal_pk is None:
            return None
        return await load_user(info.context, self.principal_pk)

    @classmethod
    def from_model(cls, entry: AuditEntry) -> AuditEntryType:
        return cls.from_row(
            entry,
            at=entry.created_at,
            principal_pk=entry.principal_id,
            object_keys=list(entry.object_ids or []),
        )


@strawberry.type(description="Who is asking: the principal of the request.")
class Viewer:
    tenant: TenantType
    user: UserType | None
    partner: PartnerType | None
    api_client: ApiClientType | None
    roles: list[RoleEnum]  # type: ignore[valid-type]


async def load_user(context: Context, pk: uuid.UUID) -> UserType | None:
    """The user if the caller may see it, else None."""
    if context.principal is None:
        return None
    user = await context.loaders.by_id(User).load(pk)
    if user is None or not can_read_user(context.principal, user):
        return None
    return UserType.from_model(user)


@register_node(UserType)
async def _user_node(context: Context, pk: uuid.UUID) -> UserType | None:
    return await load_user(context, pk)


@register_node(TenantType)
async def _tenant_node(context: Context, pk: uuid.UUID) -> TenantType | None:
    if context.principal is None or context.principal.tenant_id != pk:
        return None
    tenant = await context.session.get(Tenant, pk)
    return TenantType.from_model(tenant) if tenant else None


@register_node(ApiClientType)
async def _api_client_node(context: Context, pk: uuid.UUID) -> ApiClientType | None:
    if context.principal is None or not context.principal.has_any(Role.ADMIN):
        return None
    client = await context.loaders.by_id(ApiClient).load(pk)
    return ApiClientType.from_model(client) if client else None


@register_node(AuditEntryType)
async def _audit_entry_node(context: Context, pk: uuid.UUID) -> AuditEntryType | None:
    if context.principal is None or not context.principal.has_any(Role.ADMIN):
        return None
    entry = await context.loaders.by_id(AuditEntry).load(pk)
    return AuditEntryType.from_model(entry) if entry else None
