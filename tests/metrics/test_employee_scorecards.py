"""Employee scorecards: every figure of the snapshot computed from rows written here
(expected values worked out independently in the test), commission with and without an
accelerator and a cap, rank, idempotent recomputes, and reading them through GraphQL with
the visibility rules (a manager its reports transitively, an employee its own, partner
users FORBIDDEN)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy import select

from prm.auth.principal import Role
from prm.crm.models import Activity, Channel, Direction, Opportunity, OpportunityStage
from prm.db.engine import Database
from prm.employees.erm_models import (
    CompensationAssignment,
    CompensationPlan,
    Objective,
    ObjectiveMetric,
)
from prm.employees.models import Employee
from prm.metrics.employee_scorecards import compute_employee_scorecards
from prm.metrics.models import EmployeeScorecardRow
from prm.metrics.periods import parse_period
from prm.tenants.models import User
from tests.crm.factories import gid, make_account
from tests.factories import bearer, make_employee, make_partner, make_tenant, make_user, unique
from tests.graphql.support import error_codes, gql
from tests.leads.factories import make_lead

PERIOD = "2026-10"
NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def oct_(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 10, day, hour, tzinfo=UTC)


def expected_commission(
    revenue: Decimal,
    quota: Decimal | None,
    base: Decimal,
    accelerator: Decimal,
    cap: Decimal | None,
) -> Decimal:
    """The plan rule, independently: base % up to quota, base + accelerator % above it,
    capped, half-up to cents."""
    if quota is None:
        raw = revenue * base / 100
    else:
        raw = min(revenue, quota) * base / 100
        raw += max(revenue - quota, Decimal(0)) * (base + accelerator) / 100
    if cap is not None:
        raw = min(raw, cap)
    return raw.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def expected_score(
    quota_attainment: float | None, win_rate: float | None, activities: int, busiest: int
) -> float:
    return 100 * (
        0.5 * min(quota_attainment or 0.0, 1.5) / 1.5
        + 0.3 * (win_rate or 0.0)
        + 0.2 * (min(activities / busiest, 1.0) if busiest else 0.0)
    )


@dataclass
class World:
    """One tenant with a reporting line ann > bob > cid, and dan, fay (busiest), eve
    (inactive); users for ann (MANAGER), bob (MANAGER), dan (EMPLOYEE), fay, a partner
    user and the admin."""

    tenant_id: uuid.UUID
    admin: User
    partner_user: User
    users: dict[str, User]
    employees: dict[str, Employee]
    rows: dict[str, EmployeeScorecardRow]
    written: int


async def _deal(
    db: Database,
    tenant_id: uuid.UUID,
    account_id: uuid.UUID,
    owner: Employee,
    amount: str,
    stage: OpportunityStage,
    *,
    closed_at: datetime | None = None,
    created_at: datetime | None = None,
    currency: str = "USD",
    source_lead_id: uuid.UUID | None = None,
) -> None:
    async with db.session(tenant_id) as session:
        values: dict[str, Any] = {}
        if created_at is not None:
            values["created_at"] = created_at
        session.add(
            Opportunity(
                tenant_id=tenant_id,
                account_id=account_id,
                name=unique("Deal"),
                amount=Decimal(amount),
                currency=currency,
                stage=stage,
                probability=100
                if stage is OpportunityStage.CLOSED_WON
                else 0
                if stage is OpportunityStage.CLOSED_LOST
                else 50,
                closed_at=closed_at,
                owner_id=owner.id,
                source_lead_id=source_lead_id,
                **values,
            )
        )


async def _activities(db: Database, tenant_id: uuid.UUID, user: User, *moments: datetime) -> None:
    async with db.session(tenant_id) as session:
        for moment in moments:
            session.add(
                Activity(
                    tenant_id=tenant_id,
                    channel=Channel.PHONE,
                    direction=Direction.OUTBOUND,
                    summary=unique("call"),
                    occurred_at=moment,
                    actor_user_id=user.id,
                )
            )


async def _quota(db: Database, tenant_id: uuid.UUID, employee: Employee, target: str) -> None:
    async with db.session(tenant_id) as session:
        session.add(
            Objective(
                tenant_id=tenant_id,
                employee_id=employee.id,
                period=PERIOD,
                metric=ObjectiveMetric.REVENUE_WON,
                target=Decimal(target),
            )
        )


async def _plan(
    db: Database,
    tenant_id: uuid.UUID,
    employee: Employee,
    base: str,
    accelerator: str = "0",
    cap: str | None = None,
    *,
    period: str = PERIOD,
) -> None:
    async with db.session(tenant_id) as session:
        plan = CompensationPlan(
            tenant_id=tenant_id,
            name=unique("plan"),
            base_percent=Decimal(base),
            accelerator_percent=Decimal(accelerator),
            cap_amount=Decimal(cap) if cap else None,
            currency="USD",
            active=True,
        )
        session.add(plan)
        await session.flush()
        session.add(
            CompensationAssignment(
                tenant_id=tenant_id, employee_id=employee.id, plan_id=plan.id, period=period
            )
        )


async def compute(db: Database, tenant_id: uuid.UUID, now: datetime = NOW) -> int:
    async with db.session(tenant_id) as session:
        return await session.run_sync(
            lambda sync: compute_employee_scorecards(sync, tenant_id, parse_period(PERIOD), now=now)
        )


async def read_rows(db: Database, tenant_id: uuid.UUID) -> list[EmployeeScorecardRow]:
    async with db.session(tenant_id) as session:
        result = await session.scalars(
            select(EmployeeScorecardRow)
            .where(EmployeeScorecardRow.period == PERIOD)
            .order_by(EmployeeScorecardRow.employee_id)
        )
        return list(result.all())


@pytest_asyncio.fixture(scope="module")
async def world(database: Database) -> World:
    db = database
    tenant = await make_tenant(db)
    tid = tenant.id
    users = {
        "ann": await make_user(db, tid, roles=(Role.MANAGER,)),
        "bob": await make_user(db, tid, roles=(Role.MANAGER,)),
        "dan": await make_user(db, tid, roles=(Role.EMPLOYEE,)),
        "fay": await make_user(db, tid, roles=(Role.EMPLOYEE,)),
    }
    ann = await make_employee(db, tid, name="ann", user_id=users["ann"].id)
    bob = await make_employee(db, tid, name="bob", user_id=users["bob"].id, manager_id=ann.id)
    cid = await make_employee(db, tid, name="cid", manager_id=bob.id)
    dan = await make_employee(db, tid, name="dan", user_id=users["dan"].id)
    fay = await make_employee(db, tid, name="fay", user_id=users["fay"].id)
    eve = await make_employee(db, tid, name="eve", manager_id=ann.id, active=False)
    partner = await make_partner(db, tid)
    partner_user = await make_user(db, tid, roles=(Role.PARTNER_ADMIN,), partner_id=partner.id)
    account = await make_account(db, tid)
    a = account.id
    won, lost = OpportunityStage.CLOSED_WON, OpportunityStage.CLOSED_LOST
    lead_oct = await make_lead(db, tid, route=False)
    lead_sep = await make_lead(db, tid, route=False)

    # ann: 3 won (one in EUR: a deal, no revenue), 1 lost; closes just outside October
    # do not count; pipeline 1200 USD (the EUR one is not counted); one lead converted.
    await _deal(db, tid, a, ann, "3000.00", won, closed_at=oct_(1, 0))
    await _deal(db, tid, a, ann, "5000.00", won, closed_at=oct_(31, 23))
    await _deal(db, tid, a, ann, "999.00", won, closed_at=oct_(7), currency="EUR")
    await _deal(db, tid, a, ann, "700.00", lost, closed_at=oct_(10))
    await _deal(
        db, tid, a, ann, "4000.00", won, closed_at=datetime(2026, 9, 30, 23, 59, tzinfo=UTC)
    )
    await _deal(db, tid, a, ann, "4000.00", won, closed_at=datetime(2026, 11, 1, tzinfo=UTC))
    await _deal(
        db, tid, a, ann, "1200.00", OpportunityStage.PROPOSAL,
        created_at=oct_(3), source_lead_id=lead_oct.id,
    )  # fmt: skip
    await _deal(
        db, tid, a, ann, "300.00", OpportunityStage.NEGOTIATION, currency="EUR",
        created_at=datetime(2026, 9, 3, tzinfo=UTC), source_lead_id=lead_sep.id,
    )  # fmt: skip
    await _activities(db, tid, users["ann"], oct_(2), oct_(9), oct_(16), oct_(23))
    await _activities(db, tid, users["ann"], datetime(2026, 11, 1, tzinfo=UTC))
    await _quota(db, tid, ann, "6000.00")
    await _plan(db, tid, ann, "5", "5")  # accelerator, no cap

    # bob: 1000.20 won, under a 4000 quota: 2.5 % is 25.005, half-up 25.01.
    await _deal(db, tid, a, bob, "1000.20", won, closed_at=oct_(15))
    await _activities(db, tid, users["bob"], oct_(5), oct_(6))
    await _quota(db, tid, bob, "4000.00")
    await _plan(db, tid, bob, "2.5", "10")
    await _plan(db, tid, bob, "50", period="2026-Q4")  # the month's own plan is narrower

    # cid: no quota (base % of everything), capped; no user, so no activities.
    await _deal(db, tid, a, cid, "20000.00", won, closed_at=oct_(20))
    await _deal(db, tid, a, cid, "100.00", lost, closed_at=oct_(21))
    await _plan(db, tid, cid, "10", "20", "1500.00", period="2026-Q4")  # the quarter's plan
    await _plan(db, tid, cid, "1", period="2026")  # wider than the quarter's: not used

    # dan: far above quota with an accelerator, then capped; attainment counts to 150 %.
    await _deal(db, tid, a, dan, "3000.00", won, closed_at=oct_(12))
    await _activities(db, tid, users["dan"], oct_(12))
    await _quota(db, tid, dan, "1000.00")
    await _plan(db, tid, dan, "10", "15", "450.00")
    await _plan(db, tid, dan, "50", period="2026-11")  # another period's plan: ignored

    # fay: the busiest, a zero target (no quota), no plan.
    await _activities(db, tid, users["fay"], *(oct_(day) for day in range(1, 9)))
    await _quota(db, tid, fay, "0")

    # eve is inactive: no scorecard, though she won.
    await _deal(db, tid, a, eve, "9999.00", won, closed_at=oct_(4))

    written = await compute(db, tid)
    by_id = {row.employee_id: row for row in await read_rows(db, tid)}
    employees = {"ann": ann, "bob": bob, "cid": cid, "dan": dan, "fay": fay, "eve": eve}
    rows = {name: by_id[e.id] for name, e in employees.items() if e.id in by_id}
    return World(tid, tenant.admin, partner_user, users, employees, rows, written)


EXPECTED: dict[str, dict[str, Any]] = {
    "ann": {
        "revenue_won": Decimal("8000.00"),
        "deals_won": 3,
        "deals_lost": 1,
        "activities": 4,
        "leads_converted": 1,
        "pipeline_value": Decimal("1200.00"),
        "quota": Decimal("6000.00"),
        "plan": (Decimal(5), Decimal(5), None),
    },
    "bob": {
        "revenue_won": Decimal("1000.20"),
        "deals_won": 1,
        "deals_lost": 0,
        "activities": 2,
        "leads_converted": 0,
        "pipeline_value": Decimal(0),
        "quota": Decimal("4000.00"),
        "plan": (Decimal("2.5"), Decimal(10), None),
    },
    "cid": {
        "revenue_won": Decimal("20000.00"),
        "deals_won": 1,
        "deals_lost": 1,
        "activities": 0,
        "leads_converted": 0,
        "pipeline_value": Decimal(0),
        "quota": None,
        "plan": (Decimal(10), Decimal(20), Decimal(1500)),
    },
    "dan": {
        "revenue_won": Decimal("3000.00"),
        "deals_won": 1,
        "deals_lost": 0,
        "activities": 1,
        "leads_converted": 0,
        "pipeline_value": Decimal(0),
        "quota": Decimal("1000.00"),
        "plan": (Decimal(10), Decimal(15), Decimal(450)),
    },
    "fay": {
        "revenue_won": Decimal(0),
        "deals_won": 0,
        "deals_lost": 0,
        "activities": 8,
        "leads_converted": 0,
        "pipeline_value": Decimal(0),
        "quota": None,
        "plan": None,
    },
}
BUSIEST = 8


def expected_figures(name: str) -> dict[str, Any]:
    e = EXPECTED[name]
    closed = e["deals_won"] + e["deals_lost"]
    win_rate = e["deals_won"] / closed if closed else None
    quota_attainment = float(e["revenue_won"] / e["quota"]) if e["quota"] else None
    commission = Decimal(0)
    if e["plan"] is not None:
        commission = expected_commission(e["revenue_won"], e["quota"], *e["plan"])
    return {
        **{k: v for k, v in e.items() if k not in ("quota", "plan")},
        "win_rate": win_rate,
        "quota_attainment": quota_attainment,
        "commission_earned": commission,
        "score": expected_score(quota_attainment, win_rate, e["activities"], BUSIEST),
    }


def expected_ranks() -> dict[str, int]:
    scores = {name: expected_figures(name)["score"] for name in EXPECTED}
    return {name: 1 + sum(s > score for s in scores.values()) for name, score in scores.items()}


# --- computing ----------------------------------------------------------------------


@pytest.mark.asyncio
async def test_one_row_per_active_employee(world: World) -> None:
    assert world.written == 5
    assert set(world.rows) == {"ann", "bob", "cid", "dan", "fay"}  # not eve (inactive)
    for row in world.rows.values():
        assert row.currency == "USD"
        assert row.computed_at == NOW


@pytest.mark.asyncio
@pytest.mark.parametrize("name", sorted(EXPECTED))
async def test_every_figure(world: World, name: str) -> None:
    row = world.rows[name]
    expected = expected_figures(name)
    assert row.revenue_won == expected["revenue_won"]
    assert row.deals_won == expected["deals_won"]
    assert row.deals_lost == expected["deals_lost"]
    assert row.win_rate == (
        None if expected["win_rate"] is None else pytest.approx(expected["win_rate"])
    )
    assert row.activities == expected["activities"]
    assert row.leads_converted == expected["leads_converted"]
    assert row.pipeline_value == expected["pipeline_value"]
    assert row.quota_attainment == (
        None
        if expected["quota_attainment"] is None
        else pytest.approx(expected["quota_attainment"])
    )
    assert row.commission_earned == expected["commission_earned"]
    assert row.score == pytest.approx(expected["score"])
    assert 0 <= row.score <= 100
    assert row.rank == expected_ranks()[name]


def test_the_commission_rule_by_hand() -> None:
    """The numbers the plan rule must give, worked out on paper, so a mistake shared by
    the test's calculation and the SQL still shows."""
    assert expected_figures("ann")["commission_earned"] == Decimal("500.00")  # 300 + 200
    assert expected_figures("bob")["commission_earned"] == Decimal("25.01")  # 25.005 half-up
    assert expected_figures("cid")["commission_earned"] == Decimal("1500.00")  # 2000 capped
    assert expected_figures("dan")["commission_earned"] == Decimal("450.00")  # 600 capped
    assert expected_figures("fay")["commission_earned"] == Decimal(0)  # no plan
    assert expected_ranks() == {"dan": 1, "ann": 2, "bob": 3, "fay": 4, "cid": 5}


@pytest.mark.asyncio
async def test_recompute_writes_identical_rows(database: Database, world: World) -> None:
    def figures(row: EmployeeScorecardRow) -> dict[str, Any]:
        return {
            column: getattr(row, column)
            for column in EmployeeScorecardRow.__table__.columns.keys()  # noqa: SIM118
            if column != "computed_at"
        }

    before = [figures(row) for row in await read_rows(database, world.tenant_id)]
    later = datetime(2026, 11, 3, tzinfo=UTC)
    # This time on the workers' sync engine (psycopg), as the recompute job runs it.
    with database.sync_session(world.tenant_id) as session:
        written = compute_employee_scorecards(
            session, world.tenant_id, parse_period(PERIOD), now=later
        )
    assert written == 5
    after = await read_rows(database, world.tenant_id)
    assert [figures(row) for row in after] == before
    assert {row.computed_at for row in after} == {later}


@pytest.mark.asyncio
async def test_other_tenants_are_untouched(database: Database, world: World) -> None:
    other = await make_tenant(database)
    await make_employee(database, other.id)
    assert await compute(database, other.id) == 1
    assert len(await read_rows(database, world.tenant_id)) == 5
    assert len(await read_rows(database, other.id)) == 1


# --- reading through GraphQL --------------------------------------------------------

SCORECARD = """period revenueWon { amount currency } dealsWon dealsLost winRate activities
  leadsConverted pipelineValue { amount currency } quotaAttainment
  commissionEarned { amount currency } score rank computedAt employee { id name }"""
EMPLOYEE_SCORECARD = f"""query ($id: ID!, $period: String!) {{
  node(id: $id) {{ ... on Employee {{ name scorecard(period: $period) {{ {SCORECARD} }} }} }}
}}"""


def auth(app: FastAPI, user: User) -> dict[str, str]:
    return bearer(app.state.issuer, user)


async def scorecard_of(
    client: httpx.AsyncClient, app: FastAPI, viewer: User, employee: Employee
) -> Any:
    body = await gql(
        client,
        EMPLOYEE_SCORECARD,
        {"id": gid("Employee", employee), "period": PERIOD},
        headers=auth(app, viewer),
    )
    assert "errors" not in body, body
    return body["data"]["node"]["scorecard"]


@pytest.mark.asyncio
async def test_employee_scorecard_field_shows_every_figure(
    client: httpx.AsyncClient, app: FastAPI, world: World
) -> None:
    card = await scorecard_of(client, app, world.admin, world.employees["ann"])
    expected = expected_figures("ann")
    assert card["period"] == PERIOD
    assert card["revenueWon"] == {"amount": "8000.00", "currency": "USD"}
    assert (card["dealsWon"], card["dealsLost"]) == (3, 1)
    assert card["winRate"] == pytest.approx(0.75)
    assert (card["activities"], card["leadsConverted"]) == (4, 1)
    assert card["pipelineValue"] == {"amount": "1200.00", "currency": "USD"}
    assert card["quotaAttainment"] == pytest.approx(8000 / 6000)
    assert card["commissionEarned"] == {"amount": "500.00", "currency": "USD"}
    assert card["score"] == pytest.approx(expected["score"])
    assert card["rank"] == 2
    assert card["employee"] == {"id": gid("Employee", world.employees["ann"]), "name": "ann"}
    assert datetime.fromisoformat(card["computedAt"]).tzinfo is not None


@pytest.mark.asyncio
async def test_employee_scorecard_field_visibility(
    client: httpx.AsyncClient, app: FastAPI, world: World
) -> None:
    u, e = world.users, world.employees
    # A manager reads its reports' (transitively: cid reports to bob) and its own.
    for name in ("ann", "bob", "cid"):
        assert await scorecard_of(client, app, u["ann"], e[name]) is not None, name
    assert await scorecard_of(client, app, u["ann"], e["dan"]) is None
    assert await scorecard_of(client, app, u["bob"], e["ann"]) is None  # not its manager's
    # An employee reads only its own.
    assert (await scorecard_of(client, app, u["dan"], e["dan"]))["rank"] == 1
    assert await scorecard_of(client, app, u["dan"], e["fay"]) is None
    # Not computed (inactive): null.
    assert await scorecard_of(client, app, world.admin, e["eve"]) is None


@pytest.mark.asyncio
async def test_employee_scorecard_field_refuses_a_bad_period(
    client: httpx.AsyncClient, app: FastAPI, world: World
) -> None:
    body = await gql(
        client,
        EMPLOYEE_SCORECARD,
        {"id": gid("Employee", world.employees["ann"]), "period": "2026-13"},
        headers=auth(app, world.admin),
    )
    assert error_codes(body) == ["INVALID"]
    assert body["errors"][0]["extensions"]["field"] == "period"


LIST = f"""query ($period: String!, $first: Int, $after: String, $orderBy: ScorecardOrder) {{
  employeeScorecards(period: $period, first: $first, after: $after, orderBy: $orderBy) {{
    edges {{ cursor node {{ {SCORECARD} }} }}
    pageInfo {{ hasNextPage endCursor }}
    totalCount
  }}
}}"""


async def list_scorecards(
    client: httpx.AsyncClient, app: FastAPI, viewer: User, **variables: Any
) -> dict[str, Any]:
    return await gql(client, LIST, {"period": PERIOD, **variables}, headers=auth(app, viewer))


def names(body: dict[str, Any]) -> list[str]:
    assert "errors" not in body, body
    return [
        edge["node"]["employee"]["name"] for edge in body["data"]["employeeScorecards"]["edges"]
    ]


async def walk(
    client: httpx.AsyncClient, app: FastAPI, viewer: User, order_by: dict[str, str]
) -> list[str]:
    """Every page of two, following cursors."""
    seen: list[str] = []
    after = None
    while True:
        body = await list_scorecards(client, app, viewer, first=2, after=after, orderBy=order_by)
        seen += names(body)
        page = body["data"]["employeeScorecards"]["pageInfo"]
        if not page["hasNextPage"]:
            return seen
        after = page["endCursor"]


@pytest.mark.asyncio
async def test_the_leaderboard_is_by_rank(
    client: httpx.AsyncClient, app: FastAPI, world: World
) -> None:
    body = await list_scorecards(client, app, world.admin)
    by_rank = sorted(expected_ranks(), key=lambda name: expected_ranks()[name])
    assert names(body) == by_rank == ["dan", "ann", "bob", "fay", "cid"]
    connection = body["data"]["employeeScorecards"]
    assert connection["totalCount"] == 5
    ranks = [edge["node"]["rank"] for edge in connection["edges"]]
    assert ranks == [1, 2, 3, 4, 5]
    bob = connection["edges"][2]["node"]
    assert bob["commissionEarned"] == {"amount": "25.01", "currency": "USD"}
    assert bob["quotaAttainment"] == pytest.approx(1000.20 / 4000)


@pytest.mark.asyncio
async def test_ordering_and_pages(client: httpx.AsyncClient, app: FastAPI, world: World) -> None:
    def by(figure: str, reverse: bool) -> list[str]:
        return sorted(
            EXPECTED,
            key=lambda name: (expected_figures(name)[figure], world.employees[name].id),
            reverse=reverse,
        )

    admin = world.admin
    assert await walk(client, app, admin, {"field": "REVENUE_WON"}) == by("revenue_won", True)
    assert await walk(client, app, admin, {"field": "SCORE", "direction": "ASC"}) == by(
        "score", False
    )
    assert await walk(client, app, admin, {"field": "RANK", "direction": "DESC"}) == [
        "cid", "fay", "bob", "ann", "dan"
    ]  # fmt: skip
    assert await walk(client, app, admin, {"field": "ACTIVITIES"}) == by("activities", True)
    # Nulls last both ways: fay closed nothing (no win rate); cid and fay have no quota.
    win_asc = await walk(client, app, admin, {"field": "WIN_RATE", "direction": "ASC"})
    assert win_asc == [
        "cid",
        "ann",
        *sorted(["bob", "dan"], key=lambda n: world.employees[n].id),
        "fay",
    ]
    quota_desc = await walk(client, app, admin, {"field": "QUOTA_ATTAINMENT"})
    assert quota_desc[:3] == ["dan", "ann", "bob"]
    assert set(quota_desc[3:]) == {"cid", "fay"}


@pytest.mark.asyncio
async def test_who_sees_which_scorecards(
    client: httpx.AsyncClient, app: FastAPI, world: World
) -> None:
    u = world.users
    # Managers: their reports, transitively (cid reports to bob, bob to ann), and themselves.
    assert sorted(names(await list_scorecards(client, app, u["ann"]))) == ["ann", "bob", "cid"]
    assert sorted(names(await list_scorecards(client, app, u["bob"]))) == ["bob", "cid"]
    # An employee: its own.
    body = await list_scorecards(client, app, u["dan"])
    assert names(body) == ["dan"]
    assert body["data"]["employeeScorecards"]["totalCount"] == 1
    # Partner users may not read employee scorecards at all.
    body = await list_scorecards(client, app, world.partner_user)
    assert error_codes(body) == ["FORBIDDEN"]
    card = await gql(
        client,
        EMPLOYEE_SCORECARD,
        {"id": gid("Employee", world.employees["dan"]), "period": PERIOD},
        headers=auth(app, world.partner_user),
    )
    assert card["data"]["node"] is None


@pytest.mark.asyncio
async def test_bad_arguments(client: httpx.AsyncClient, app: FastAPI, world: World) -> None:
    body = await list_scorecards(client, app, world.admin, period="2026-Q5")
    assert error_codes(body) == ["INVALID"]
    assert body["errors"][0]["extensions"]["field"] == "period"
    body = await list_scorecards(client, app, world.admin, orderBy={"field": "ACCEPTANCE_RATE"})
    assert error_codes(body) == ["BAD_USER_INPUT"]
    first = await list_scorecards(client, app, world.admin, first=1)
    cursor = first["data"]["employeeScorecards"]["pageInfo"]["endCursor"]
    body = await list_scorecards(client, app, world.admin, after=cursor, orderBy={"field": "SCORE"})
    assert error_codes(body) == ["BAD_USER_INPUT"]  # a cursor of another ordering
    body = await list_scorecards(client, app, world.admin, after="garbage")
    assert error_codes(body) == ["BAD_USER_INPUT"]
    body = await list_scorecards(client, app, world.admin, period="2031-01")
    assert names(body) == []  # not computed yet: empty
