"""`partnerScorecardTrend` / `employeeScorecardTrend`: one point per period, oldest first,
ending at `until` (default: the current period), a null scorecard for a period never
computed; months, quarters (across a year end) and years; bounds on `last` and `until`;
the visibility of the scorecard lists with NOT_FOUND for a subject the caller may not
read (other partners, other tenants, employees outside a manager's line); one statement.

Snapshot rows are written straight into the tables, with a revenue per period that says
which row a point shows."""

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
from prm.db.engine import Database
from prm.employees.models import Employee
from prm.partners.models import Partner
from prm.tenants.models import User
from tests.crm.factories import gid
from tests.factories import bearer, make_employee, make_partner, make_tenant, make_user
from tests.graphql.support import error_codes, gql
from tests.metrics.snapshots import employee_row, insert, partner_row
from tests.statements import counting_statements


def current_month() -> str:
    now = datetime.now(UTC)
    return f"{now.year}-{now.month:02d}"


def months_back(key: str, count: int) -> list[str]:
    """The `count` month keys ending at `key`, oldest first, worked out by hand."""
    year, month = int(key[:4]), int(key[5:])
    keys = []
    for _ in range(count):
        keys.append(f"{year}-{month:02d}")
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return keys[::-1]


# Revenue of partner `a` per period key: the figure that identifies each point's row.
PARTNER_REVENUE = {
    "2026-07": "700.00",  # before the window of four months ending 2026-11
    "2026-08": "800.00",
    "2026-10": "1000.00",  # September never computed
    "2026-11": "1100.00",
    "2026-Q4": "4000.00",  # another kind: never in a month trend
    "2027-Q1": "5000.00",
    "2025": "2025.00",
    "2026": "2026.00",
}


@dataclass
class World:
    tenant_id: uuid.UUID
    admin: User
    a: Partner
    b: Partner
    c: Partner
    rep_a: User
    users: dict[str, User]
    employees: dict[str, Employee]
    other_partner: Partner
    other_employee: Employee


@pytest_asyncio.fixture(scope="module")
async def world(database: Database) -> World:
    db = database
    tenant = await make_tenant(db)
    tid = tenant.id
    a, b, c = [await make_partner(db, tid) for _ in range(3)]
    await insert(
        db,
        tid,
        *(
            partner_row(tid, a.id, key, revenue_won=Decimal(amount))
            for key, amount in PARTNER_REVENUE.items()
        ),
        partner_row(tid, c.id, current_month(), revenue_won=Decimal("1.00")),
        partner_row(tid, b.id, "2026-10", revenue_won=Decimal("9.00")),
    )
    rep_a = await make_user(db, tid, roles=(Role.PARTNER_ADMIN,), partner_id=a.id)

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
        db,
        tid,
        employee_row(tid, cid.id, "2026-Q2", revenue_won=Decimal("200.00"), activities=2),
        employee_row(tid, cid.id, "2026-Q4", revenue_won=Decimal("400.00"), activities=4),
        employee_row(tid, ann.id, "2026-Q4", revenue_won=Decimal("40.00")),
        employee_row(tid, dan.id, "2026-Q4", revenue_won=Decimal("4.00")),
    )

    other = await make_tenant(db)
    other_partner = await make_partner(db, other.id)
    other_employee = await make_employee(db, other.id)
    await insert(db, other.id, partner_row(other.id, other_partner.id, "2026-10"))
    return World(tid, tenant.admin, a, b, c, rep_a, users, employees, other_partner, other_employee)


PARTNER_TREND = """query ($id: ID!, $kind: PeriodKind, $last: Int, $until: String) {
  partnerScorecardTrend(partnerId: $id, periodKind: $kind, last: $last, until: $until) {
    period scorecard { period partner { id } revenueWon { amount currency } }
  }
}"""
EMPLOYEE_TREND = """query ($id: ID!, $kind: PeriodKind, $last: Int, $until: String) {
  employeeScorecardTrend(employeeId: $id, periodKind: $kind, last: $last, until: $until) {
    period scorecard { period employee { name } revenueWon { amount } activities }
  }
}"""


async def trend(
    client: httpx.AsyncClient,
    app: FastAPI,
    viewer: User,
    query: str,
    subject_id: str,
    **arguments: Any,
) -> dict[str, Any]:
    variables = {"id": subject_id, **arguments}
    return await gql(client, query, variables, headers=bearer(app.state.issuer, viewer))


def points(body: dict[str, Any], field: str) -> list[tuple[str, str | None]]:
    """(period, revenue won or None) per point."""
    assert "errors" not in body, body
    result = []
    for point in body["data"][field]:
        card = point["scorecard"]
        if card is not None:
            assert card["period"] == point["period"]
        result.append((point["period"], card["revenueWon"]["amount"] if card else None))
    return result


def expected(keys: list[str]) -> list[tuple[str, str | None]]:
    return [(key, PARTNER_REVENUE.get(key)) for key in keys]


# --- partners -----------------------------------------------------------------------


@pytest.mark.asyncio
async def test_months_oldest_first_with_a_gap(
    client: httpx.AsyncClient, app: FastAPI, world: World
) -> None:
    body = await trend(
        client, app, world.admin, PARTNER_TREND, gid("Partner", world.a), last=4, until="2026-11"
    )
    got = points(body, "partnerScorecardTrend")
    assert got == expected(["2026-08", "2026-09", "2026-10", "2026-11"])
    assert got[1] == ("2026-09", None)  # never computed: a point without a scorecard
    card = body["data"]["partnerScorecardTrend"][2]["scorecard"]
    assert card["partner"] == {"id": gid("Partner", world.a)}
    assert card["revenueWon"]["currency"] == "USD"


@pytest.mark.asyncio
async def test_quarters_cross_the_year_end_and_years_count_back(
    client: httpx.AsyncClient, app: FastAPI, world: World
) -> None:
    a = gid("Partner", world.a)
    quarters = await trend(
        client, app, world.admin, PARTNER_TREND, a, kind="QUARTER", last=3, until="2027-Q1"
    )
    assert points(quarters, "partnerScorecardTrend") == expected(["2026-Q3", "2026-Q4", "2027-Q1"])
    years = await trend(
        client, app, world.admin, PARTNER_TREND, a, kind="YEAR", last=3, until="2026"
    )
    assert points(years, "partnerScorecardTrend") == expected(["2024", "2025", "2026"])
    one = await trend(client, app, world.admin, PARTNER_TREND, a, last=1, until="2026-10")
    assert points(one, "partnerScorecardTrend") == [("2026-10", "1000.00")]


@pytest.mark.asyncio
async def test_defaults_are_six_months_ending_now(
    client: httpx.AsyncClient, app: FastAPI, world: World
) -> None:
    before = current_month()
    body = await trend(client, app, world.admin, PARTNER_TREND, gid("Partner", world.c))
    got = points(body, "partnerScorecardTrend")
    now = got[-1][0]
    assert now in {before, current_month()}
    assert [period for period, _ in got] == months_back(now, 6)
    if now == before:  # c's only scorecard is this month's
        assert [revenue for _, revenue in got] == [None] * 5 + ["1.00"]


@pytest.mark.asyncio
async def test_bounds_and_bad_periods_are_invalid(
    client: httpx.AsyncClient, app: FastAPI, world: World
) -> None:
    a = gid("Partner", world.a)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"last": 0}, "last"),
        ({"last": 25}, "last"),
        ({"last": -3}, "last"),
        ({"until": "2026-Q4"}, "until"),  # a quarter for a month trend
        ({"kind": "YEAR", "until": "2026-10"}, "until"),
        ({"until": "2026-13"}, "until"),
        ({"until": "2000-02", "last": 3}, "last"),  # would reach before 2000
    ]
    for arguments, field in cases:
        body = await trend(client, app, world.admin, PARTNER_TREND, a, **arguments)
        assert error_codes(body) == ["INVALID"], arguments
        assert body["errors"][0]["extensions"]["field"] == field, arguments
    widest = await trend(client, app, world.admin, PARTNER_TREND, a, last=24, until="2026-11")
    assert len(points(widest, "partnerScorecardTrend")) == 24


@pytest.mark.asyncio
async def test_partner_visibility_without_existence_leaks(
    client: httpx.AsyncClient, app: FastAPI, world: World
) -> None:
    own = await trend(
        client, app, world.rep_a, PARTNER_TREND, gid("Partner", world.a), last=2, until="2026-11"
    )
    assert points(own, "partnerScorecardTrend") == expected(["2026-10", "2026-11"])
    for viewer, partner_id in (
        (world.rep_a, gid("Partner", world.b)),  # another organisation's
        (world.admin, gid("Partner", world.other_partner)),  # another tenant's
        (world.admin, gid("Partner", uuid.uuid4())),  # nobody's
        (world.admin, gid("Employee", world.employees["ann"])),  # not a partner
        (world.admin, "garbage"),
    ):
        body = await trend(client, app, viewer, PARTNER_TREND, partner_id, until="2026-10")
        assert error_codes(body) == ["NOT_FOUND"], partner_id
        assert body["data"] is None
    b = await trend(
        client, app, world.users["dan"], PARTNER_TREND, gid("Partner", world.b), last=1,
        until="2026-10",
    )  # fmt: skip
    assert points(b, "partnerScorecardTrend") == [("2026-10", "9.00")]  # staff read every one


@pytest.mark.asyncio
async def test_one_statement_reads_every_period(
    client: httpx.AsyncClient, app: FastAPI, database: Database, world: World
) -> None:
    with counting_statements(database) as statements:
        body = await trend(
            client, app, world.admin, PARTNER_TREND, gid("Partner", world.a), last=24,
            until="2026-11",
        )  # fmt: skip
    assert sum(1 for _, revenue in points(body, "partnerScorecardTrend") if revenue) == 4
    assert len([s for s in statements if "partner_scorecards" in s]) == 1


# --- employees ----------------------------------------------------------------------


@pytest.mark.asyncio
async def test_employee_quarters_for_a_manager_above(
    client: httpx.AsyncClient, app: FastAPI, world: World
) -> None:
    cid = gid("Employee", world.employees["cid"])
    body = await trend(
        client, app, world.users["ann"], EMPLOYEE_TREND, cid, kind="QUARTER", last=4,
        until="2026-Q4",
    )  # fmt: skip
    assert points(body, "employeeScorecardTrend") == [
        ("2026-Q1", None),
        ("2026-Q2", "200.00"),
        ("2026-Q3", None),
        ("2026-Q4", "400.00"),
    ]
    last = body["data"]["employeeScorecardTrend"][-1]["scorecard"]
    assert (last["employee"]["name"], last["activities"]) == ("cid", 4)


@pytest.mark.asyncio
async def test_employee_visibility(client: httpx.AsyncClient, app: FastAPI, world: World) -> None:
    e, u = world.employees, world.users

    async def q4(viewer: User, employee: Employee) -> dict[str, Any]:
        return await trend(
            client, app, viewer, EMPLOYEE_TREND, gid("Employee", employee), kind="QUARTER",
            last=1, until="2026-Q4",
        )  # fmt: skip

    assert points(await q4(u["ann"], e["ann"]), "employeeScorecardTrend") == [("2026-Q4", "40.00")]
    assert points(await q4(u["dan"], e["dan"]), "employeeScorecardTrend") == [("2026-Q4", "4.00")]
    assert points(await q4(world.admin, e["fay"]), "employeeScorecardTrend") == [("2026-Q4", None)]
    for viewer, employee in (
        (u["bob"], e["ann"]),  # its own manager
        (u["ann"], e["dan"]),  # outside its line
        (u["dan"], e["fay"]),  # an employee reads only itself
        (world.admin, world.other_employee),  # another tenant's
    ):
        body = await q4(viewer, employee)
        assert error_codes(body) == ["NOT_FOUND"], (employee.name,)
    partner = await q4(world.rep_a, e["dan"])
    assert error_codes(partner) == ["FORBIDDEN"]
