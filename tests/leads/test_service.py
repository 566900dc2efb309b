"""The leads services directly: claims racing on real parallel connections, offer expiry
driven by the scheduler's tick with a controlled clock, and engagement scoring."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from prm.auth.principal import Principal, Role
from prm.crm.models import Activity, Channel, Direction
from prm.db.engine import Database
from prm.errors import DomainError
from prm.leads import pool, scoring
from prm.leads.models import (
    DistributionMode,
    Lead,
    LeadEvent,
    LeadOffer,
    LeadStatus,
    OfferDeadline,
    OfferStatus,
    ScoringCriterion,
)
from prm.leads.offers import expire_due_offers
from prm.settings import Settings
from prm.workers.scheduler import LEAD_OFFER_EXPIRY, LEAD_OFFER_EXPIRY_INTERVAL, Scheduler
from tests.factories import make_tenant, make_user, principal_of
from tests.leads.factories import make_lead, make_rule, make_territory_partner, run


async def claim_outcome(database: Database, principal: Principal, lead_id: uuid.UUID) -> str:
    """Claim in a session (and connection) of its own; the outcome's code."""
    try:
        await run(database, principal.tenant_id, pool.claim_lead, principal, lead_id)
    except DomainError as error:
        return error.code.value
    return "WON"


@pytest.mark.asyncio
async def test_concurrent_claims_on_separate_connections_have_exactly_one_winner(
    database: Database,
) -> None:
    tenant = await make_tenant(database)
    await make_rule(database, tenant.id, mode=DistributionMode.POOL)
    partners = [await make_territory_partner(database, tenant.id) for _ in range(20)]
    claimers = [
        principal_of(await make_user(database, tenant.id, roles=(Role.PARTNER_REP,), partner_id=p.id))
        for p in partners
    ]  # fmt: skip
    for _ in range(5):
        lead = await make_lead(database, tenant.id)
        outcomes = await asyncio.gather(*(claim_outcome(database, c, lead.id) for c in claimers))
        assert Counter(outcomes) == Counter({"WON": 1, "ALREADY_CLAIMED": 19})
        async with database.session(tenant.id) as session:
            stored = await session.get(Lead, (tenant.id, lead.id))
            claims = await session.scalars(
                select(LeadEvent).where(LeadEvent.lead_id == lead.id, LeadEvent.kind == "CLAIMED")
            )
            assert stored is not None
            assert stored.status is LeadStatus.ACCEPTED
            assert [event.partner_id for event in claims] == [stored.partner_id]


@pytest.mark.asyncio
async def test_concurrent_claims_by_one_partner_cannot_both_pass_its_capacity(
    database: Database,
) -> None:
    tenant = await make_tenant(database)
    await make_rule(database, tenant.id, mode=DistributionMode.POOL)
    partner = await make_territory_partner(database, tenant.id, capacity=1)
    reps = [
        principal_of(await make_user(database, tenant.id, roles=(Role.PARTNER_REP,), partner_id=partner.id))
        for _ in range(6)
    ]  # fmt: skip
    leads = [await make_lead(database, tenant.id) for _ in range(6)]
    outcomes = await asyncio.gather(
        *(claim_outcome(database, rep, lead.id) for rep, lead in zip(reps, leads, strict=True))
    )
    assert Counter(outcomes) == Counter({"WON": 1, "LIMIT_EXCEEDED": 5})


async def pending_offer(database: Database, tenant_id: uuid.UUID, lead_id: uuid.UUID) -> LeadOffer:
    async with database.session(tenant_id) as session:
        offer = await session.scalar(
            select(LeadOffer).where(
                LeadOffer.lead_id == lead_id, LeadOffer.status == OfferStatus.PENDING
            )
        )
    assert offer is not None
    return offer


@pytest.mark.asyncio
async def test_the_scheduler_tick_expires_due_offers_and_moves_leads_on(
    database: Database,
) -> None:
    tenant = await make_tenant(database)
    first = await make_territory_partner(database, tenant.id)
    second = await make_territory_partner(database, tenant.id)
    await make_rule(database, tenant.id, offer_sla_hours=2)
    lead = await make_lead(database, tenant.id)
    offer = await pending_offer(database, tenant.id, lead.id)
    assert offer.expires_at - offer.offered_at == timedelta(hours=2)

    now = datetime.now(UTC)
    await asyncio.to_thread(expire_due_offers, database, now=now + timedelta(hours=1))
    assert (await pending_offer(database, tenant.id, lead.id)).id == offer.id  # not yet due

    await asyncio.to_thread(expire_due_offers, database, now=now + timedelta(hours=3))
    moved = await pending_offer(database, tenant.id, lead.id)
    assert {offer.partner_id, moved.partner_id} == {first.id, second.id}

    await asyncio.to_thread(expire_due_offers, database, now=now + timedelta(hours=6))
    async with database.session(tenant.id) as session:
        stored = await session.get(Lead, (tenant.id, lead.id))
        statuses = list(
            await session.scalars(
                select(LeadOffer.status).where(LeadOffer.lead_id == lead.id).order_by(LeadOffer.id)
            )
        )
        history = list(
            await session.scalars(
                select(LeadEvent.kind).where(LeadEvent.lead_id == lead.id).order_by(LeadEvent.at)
            )
        )
        deadlines = list(
            await session.scalars(
                select(OfferDeadline.offer_id).where(OfferDeadline.tenant_id == tenant.id)
            )
        )
    assert stored is not None
    assert stored.status is LeadStatus.UNROUTABLE
    assert statuses == [OfferStatus.EXPIRED, OfferStatus.EXPIRED]
    assert history == ["CREATED", "OFFERED", "EXPIRED", "OFFERED", "EXPIRED", "UNROUTABLE"]
    assert deadlines == []


def test_the_scheduler_runs_offer_expiry_at_least_every_minute(
    settings: Settings, database: Database
) -> None:
    from dramatiq.brokers.stub import StubBroker

    scheduler = Scheduler(settings, database, StubBroker())
    tasks = {task.name: task for task in scheduler.tasks}
    assert LEAD_OFFER_EXPIRY in tasks
    assert tasks[LEAD_OFFER_EXPIRY].interval == LEAD_OFFER_EXPIRY_INTERVAL <= timedelta(minutes=1)


@pytest.mark.asyncio
async def test_an_accept_after_the_deadline_is_expired_even_before_the_tick(
    database: Database,
) -> None:
    from prm.leads import offers

    tenant = await make_tenant(database)
    partner = await make_territory_partner(database, tenant.id)
    rep = await make_user(database, tenant.id, roles=(Role.PARTNER_REP,), partner_id=partner.id)
    await make_rule(database, tenant.id, offer_sla_hours=1)
    lead = await make_lead(database, tenant.id)
    offer = await pending_offer(database, tenant.id, lead.id)
    late = datetime.now(UTC) + timedelta(hours=2)
    with pytest.raises(DomainError) as raised:
        await run(
            database, tenant.id,
            lambda session: offers.accept_offer(session, principal_of(rep), offer.id, now=late),
        )  # fmt: skip
    assert raised.value.code.value == "EXPIRED"


@pytest.mark.asyncio
async def test_engagement_activities_raise_the_score_up_to_the_cap(database: Database) -> None:
    tenant = await make_tenant(database)
    system = Principal.system(tenant.id)
    await run(
        database,
        tenant.id,
        scoring.set_scoring_rules,
        system,
        [scoring.ScoringRuleSpec(ScoringCriterion.ENGAGEMENT, points=15, max_points=40)],
    )
    lead = await make_lead(database, tenant.id)
    assert lead.score == 0
    scores = []
    for _ in range(4):
        async with database.session(tenant.id) as session:
            session.add(
                Activity(
                    tenant_id=tenant.id,
                    lead_id=lead.id,
                    channel=Channel.EMAIL,
                    direction=Direction.INBOUND,
                    summary="asked for a demo",
                )
            )
            await session.flush()
            scores.append(await scoring.recompute_lead_score(session, tenant.id, lead.id))
    assert scores == [15, 30, 40, 40]
    async with database.session(tenant.id) as session:
        assert await scoring.recompute_lead_score(session, tenant.id, uuid.uuid4()) is None
