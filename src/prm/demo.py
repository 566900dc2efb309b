"""The demo tenant: what `prm demo` and a first `prm serve` on the embedded database
create, so a newcomer can sign in and query at once.

Idempotent: a second run finds the tenant and only reprints the credentials.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from prm.auth.passwords import hash_password
from prm.auth.principal import Principal, Role
from prm.db.engine import Database
from prm.partners.models import PartnerStatus
from prm.partners.service import create_partner, create_tier
from prm.tenants.models import User
from prm.tenants.service import create_tenant, get_tenant_by_slug

DEMO_SLUG = "demo"
DEMO_PASSWORD = "demo-password"  # noqa: S105 - a demo tenant, printed on purpose

TIERS = [("Platinum", 3, "20", "3"), ("Gold", 2, "12.5", "2"), ("Silver", 1, "5", "1")]
PARTNERS = [
    ("Northwind Resellers", "Platinum", "US", "CA", ["940", "941"], ["networking", "security"]),
    ("Contoso Distribution", "Gold", "US", "NY", ["100", "101"], ["networking"]),
    ("Fabrikam Partners", "Silver", "DE", "BE", ["10", "12"], ["cloud"]),
]


@dataclass(frozen=True)
class Credential:
    role: str
    email: str
    password: str
    partner: str | None = None


@dataclass(frozen=True)
class DemoTenant:
    slug: str
    created: bool
    credentials: list[Credential]


def _credentials() -> list[Credential]:
    people = [
        Credential("ADMIN", "admin@demo.example", DEMO_PASSWORD),
        Credential("MANAGER", "manager@demo.example", DEMO_PASSWORD),
    ]
    for name, *_ in PARTNERS:
        handle = name.split()[0].lower()
        people.append(Credential("PARTNER_ADMIN", f"admin@{handle}.example", DEMO_PASSWORD, name))
        people.append(Credential("PARTNER_REP", f"rep@{handle}.example", DEMO_PASSWORD, name))
    return people


async def ensure_demo_tenant(db: Database) -> DemoTenant:
    async with db.session() as session:
        if await get_tenant_by_slug(session, DEMO_SLUG) is not None:
            return DemoTenant(DEMO_SLUG, created=False, credentials=_credentials())
        await _seed(session)
    return DemoTenant(DEMO_SLUG, created=True, credentials=_credentials())


async def _seed(session: AsyncSession) -> None:
    credentials = _credentials()
    tenant, _admin = await create_tenant(
        session,
        slug=DEMO_SLUG,
        name="Demo Corp",
        admin_email=credentials[0].email,
        admin_password=DEMO_PASSWORD,
        admin_name="Dana Admin",
    )
    platform = Principal.system(tenant.id)
    tiers = {}
    for name, rank, discount, weight in TIERS:
        tiers[name] = await create_tier(
            session,
            platform,
            name=name,
            rank=rank,
            discount_percent=Decimal(discount),
            lead_weight=Decimal(weight),
        )
    partners = {}
    for name, tier, country, region, prefixes, capabilities in PARTNERS:
        partners[name] = await create_partner(
            session,
            platform,
            name=name,
            tier_id=tiers[tier].id,
            status=PartnerStatus.ACTIVE,
            country=country,
            region=region,
            postal_prefixes=prefixes,
            capabilities=capabilities,
            capacity=25,
        )
    password_hash = hash_password(DEMO_PASSWORD)
    for credential in credentials[1:]:
        partner = partners[credential.partner] if credential.partner else None
        session.add(
            User(
                tenant_id=tenant.id,
                email=credential.email,
                name=credential.email.split("@")[0].title(),
                password_hash=password_hash,
                roles=[Role(credential.role).value],
                partner_id=partner.id if partner else None,
            )
        )
    await session.flush()
