"""Who is acting: built once from a verified token, never re-derived in resolvers."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, field
from typing import Literal


class Role(enum.StrEnum):
    ADMIN = "ADMIN"
    MANAGER = "MANAGER"
    EMPLOYEE = "EMPLOYEE"
    PARTNER_ADMIN = "PARTNER_ADMIN"
    PARTNER_REP = "PARTNER_REP"


TENANT_ROLES = frozenset({Role.ADMIN, Role.MANAGER, Role.EMPLOYEE})
PARTNER_ROLES = frozenset({Role.PARTNER_ADMIN, Role.PARTNER_REP})

PrincipalKind = Literal["user", "api_client", "platform"]


@dataclass(frozen=True)
class Principal:
    """The acting subject of one request or job, always inside one tenant."""

    tenant_id: uuid.UUID
    kind: PrincipalKind
    subject_id: uuid.UUID | None
    roles: frozenset[Role] = field(default_factory=frozenset)
    partner_id: uuid.UUID | None = None
    scopes: frozenset[str] = field(default_factory=frozenset)

    @property
    def is_partner(self) -> bool:
        return self.partner_id is not None

    @property
    def is_admin(self) -> bool:
        return Role.ADMIN in self.roles

    @property
    def user_id(self) -> uuid.UUID | None:
        return self.subject_id if self.kind == "user" else None

    def has_any(self, *roles: Role) -> bool:
        return not self.roles.isdisjoint(roles)

    @classmethod
    def system(cls, tenant_id: uuid.UUID) -> Principal:
        """Workers and the CLI act as the platform, with admin rights in one tenant."""
        return cls(
            tenant_id=tenant_id, kind="platform", subject_id=None, roles=frozenset({Role.ADMIN})
        )


def is_staff(principal: Principal) -> bool:
    """Tenant staff (ADMIN, MANAGER, EMPLOYEE, or an API client holding one of them)."""
    return principal.has_any(*TENANT_ROLES)


def own_partner(principal: Principal) -> uuid.UUID | None:
    """The partner a partner user acts for (None for staff and anyone else): what every
    domain's visibility rules narrow a partner user to."""
    if is_staff(principal) or not principal.has_any(*PARTNER_ROLES):
        return None
    return principal.partner_id
