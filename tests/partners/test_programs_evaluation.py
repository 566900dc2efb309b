"""The `programs.evaluate` job: criteria over trailing quarters of partner scorecards
(seeded directly), promotion, grace then demotion, idempotency, history, notifications,
the tier and deal-protection benefits, auto-enrolment, and its enqueueing by the
quarterly recompute. Expected figures are computed here from the seeded rows."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from prm.auth.principal import Principal, Role
from prm.db.engine import Database
from prm.employees.erm_models import TrainingRecord
from prm.metrics.periods import period_containing
from prm.metrics.recompute import recompute_period
from prm.partners import programs
from prm.partners.models import Partner, PartnerNotification
from prm.partners.program_evaluation import PROGRAMS_EVALUATE, evaluate_programs
from prm.partners.program_models import (
    ChannelProgram,
    CriterionMetric,
    LevelChange,
    LevelChangeKind,
    ProgramEnrolment,
    ProgramLevel,
)
from prm.workers.actors import run_job
from prm.workers.models import Job, JobStatus
from tests.deals.factories import make_registration
from tests.factories import TenantWithAdmin, make_partner, make_tenant, make_tier, make_user
from tests.metrics.snapshots import insert, partner_row
from tests.partners.support import set_partner_columns

NOW = datetime(2026, 11, 15, 12, tzinfo=UTC)
"""In 2026-Q4: the trailing four quarters are 2026-Q4, Q3, Q2 and Q1."""
Spec = programs.CriterionSpec


@dataclass
class Ladder:
    tenant: TenantWithAdmin
    program: ChannelProgram
    bronze: ProgramLevel
    silver: ProgramLevel
    gold: ProgramLevel


def admin(tenant: TenantWithAdmin) -> Principal:
    return Principal.system(tenant.id)


def run(database: Database, tenant_id: uuid.UUID, fn: Any) -> Any:
    with database.sync_session(tenant_id) as session:
        return fn(session)


async def make_ladder(
    database: Database,
    *,
    grace_days: int = 30,
    silver: list[Spec] | None = None,
    gold: list[Spec] | None = None,
    gold_certification: str | None = None,
    gold_tier: uuid.UUID | None = None,
    gold_days: int | None = None,
    tenant: TenantWithAdmin | None = None,
) -> Ladder:
    """Bronze (no criteria) < Silver < Gold."""
    tenant = tenant or await make_tenant(database)
    principal = admin(tenant)

    def build(session: Any) -> Ladder:
        program = programs.create_program(
            session, principal, name=f"Reseller {uuid.uuid4().hex[:6]}", grace_days=grace_days
        )
        bronze = programs.create_level(
            session, principal, program_id=program.id, name="Bronze", rank=1
        )
        silver_level = programs.create_level(
            session,
            principal,
            program_id=program.id,
            name="Silver",
            rank=2,
            criteria=silver
            if silver is not None
            else [Spec(CriterionMetric.REVENUE_WON, Decimal(10_000))],
        )
        gold_level = programs.create_level(
            session,
            principal,
            program_id=program.id,
            name="Gold",
            rank=3,
            tier_id=gold_tier,
            deal_protection_days=gold_days,
            required_certification=gold_certification,
            criteria=gold
            if gold is not None
            else [
                Spec(CriterionMetric.REVENUE_WON, Decimal(100_000)),
                Spec(CriterionMetric.WIN_RATE, Decimal("0.5")),
            ],
        )
        return Ladder(tenant, program, bronze, silver_level, gold_level)

    return run(database, tenant.id, build)


def enrol(database: Database, ladder: Ladder, partner: Partner, level: ProgramLevel) -> uuid.UUID:
    def go(session: Any) -> uuid.UUID:
        row = programs.enrol_partner(
            session,
            admin(ladder.tenant),
            program_id=ladder.program.id,
            partner_id=partner.id,
            level_id=level.id,
        )
        return row.id

    result: uuid.UUID = run(database, ladder.tenant.id, go)
    return result


def evaluate(database: Database, tenant_id: uuid.UUID, now: datetime = NOW) -> dict[str, int]:
    result: dict[str, int] = run(
        database, tenant_id, lambda session: evaluate_programs(session, tenant_id, now=now)
    )
    return result


def enrolment_of(database: Database, tenant_id: uuid.UUID, enrolment_id: uuid.UUID) -> Any:
    return run(
        database,
        tenant_id,
        lambda session: session.scalar(
            select(ProgramEnrolment).where(ProgramEnrolment.id == enrolment_id)
        ),
    )


def history(database: Database, tenant_id: uuid.UUID, partner_id: uuid.UUID) -> list[Any]:
    return run(
        database,
        tenant_id,
        lambda session: list(
            session.scalars(
                select(LevelChange)
                .where(LevelChange.partner_id == partner_id)
                .order_by(LevelChange.id)
            )
        ),
    )


def notifications(database: Database, tenant_id: uuid.UUID, partner_id: uuid.UUID) -> list[Any]:
    return run(
        database,
        tenant_id,
        lambda session: list(
            session.scalars(
                select(PartnerNotification)
                .where(
                    PartnerNotification.partner_id == partner_id,
                    PartnerNotification.kind == "program.level_changed",
                )
                .order_by(PartnerNotification.id)
            )
        ),
    )


async def scorecards(
    database: Database, tenant_id: uuid.UUID, partner_id: uuid.UUID, **by_period: Any
) -> None:
    await insert(
        database,
        tenant_id,
        *(
            partner_row(tenant_id, partner_id, period.replace("_", "-"), **figures)
            for period, figures in by_period.items()
        ),
    )


@pytest.mark.asyncio
async def test_criteria_sum_counts_and_average_rates_over_the_trailing_quarters(
    database: Database,
) -> None:
    ladder = await make_ladder(database)
    partner = await make_partner(database, ladder.tenant.id)
    enrolment_id = enrol(database, ladder, partner, ladder.bronze)
    # Four trailing quarters: revenue 30k + 25k + 25k + 20k = 100k (exactly Gold's minimum);
    # win rates 0.6, null, 0.4, 0.55 average (0.6 + 0.4 + 0.55) / 3 = 0.5166… >= 0.5.
    # 2025-Q4 is outside the window: its 1M does not count.
    await scorecards(
        database,
        ladder.tenant.id,
        partner.id,
        **{
            "2026_Q4": {"revenue_won": Decimal(30_000), "win_rate": 0.6},
            "2026_Q3": {"revenue_won": Decimal(25_000), "win_rate": None},
            "2026_Q2": {"revenue_won": Decimal(25_000), "win_rate": 0.4},
            "2026_Q1": {"revenue_won": Decimal(20_000), "win_rate": 0.55},
            "2025_Q4": {"revenue_won": Decimal(1_000_000), "win_rate": 0.0},
            "2026_11": {"revenue_won": Decimal(999_999), "win_rate": 0.0},
        },
    )

    counts = evaluate(database, ladder.tenant.id)

    assert counts["promoted"] == 1
    row = enrolment_of(database, ladder.tenant.id, enrolment_id)
    assert row.level_id == ladder.gold.id
    assert row.below_criteria_since is None
    *_, promoted = history(database, ladder.tenant.id, partner.id)
    assert (promoted.kind, promoted.from_level_name, promoted.to_level_name) == (
        LevelChangeKind.PROMOTED,
        "Bronze",
        "Gold",
    )
    assert "REVENUE_WON 100000 >= 100000" in promoted.reason
    assert "WIN_RATE 0.5167 >= 0.5" in promoted.reason
    [notice] = notifications(database, ladder.tenant.id, partner.id)
    assert notice.data["toLevelId"] == str(ladder.gold.id)
    assert "Gold" in notice.message


@pytest.mark.asyncio
async def test_one_criterion_just_short_promotes_only_as_far_as_the_criteria_hold(
    database: Database,
) -> None:
    ladder = await make_ladder(database)
    partner = await make_partner(database, ladder.tenant.id)
    enrolment_id = enrol(database, ladder, partner, ladder.bronze)
    # 99 999.99 of revenue: Silver's 10k holds, Gold's 100k does not (win rate would).
    await scorecards(
        database,
        ladder.tenant.id,
        partner.id,
        **{
            "2026_Q4": {"revenue_won": Decimal("49999.99"), "win_rate": 0.9},
            "2026_Q1": {"revenue_won": Decimal(50_000), "win_rate": 0.9},
        },
    )
    evaluate(database, ladder.tenant.id)
    assert enrolment_of(database, ladder.tenant.id, enrolment_id).level_id == ladder.silver.id


@pytest.mark.asyncio
async def test_a_rate_with_no_data_is_not_met(database: Database) -> None:
    ladder = await make_ladder(
        database, silver=[Spec(CriterionMetric.SLA_COMPLIANCE, Decimal(0), quarters=2)]
    )
    partner = await make_partner(database, ladder.tenant.id)
    enrolment_id = enrol(database, ladder, partner, ladder.bronze)
    # SLA compliance is null in the last two quarters (a value three quarters ago is out).
    await scorecards(
        database,
        ladder.tenant.id,
        partner.id,
        **{"2026_Q4": {}, "2026_Q3": {}, "2026_Q2": {"sla_compliance": 1.0}},
    )
    evaluate(database, ladder.tenant.id)
    assert enrolment_of(database, ladder.tenant.id, enrolment_id).level_id == ladder.bronze.id


@pytest.mark.asyncio
async def test_a_partner_below_its_level_is_demoted_only_after_the_grace_period(
    database: Database,
) -> None:
    ladder = await make_ladder(database, grace_days=30)
    partner = await make_partner(database, ladder.tenant.id)
    enrolment_id = enrol(database, ladder, partner, ladder.gold)
    # Revenue 40k: Silver holds (>= 10k), Gold does not (< 100k).
    await scorecards(
        database,
        ladder.tenant.id,
        partner.id,
        **{"2026_Q4": {"revenue_won": Decimal(40_000), "win_rate": 0.9}},
    )

    assert evaluate(database, ladder.tenant.id, NOW)["flagged"] == 1
    row = enrolment_of(database, ladder.tenant.id, enrolment_id)
    assert (row.level_id, row.below_criteria_since) == (ladder.gold.id, NOW)

    # 29 days later: still in grace, and the flag keeps its first date.
    evaluate(database, ladder.tenant.id, NOW + timedelta(days=29))
    row = enrolment_of(database, ladder.tenant.id, enrolment_id)
    assert (row.level_id, row.below_criteria_since) == (ladder.gold.id, NOW)
    assert notifications(database, ladder.tenant.id, partner.id) == []

    # 30 days after it: demoted to the highest level that holds.
    counts = evaluate(database, ladder.tenant.id, NOW + timedelta(days=30))
    assert counts["demoted"] == 1
    row = enrolment_of(database, ladder.tenant.id, enrolment_id)
    assert (row.level_id, row.below_criteria_since) == (ladder.silver.id, None)
    *_, demoted = history(database, ladder.tenant.id, partner.id)
    assert (demoted.kind, demoted.from_level_name, demoted.to_level_name) == (
        LevelChangeKind.DEMOTED,
        "Gold",
        "Silver",
    )
    assert "REVENUE_WON 40000 < 100000" in demoted.reason
    [notice] = notifications(database, ladder.tenant.id, partner.id)
    assert notice.data["change"] == "DEMOTED"


@pytest.mark.asyncio
async def test_meeting_the_criteria_again_clears_the_grace_flag(database: Database) -> None:
    ladder = await make_ladder(database)
    partner = await make_partner(database, ladder.tenant.id)
    enrolment_id = enrol(database, ladder, partner, ladder.silver)
    evaluate(database, ladder.tenant.id)  # no revenue: below Silver
    assert enrolment_of(database, ladder.tenant.id, enrolment_id).below_criteria_since == NOW
    await scorecards(
        database, ladder.tenant.id, partner.id, **{"2026_Q4": {"revenue_won": Decimal(10_000)}}
    )
    evaluate(database, ladder.tenant.id, NOW + timedelta(days=40))
    row = enrolment_of(database, ladder.tenant.id, enrolment_id)
    assert (row.level_id, row.below_criteria_since) == (ladder.silver.id, None)


@pytest.mark.asyncio
async def test_demotion_goes_no_lower_than_the_entry_level(database: Database) -> None:
    ladder = await make_ladder(
        database, grace_days=0, silver=[Spec(CriterionMetric.DEALS_WON, Decimal(5))]
    )
    partner = await make_partner(database, ladder.tenant.id)
    enrolment_id = enrol(database, ladder, partner, ladder.gold)
    evaluate(database, ladder.tenant.id)  # flags (nothing holds but Bronze)
    evaluate(database, ladder.tenant.id, NOW + timedelta(seconds=1))
    assert enrolment_of(database, ladder.tenant.id, enrolment_id).level_id == ladder.bronze.id


@pytest.mark.asyncio
async def test_running_the_evaluation_twice_changes_nothing_the_second_time(
    database: Database,
) -> None:
    ladder = await make_ladder(database)
    partners = [await make_partner(database, ladder.tenant.id) for _ in range(3)]
    for partner in partners:
        enrol(database, ladder, partner, ladder.bronze)
    await scorecards(
        database, ladder.tenant.id, partners[0].id, **{"2026_Q4": {"revenue_won": Decimal(20_000)}}
    )
    first = evaluate(database, ladder.tenant.id)
    assert first["promoted"] == 1

    def snapshot() -> tuple[int, int, list[Any]]:
        def read(session: Any) -> tuple[int, int, list[Any]]:
            changes = session.scalar(select(func.count()).select_from(LevelChange))
            notes = session.scalar(select(func.count()).select_from(PartnerNotification))
            levels = list(
                session.execute(
                    select(
                        ProgramEnrolment.id,
                        ProgramEnrolment.level_id,
                        ProgramEnrolment.below_criteria_since,
                    ).order_by(ProgramEnrolment.id)
                )
            )
            return changes, notes, levels

        result: tuple[int, int, list[Any]] = run(database, ladder.tenant.id, read)
        return result

    before = snapshot()
    second = evaluate(database, ladder.tenant.id)
    assert second == {"enrolled": 0, "promoted": 0, "demoted": 0, "flagged": 0}
    assert snapshot() == before


@pytest.mark.asyncio
async def test_a_required_certification_must_be_current(database: Database) -> None:
    ladder = await make_ladder(database, gold=[], gold_certification="cloud-expert")
    partner = await make_partner(database, ladder.tenant.id)
    user = await make_user(
        database, ladder.tenant.id, roles=(Role.PARTNER_REP,), partner_id=partner.id
    )
    enrolment_id = enrol(database, ladder, partner, ladder.silver)
    await scorecards(
        database, ladder.tenant.id, partner.id, **{"2026_Q4": {"revenue_won": Decimal(10_000)}}
    )
    async with database.session(ladder.tenant.id) as session:
        session.add(  # expired before NOW: does not count
            TrainingRecord(
                tenant_id=ladder.tenant.id,
                user_id=user.id,
                partner_id=partner.id,
                course="Cloud",
                certification="cloud-expert",
                completed_at=NOW - timedelta(days=400),
                expires_at=NOW - timedelta(days=35),
            )
        )
    evaluate(database, ladder.tenant.id)
    assert enrolment_of(database, ladder.tenant.id, enrolment_id).level_id == ladder.silver.id

    async with database.session(ladder.tenant.id) as session:
        session.add(
            TrainingRecord(
                tenant_id=ladder.tenant.id,
                user_id=user.id,
                partner_id=partner.id,
                course="Cloud",
                certification="cloud-expert",
                completed_at=NOW - timedelta(days=10),
                expires_at=NOW + timedelta(days=355),
            )
        )
    evaluate(database, ladder.tenant.id)
    assert enrolment_of(database, ladder.tenant.id, enrolment_id).level_id == ladder.gold.id
    *_, promoted = history(database, ladder.tenant.id, partner.id)
    assert "certification cloud-expert held" in promoted.reason


@pytest.mark.asyncio
async def test_the_best_tier_granted_by_a_partners_levels_becomes_its_tier(
    database: Database,
) -> None:
    tenant = await make_tenant(database)
    low = await make_tier(database, tenant.id, rank=1)
    high = await make_tier(database, tenant.id, rank=5)
    admin_given = await make_tier(database, tenant.id, rank=3)
    ladder = await make_ladder(database, tenant=tenant, gold_tier=high.id)
    other = await make_ladder(database, tenant=tenant)

    def grant_low(session: Any) -> None:
        programs.update_level(session, admin(tenant), other.gold.id, {"tier_id": low.id})

    run(database, tenant.id, grant_low)
    promoted = await make_partner(database, tenant.id, tier_id=admin_given.id)
    untouched = await make_partner(database, tenant.id, tier_id=admin_given.id)
    enrol(database, ladder, promoted, ladder.bronze)
    enrol(database, other, promoted, other.gold)
    enrol(database, ladder, untouched, ladder.bronze)
    # Before any promotion, Gold of `other` (low tier) is the only tier-granting level.
    assert await tier_of(database, promoted) == low.id

    await scorecards(
        database,
        tenant.id,
        promoted.id,
        **{"2026_Q4": {"revenue_won": Decimal(100_000), "win_rate": 1.0}},
    )
    evaluate(database, tenant.id)

    assert await tier_of(database, promoted) == high.id  # rank 5 beats rank 1
    assert await tier_of(database, untouched) == admin_given.id  # no level grants a tier


async def tier_of(database: Database, partner: Partner) -> uuid.UUID | None:
    async with database.session(partner.tenant_id) as session:
        tier: uuid.UUID | None = await session.scalar(
            select(Partner.tier_id).where(Partner.id == partner.id)
        )
        return tier


@pytest.mark.asyncio
async def test_approval_protects_for_the_longest_of_tenant_and_level_days(
    database: Database,
) -> None:
    ladder = await make_ladder(database, gold_days=200)
    tenant_id = ladder.tenant.id
    manager = await make_user(database, tenant_id, roles=(Role.MANAGER,))
    on_gold = await make_partner(database, tenant_id)
    on_bronze = await make_partner(database, tenant_id)
    enrol(database, ladder, on_gold, ladder.gold)
    enrol(database, ladder, on_bronze, ladder.bronze)
    gold_rep = await make_user(
        database, tenant_id, roles=(Role.PARTNER_REP,), partner_id=on_gold.id
    )
    bronze_rep = await make_user(
        database, tenant_id, roles=(Role.PARTNER_REP,), partner_id=on_bronze.id
    )

    gold_deal = await make_registration(database, gold_rep, approve_as=manager)
    bronze_deal = await make_registration(database, bronze_rep, approve_as=manager)

    assert gold_deal.decided_at is not None
    assert bronze_deal.decided_at is not None
    assert gold_deal.protected_until is not None
    assert bronze_deal.protected_until is not None
    assert gold_deal.protected_until - gold_deal.decided_at == timedelta(days=200)
    # The tenant's default (90 days) is longer than no level days at all.
    assert bronze_deal.protected_until - bronze_deal.decided_at == timedelta(days=90)


@pytest.mark.asyncio
async def test_the_evaluation_auto_enrols_matching_partners_at_the_entry_level(
    database: Database,
) -> None:
    ladder = await make_ladder(database)
    tenant_id = ladder.tenant.id

    def rules(session: Any) -> None:
        programs.update_program(
            session,
            admin(ladder.tenant),
            ladder.program.id,
            {"auto_enrol_countries": ["de", "AT"], "auto_enrol_capabilities": ["cloud"]},
        )

    run(database, tenant_id, rules)
    german_cloud = await make_partner(database, tenant_id)
    await set_partner_columns(database, german_cloud, country="DE", capabilities=["cloud", "x"])
    french_cloud = await make_partner(database, tenant_id)
    await set_partner_columns(database, french_cloud, country="FR", capabilities=["cloud"])
    austrian_plain = await make_partner(database, tenant_id)
    await set_partner_columns(database, austrian_plain, country="AT", capabilities=["x"])

    def turn_on(session: Any) -> None:
        programs.update_program(
            session, admin(ladder.tenant), ladder.program.id, {"auto_enrol": True}
        )

    run(database, tenant_id, turn_on)  # enrols at once
    assert enrolled_partners(database, tenant_id) == {german_cloud.id: ladder.bronze.id}

    austrian_cloud = await make_partner(database, tenant_id)
    await set_partner_columns(database, austrian_cloud, country="AT", capabilities=["cloud"])
    assert evaluate(database, tenant_id)["enrolled"] == 1
    assert enrolled_partners(database, tenant_id) == {
        german_cloud.id: ladder.bronze.id,
        austrian_cloud.id: ladder.bronze.id,
    }
    [line] = history(database, tenant_id, austrian_cloud.id)
    assert (line.kind, line.to_level_name) == (LevelChangeKind.ENROLLED, "Bronze")
    assert evaluate(database, tenant_id)["enrolled"] == 0


def enrolled_partners(database: Database, tenant_id: uuid.UUID) -> dict[uuid.UUID, uuid.UUID]:
    return run(
        database,
        tenant_id,
        lambda session: {
            partner_id: level_id
            for partner_id, level_id in session.execute(
                select(ProgramEnrolment.partner_id, ProgramEnrolment.level_id)
            )
        },
    )


@pytest.mark.asyncio
async def test_a_quarterly_recompute_asks_for_the_evaluation_and_the_job_runs_it(
    database: Database,
) -> None:
    ladder = await make_ladder(database)
    tenant_id = ladder.tenant.id
    partner = await make_partner(database, tenant_id)
    enrolment_id = enrol(database, ladder, partner, ladder.bronze)
    principal = Principal.system(tenant_id)

    def jobs(session: Any) -> list[Job]:
        return list(session.scalars(select(Job).where(Job.kind == PROGRAMS_EVALUATE)))

    run(database, tenant_id, lambda session: recompute_period(session, principal, period="2026-11"))
    assert run(database, tenant_id, jobs) == []
    run(database, tenant_id, lambda session: recompute_period(session, principal, period="2026-Q4"))
    [job] = run(database, tenant_id, jobs)
    assert job.args == {}

    # The job judges the trailing quarters of today: seed last quarter's revenue.
    quarter = period_containing(datetime.now(UTC), "QUARTER").previous().key
    await insert(
        database,
        tenant_id,
        partner_row(tenant_id, partner.id, quarter, revenue_won=Decimal(10_000)),
    )
    assert run_job(database, PROGRAMS_EVALUATE, tenant_id, job.id) is JobStatus.SUCCEEDED
    assert enrolment_of(database, tenant_id, enrolment_id).level_id == ladder.silver.id
