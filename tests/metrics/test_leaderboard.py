"""`leaderboard`: positions by any figure over the whole tenant's period (ties share a
position, nulls last, RANK and MEDIAN_HOURS_TO_ACCEPT ascending), then narrowed to what
the caller may read (a partner user its own row with its true position, a manager its
team and itself, an employee itself); `first` bounds, figures a kind lacks, other
periods and other tenants' rows; one statement per page.

Snapshot rows are written straight into the tables: the figures (ties, nulls) are what
these tests are about, and the scorecard computations have their own tests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from prm.auth.principal import Role
from prm.db.engine import Database
from prm.employees.models import Employee
from prm.partners.models import Partner
from prm.tenants.models import User
from tests.crm.factories import gid
from tests.factories import bearer, make_employee, make_partner, make_tenant, make_user
from tests.graphql.support import error_codes, gql
from tests.metrics.snapshots import employee_row, insert, partner_row
from tests.statements import counting_statements

PERIOD = "2026-10"

# Partner figures of October: revenue ties (a, c), nulls (b's speed, b's and e's win rate).
PARTNERS: dict[str, dict[str, Any]] = {
    "a": {"revenue_won": Decimal("5000.00"), "median_hours_to_accept": 2.0, "win_rate": 0.5,
          "rank": 2, "score": 70.0},
    "b": {"revenue_won": Decimal("8000.00"), "median_hours_to_accept": None, "win_rate": None,
          "rank": 1, "score": 80.0},
    "c": {"revenue_won": Decimal("5000.00"), "median_hours_to_accept": 5.5, "win_rate": 0.9,
          "rank": 2, "score": 70.0},
    "d": {"revenue_won": Decimal("1000.00"), "median_hours_to_accept": 2.0, "win_rate": 0.5,
          "rank": 4, "score": 40.0},
    "e": {"revenue_won": Decimal("0.00"), "median_hours_to_accept": 1.0, "win_rate": None,
          "rank": None, "score": 10.0},
}  # fmt: skip

# Employees: ann (manager) > bob (manager) > cid; dan (employee), fay on their own.
EMPLOYEES: dict[str, dict[str, Any]] = {
    "ann": {"revenue_won": Decimal("3000.00"), "activities": 4, "quota_attainment": 0.5},
    "bob": {"revenue_won": Decimal("7000.00"), "activities": 2, "quota_attainment": None},
    "cid": {"revenue_won": Decimal("7000.00"), "activities": 0, "quota_attainment": 1.2},
    "dan": {"revenue_won": Decimal("500.00"), "activities": 10, "quota_attainment": 0.1},
    "fay": {"revenue_won": Decimal("9000.00"), "activities": 10, "quota_attainment": None},
}


@dataclass
class World:
    tenant_id: uuid.UUID
    admin: User
    partners: dict[str, Partner]
    partner_user: User
    employees: dict[str, Employee]
    users: dict[str, User]
    other_admin: User
    other_partner: Partner


@pytest_asyncio.fixture(scope="module")
async def world(database: Database) -> World:
    db = database
    tenant = await make_tenant(db)
    tid = tenant.id
    partners = {name: await make_partner(db, tid) for name in PARTNERS}
    await insert(
        db, tid, *(partner_row(tid, partners[n].id, PERIOD, **f) for n, f in PARTNERS.items())
    )
    # September: d would lead on revenue if periods mixed.
    await insert(
        db, tid, partner_row(tid, partners["d"].id, "2026-09", revenue_won=Decimal("99999"))
    )
    partner_user = await make_user(db, tid, roles=(Role.PARTNER_REP,), partner_id=partners["c"].id)

    users = {
        "ann": await make_user(db, tid, roles=(Role.MANAGER,)),
        "bob": await make_user(db, tid, roles=(Role.MANAGER,)),
        "dan": await make_user(db, tid, roles=(Role.EMPLOYEE,)),
    }
    ann = await make_employee(db, tid, name="ann", user_id=users["ann"].id)
    bob = await make_employee(db, tid, name="bob", user_id=users["bob"].id, manager_id=ann.id)
    cid = await make_employee(db, tid, name="cid", manager_id=bob.id)
    dan = await make_employee(db, tid, name="dan", user_id=users["dan"].id)
    fay = await make_employee(db, tid, name="fay")
    employees = {"ann": ann, "bob": bob, "cid": cid, "dan": dan, "fay": fay}
    await insert(
        db, tid, *(employee_row(tid, employees[n].id, PERIOD, **f) for n, f in EMPLOYEES.items())
    )

    other = await make_tenant(db)
    other_partner = await make_partner(db, other.id)
    await insert(
        db,
        other.id,
        partner_row(other.id, other_partner.id, PERIOD, revenue_won=Decimal("1000000")),
    )
    return World(
        tid, tenant.admin, partners, partner_user, employees, users, other.admin, other_partner
    )


def expected_positions(values: dict[str, Any], *, descending: bool) -> dict[str, int]:
    """SQL `rank()` with nulls last, worked out by hand: 1 + how many are strictly better;
    every null after every value."""
    present = [v for v in values.values() if v is not None]
    return {
        name: len(present) + 1
        if value is None
        else 1 + sum(1 for other in present if (other > value if descending else other < value))
        for name, value in values.items()
    }


def expected_board(
    figures: dict[str, dict[str, Any]], ids: dict[str, Any], figure: str, *, descending: bool
) -> list[tuple[str, int]]:
    positions = expected_positions(
        {name: f[figure] for name, f in figures.items()}, descending=descending
    )
    ordered = sorted(positions, key=lambda name: (positions[name], ids[name].id))
    return [(name, positions[name]) for name in ordered]


QUERY = """query ($kind: LeaderboardKind!, $metric: ScorecardField!, $period: String!, $first: Int) {
  leaderboard(kind: $kind, metric: $metric, period: $period, first: $first) {
    position value
    partnerScorecard { partner { id } period revenueWon { amount currency } rank }
    employeeScorecard { employee { id name } period revenueWon { amount } activities }
  }
}"""


async def board(
    client: httpx.AsyncClient,
    app: FastAPI,
    viewer: User,
    kind: str,
    metric: str,
    *,
    period: str = PERIOD,
    first: int | None = None,
) -> dict[str, Any]:
    variables = {"kind": kind, "metric": metric, "period": period, "first": first}
    return await gql(client, QUERY, variables, headers=bearer(app.state.issuer, viewer))


def entries(body: dict[str, Any]) -> list[dict[str, Any]]:
    assert "errors" not in body, body
    result: list[dict[str, Any]] = body["data"]["leaderboard"]
    return result


def partner_places(world: World, body: dict[str, Any]) -> list[tuple[str, int]]:
    names = {gid("Partner", p): name for name, p in world.partners.items()}
    places = []
    for entry in entries(body):
        assert entry["employeeScorecard"] is None
        places.append((names[entry["partnerScorecard"]["partner"]["id"]], entry["position"]))
    return places


def employee_places(body: dict[str, Any]) -> list[tuple[str, int]]:
    places = []
    for entry in entries(body):
        assert entry["partnerScorecard"] is None
        places.append((entry["employeeScorecard"]["employee"]["name"], entry["position"]))
    return places


# --- partners -----------------------------------------------------------------------


@pytest.mark.asyncio
async def test_partners_by_revenue_best_first_with_shared_positions(
    client: httpx.AsyncClient, app: FastAPI, world: World
) -> None:
    body = await board(client, app, world.admin, "PARTNER", "REVENUE_WON")
    expected = expected_board(PARTNERS, world.partners, "revenue_won", descending=True)
    assert partner_places(world, body) == expected
    # By hand: b 8000 first; a and c tie at 5000 and share 2; d is 4th, not 3rd.
    assert [position for _, position in expected] == [1, 2, 2, 4, 5]
    first = entries(body)[0]
    assert first["value"] == pytest.approx(8000.0)
    assert first["partnerScorecard"]["revenueWon"] == {"amount": "8000.00", "currency": "USD"}
    assert first["partnerScorecard"]["period"] == PERIOD


@pytest.mark.asyncio
async def test_speed_and_rank_ascend_and_nulls_come_last(
    client: httpx.AsyncClient, app: FastAPI, world: World
) -> None:
    speed = await board(client, app, world.admin, "PARTNER", "MEDIAN_HOURS_TO_ACCEPT")
    expected = expected_board(PARTNERS, world.partners, "median_hours_to_accept", descending=False)
    assert partner_places(world, speed) == expected
    assert expected[0] == ("e", 1)
    assert expected[-1] == ("b", 5)
    assert entries(speed)[-1]["value"] is None

    rank = await board(client, app, world.admin, "PARTNER", "RANK")
    assert partner_places(world, rank) == expected_board(
        PARTNERS, world.partners, "rank", descending=False
    )
    assert partner_places(world, rank)[-1] == ("e", 5)

    win = await board(client, app, world.admin, "PARTNER", "WIN_RATE")
    places = partner_places(world, win)
    assert places == expected_board(PARTNERS, world.partners, "win_rate", descending=True)
    assert [p for _, p in places] == [1, 2, 2, 4, 4]  # two nulls share the last place


@pytest.mark.asyncio
async def test_first_limits_and_is_bounded(
    client: httpx.AsyncClient, app: FastAPI, world: World
) -> None:
    top = await board(client, app, world.admin, "PARTNER", "SCORE", first=2)
    assert len(entries(top)) == 2
    assert partner_places(world, top)[0] == ("b", 1)
    assert len(entries(await board(client, app, world.admin, "PARTNER", "SCORE", first=100))) == 5
    for first in (0, -1, 101):
        body = await board(client, app, world.admin, "PARTNER", "SCORE", first=first)
        assert error_codes(body) == ["INVALID"], first
        assert body["errors"][0]["extensions"]["field"] == "first"


@pytest.mark.asyncio
async def test_a_figure_the_kind_lacks_is_invalid(
    client: httpx.AsyncClient, app: FastAPI, world: World
) -> None:
    for kind, metric in (
        ("PARTNER", "ACTIVITIES"),
        ("PARTNER", "QUOTA_ATTAINMENT"),
        ("EMPLOYEE", "SLA_COMPLIANCE"),
        ("EMPLOYEE", "MEDIAN_HOURS_TO_ACCEPT"),
    ):
        body = await board(client, app, world.admin, kind, metric)
        assert error_codes(body) == ["INVALID"], (kind, metric)
        assert body["errors"][0]["extensions"]["field"] == "metric"
    bad_period = await board(client, app, world.admin, "PARTNER", "SCORE", period="2026-13")
    assert error_codes(bad_period) == ["INVALID"]


@pytest.mark.asyncio
async def test_a_partner_user_sees_its_own_row_with_its_true_position(
    client: httpx.AsyncClient, app: FastAPI, world: World
) -> None:
    body = await board(client, app, world.partner_user, "PARTNER", "REVENUE_WON")
    positions = dict(expected_board(PARTNERS, world.partners, "revenue_won", descending=True))
    assert partner_places(world, body) == [("c", positions["c"])]
    assert positions["c"] == 2
    speed = await board(client, app, world.partner_user, "PARTNER", "MEDIAN_HOURS_TO_ACCEPT")
    assert partner_places(world, speed) == [("c", 4)]  # e 1.0, a and d 2.0, then c 5.5
    employees = await board(client, app, world.partner_user, "EMPLOYEE", "REVENUE_WON")
    assert error_codes(employees) == ["FORBIDDEN"]


@pytest.mark.asyncio
async def test_other_periods_and_tenants_do_not_count(
    client: httpx.AsyncClient, app: FastAPI, world: World
) -> None:
    september = await board(client, app, world.admin, "PARTNER", "REVENUE_WON", period="2026-09")
    assert partner_places(world, september) == [("d", 1)]
    assert entries(september)[0]["value"] == pytest.approx(99999.0)
    never = await board(client, app, world.admin, "PARTNER", "REVENUE_WON", period="2025-01")
    assert entries(never) == []

    other = await board(client, app, world.other_admin, "PARTNER", "REVENUE_WON")
    assert [
        (entry["partnerScorecard"]["partner"]["id"], entry["position"]) for entry in entries(other)
    ] == [(gid("Partner", world.other_partner), 1)]
    # The other tenant's million does not push this tenant's leader down.
    assert partner_places(world, await board(client, app, world.admin, "PARTNER", "REVENUE_WON"))[
        0
    ] == ("b", 1)


# --- employees ----------------------------------------------------------------------


@pytest.mark.asyncio
async def test_employees_by_revenue_for_an_admin(
    client: httpx.AsyncClient, app: FastAPI, world: World
) -> None:
    body = await board(client, app, world.admin, "EMPLOYEE", "REVENUE_WON")
    expected = expected_board(EMPLOYEES, world.employees, "revenue_won", descending=True)
    assert employee_places(body) == expected
    assert [p for _, p in expected] == [1, 2, 2, 4, 5]  # bob and cid tie
    activities = await board(client, app, world.admin, "EMPLOYEE", "ACTIVITIES")
    assert employee_places(activities) == expected_board(
        EMPLOYEES, world.employees, "activities", descending=True
    )
    quota = await board(client, app, world.admin, "EMPLOYEE", "QUOTA_ATTAINMENT")
    places = employee_places(quota)
    assert places == expected_board(EMPLOYEES, world.employees, "quota_attainment", descending=True)
    assert {name for name, p in places if p == 4} == {"bob", "fay"}  # no quota: last


@pytest.mark.asyncio
async def test_a_manager_sees_its_team_with_company_positions(
    client: httpx.AsyncClient, app: FastAPI, world: World
) -> None:
    positions = dict(expected_board(EMPLOYEES, world.employees, "revenue_won", descending=True))

    def visible(*names: str) -> list[tuple[str, int]]:
        return sorted(
            ((name, positions[name]) for name in names),
            key=lambda place: (place[1], world.employees[place[0]].id),
        )

    ann = await board(client, app, world.users["ann"], "EMPLOYEE", "REVENUE_WON")
    assert employee_places(ann) == visible("ann", "bob", "cid")  # transitively, and itself
    bob = await board(client, app, world.users["bob"], "EMPLOYEE", "REVENUE_WON")
    assert employee_places(bob) == visible("bob", "cid")
    dan = await board(client, app, world.users["dan"], "EMPLOYEE", "REVENUE_WON")
    assert employee_places(dan) == [("dan", 5)]
    partners = await board(client, app, world.users["dan"], "PARTNER", "REVENUE_WON")
    assert len(entries(partners)) == 5  # staff read every partner's


@pytest.mark.asyncio
async def test_one_statement_reads_the_page(
    client: httpx.AsyncClient, app: FastAPI, database: Database, world: World
) -> None:
    with counting_statements(database) as statements:
        body = await board(client, app, world.admin, "PARTNER", "SCORE", first=5)
    assert len(entries(body)) == 5
    assert len([s for s in statements if "partner_scorecards" in s]) == 1
    with counting_statements(database) as statements:
        body = await board(client, app, world.users["ann"], "EMPLOYEE", "SCORE")
    assert len(entries(body)) == 3
    assert len([s for s in statements if "employee_scorecards" in s]) == 1
