"""`teamScorecard`: a manager's reports' employee scorecards summed (everyone below it, or
direct reports only; never the manager's own), win rate and quota attainment from the
sums, null figures for an empty team; who may ask (admins anyone, a manager itself and
those below it, NOT_FOUND otherwise, FORBIDDEN to other roles); one statement; and the
roll-up of scorecards made by the real recompute from deals and quotas.

Most snapshot rows are written straight into the table, so each sum below is worked out
from the figures in this file."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from prm.auth.principal import Role
from prm.crm.models import Opportunity, OpportunityStage
from prm.db.engine import Database
from prm.employees.erm_models import Objective, ObjectiveMetric
from prm.employees.models import Employee
from prm.metrics.employee_scorecards import compute_employee_scorecards
from prm.metrics.periods import parse_period
from prm.tenants.models import User
from tests.crm.factories import gid, make_account
from tests.factories import bearer, make_employee, make_partner, make_tenant, make_user, unique
from tests.graphql.support import error_codes, gql
from tests.metrics.snapshots import employee_row, insert
from tests.statements import counting_statements

PERIOD = "2026-10"

# ann > (bob > (cid, eve inactive), gus); dan and kim elsewhere. ann's own row is large so
# that counting it by mistake shows.
FIGURES: dict[str, dict[str, Any]] = {
    "ann": {"revenue_won": Decimal("100000.00"), "deals_won": 9, "deals_lost": 0,
            "activities": 50, "pipeline_value": Decimal("9000.00"),
            "commission_earned": Decimal("5000.00")},
    "bob": {"revenue_won": Decimal("3000.00"), "deals_won": 2, "deals_lost": 1,
            "activities": 5, "pipeline_value": Decimal("1000.00"),
            "commission_earned": Decimal("150.00")},
    "cid": {"revenue_won": Decimal("2000.50"), "deals_won": 1, "deals_lost": 0,
            "activities": 3, "pipeline_value": Decimal("0.00"),
            "commission_earned": Decimal("100.03")},
    "gus": {"revenue_won": Decimal("0.00"), "deals_won": 0, "deals_lost": 2,
            "activities": 7, "pipeline_value": Decimal("500.00"),
            "commission_earned": Decimal("0.00")},
    "dan": {"revenue_won": Decimal("9999.00"), "deals_won": 5, "deals_lost": 5,
            "activities": 1, "pipeline_value": Decimal("1.00"),
            "commission_earned": Decimal("1.00")},
}  # fmt: skip
QUOTAS = {"ann": Decimal("50000.00"), "bob": Decimal("4000.00"), "cid": Decimal("2000.00")}


@dataclass
class World:
    tenant_id: uuid.UUID
    admin: User
    users: dict[str, User]
    employees: dict[str, Employee]
    partner_user: User
    other_employee: Employee


def objective(
    tenant_id: uuid.UUID, employee: Employee, target: Decimal, *, period: str = PERIOD,
    metric: ObjectiveMetric = ObjectiveMetric.REVENUE_WON,
) -> Objective:  # fmt: skip
    return Objective(
        tenant_id=tenant_id, employee_id=employee.id, period=period, metric=metric, target=target
    )


@pytest_asyncio.fixture(scope="module")
async def world(database: Database) -> World:
    db = database
    tenant = await make_tenant(db)
    tid = tenant.id
    users = {
        name: await make_user(db, tid, roles=(Role.MANAGER,)) for name in ("ann", "bob", "kim")
    }
    users["dan"] = await make_user(db, tid, roles=(Role.EMPLOYEE,))
    ann = await make_employee(db, tid, name="ann", user_id=users["ann"].id)
    bob = await make_employee(db, tid, name="bob", user_id=users["bob"].id, manager_id=ann.id)
    cid = await make_employee(db, tid, name="cid", manager_id=bob.id)
    eve = await make_employee(db, tid, name="eve", manager_id=bob.id, active=False)
    gus = await make_employee(db, tid, name="gus", manager_id=ann.id)
    dan = await make_employee(db, tid, name="dan", user_id=users["dan"].id)
    kim = await make_employee(db, tid, name="kim", user_id=users["kim"].id)
    employees = {"ann": ann, "bob": bob, "cid": cid, "eve": eve, "gus": gus, "dan": dan, "kim": kim}
    await insert(
        db,
        tid,
        *(employee_row(tid, employees[n].id, PERIOD, **f) for n, f in FIGURES.items()),
        # Another period's row: never in October's roll-up.
        employee_row(tid, cid.id, "2026-09", revenue_won=Decimal("777.00"), deals_won=7),
        *(objective(tid, employees[n], target) for n, target in QUOTAS.items()),
        objective(tid, gus, Decimal("10"), metric=ObjectiveMetric.DEALS_WON),  # not revenue
        objective(tid, gus, Decimal("900.00"), period="2026-09"),  # not October
    )
    partner = await make_partner(db, tid)
    partner_user = await make_user(db, tid, roles=(Role.PARTNER_ADMIN,), partner_id=partner.id)
    other = await make_tenant(db)
    other_employee = await make_employee(db, other.id)
    return World(tid, tenant.admin, users, employees, partner_user, other_employee)


def expected(members: list[str]) -> dict[str, Any]:
    """The roll-up worked out from FIGURES and QUOTAS for `members`."""

    def total(figure: str) -> Any:
        return sum(
            (FIGURES[name][figure] for name in members), start=type(FIGURES["bob"][figure])(0)
        )

    won, lost = total("deals_won"), total("deals_lost")
    targets = [QUOTAS[name] for name in members if name in QUOTAS]
    target = sum(targets, start=Decimal(0)) if targets else None
    revenue = total("revenue_won")
    return {
        "members": len(members),
        "revenueWon": {"amount": f"{revenue:.2f}", "currency": "USD"},
        "dealsWon": won,
        "dealsLost": lost,
        "winRate": won / (won + lost) if won + lost else None,
        "activities": total("activities"),
        "pipelineValue": {"amount": f"{total('pipeline_value'):.2f}", "currency": "USD"},
        "quotaTarget": {"amount": f"{target:.2f}", "currency": "USD"} if target else None,
        "quotaAttainment": float(revenue / target) if target else None,
        "commissionEarned": {"amount": f"{total('commission_earned'):.2f}", "currency": "USD"},
    }


QUERY = """query ($id: ID!, $period: String!, $indirect: Boolean) {
  teamScorecard(managerId: $id, period: $period, includeIndirect: $indirect) {
    manager { id name } period members revenueWon { amount currency } dealsWon dealsLost
    winRate activities pipelineValue { amount currency } quotaTarget { amount currency }
    quotaAttainment commissionEarned { amount currency }
  }
}"""


async def team(
    client: httpx.AsyncClient,
    app: FastAPI,
    viewer: User,
    manager_id: str,
    *,
    period: str = PERIOD,
    indirect: bool | None = None,
) -> dict[str, Any]:
    variables = {"id": manager_id, "period": period, "indirect": indirect}
    return await gql(client, QUERY, variables, headers=bearer(app.state.issuer, viewer))


def figures(body: dict[str, Any]) -> dict[str, Any]:
    assert "errors" not in body, body
    card = dict(body["data"]["teamScorecard"])
    del card["manager"], card["period"]
    for rate in ("winRate", "quotaAttainment"):
        if card[rate] is not None:
            card[rate] = pytest.approx(card[rate])
    return card


@pytest.mark.asyncio
async def test_everyone_below_without_the_manager_by_default(
    client: httpx.AsyncClient, app: FastAPI, world: World
) -> None:
    ann = world.employees["ann"]
    body = await team(client, app, world.admin, gid("Employee", ann))
    assert figures(body) == expected(["bob", "cid", "gus"])  # eve is inactive: no scorecard
    card = body["data"]["teamScorecard"]
    assert card["manager"] == {"id": gid("Employee", ann), "name": "ann"}
    assert card["period"] == PERIOD
    # By hand: 3000 + 2000.50 + 0 of 4000 + 2000 quota; 3 won of 6 closed.
    assert card["revenueWon"]["amount"] == "5000.50"
    assert card["quotaTarget"]["amount"] == "6000.00"
    assert card["quotaAttainment"] == pytest.approx(5000.50 / 6000)
    assert card["winRate"] == pytest.approx(0.5)
    assert card["commissionEarned"]["amount"] == "250.03"


@pytest.mark.asyncio
async def test_direct_reports_only(client: httpx.AsyncClient, app: FastAPI, world: World) -> None:
    ann = gid("Employee", world.employees["ann"])
    body = await team(client, app, world.admin, ann, indirect=False)
    assert figures(body) == expected(["bob", "gus"])
    assert body["data"]["teamScorecard"]["quotaAttainment"] == pytest.approx(0.75)
    bob = await team(client, app, world.admin, gid("Employee", world.employees["bob"]))
    assert figures(bob) == expected(["cid"])


@pytest.mark.asyncio
async def test_an_empty_team_or_period_has_zeros_and_nulls(
    client: httpx.AsyncClient, app: FastAPI, world: World
) -> None:
    zero = {
        "members": 0,
        "revenueWon": {"amount": "0.00", "currency": "USD"},
        "dealsWon": 0,
        "dealsLost": 0,
        "winRate": None,
        "activities": 0,
        "pipelineValue": {"amount": "0.00", "currency": "USD"},
        "quotaTarget": None,
        "quotaAttainment": None,
        "commissionEarned": {"amount": "0.00", "currency": "USD"},
    }
    gus = await team(client, app, world.admin, gid("Employee", world.employees["gus"]))
    assert figures(gus) == zero
    never = await team(
        client, app, world.admin, gid("Employee", world.employees["ann"]), period="2026-08"
    )
    assert figures(never) == zero
    september = await team(
        client, app, world.admin, gid("Employee", world.employees["bob"]), period="2026-09"
    )
    assert figures(september)["revenueWon"]["amount"] == "777.00"
    assert figures(september)["quotaTarget"] is None  # gus's September quota: not bob's team


@pytest.mark.asyncio
async def test_who_may_ask(client: httpx.AsyncClient, app: FastAPI, world: World) -> None:
    e, u = world.employees, world.users
    assert figures(await team(client, app, u["ann"], gid("Employee", e["ann"]))) == expected(
        ["bob", "cid", "gus"]
    )  # itself
    assert figures(await team(client, app, u["ann"], gid("Employee", e["bob"]))) == expected(
        ["cid"]
    )  # a manager below it
    for viewer, manager_id in (
        (u["bob"], gid("Employee", e["ann"])),  # its own manager
        (u["kim"], gid("Employee", e["ann"])),  # another line
        (u["kim"], gid("Employee", e["dan"])),
        (world.admin, gid("Employee", world.other_employee)),  # another tenant's
        (world.admin, gid("Employee", uuid.uuid4())),
        (world.admin, gid("Partner", e["ann"])),  # not an employee id
    ):
        body = await team(client, app, viewer, manager_id)
        assert error_codes(body) == ["NOT_FOUND"], manager_id
        assert body["data"] is None
    for viewer in (u["dan"], world.partner_user):
        body = await team(client, app, viewer, gid("Employee", e["dan"]))
        assert error_codes(body) == ["FORBIDDEN"]
    bad = await team(client, app, world.admin, gid("Employee", e["ann"]), period="2026-Q5")
    assert error_codes(bad) == ["INVALID"]
    assert bad["errors"][0]["extensions"]["field"] == "period"


@pytest.mark.asyncio
async def test_one_statement_sums_the_team(
    client: httpx.AsyncClient, app: FastAPI, database: Database, world: World
) -> None:
    with counting_statements(database) as statements:
        body = await team(client, app, world.users["ann"], gid("Employee", world.employees["ann"]))
    assert figures(body)["members"] == 3
    assert len([s for s in statements if "employee_scorecards" in s]) == 1


# --- from the real recompute --------------------------------------------------------


async def _deal(
    db: Database,
    tenant_id: uuid.UUID,
    account_id: uuid.UUID,
    owner: Employee,
    amount: str,
    stage: OpportunityStage,
    closed_at: datetime,
) -> None:
    async with db.session(tenant_id) as session:
        session.add(
            Opportunity(
                tenant_id=tenant_id, account_id=account_id, name=unique("Deal"),
                amount=Decimal(amount), currency="USD", stage=stage,
                probability=100 if stage is OpportunityStage.CLOSED_WON else 0,
                closed_at=closed_at, owner_id=owner.id,
            )
        )  # fmt: skip


@pytest.mark.asyncio
async def test_rolls_up_recomputed_scorecards(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    db = database
    tenant = await make_tenant(db)
    tid = tenant.id
    mia = await make_employee(db, tid, name="mia")
    ned = await make_employee(db, tid, name="ned", manager_id=mia.id)
    ola = await make_employee(db, tid, name="ola", manager_id=ned.id)
    account = (await make_account(db, tid)).id
    won, lost = OpportunityStage.CLOSED_WON, OpportunityStage.CLOSED_LOST
    october = datetime(2026, 10, 15, tzinfo=UTC)
    await _deal(db, tid, account, mia, "50000.00", won, october)  # the manager's own
    await _deal(db, tid, account, ned, "1200.00", won, october)
    await _deal(db, tid, account, ned, "300.00", lost, october)
    await _deal(db, tid, account, ola, "800.25", won, october)
    await _deal(db, tid, account, ola, "999.00", won, datetime(2026, 11, 1, tzinfo=UTC))
    await insert(db, tid, objective(tid, ned, Decimal("1000.00")))
    async with db.session(tid) as session:
        await session.run_sync(
            lambda sync: compute_employee_scorecards(
                sync, tid, parse_period(PERIOD), now=datetime(2026, 11, 2, tzinfo=UTC)
            )
        )
    body = await team(client, app, tenant.admin, gid("Employee", mia))
    card = body["data"]["teamScorecard"]
    assert card["members"] == 2
    assert card["revenueWon"]["amount"] == f"{Decimal('1200.00') + Decimal('800.25'):.2f}"
    assert (card["dealsWon"], card["dealsLost"]) == (2, 1)
    assert card["winRate"] == pytest.approx(2 / 3)
    assert card["quotaTarget"]["amount"] == "1000.00"
    assert card["quotaAttainment"] == pytest.approx(2000.25 / 1000)
