"""Inputs, filters and orderings of the tenants API."""

from __future__ import annotations

import enum

import strawberry

from prm.graphql.pagination import OrderDirection
from prm.graphql.tenants.types import RoleEnum


@strawberry.input(description="Narrows `users`; every field is optional and they combine.")
class UserFilter:
    role: RoleEnum | None = None  # type: ignore[valid-type]
    active: bool | None = None
    partner_id: strawberry.ID | None = None
    search: str | None = strawberry.field(
        default=None, description="Case-insensitive substring of the email or name."
    )


@strawberry.enum
class UserOrderField(enum.Enum):
    CREATED_AT = "created_at"
    EMAIL = "email"
    NAME = "name"


@strawberry.input
class UserOrder:
    field: UserOrderField
    direction: OrderDirection = OrderDirection.ASC


@strawberry.input
class InviteUserInput:
    email: str
    name: str
    role: RoleEnum  # type: ignore[valid-type]
    partner_id: strawberry.ID | None = strawberry.field(
        default=None, description="Required for partner roles, refused for tenant roles."
    )
    password: str | None = strawberry.field(
        default=None, description="Optional: without one the user cannot sign in yet."
    )


@strawberry.input
class CreateApiClientInput:
    name: str
    scopes: list[str] = strawberry.field(description="Any of: admin, manager, read.")


@strawberry.input(description="Only the fields given change.")
class UpdateTenantSettingsInput:
    name: str | None = None
    default_currency: str | None = None
    offer_sla_hours: int | None = None
    deal_protection_days: int | None = None
