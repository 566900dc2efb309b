"""Factories: each builds rows through the domain services (or plainly, where no service
exists yet) and commits, so HTTP requests on other connections see them. Every test makes
its own tenant; names are random so tests never collide."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from prm.auth.client_ids import new_client_id
from prm.auth.passwords import hash_password, hash_secret, new_secret
from prm.auth.principal import Principal, Role
from prm.auth.tokens import TokenIssuer
from prm.db.engine import Database
from prm.employees.models import Employee
from prm.partners.models import Partner, PartnerStatus, PartnerTier
from prm.tenants.models import ApiClient, Tenant, User
from prm.tenants.service import create_tenant

DEFAULT_PASSWORD = "correct horse battery staple"


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


@dataclass
class TenantWithAdmin:
    tenant: Tenant
    admin: User

    @property
    def id(self) -> uuid.UUID:
        return self.tenant.id


async def make_tenant(db: Database, *, slug: str | None = None) -> TenantWithAdmin:
    async with db.session() as session:
        tenant, admin = await create_tenant(
            session,
            slug=slug or unique("t"),
            name="Test Tenant",
            admin_email=f"{unique('admin')}@example.com",
            admin_password=DEFAULT_PASSWORD,
        )
    return TenantWithAdmin(tenant, admin)


async def make_user(
    db: Database,
    tenant_id: uuid.UUID,
    *,
    roles: tuple[Role, ...] = (Role.EMPLOYEE,),
    partner_id: uuid.UUID | None = None,
    email: str | None = None,
    password: str = DEFAULT_PASSWORD,
    active: bool = True,
) -> User:
    async with db.session(tenant_id) as session:
        user = User(
            tenant_id=tenant_id,
            email=email or f"{unique('user')}@example.com",
            name="Test User",
            password_hash=hash_password(password),
            roles=[role.value for role in roles],
            partner_id=partner_id,
            active=active,
        )
        session.add(user)
    return user


async def make_tier(
    db: Database, tenant_id: uuid.UUID, *, name: str | None = None, rank: int = 1
) -> PartnerTier:
    async with db.session(tenant_id) as session:
        tier = PartnerTier(
            tenant_id=tenant_id,
            name=name or unique("tier"),
            rank=rank,
            discount_percent=Decimal("10.00"),
            lead_weight=Decimal("1.000"),
        )
        session.add(tier)
    return tier


async def make_partner(
    db: Database,
    tenant_id: uuid.UUID,
    *,
    tier_id: uuid.UUID | None = None,
    status: PartnerStatus = PartnerStatus.ACTIVE,
) -> Partner:
    async with db.session(tenant_id) as session:
        partner = Partner(
            tenant_id=tenant_id,
            name=unique("partner"),
            status=status,
            tier_id=tier_id,
            postal_prefixes=[],
            capabilities=[],
        )
        session.add(partner)
    return partner


def principal_of(user: User) -> Principal:
    return Principal(
        tenant_id=user.tenant_id,
        kind="user",
        subject_id=user.id,
        roles=frozenset(Role(role) for role in user.roles),
        partner_id=user.partner_id,
    )


def bearer(issuer: TokenIssuer, user: User) -> dict[str, str]:
    """Headers with a valid access token for `user` (skips the token endpoint)."""
    return {"Authorization": f"Bearer {issuer.issue(principal_of(user))}"}


async def make_api_client(
    db: Database,
    tenant_id: uuid.UUID,
    *,
    scopes: tuple[str, ...] = ("read",),
    revoked: bool = False,
) -> tuple[ApiClient, str]:
    """An API client and its plain secret (the only time the secret exists in clear)."""
    secret = new_secret()
    async with db.session(tenant_id) as session:
        client = ApiClient(
            tenant_id=tenant_id,
            name=unique("client"),
            client_id=new_client_id(tenant_id),
            secret_hash=hash_secret(secret),
            scopes=list(scopes),
            revoked_at=datetime.now(UTC) if revoked else None,
        )
        session.add(client)
    return client, secret


async def make_employee(
    db: Database,
    tenant_id: uuid.UUID,
    *,
    name: str | None = None,
    email: str | None = None,
    team: str | None = None,
    manager_id: uuid.UUID | None = None,
    user_id: uuid.UUID | None = None,
    active: bool = True,
) -> Employee:
    async with db.session(tenant_id) as session:
        employee = Employee(
            tenant_id=tenant_id,
            name=name or unique("employee"),
            email=email,
            team=team,
            manager_id=manager_id,
            user_id=user_id,
            active=active,
        )
        session.add(employee)
    return employee
