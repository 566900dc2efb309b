"""`DealRegistration` and `DealConflict` as the API shows them. Conflict details are for
managers and admins; a partner user sees `hasConflicts` and an empty `conflicts` list,
never another partner's data."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

import strawberry

from prm.deals.models import DealRegistration, RegistrationStatus
from prm.deals.service import ConflictKind, may_see_conflict_details, readable_registrations
from prm.graphql.context import Context, Info
from prm.graphql.partners.types import PartnerType, load_partner
from prm.graphql.relay import Node, encode_global_id, register_node
from prm.graphql.scalars import MoneyType

RegistrationStatusEnum = strawberry.enum(
    RegistrationStatus,
    name="DealRegistrationStatus",
    description="PENDING until decided; APPROVED protects the partner until it EXPIRES.",
)


@strawberry.enum(name="DealConflictKind", description="What a registration conflicts with.")
class DealConflictKind(enum.Enum):
    LEAD = ConflictKind.LEAD
    ACCOUNT = ConflictKind.ACCOUNT
    DEAL_REGISTRATION = ConflictKind.DEAL_REGISTRATION


_TYPE_NAMES = {
    ConflictKind.LEAD: "Lead",
    ConflictKind.ACCOUNT: "Account",
    ConflictKind.DEAL_REGISTRATION: "DealRegistration",
}


@strawberry.type(name="DealConflict", description="An object a registration conflicts with.")
class DealConflictType:
    kind: DealConflictKind
    object_id: strawberry.ID = strawberry.field(description="The other object's global id.")
    matched_on: list[str] = strawberry.field(description="COMPANY_NAME and/or EMAIL_DOMAIN.")

    @classmethod
    def from_json(cls, conflict: dict[str, Any]) -> DealConflictType:
        kind = str(conflict["kind"])
        return cls(
            kind=DealConflictKind(kind),
            object_id=strawberry.ID(encode_global_id(_TYPE_NAMES[kind], uuid.UUID(conflict["id"]))),
            matched_on=list(conflict.get("matchedOn") or []),
        )


@strawberry.type(name="DealRegistration", description="A deal a partner found and registered.")
class DealRegistrationType(Node):
    status: RegistrationStatusEnum  # type: ignore[valid-type]
    company_name: str
    contact_email: str | None
    estimated_value: MoneyType | None
    product_interest: list[str]
    notes: str | None
    decided_at: datetime | None
    reject_reason: str | None
    protected_until: datetime | None = strawberry.field(
        description="While APPROVED: when the partner's protection ends."
    )
    expired_at: datetime | None
    created_at: datetime
    updated_at: datetime
    partner_pk: strawberry.Private[uuid.UUID]
    conflict_rows: strawberry.Private[list[dict[str, Any]]]

    @strawberry.field(description="Whether registering found conflicting records.")
    def has_conflicts(self) -> bool:
        return bool(self.conflict_rows)

    @strawberry.field(
        description="What it conflicts with (managers and admins; partner users: empty)."
    )
    def conflicts(self, info: Info) -> list[DealConflictType]:
        principal = info.context.principal
        if principal is None or not may_see_conflict_details(principal):
            return []
        return [DealConflictType.from_json(row) for row in self.conflict_rows]

    @strawberry.field(description="The registering partner.")
    async def partner(self, info: Info) -> PartnerType | None:
        return await load_partner(info.context, self.partner_pk)

    @classmethod
    def from_model(cls, row: DealRegistration) -> DealRegistrationType:
        return cls.from_row(
            row,
            estimated_value=MoneyType.maybe(row.estimated_value, row.currency),
            product_interest=list(row.product_interest or []),
            partner_pk=row.partner_id,
            conflict_rows=list(row.conflicts or []),
        )


async def load_registration(context: Context, pk: uuid.UUID) -> DealRegistrationType | None:
    """The registration if the caller may see it (staff, or its partner's users)."""
    if context.principal is None:
        return None
    row = await context.session.scalar(
        readable_registrations(context.principal).where(DealRegistration.id == pk)
    )
    return DealRegistrationType.from_model(row) if row else None


register_node(DealRegistrationType)(load_registration)
