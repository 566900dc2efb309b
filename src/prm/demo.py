"""The demo tenant: what `prm demo` and a first `prm serve` on the embedded database
create, so a newcomer can sign in and query at once.

Idempotent: a second run finds the tenant and only reprints the credentials.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from prm.auth.passwords import hash_password
from prm.auth.principal import Principal, Role
from prm.catalog.models import (
    BundleItem,
    PriceBook,
    PriceBookEntry,
    PriceBookScope,
    Product,
    ProductOptionChoice,
    ProductOptionGroup,
    Promotion,
)
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
    await _seed_catalog(session, tenant.id, partners["Northwind Resellers"].id)


CATALOG = [
    # sku, name, family, list price, (volume break min quantity, price)
    ("NET-SW-24", "Switch 24-port", "networking", "1200.00", (10, "1080.00")),
    ("NET-SW-48", "Switch 48-port", "networking", "2100.00", (10, "1890.00")),
    ("NET-AP-6", "Wi-Fi 6 access point", "networking", "350.00", (25, "315.00")),
    ("SEC-FW-1", "Firewall appliance", "security", "3400.00", None),
    ("SEC-SUB-1Y", "Threat intelligence, 1 year", "security", "900.00", (50, "810.00")),
]


async def _seed_catalog(session: AsyncSession, tenant_id: uuid.UUID, partner_id: uuid.UUID) -> None:
    """A small catalog: products with volume breaks, an option group, a bundle, the default
    USD price book, a partner's own price, and a running promotion."""
    products = {
        sku: Product(tenant_id=tenant_id, sku=sku, name=name, family=family)
        for sku, name, family, *_ in CATALOG
    }
    bundle = Product(
        tenant_id=tenant_id,
        sku="NET-KIT-SMB",
        name="Small office kit",
        family="networking",
        is_bundle=True,
        bundle_discount_percent=Decimal("15"),
    )
    session.add_all([*products.values(), bundle])
    await session.flush()
    session.add_all(
        [
            BundleItem(
                tenant_id=tenant_id, bundle_id=bundle.id, item_id=products[sku].id, quantity=n
            )
            for sku, n in (("NET-SW-24", 1), ("NET-AP-6", 4), ("SEC-FW-1", 1))
        ]
    )
    support = ProductOptionGroup(
        tenant_id=tenant_id,
        product_id=products["SEC-FW-1"].id,
        position=0,
        name="Support",
        required=True,
        min_choices=1,
        max_choices=1,
    )
    session.add(support)
    await session.flush()
    for position, (name, delta) in enumerate((("Standard", "0.00"), ("Premium 24/7", "450.00"))):
        session.add(
            ProductOptionChoice(
                tenant_id=tenant_id,
                group_id=support.id,
                product_id=support.product_id,
                position=position,
                name=name,
                price_deltas={"USD": delta},
            )
        )
    book = PriceBook(
        tenant_id=tenant_id, name="List prices", currency="USD", scope=PriceBookScope.DEFAULT
    )
    own = PriceBook(
        tenant_id=tenant_id,
        name="Northwind contract prices",
        currency="USD",
        scope=PriceBookScope.PARTNER,
        partner_id=partner_id,
    )
    session.add_all([book, own])
    await session.flush()
    entries = []
    for sku, _name, _family, price, volume in CATALOG:
        entries.append((book.id, products[sku].id, 1, price))
        if volume:
            entries.append((book.id, products[sku].id, *volume))
    entries.append((own.id, products["SEC-FW-1"].id, 1, "3100.00"))
    session.add_all(
        PriceBookEntry(
            tenant_id=tenant_id,
            price_book_id=book_id,
            product_id=product_id,
            min_quantity=min_quantity,
            unit_price=Decimal(price),
        )
        for book_id, product_id, min_quantity, price in entries
    )
    book.entry_count = sum(1 for e in entries if e[0] == book.id)
    own.entry_count = 1
    now = datetime.now(UTC)
    session.add(
        Promotion(
            tenant_id=tenant_id,
            name="Wi-Fi refresh: 10% off access points",
            discount_percent=Decimal("10"),
            product_ids=[products["NET-AP-6"].id],
            starts_at=now - timedelta(days=1),
            ends_at=now + timedelta(days=90),
            stackable=True,
        )
    )
    await session.flush()
