"""`Employee`'s nested fields are batched: listing 30 employees with their reports (a page
and the whole line below), objectives, compensation plan, scorecard and manager costs the
same SQL statements as listing 3, and every visibility rule of the one-employee reads
still holds on the batched ones.

The org each test builds (`make_org`):

    head (MANAGER user) ── lead 0 … lead n-1 (team "leads")
    lead i ── first_i ── deep_i
           └─ second_i
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from prm.auth.principal import Role
from prm.db.engine import Database
from prm.employees.erm_models import (
    CompensationAssignment,
    CompensationPlan,
    Objective,
    ObjectiveMetric,
)
from prm.employees.models import Employee
from prm.metrics.models import EmployeeScorecardRow
from prm.tenants.models import User
from tests.factories import TenantWithAdmin, make_tenant, make_user
from tests.partners.support import Caller, gid
from tests.statements import counting_statements

PERIOD = "2026-11"
LEADS = """query ($first: Int) { employees(first: 100, filter: {team: "leads"}) {
  edges { node {
    name
    manager { name }
    scorecard(period: "2026-11") { score }
    objectives(period: "2026-11") { metric target }
    compensationPlan(period: "2026-11") { name }
    reports(first: $first) { totalCount pageInfo { hasNextPage endCursor } edges { node { name } } }
    everyone: reports(transitive: true) {
      totalCount edges { node { name reports { totalCount edges { node { name } } } } } }
  } } } }"""
REPORTS_AFTER = """query ($id: ID!, $after: String) { node(id: $id) { ... on Employee {
  reports(first: 1, after: $after) {
    totalCount pageInfo { hasNextPage hasPreviousPage endCursor } edges { node { name } } }
} } }"""


@dataclass
class Lead:
    employee: Employee
    first: Employee
    second: Employee
    deep: Employee
    manager: str
    plan: str
    objectives: dict[str, Decimal] = field(default_factory=dict)
    score: float = 0.0


@dataclass
class Org:
    tenant: TenantWithAdmin
    head: Employee
    head_user: User
    leads: list[Lead]


async def make_org(database: Database, size: int, *, other_head: bool = False) -> Org:
    """`size` leads under one head. Even leads are on a monthly plan that beats the yearly
    one everyone has (the narrowest period wins); each has two objectives and a scorecard.
    With `other_head`, the last lead reports to a second head instead."""
    tenant = await make_tenant(database)
    head_user = await make_user(database, tenant.id, roles=(Role.MANAGER,))
    async with database.session(tenant.id) as session:
        yearly = CompensationPlan(
            tenant_id=tenant.id, name="Yearly", base_percent=Decimal(5), currency="USD"
        )
        monthly = CompensationPlan(
            tenant_id=tenant.id, name="Monthly", base_percent=Decimal(7), currency="USD"
        )
        head = Employee(tenant_id=tenant.id, name="Head", user_id=head_user.id, active=True)
        other = Employee(tenant_id=tenant.id, name="Other head", active=True)
        session.add_all([yearly, monthly, head, other])
        await session.flush()
        leads: list[Lead] = []
        for i in range(size):
            above = other if other_head and i == size - 1 else head
            lead = Employee(
                tenant_id=tenant.id, name=f"lead {i}", team="leads", manager_id=above.id
            )
            session.add(lead)
            await session.flush()
            first = Employee(tenant_id=tenant.id, name=f"first {i}", manager_id=lead.id)
            session.add(first)
            await session.flush()
            second = Employee(tenant_id=tenant.id, name=f"second {i}", manager_id=lead.id)
            deep = Employee(tenant_id=tenant.id, name=f"deep {i}", manager_id=first.id)
            session.add_all([second, deep])
            await session.flush()
            plan = "Monthly" if i % 2 == 0 else "Yearly"
            made = Lead(lead, first, second, deep, above.name, plan)
            made.objectives = {"REVENUE_WON": Decimal(1000 + i), "DEALS_WON": Decimal(i + 1)}
            made.score = float(i)
            for metric, target in made.objectives.items():
                session.add(
                    Objective(
                        tenant_id=tenant.id,
                        employee_id=lead.id,
                        period=PERIOD,
                        metric=ObjectiveMetric(metric),
                        target=target,
                    )
                )
            session.add(
                CompensationAssignment(
                    tenant_id=tenant.id, employee_id=lead.id, plan_id=yearly.id, period="2026"
                )
            )
            if made.plan == "Monthly":
                session.add(
                    CompensationAssignment(
                        tenant_id=tenant.id, employee_id=lead.id, plan_id=monthly.id, period=PERIOD
                    )
                )
            session.add(scorecard(tenant.id, lead.id, made.score))
            leads.append(made)
    return Org(tenant, head, head_user, leads)


def scorecard(tenant_id: uuid.UUID, employee_id: uuid.UUID, score: float) -> EmployeeScorecardRow:
    zero = Decimal(0)
    return EmployeeScorecardRow(
        tenant_id=tenant_id,
        employee_id=employee_id,
        period=PERIOD,
        revenue_won=zero,
        deals_won=0,
        deals_lost=0,
        win_rate=None,
        activities=0,
        leads_converted=0,
        pipeline_value=zero,
        quota_attainment=None,
        commission_earned=zero,
        currency="USD",
        score=score,
        rank=None,
    )


def by_name(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    assert "errors" not in body, body
    return {edge["node"]["name"]: edge["node"] for edge in body["data"]["employees"]["edges"]}


def names(connection: dict[str, Any]) -> list[str]:
    return [edge["node"]["name"] for edge in connection["edges"]]


def objectives_of(node: dict[str, Any]) -> dict[str, Decimal]:
    return {row["metric"]: Decimal(str(row["target"])) for row in node["objectives"]}


def check_lead(node: dict[str, Any], lead: Lead, *, reads_erm: bool = True) -> None:
    """The node shows what `make_org` wrote for `lead`, worked out from the rows."""
    assert node["manager"] == {"name": lead.manager}
    # the first page of one report, in id (creation) order, and the rest behind the cursor
    first_page = min((lead.first, lead.second), key=lambda row: row.id)
    assert names(node["reports"]) == [first_page.name]
    assert node["reports"]["totalCount"] == 2
    assert node["reports"]["pageInfo"]["hasNextPage"] is True
    below = {lead.first.name, lead.second.name, lead.deep.name}
    assert set(names(node["everyone"])) == below
    assert node["everyone"]["totalCount"] == 3
    nested = {edge["node"]["name"]: edge["node"]["reports"] for edge in node["everyone"]["edges"]}
    assert names(nested[lead.first.name]) == [lead.deep.name]
    assert nested[lead.first.name]["totalCount"] == 1
    assert nested[lead.second.name]["totalCount"] == 0
    assert nested[lead.deep.name]["totalCount"] == 0
    if reads_erm:
        assert objectives_of(node) == lead.objectives
        assert node["compensationPlan"] == {"name": lead.plan}
        assert node["scorecard"] == {"score": lead.score}
    else:
        assert node["objectives"] == []
        assert node["compensationPlan"] is None
        assert node["scorecard"] is None


@pytest.mark.asyncio
@pytest.mark.parametrize("role", ["admin", "manager"])
async def test_listing_30_employees_with_nested_fields_costs_what_listing_3_does(
    client: httpx.AsyncClient, app: FastAPI, database: Database, role: str
) -> None:
    counts: dict[int, int] = {}
    for size in (3, 30):
        org = await make_org(database, size)
        caller = Caller(client, app, org.tenant.admin if role == "admin" else org.head_user)
        with counting_statements(database) as statements:
            body = await caller(LEADS, first=1)
        nodes = by_name(body)
        assert len(nodes) == size
        for lead in org.leads:
            check_lead(nodes[lead.employee.name], lead)
        counts[size] = len(statements)
    assert counts[3] == counts[30]
    # auth, tenant, the page, and one per batched field: manager, scorecard, objectives,
    # plan, the reports page, the line below, and the reports of the line below
    assert counts[30] <= 12, counts


@pytest.mark.asyncio
async def test_batched_erm_fields_keep_who_may_read_what(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    org = await make_org(database, 4, other_head=True)
    *mine, theirs = org.leads
    # the head manages three of the leads: their objectives, plans and scorecards, not the
    # fourth's, although it sees that employee and its reporting line
    nodes = by_name(await Caller(client, app, org.head_user)(LEADS, first=1))
    for lead in mine:
        check_lead(nodes[lead.employee.name], lead)
    assert theirs.manager == "Other head"
    check_lead(nodes[theirs.employee.name], theirs, reads_erm=False)

    # an employee reads its own records only
    login = await make_user(database, org.tenant.id, roles=(Role.EMPLOYEE,))
    async with database.session(org.tenant.id) as session:
        lead = await session.get(Employee, (org.tenant.id, mine[1].employee.id))
        assert lead is not None
        lead.user_id = login.id
    nodes = by_name(await Caller(client, app, login)(LEADS, first=1))
    check_lead(nodes[mine[1].employee.name], mine[1])
    for other in (mine[0], mine[2]):
        check_lead(nodes[other.employee.name], other, reads_erm=False)


@pytest.mark.asyncio
async def test_nested_reports_page_on_with_their_cursor_and_keep_their_total(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    org = await make_org(database, 1)
    lead = org.leads[0]
    in_order = sorted((lead.first, lead.second), key=lambda row: row.id)
    caller = Caller(client, app, org.tenant.admin)
    seen: list[str] = []
    after = None
    for _ in range(2):
        body = await caller(REPORTS_AFTER, id=gid("Employee", lead.employee), after=after)
        reports = body["data"]["node"]["reports"]
        assert reports["totalCount"] == 2
        assert reports["pageInfo"]["hasPreviousPage"] is (after is not None)
        seen += names(reports)
        after = reports["pageInfo"]["endCursor"]
    assert seen == [row.name for row in in_order]
    assert reports["pageInfo"]["hasNextPage"] is False
    # past the end: no rows, but the total of the whole connection still
    body = await caller(REPORTS_AFTER, id=gid("Employee", lead.employee), after=after)
    assert body["data"]["node"]["reports"]["totalCount"] == 2
    assert body["data"]["node"]["reports"]["edges"] == []
    # a cursor of something else is refused, not a 500
    body = await caller(REPORTS_AFTER, id=gid("Employee", lead.employee), after="bogus")
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
