"""Seeding shared by the leads benchmarks (claims, routing, import): a tenant, partners
and their users, rules, and leads loaded with `COPY` as the owner."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Sequence
from pathlib import Path

import psycopg

from prm.auth.keys import load_keyring
from prm.auth.principal import Principal, Role
from prm.auth.tokens import TokenIssuer
from prm.db.engine import Database
from prm.db.ids import new_id
from prm.db.urls import libpq_dsn
from prm.leads.models import DistributionMode, DistributionRule, DistributionStrategy
from prm.partners.models import Partner, PartnerStatus, PartnerTier
from prm.settings import Settings
from prm.tenants.models import Tenant
from prm.tenants.service import create_tenant

PASSWORD = "bench-password-123"
COUNTRIES = ["US", "CA", "GB", "DE", "FR", "NL", "ES", "IT", "AU", "JP"]
CAPABILITIES = ["install", "support", "cloud", "security", "networking", "training"]


def bench_settings(owner_url: str, workdir: Path) -> Settings:
    return Settings(database_url=owner_url, data_dir=workdir, log_level="WARNING", db_pool_size=70)


def make_tenant(settings: Settings, slug: str = "bench") -> tuple[Tenant, Principal]:
    """A tenant and its admin's principal."""

    async def create() -> tuple[Tenant, Principal]:
        db = Database.from_settings(settings)
        try:
            async with db.session() as session:
                tenant, admin = await create_tenant(
                    session,
                    slug=slug,
                    name="Bench",
                    admin_email=f"admin@{slug}.example",
                    admin_password=PASSWORD,
                )
        finally:
            await db.dispose()
        admin_principal = Principal(
            tenant_id=tenant.id,
            kind="user",
            subject_id=admin.id,
            roles=frozenset({Role.ADMIN}),
        )
        return tenant, admin_principal

    return asyncio.run(create())


def seed_partners(
    database: Database,
    tenant_id: uuid.UUID,
    count: int,
    *,
    rng: random.Random,
    territories: bool = True,
) -> list[uuid.UUID]:
    """`count` ACTIVE partners; with `territories`, each has a country, capabilities, a
    tier and a performance score drawn from `rng`; else none (each covers everything)."""
    with database.sync_session(tenant_id) as session:
        tiers = [
            PartnerTier(
                tenant_id=tenant_id,
                id=new_id(),
                name=f"Tier {rank}",
                rank=rank,
                discount_percent=5 * rank,
                lead_weight=rank,
            )
            for rank in (1, 2, 3)
        ]
        session.add_all(tiers)
        session.flush()
        partners = []
        for n in range(count):
            tier = rng.choice(tiers) if territories else None
            partners.append(
                Partner(
                    tenant_id=tenant_id,
                    id=new_id(),
                    name=f"Partner {n}",
                    status=PartnerStatus.ACTIVE,
                    tier_id=tier.id if tier else None,
                    country=rng.choice(COUNTRIES) if territories else None,
                    postal_prefixes=[],
                    capabilities=rng.sample(CAPABILITIES, 2) if territories else [],
                    capacity=None,
                    performance_score=round(rng.random() * 100, 2) if territories else None,
                )
            )
        session.add_all(partners)
        session.flush()
        return [partner.id for partner in partners]


def seed_rules(
    database: Database, tenant_id: uuid.UUID, count: int, *, rng: random.Random
) -> list[uuid.UUID]:
    """`count` active rules over countries and capabilities; the last one a catch-all."""
    strategies = list(DistributionStrategy)
    with database.sync_session(tenant_id) as session:
        rules = [
            DistributionRule(
                tenant_id=tenant_id,
                id=new_id(),
                name=f"Rule {n}",
                priority=n,
                mode=DistributionMode.POOL if n % 5 == 4 else DistributionMode.OFFER,
                strategy=strategies[n % len(strategies)],
                countries=rng.sample(COUNTRIES, 2) if n < count - 1 else [],
                regions=[],
                postal_prefixes=[],
                capabilities=rng.sample(CAPABILITIES, 1) if n < count - 1 else [],
                min_lead_score=None,
                active=True,
            )
            for n in range(count)
        ]
        session.add_all(rules)
        session.flush()
        return [rule.id for rule in rules]


def copy_leads(
    owner_url: str,
    tenant_id: uuid.UUID,
    count: int,
    *,
    status: str,
    rule_id: uuid.UUID | None = None,
    countries: Sequence[str] = ("US",),
    rng: random.Random,
) -> list[uuid.UUID]:
    """`count` leads loaded with COPY as the owner (a superuser here: RLS does not apply)."""
    ids = [new_id() for _ in range(count)]
    with psycopg.connect(libpq_dsn(owner_url)) as conn, conn.cursor() as cursor:
        with cursor.copy(
            "COPY leads (tenant_id, id, status, company_name, normalized_company, country, "
            "product_interest, score, rule_id) FROM STDIN"
        ) as copy:
            for n, lead_id in enumerate(ids):
                copy.write_row(
                    (
                        tenant_id, lead_id, status, f"Company {n}", f"company {n}",
                        rng.choice(list(countries)), [], 0, rule_id,
                    )
                )  # fmt: skip
        conn.commit()
    return ids


def partner_users(
    owner_url: str, tenant_id: uuid.UUID, partner_ids: Sequence[uuid.UUID]
) -> list[Principal]:
    """One PARTNER_REP user per partner (COPY); their principals, for issuing tokens."""
    principals = []
    with psycopg.connect(libpq_dsn(owner_url)) as conn, conn.cursor() as cursor:
        with cursor.copy(
            "COPY users (tenant_id, id, email, name, password_hash, roles, partner_id) FROM STDIN"
        ) as copy:
            for n, partner_id in enumerate(partner_ids):
                user_id = new_id()
                copy.write_row(
                    (tenant_id, user_id, f"rep{n}@bench.example", f"Rep {n}", None,
                     [Role.PARTNER_REP.value], partner_id)
                )  # fmt: skip
                principals.append(
                    Principal(
                        tenant_id=tenant_id,
                        kind="user",
                        subject_id=user_id,
                        roles=frozenset({Role.PARTNER_REP}),
                        partner_id=partner_id,
                    )
                )
        conn.commit()
    return principals


def issuer_for(settings: Settings) -> TokenIssuer:
    """Tokens the benchmark server (same `PRM_DATA_DIR`, so the same key) accepts."""
    return TokenIssuer(
        keys=load_keyring(settings),
        issuer=settings.jwt_issuer,
        ttl_seconds=3600,
    )
