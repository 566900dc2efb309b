"""Partner tiers and organisations: the rules for creating them."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from prm.auth.principal import Principal, Role
from prm.errors import Duplicate, Forbidden, InvalidInput, NotFound
from prm.partners.models import Partner, PartnerStatus, PartnerTier

COUNTRY_CODE = re.compile(r"^[A-Z]{2}$")


def _require_admin(principal: Principal) -> None:
    if not principal.has_any(Role.ADMIN):
        raise Forbidden("only an admin may manage partners and tiers")


async def create_tier(
    session: AsyncSession,
    principal: Principal,
    *,
    name: str,
    rank: int,
    discount_percent: Decimal,
    lead_weight: Decimal,
) -> PartnerTier:
    _require_admin(principal)
    name = name.strip()
    if not name:
        raise InvalidInput("must not be blank", field="name")
    if not Decimal(0) <= discount_percent <= Decimal(100):
        raise InvalidInput("must be between 0 and 100", field="discountPercent")
    if lead_weight < 0:
        raise InvalidInput("must not be negative", field="leadWeight")
    taken = await session.scalar(
        select(PartnerTier.id).where(
            PartnerTier.tenant_id == principal.tenant_id, PartnerTier.name == name
        )
    )
    if taken:
        raise Duplicate(f"a tier named {name!r} exists", field="name")
    tier = PartnerTier(
        tenant_id=principal.tenant_id,
        name=name,
        rank=rank,
        discount_percent=discount_percent,
        lead_weight=lead_weight,
    )
    session.add(tier)
    await session.flush()
    return tier


async def create_partner(
    session: AsyncSession,
    principal: Principal,
    *,
    name: str,
    tier_id: uuid.UUID | None = None,
    status: PartnerStatus = PartnerStatus.ONBOARDING,
    country: str | None = None,
    region: str | None = None,
    postal_prefixes: Sequence[str] = (),
    capabilities: Sequence[str] = (),
    capacity: int | None = None,
) -> Partner:
    _require_admin(principal)
    name = name.strip()
    if not name:
        raise InvalidInput("must not be blank", field="name")
    if country is not None:
        country = country.strip().upper()
        if not COUNTRY_CODE.match(country):
            raise InvalidInput("must be an ISO 3166-1 alpha-2 code", field="country")
    if capacity is not None and capacity < 0:
        raise InvalidInput("must not be negative", field="capacity")
    if tier_id is not None:
        tier = await session.scalar(
            select(PartnerTier.id).where(
                PartnerTier.tenant_id == principal.tenant_id, PartnerTier.id == tier_id
            )
        )
        if tier is None:
            raise NotFound("no such tier", field="tierId")
    partner = Partner(
        tenant_id=principal.tenant_id,
        name=name,
        tier_id=tier_id,
        status=status,
        country=country,
        region=region,
        postal_prefixes=sorted({p.strip().upper() for p in postal_prefixes if p.strip()}),
        capabilities=sorted({c.strip().lower() for c in capabilities if c.strip()}),
        capacity=capacity,
    )
    session.add(partner)
    await session.flush()
    return partner
