"""The `incentives.evaluate` job (what a won deal earns, once) and the
`incentives.rebates` job (volume rebates of a period). Expected amounts are computed here
with Decimal, half-up at the currency's minor unit."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, text, update

from prm.auth.principal import Principal
from prm.catalog.models import QuoteStatus
from prm.crm.models import Account, Opportunity, OpportunityStage
from prm.db.engine import Database
from prm.deals.models import DealRegistration, RegistrationStatus
from prm.incentives.evaluate import EVALUATE, REBATES, evaluate_opportunity
from prm.metrics.periods import period_containing
from prm.workers.actors import run_job
from prm.workers.jobs import enqueue_job_sync
from prm.workers.models import Job, JobStatus
from tests.catalog.factories import make_product
from tests.factories import make_partner
from tests.incentives.factories import (
    add_program,
    add_quote,
    earned,
    earned_rows,
    evaluate_jobs,
    gid,
    make_world,
    money,
    notification_kinds,
    open_deal,
    rule_ok,
    set_stage,
    win,
    won_deal,
)


def iso(moment: datetime) -> str:
    return moment.isoformat()


@pytest.mark.asyncio
async def test_a_won_deal_earns_each_applicable_rule_once_even_when_the_job_runs_again(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    world = await make_world(database)
    await rule_ok(
        client, app, world, levelId=gid("ProgramLevel", world.gold_id), name="Gold 7.5%",
        kind="REVENUE_PERCENT", percent="7.5", dealScope="PARTNER_SOURCED",
    )  # fmt: skip
    await rule_ok(
        client, app, world, name="Any level bonus", kind="DEAL_BONUS",
        amount={"amount": "250", "currency": "USD"},
    )  # fmt: skip
    await rule_ok(
        client, app, world, levelId=gid("ProgramLevel", world.silver_id), name="Silver 50%",
        kind="REVENUE_PERCENT", percent="50",
    )  # fmt: skip

    sourced = open_deal(database, world, world.partner_id, "12345.67", lead=True)
    plain = open_deal(database, world, world.partner_id, "1000.00")
    await set_stage(client, app, world, sourced, "CLOSED_WON")
    await set_stage(client, app, world, plain, "CLOSED_WON")
    jobs = evaluate_jobs(database, world.tenant.id)
    assert [job.args for job in jobs] == [
        {"opportunityId": str(sourced)},
        {"opportunityId": str(plain)},
    ]
    for job in jobs:
        assert run_job(database, EVALUATE, world.tenant.id, job.id) is JobStatus.SUCCEEDED
    # A retry (a new delivery of the same work, as a fresh job) counts nothing twice.
    with database.sync_session(world.tenant.id) as session:
        again = enqueue_job_sync(
            session, Principal.system(world.tenant.id), EVALUATE, {"opportunityId": str(sourced)}
        )
    assert run_job(database, EVALUATE, world.tenant.id, again.id) is JobStatus.SUCCEEDED

    rows = earned_rows(database, world.tenant.id)
    got = sorted((row.opportunity_id == sourced, row.amount) for row in rows)
    expected = sorted(
        [
            (True, money(Decimal("12345.67") * Decimal("7.5") / 100)),
            (True, Decimal("250")),
            (False, Decimal("250")),
        ]
    )
    assert got == expected
    assert all(row.status == "PENDING" for row in rows)

    nodes = await earned(client, app, world.partner_user)
    assert sorted(n["amount"]["amount"] for n in nodes) == sorted(
        str(money(amount)) for _, amount in expected
    )
    assert {n["partner"]["id"] for n in nodes} == {gid("Partner", world.partner_id)}
    kinds = notification_kinds(database, world.tenant.id, world.partner_id)
    assert kinds.count("incentive.earned") == 3

    # Reopening voids the deal's pending incentives; winning it again revives them once.
    await set_stage(client, app, world, sourced, "NEGOTIATION")
    statuses = {row.id: row.status for row in earned_rows(database, world.tenant.id)
                if row.opportunity_id == sourced}  # fmt: skip
    assert set(statuses.values()) == {"VOID"}
    await set_stage(client, app, world, sourced, "CLOSED_WON")
    last = evaluate_jobs(database, world.tenant.id)[-1]
    assert run_job(database, EVALUATE, world.tenant.id, last.id) is JobStatus.SUCCEEDED
    revived = [
        row for row in earned_rows(database, world.tenant.id) if row.opportunity_id == sourced
    ]
    assert {row.id: row.status for row in revived} == dict.fromkeys(statuses, "PENDING")


@pytest.mark.asyncio
async def test_a_spiff_pays_per_unit_of_its_products_on_accepted_quotes_inside_its_window(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    world = await make_world(database)
    widget = await make_product(database, world.tenant.id)
    gadget = await make_product(database, world.tenant.id)
    other = await make_product(database, world.tenant.id)
    now = datetime.now(UTC)
    per_unit = Decimal("12.35")
    inside = await rule_ok(
        client, app, world, name="Q4 SPIFF", kind="SPIFF",
        amount={"amount": str(per_unit), "currency": "USD"},
        productIds=[gid("Product", widget.id), gid("Product", gadget.id)],
        startsAt=iso(now - timedelta(days=1)), endsAt=iso(now + timedelta(days=1)),
    )  # fmt: skip
    await rule_ok(
        client, app, world, name="Ended SPIFF", kind="SPIFF",
        amount={"amount": "99", "currency": "USD"}, productIds=[gid("Product", widget.id)],
        startsAt=iso(now - timedelta(days=10)), endsAt=iso(now - timedelta(minutes=5)),
    )  # fmt: skip
    await rule_ok(
        client, app, world, name="Future SPIFF", kind="SPIFF",
        amount={"amount": "77", "currency": "USD"}, productIds=[gid("Product", widget.id)],
        startsAt=iso(now + timedelta(days=1)), endsAt=iso(now + timedelta(days=10)),
    )  # fmt: skip

    deal = open_deal(database, world, world.partner_id, "5000.00")
    # The quote accepted last is the deal's; the one it revised no longer counts.
    add_quote(
        database, world, deal, [(widget.id, 3), (gadget.id, 2), (other.id, 7)],
        accepted_at=now - timedelta(hours=1),
    )  # fmt: skip
    add_quote(database, world, deal, [(gadget.id, 4)], accepted_at=now - timedelta(hours=2))
    add_quote(database, world, deal, [(widget.id, 100)], status=QuoteStatus.DRAFT)
    add_quote(database, world, deal, [(widget.id, 50)], status=QuoteStatus.SENT)
    without = open_deal(database, world, world.partner_id, "5000.00")
    add_quote(database, world, without, [(other.id, 9)])
    add_quote(database, world, without, [(widget.id, 9)], status=QuoteStatus.DRAFT)
    await win(client, app, database, world, deal)
    await win(client, app, database, world, without)

    rows = earned_rows(database, world.tenant.id)
    units = Decimal(3 + 2)  # widgets and gadgets on the last accepted quote only
    assert [(r.opportunity_id, r.amount, r.basis, r.currency) for r in rows] == [
        (deal, money(per_unit * units), units, "USD")
    ]
    nodes = await earned(client, app, world.partner_user)
    assert [(n["rule"]["id"], n["opportunity"]["id"], n["amount"]) for n in nodes] == [
        (inside["id"], gid("Opportunity", deal),
         {"amount": str(money(per_unit * units)), "currency": "USD"}),
    ]  # fmt: skip


@pytest.mark.asyncio
async def test_revenue_percent_rounds_half_up_at_the_currency_minor_unit(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    world = await make_world(database)
    percent = Decimal("2.5")
    await rule_ok(client, app, world, name="2.5%", kind="REVENUE_PERCENT", percent=str(percent))
    eur_only = await rule_ok(
        client, app, world, name="EUR 10%", kind="REVENUE_PERCENT", percent="10", currency="EUR"
    )
    usd = open_deal(database, world, world.partner_id, "85.00")  # 2.125: half-even gives 2.12
    jpy = open_deal(database, world, world.partner_id, "2500", currency="JPY")  # 62.5 yen
    eur = open_deal(database, world, world.partner_id, "100.05", currency="EUR")  # 2.50125
    for deal in (usd, jpy, eur):
        await win(client, app, database, world, deal)

    got = {(r.opportunity_id, r.rule_id): (r.amount, r.currency, r.basis)
           for r in earned_rows(database, world.tenant.id)}  # fmt: skip
    rows = {deal: [v for (d, _), v in got.items() if d == deal] for deal in (usd, jpy, eur)}
    assert rows[usd] == [(money(Decimal("85.00") * percent / 100), "USD", Decimal("85.00"))]
    assert rows[usd][0][0] == Decimal("2.13")
    assert rows[jpy] == [(money(Decimal(2500) * percent / 100, "1"), "JPY", Decimal(2500))]
    assert rows[jpy][0][0] == Decimal(63)
    assert sorted(amount for amount, _, _ in rows[eur]) == sorted(
        [money(Decimal("100.05") * percent / 100), money(Decimal("100.05") * 10 / 100)]
    )
    # The EUR-only rule earned on the EUR deal and nothing else.
    nodes = await earned(client, app, world.tenant.admin)
    eur_rule_nodes = [n for n in nodes if n["rule"]["id"] == eur_only["id"]]
    assert [(n["opportunity"]["id"], n["amount"]["currency"]) for n in eur_rule_nodes] == [
        (gid("Opportunity", eur), "EUR")
    ]


@pytest.mark.asyncio
async def test_a_deal_bonus_pays_its_fixed_amount_once_per_won_deal(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    world = await make_world(database)
    bonus = Decimal("150.25")
    await rule_ok(
        client, app, world, name="EUR bonus", kind="DEAL_BONUS",
        amount={"amount": str(bonus), "currency": "EUR"},
    )  # fmt: skip
    small = open_deal(database, world, world.partner_id, "10.00")
    large = open_deal(database, world, world.partner_id, "990000.00")
    lost = open_deal(database, world, world.partner_id, "5000.00")
    await win(client, app, database, world, small)
    await win(client, app, database, world, large)
    await set_stage(client, app, world, lost, "CLOSED_LOST")
    assert len(evaluate_jobs(database, world.tenant.id)) == 2  # a lost deal asks for nothing

    rows = earned_rows(database, world.tenant.id)
    assert sorted((r.opportunity_id, r.amount, r.currency, r.basis) for r in rows) == sorted(
        [(small, bonus, "EUR", Decimal(1)), (large, bonus, "EUR", Decimal(1))]
    )


@pytest.mark.asyncio
async def test_partner_sourced_counts_only_deals_from_the_partners_own_leads(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    world = await make_world(database)
    any_rule = await rule_ok(client, app, world, name="Any 1%", kind="REVENUE_PERCENT", percent="1")
    sourced_rule = await rule_ok(
        client, app, world, name="Sourced 5%", kind="REVENUE_PERCENT", percent="5",
        dealScope="PARTNER_SOURCED",
    )  # fmt: skip
    own_lead = open_deal(database, world, world.partner_id, "1000.00", lead=True)
    no_lead = open_deal(database, world, world.partner_id, "2000.00")
    foreign_lead = open_deal(
        database, world, world.partner_id, "3000.00", lead_partner_id=world.other_partner_id
    )
    for deal in (own_lead, no_lead, foreign_lead):
        await win(client, app, database, world, deal)

    nodes = await earned(client, app, world.tenant.admin)
    got = sorted((n["opportunity"]["id"], n["rule"]["id"], n["amount"]["amount"]) for n in nodes)
    expected = sorted(
        [
            (gid("Opportunity", own_lead), any_rule["id"], str(money(Decimal("10")))),
            (gid("Opportunity", own_lead), sourced_rule["id"], str(money(Decimal("50")))),
            (gid("Opportunity", no_lead), any_rule["id"], str(money(Decimal("20")))),
            (gid("Opportunity", foreign_lead), any_rule["id"], str(money(Decimal("30")))),
        ]
    )
    assert got == expected


@pytest.mark.asyncio
async def test_a_program_wide_rule_pays_every_level_and_a_level_rule_only_its_level(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    world = await make_world(database)
    wide = await rule_ok(
        client, app, world, name="Everyone", kind="DEAL_BONUS",
        amount={"amount": "100", "currency": "USD"},
    )  # fmt: skip
    assert wide["levelId"] is None
    gold = await rule_ok(
        client, app, world, name="Gold", kind="DEAL_BONUS",
        levelId=gid("ProgramLevel", world.gold_id), amount={"amount": "40", "currency": "USD"},
    )  # fmt: skip
    silver = await rule_ok(
        client, app, world, name="Silver", kind="DEAL_BONUS",
        levelId=gid("ProgramLevel", world.silver_id), amount={"amount": "7", "currency": "USD"},
    )  # fmt: skip
    program_id, _level_id = add_program(database, world)
    await rule_ok(
        client, app, world, name="Not enrolled", kind="DEAL_BONUS",
        programId=gid("ChannelProgram", program_id), amount={"amount": "1000", "currency": "USD"},
    )  # fmt: skip
    outsider = await make_partner(database, world.tenant.id)

    gold_deal = open_deal(database, world, world.partner_id, "500.00")
    silver_deal = open_deal(database, world, world.other_partner_id, "500.00")
    outsider_deal = open_deal(database, world, outsider.id, "500.00")
    for deal in (gold_deal, silver_deal, outsider_deal):
        await win(client, app, database, world, deal)

    nodes = await earned(client, app, world.tenant.admin)
    got = sorted((n["opportunity"]["id"], n["rule"]["id"], n["amount"]["amount"]) for n in nodes)
    assert got == sorted(
        [
            (gid("Opportunity", gold_deal), wide["id"], "100.00"),
            (gid("Opportunity", gold_deal), gold["id"], "40.00"),
            (gid("Opportunity", silver_deal), wide["id"], "100.00"),
            (gid("Opportunity", silver_deal), silver["id"], "7.00"),
        ]
    )
    rows = {r.opportunity_id: r.level_id for r in earned_rows(database, world.tenant.id)}
    assert rows[gold_deal] == world.gold_id
    assert rows[silver_deal] == world.silver_id


def _lock_waiters(database: Database) -> int:
    with database.owner_engine.connect() as conn:
        return int(
            conn.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND wait_event_type = 'Lock'"
                )
            )
            or 0
        )


def _wait_for_a_lock_waiter(database: Database, before: int) -> None:
    deadline = time.monotonic() + 10
    while _lock_waiters(database) <= before and time.monotonic() < deadline:
        time.sleep(0.05)


@pytest.mark.asyncio
async def test_two_evaluations_of_one_deal_at_the_same_time_write_one_row(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    world = await make_world(database)
    await rule_ok(client, app, world, name="3%", kind="REVENUE_PERCENT", percent="3")
    deal = won_deal(database, world, world.partner_id, "1234.50")
    with database.sync_session(world.tenant.id) as session:
        second = enqueue_job_sync(
            session, Principal.system(world.tenant.id), EVALUATE, {"opportunityId": str(deal)}
        )
    results: list[JobStatus | None] = []
    waiters_before = _lock_waiters(database)

    # The first evaluation inserts and holds its transaction open; the second (a job, in
    # another session) must wait on the unique key, then count nothing.
    with database.sync_session(world.tenant.id) as session:
        first = evaluate_opportunity(
            session, Principal.system(world.tenant.id), opportunityId=str(deal)
        )
        assert first["earned"] == 1
        racer = threading.Thread(
            target=lambda: results.append(run_job(database, EVALUATE, world.tenant.id, second.id))
        )
        racer.start()
        _wait_for_a_lock_waiter(database, waiters_before)
        assert racer.is_alive()  # blocked behind the first transaction
    racer.join(15)
    assert results == [JobStatus.SUCCEEDED]

    rows = earned_rows(database, world.tenant.id)
    assert [(r.opportunity_id, r.amount) for r in rows] == [
        (deal, money(Decimal("1234.50") * 3 / 100))
    ]
    with database.sync_session(world.tenant.id) as session:
        job = session.scalar(select(Job).where(Job.id == second.id))
        assert job is not None
        assert job.result == {"opportunityId": str(deal), "earned": 0}
    assert notification_kinds(database, world.tenant.id, world.partner_id) == ["incentive.earned"]


@pytest.mark.asyncio
async def test_an_evaluation_racing_a_reopen_of_the_deal_earns_nothing(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    world = await make_world(database)
    await rule_ok(
        client, app, world, name="Bonus", kind="DEAL_BONUS",
        amount={"amount": "50", "currency": "USD"},
    )  # fmt: skip
    deal = won_deal(database, world, world.partner_id, "100.00")
    with database.sync_session(world.tenant.id) as session:
        job = enqueue_job_sync(
            session, Principal.system(world.tenant.id), EVALUATE, {"opportunityId": str(deal)}
        )
    results: list[JobStatus | None] = []
    waiters_before = _lock_waiters(database)
    # A reopen (locking the deal as updateOpportunity does) is under way, not committed,
    # when the job starts: the job must wait for it and then see the deal open.
    with database.sync_session(world.tenant.id) as session:
        locked = session.scalar(
            select(Opportunity.id).where(Opportunity.id == deal).with_for_update()
        )
        assert locked == deal
        session.execute(
            update(Opportunity)
            .where(Opportunity.id == deal)
            .values(stage=OpportunityStage.NEGOTIATION, closed_at=None)
        )
        racer = threading.Thread(
            target=lambda: results.append(run_job(database, EVALUATE, world.tenant.id, job.id))
        )
        racer.start()
        _wait_for_a_lock_waiter(database, waiters_before)
        assert racer.is_alive()
    racer.join(15)
    assert results == [JobStatus.SUCCEEDED]
    assert earned_rows(database, world.tenant.id) == []


@pytest.mark.asyncio
async def test_registered_scope_needs_an_approved_registration_for_the_company_before_close(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    world = await make_world(database)
    await rule_ok(
        client, app, world, name="Registered 10%", kind="REVENUE_PERCENT", percent="10",
        dealScope="REGISTERED",
    )  # fmt: skip
    with database.sync_session(world.tenant.id) as session:
        account = session.get(Account, (world.tenant.id, world.build.account_id))
        assert account is not None
        company = account.normalized_name
    unregistered = open_deal(database, world, world.partner_id, "800.00")
    await set_stage(client, app, world, unregistered, "CLOSED_WON")
    with database.sync_session(world.tenant.id) as session:
        session.add(
            DealRegistration(
                tenant_id=world.tenant.id,
                partner_id=world.partner_id,
                status=RegistrationStatus.APPROVED,
                company_name=company,
                normalized_company=company,
                product_interest=[],
                decided_at=datetime.now(UTC),
            )
        )
    registered = open_deal(database, world, world.partner_id, "800.05")
    await set_stage(client, app, world, registered, "CLOSED_WON")
    other_partner = open_deal(database, world, world.other_partner_id, "800.05")
    await set_stage(client, app, world, other_partner, "CLOSED_WON")
    for job in evaluate_jobs(database, world.tenant.id):
        assert run_job(database, EVALUATE, world.tenant.id, job.id) is JobStatus.SUCCEEDED
    rows = earned_rows(database, world.tenant.id)
    assert [(row.opportunity_id, row.amount) for row in rows] == [
        (registered, money(Decimal("800.05") * 10 / 100))
    ]


@pytest.mark.asyncio
async def test_volume_rebates_apply_the_highest_tier_reached_and_recompute_idempotently(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    world = await make_world(database)
    await rule_ok(
        client, app, world, name="Quarterly rebate", kind="VOLUME_REBATE", currency="USD",
        periodKind="QUARTER",
        tiers=[{"threshold": "20000", "percent": "3"}, {"threshold": "5000", "percent": "1.5"}],
    )  # fmt: skip
    for amount in ("4000.10", "2500.35"):
        deal = open_deal(database, world, world.partner_id, amount)
        await set_stage(client, app, world, deal, "CLOSED_WON")
    await set_stage(
        client, app, world, open_deal(database, world, world.partner_id, "9999", currency="EUR"),
        "CLOSED_WON",
    )  # fmt: skip
    small = open_deal(database, world, world.other_partner_id, "100.00")
    await set_stage(client, app, world, small, "CLOSED_WON")
    quarter = period_containing(datetime.now(UTC), "QUARTER").key

    def rebate() -> JobStatus | None:
        with database.sync_session(world.tenant.id) as session:
            job = enqueue_job_sync(
                session, Principal.system(world.tenant.id), REBATES, {"period": quarter}
            )
        return run_job(database, REBATES, world.tenant.id, job.id)

    assert rebate() is JobStatus.SUCCEEDED
    revenue = Decimal("4000.10") + Decimal("2500.35")  # the EUR deal does not count
    rebates = [r for r in earned_rows(database, world.tenant.id) if r.rebate_period]
    assert [(r.partner_id, r.amount, r.basis) for r in rebates] == [
        (world.partner_id, money(revenue * Decimal("1.5") / 100), revenue)
    ]
    assert rebate() is JobStatus.SUCCEEDED  # idempotent
    again = [r for r in earned_rows(database, world.tenant.id) if r.rebate_period]
    assert [(r.id, r.amount) for r in again] == [(rebates[0].id, rebates[0].amount)]

    big = open_deal(database, world, world.partner_id, "15000.00")
    await set_stage(client, app, world, big, "CLOSED_WON")
    assert rebate() is JobStatus.SUCCEEDED
    revenue += Decimal("15000.00")
    [updated] = [r for r in earned_rows(database, world.tenant.id) if r.rebate_period]
    assert (updated.id, updated.amount) == (rebates[0].id, money(revenue * 3 / 100))
