"""Routing at the service level: rule matching, eligibility, and the three strategies'
fairness and weighting, including round-robin across concurrent transactions."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

import pytest
from sqlalchemy import func, select

from prm.db.engine import Database
from prm.leads.models import (
    DistributionMode,
    DistributionStrategy,
    Lead,
    LeadOffer,
    LeadStatus,
    OfferStatus,
)
from prm.partners.models import PartnerStatus
from tests.factories import make_tenant
from tests.leads.factories import (
    make_lead,
    make_rule,
    make_territory_partner,
    make_weighted_tier,
)


async def offered_partners(database: Database, tenant_id: uuid.UUID) -> Counter[uuid.UUID]:
    async with database.session(tenant_id) as session:
        rows = await session.scalars(
            select(LeadOffer.partner_id).where(
                LeadOffer.tenant_id == tenant_id, LeadOffer.status == OfferStatus.PENDING
            )
        )
        return Counter(rows)


@pytest.mark.asyncio
async def test_no_matching_rule_leaves_the_lead_unroutable(database: Database) -> None:
    tenant = await make_tenant(database)
    await make_territory_partner(database, tenant.id, country="US")
    await make_rule(database, tenant.id, countries=["DE"])
    lead = await make_lead(database, tenant.id, country="US")
    assert lead.status is LeadStatus.UNROUTABLE


@pytest.mark.asyncio
async def test_the_first_matching_rule_by_priority_decides(database: Database) -> None:
    tenant = await make_tenant(database)
    await make_territory_partner(database, tenant.id, country="US")
    await make_rule(database, tenant.id, priority=5, mode=DistributionMode.POOL, countries=["US"])
    await make_rule(database, tenant.id, priority=1, mode=DistributionMode.OFFER)
    await make_rule(database, tenant.id, priority=0, active=False, mode=DistributionMode.POOL)
    assert (await make_lead(database, tenant.id, country="US")).status is LeadStatus.OFFERED


@pytest.mark.asyncio
async def test_a_rule_can_require_a_minimum_lead_score(database: Database) -> None:
    tenant = await make_tenant(database)
    await make_territory_partner(database, tenant.id, country="US")
    await make_rule(database, tenant.id, priority=1, min_lead_score=50)
    lead = await make_lead(database, tenant.id, country="US")
    assert lead.score == 0
    assert lead.status is LeadStatus.UNROUTABLE


@pytest.mark.asyncio
async def test_eligibility_covers_status_territory_capabilities_tier_and_capacity(
    database: Database,
) -> None:
    tenant = await make_tenant(database)
    gold = await make_weighted_tier(database, tenant.id, rank=3)
    bronze = await make_weighted_tier(database, tenant.id, rank=1)
    right = await make_territory_partner(
        database, tenant.id, country="US", region="CA", postal_prefixes=("941",),
        capabilities=("cloud", "security"), tier_id=gold.id, capacity=5,
    )  # fmt: skip
    ineligible = [
        dict(status=PartnerStatus.SUSPENDED),
        dict(country="DE"),
        dict(region="NY"),
        dict(postal_prefixes=("100",)),
        dict(capabilities=("cloud",)),
        dict(tier_id=bronze.id),
        dict(capacity=0),
    ]
    for overrides in ineligible:
        fields = dict(
            country="US", region="CA", postal_prefixes=("941",),
            capabilities=("cloud", "security"), tier_id=gold.id,
        ) | overrides  # fmt: skip
        await make_territory_partner(database, tenant.id, **fields)  # type: ignore[arg-type]
    await make_rule(database, tenant.id, capabilities=["Security", "cloud"], min_tier_rank=2)
    for _ in range(3):
        lead = await make_lead(
            database, tenant.id, country="us", region="California", postal_code_value="94107"
        )
        assert lead.status is LeadStatus.OFFERED
        assert lead.region == "CA"
    assert await offered_partners(database, tenant.id) == Counter({right.id: 3})


@pytest.mark.asyncio
async def test_round_robin_is_fair_across_calls(database: Database) -> None:
    tenant = await make_tenant(database)
    partners = [await make_territory_partner(database, tenant.id) for _ in range(3)]
    await make_rule(database, tenant.id, strategy=DistributionStrategy.ROUND_ROBIN)
    for _ in range(9):
        await make_lead(database, tenant.id)
    assert await offered_partners(database, tenant.id) == Counter({p.id: 3 for p in partners})


@pytest.mark.asyncio
async def test_round_robin_is_fair_across_concurrent_transactions(database: Database) -> None:
    tenant = await make_tenant(database)
    partners = [await make_territory_partner(database, tenant.id) for _ in range(4)]
    await make_rule(database, tenant.id)
    await asyncio.gather(*(make_lead(database, tenant.id) for _ in range(16)))
    assert await offered_partners(database, tenant.id) == Counter({p.id: 4 for p in partners})


@pytest.mark.asyncio
async def test_weighted_routing_follows_tier_lead_weights(database: Database) -> None:
    tenant = await make_tenant(database)
    heavy_tier = await make_weighted_tier(database, tenant.id, weight="3")
    light_tier = await make_weighted_tier(database, tenant.id, weight="1")
    zero_tier = await make_weighted_tier(database, tenant.id, weight="0")
    heavy = await make_territory_partner(database, tenant.id, tier_id=heavy_tier.id)
    light = await make_territory_partner(database, tenant.id, tier_id=light_tier.id)
    never = await make_territory_partner(database, tenant.id, tier_id=zero_tier.id)
    await make_rule(database, tenant.id, strategy=DistributionStrategy.WEIGHTED)
    for _ in range(200):
        await make_lead(database, tenant.id)
    counts = await offered_partners(database, tenant.id)
    assert counts[never.id] == 0
    assert counts[heavy.id] + counts[light.id] == 200
    # Expected 150 : 50; the bounds are over 5 standard deviations wide.
    assert 118 <= counts[heavy.id] <= 182


@pytest.mark.asyncio
async def test_performance_routing_prefers_the_best_score_and_rotates_ties(
    database: Database,
) -> None:
    tenant = await make_tenant(database)
    best = [await make_territory_partner(database, tenant.id, performance_score=90.0)]
    best.append(await make_territory_partner(database, tenant.id, performance_score=90.0))
    await make_territory_partner(database, tenant.id, performance_score=40.0)
    await make_territory_partner(database, tenant.id, performance_score=None)
    await make_rule(database, tenant.id, strategy=DistributionStrategy.PERFORMANCE)
    for _ in range(4):
        await make_lead(database, tenant.id)
    assert await offered_partners(database, tenant.id) == Counter({p.id: 2 for p in best})


@pytest.mark.asyncio
async def test_a_full_partner_is_skipped_and_none_left_means_unroutable(
    database: Database,
) -> None:
    tenant = await make_tenant(database)
    only = await make_territory_partner(database, tenant.id, capacity=2)
    await make_rule(database, tenant.id)
    statuses = [(await make_lead(database, tenant.id)).status for _ in range(3)]
    assert statuses == [LeadStatus.OFFERED, LeadStatus.OFFERED, LeadStatus.UNROUTABLE]
    assert await offered_partners(database, tenant.id) == Counter({only.id: 2})


@pytest.mark.asyncio
async def test_pool_rules_pool_the_lead_when_someone_may_claim_it(database: Database) -> None:
    tenant = await make_tenant(database)
    await make_territory_partner(database, tenant.id, country="US")
    await make_rule(database, tenant.id, mode=DistributionMode.POOL, capabilities=["cloud"])
    assert (await make_lead(database, tenant.id)).status is LeadStatus.UNROUTABLE
    await make_territory_partner(database, tenant.id, country=None, capabilities=("cloud",))
    lead = await make_lead(database, tenant.id)
    assert lead.status is LeadStatus.POOLED
    async with database.session(tenant.id) as session:
        offers = await session.scalar(select(func.count()).select_from(LeadOffer))
        stored = await session.get(Lead, (tenant.id, lead.id))
    assert offers == 0
    assert stored is not None
    assert stored.rule_id is not None
