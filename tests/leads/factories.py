"""Factories of the leads domain: rules, partners with territories, leads through the
capture service (so they are scored and routed like real ones). Each commits."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from prm.auth.principal import Principal
from prm.db.engine import Database
from prm.leads import capture, rules
from prm.leads.fields import normalise_lead
from prm.leads.models import DistributionMode, DistributionRule, DistributionStrategy, Lead
from prm.partners.models import Partner, PartnerStatus, PartnerTier
from tests.factories import unique

T = TypeVar("T")


async def run(database: Database, tenant_id: uuid.UUID, fn: Callable[..., T], *args: Any) -> T:
    """Run a sync leads service in its own committed transaction."""
    async with database.session(tenant_id) as session:
        return await session.run_sync(lambda sync: fn(sync, *args))


async def make_rule(
    database: Database,
    tenant_id: uuid.UUID,
    *,
    mode: DistributionMode = DistributionMode.OFFER,
    strategy: DistributionStrategy = DistributionStrategy.ROUND_ROBIN,
    priority: int = 10,
    **criteria: Any,
) -> DistributionRule:
    changes = rules.RuleChanges(
        name=unique("rule"), priority=priority, mode=mode, strategy=strategy, **criteria
    )

    def create(session: Session) -> DistributionRule:
        return rules.create_rule(session, Principal.system(tenant_id), changes)

    return await run(database, tenant_id, create)


async def make_territory_partner(
    database: Database,
    tenant_id: uuid.UUID,
    *,
    country: str | None = "US",
    region: str | None = None,
    postal_prefixes: tuple[str, ...] = (),
    capabilities: tuple[str, ...] = (),
    capacity: int | None = None,
    performance_score: float | None = None,
    tier_id: uuid.UUID | None = None,
    status: PartnerStatus = PartnerStatus.ACTIVE,
) -> Partner:
    async with database.session(tenant_id) as session:
        partner = Partner(
            tenant_id=tenant_id,
            name=unique("partner"),
            status=status,
            tier_id=tier_id,
            country=country,
            region=region,
            postal_prefixes=list(postal_prefixes),
            capabilities=list(capabilities),
            capacity=capacity,
            performance_score=performance_score,
        )
        session.add(partner)
    return partner


async def make_weighted_tier(
    database: Database, tenant_id: uuid.UUID, *, rank: int = 1, weight: str = "1"
) -> PartnerTier:
    async with database.session(tenant_id) as session:
        tier = PartnerTier(
            tenant_id=tenant_id,
            name=unique("tier"),
            rank=rank,
            discount_percent=Decimal("5"),
            lead_weight=Decimal(weight),
        )
        session.add(tier)
    return tier


async def make_lead(
    database: Database,
    tenant_id: uuid.UUID,
    *,
    company_name: str | None = None,
    country: str | None = "US",
    allow_duplicate: bool = True,
    route: bool = True,
    **fields: Any,
) -> Lead:
    values = normalise_lead(
        company_name=company_name or unique("Company"), country=country, **fields
    )

    def create(session: Session) -> Lead:
        return capture.create_lead(
            session,
            Principal.system(tenant_id),
            values,
            allow_duplicate=allow_duplicate,
            route=route,
        )

    return await run(database, tenant_id, create)
