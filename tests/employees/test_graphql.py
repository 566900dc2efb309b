"""The employees API over GraphQL: creating and changing employees, the reporting line,
listing with filters and pagination, and who may see them."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from prm.auth.principal import Role
from prm.db.engine import Database
from prm.employees.models import Employee
from tests.factories import TenantWithAdmin, make_employee, make_tenant, make_user
from tests.graphql.support import error_codes
from tests.partners.support import Caller, audit_operations, gid, make_cast
from tests.statements import counting_statements

FIELDS = "id name email title team territory active manager { id name } user { id email }"
CREATE = f"""mutation ($input: CreateEmployeeInput!) {{
  createEmployee(input: $input) {{ employee {{ {FIELDS} }} errors {{ code field message }} }} }}"""
UPDATE = f"""mutation ($id: ID!, $input: UpdateEmployeeInput!) {{
  updateEmployee(id: $id, input: $input) {{
    employee {{ {FIELDS} }} errors {{ code field message }} }} }}"""
EMPLOYEES = """query ($first: Int, $after: String, $filter: EmployeeFilter) {
  employees(first: $first, after: $after, filter: $filter) {
    totalCount pageInfo { hasNextPage endCursor } edges { node { name } } } }"""
NODE = "query ($id: ID!) { node(id: $id) { id ... on Employee { name } } }"


def errors_of(payload: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [(error["code"], error["field"]) for error in payload["errors"]]


async def employee_count(database: Database, tenant: TenantWithAdmin) -> int:
    async with database.session(tenant.id) as session:
        return int(await session.scalar(select(func.count()).select_from(Employee)) or 0)


@pytest.mark.asyncio
async def test_an_admin_creates_an_employee_with_a_manager_and_a_user(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    boss = await make_employee(database, tenant.id, name="Boss")
    login = await make_user(database, tenant.id)
    body = await Caller(client, app, tenant.admin)(
        CREATE,
        input={
            "name": " Ada ",
            "email": "Ada@Example.com",
            "title": "Account Executive",
            "managerId": gid("Employee", boss),
            "userId": gid("User", login),
            "team": "EMEA",
            "territory": "DACH",
        },
    )
    payload = body["data"]["createEmployee"]
    assert payload["errors"] == []
    employee = payload["employee"]
    assert employee == employee | {
        "name": "Ada",
        "email": "ada@example.com",
        "title": "Account Executive",
        "team": "EMEA",
        "territory": "DACH",
        "active": True,
        "manager": {"id": gid("Employee", boss), "name": "Boss"},
        "user": {"id": gid("User", login), "email": login.email},
    }
    assert await audit_operations(database, tenant) == ["createEmployee"]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [
        pytest.param({"name": " "}, "INVALID", "name", id="blank name"),
        pytest.param({"email": "not-an-email"}, "INVALID", "email", id="bad email"),
        pytest.param({"email": "TAKEN@example.com"}, "DUPLICATE", "email", id="email taken"),
        pytest.param({"managerId": "FOREIGN_EMPLOYEE"}, "NOT_FOUND", "managerId", id="foreign"),
        pytest.param({"managerId": "garbage"}, "NOT_FOUND", "managerId", id="garbage manager"),
        pytest.param({"managerId": "USER"}, "NOT_FOUND", "managerId", id="a user as manager"),
        pytest.param({"userId": "FOREIGN_USER"}, "NOT_FOUND", "userId", id="foreign user"),
        pytest.param({"userId": "LINKED_USER"}, "DUPLICATE", "userId", id="user linked"),
        pytest.param({"userId": "PARTNER_USER"}, "INVALID", "userId", id="partner user"),
    ],
)
async def test_a_bad_employee_is_refused_and_nothing_written(
    client: httpx.AsyncClient,
    app: FastAPI,
    database: Database,
    fields: dict[str, Any],
    code: str,
    field: str,
) -> None:
    cast = await make_cast(database)
    tenant = cast.tenant
    other = await make_tenant(database)
    linked = await make_user(database, tenant.id)
    await make_employee(database, tenant.id, email="taken@example.com", user_id=linked.id)
    ids = {
        "FOREIGN_EMPLOYEE": gid("Employee", await make_employee(database, other.id)),
        "FOREIGN_USER": gid("User", other.admin),
        "USER": gid("User", cast.manager),
        "LINKED_USER": gid("User", linked),
        "PARTNER_USER": gid("User", cast.partner_rep),
    }
    fields = {key: ids.get(value, value) for key, value in fields.items()}
    body = await Caller(client, app, tenant.admin)(CREATE, input={"name": "New"} | fields)
    payload = body["data"]["createEmployee"]
    assert payload["employee"] is None
    assert errors_of(payload) == [(code, field)]
    assert await employee_count(database, tenant) == 1
    assert await audit_operations(database, tenant) == []


@pytest.mark.asyncio
async def test_an_update_changes_the_given_fields_and_keeps_the_line_acyclic(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    ceo = await make_employee(database, tenant.id, name="CEO")
    vp = await make_employee(database, tenant.id, name="VP", manager_id=ceo.id)
    rep = await make_employee(database, tenant.id, name="Rep", manager_id=vp.id, team="EMEA")
    admin = Caller(client, app, tenant.admin)

    async def update(employee: Employee, **input: Any) -> dict[str, Any]:
        result: dict[str, Any] = (await admin(UPDATE, id=gid("Employee", employee), input=input))[
            "data"
        ]["updateEmployee"]
        return result

    for manager in (ceo, vp, rep):  # itself, a report, a report's report
        assert errors_of(await update(ceo, managerId=gid("Employee", manager))) == [
            ("INVALID", "managerId")
        ]
    assert errors_of(await update(rep, name="Renamed", email="bad")) == [("INVALID", "email")]
    assert await audit_operations(database, tenant) == []

    changed = await update(rep, title="Senior Rep", managerId=gid("Employee", ceo))
    assert changed["errors"] == []
    assert changed["employee"] == changed["employee"] | {
        "name": "Rep",
        "title": "Senior Rep",
        "team": "EMEA",
        "manager": {"id": gid("Employee", ceo), "name": "CEO"},
    }
    cleared = (await update(rep, managerId=None, team=None, active=False))["employee"]
    assert cleared == changed["employee"] | {"manager": None, "team": None, "active": False}
    assert await audit_operations(database, tenant) == ["updateEmployee", "updateEmployee"]


@pytest.mark.asyncio
async def test_updating_an_unseen_employee_is_not_found(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    other = await make_tenant(database)
    theirs = await make_employee(database, other.id)
    body = await Caller(client, app, tenant.admin)(
        UPDATE, id=gid("Employee", theirs), input={"name": "Mine"}
    )
    assert errors_of(body["data"]["updateEmployee"]) == [("NOT_FOUND", "id")]


@pytest.mark.asyncio
async def test_filters_and_pages(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    boss = await make_employee(database, tenant.id, name="Boss", team="EMEA")
    made = [boss]
    for n in range(5):
        made.append(
            await make_employee(
                database,
                tenant.id,
                name=f"Seller {n}",
                email=f"seller{n}@example.com" if n != 3 else "x_3@example.com",
                team="EMEA" if n % 2 else "APAC",
                manager_id=boss.id if n < 3 else None,
                active=n != 4,
            )
        )
    await make_employee(database, (await make_tenant(database)).id, name="Seller elsewhere")
    admin = Caller(client, app, tenant.admin)

    async def matching(**filter: Any) -> list[str]:
        body = await admin(EMPLOYEES, filter=filter)
        connection = body["data"]["employees"]
        assert connection["totalCount"] == len(connection["edges"])
        return [edge["node"]["name"] for edge in connection["edges"]]

    assert await matching(team="EMEA") == ["Boss", "Seller 1", "Seller 3"]
    assert await matching(managerId=gid("Employee", boss)) == ["Seller 0", "Seller 1", "Seller 2"]
    assert await matching(managerId="garbage") == []
    assert await matching(active=False) == ["Seller 4"]
    assert await matching(search="SELLER") == [f"Seller {n}" for n in range(5)]
    assert await matching(search="x_3@") == ["Seller 3"]
    assert await matching(search="_") == ["Seller 3"]
    assert await matching(team="APAC", active=True) == ["Seller 0", "Seller 2"]

    seen: list[str] = []
    after = None
    while True:
        connection = (await admin(EMPLOYEES, first=4, after=after))["data"]["employees"]
        seen.extend(edge["node"]["name"] for edge in connection["edges"])
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    assert seen == [employee.name for employee in made]  # oldest first


@pytest.mark.asyncio
@pytest.mark.parametrize("role", ["admin", "manager", "employee"])
async def test_tenant_staff_read_employees(
    client: httpx.AsyncClient, app: FastAPI, database: Database, role: str
) -> None:
    cast = await make_cast(database)
    employee = await make_employee(database, cast.tenant.id, name="Visible")
    caller = Caller(client, app, cast.user(role))
    body = await caller(EMPLOYEES)
    assert [edge["node"]["name"] for edge in body["data"]["employees"]["edges"]] == ["Visible"]
    node = (await caller(NODE, id=gid("Employee", employee)))["data"]["node"]
    assert node == {"id": gid("Employee", employee), "name": "Visible"}


@pytest.mark.asyncio
@pytest.mark.parametrize("role", ["partner_admin", "partner_rep"])
async def test_partner_users_see_no_employees(
    client: httpx.AsyncClient, app: FastAPI, database: Database, role: str
) -> None:
    cast = await make_cast(database)
    employee = await make_employee(database, cast.tenant.id)
    caller = Caller(client, app, cast.user(role))
    assert error_codes(await caller(EMPLOYEES)) == ["FORBIDDEN"]
    assert (await caller(NODE, id=gid("Employee", employee)))["data"]["node"] is None


@pytest.mark.asyncio
async def test_another_tenants_employee_is_null(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    theirs = await make_employee(database, (await make_tenant(database)).id)
    body = await Caller(client, app, tenant.admin)(NODE, id=gid("Employee", theirs))
    assert body["data"]["node"] is None


@pytest.mark.asyncio
@pytest.mark.parametrize("role", ["manager", "employee", "partner_admin", "partner_rep"])
async def test_only_admins_create_or_change_employees(
    client: httpx.AsyncClient, app: FastAPI, database: Database, role: str
) -> None:
    cast = await make_cast(database)
    employee = await make_employee(database, cast.tenant.id)
    caller = Caller(client, app, cast.user(role))
    created = await caller(CREATE, input={"name": "Nope"})
    updated = await caller(UPDATE, id=gid("Employee", employee), input={"name": "Nope"})
    assert error_codes(created) == error_codes(updated) == ["FORBIDDEN"]
    assert await employee_count(database, cast.tenant) == 1


@pytest.mark.asyncio
async def test_statements_per_employee_page_do_not_grow_with_the_page_size(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    bosses = [await make_employee(database, tenant.id) for _ in range(3)]
    async with database.session(tenant.id) as session:
        session.add_all(
            Employee(tenant_id=tenant.id, name=f"e{n:03}", manager_id=bosses[n % 3].id)
            for n in range(60)
        )
    login = await make_user(database, tenant.id, roles=(Role.EMPLOYEE,))
    query = """query ($first: Int) { employees(first: $first) { totalCount edges { node {
        name manager { name manager { name } } user { email } } } } }"""
    counts = {}
    for first in (10, 50):
        with counting_statements(database) as statements:
            body = await Caller(client, app, login)(query, first=first)
        assert len(body["data"]["employees"]["edges"]) == first
        counts[first] = len(statements)
    assert counts[10] == counts[50]
    assert counts[50] <= 7


@pytest.mark.asyncio
async def test_the_reporting_line_lists_direct_reports_or_everyone_below(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    ceo = await make_employee(database, tenant.id, name="Ceo")
    vp = await make_employee(database, tenant.id, name="Vp", manager_id=ceo.id)
    lead = await make_employee(database, tenant.id, name="Lead", manager_id=vp.id)
    await make_employee(database, tenant.id, name="Rep", manager_id=lead.id)
    await make_employee(database, tenant.id, name="Outsider")
    caller = Caller(client, app, tenant.admin)

    async def names(**filter: Any) -> list[str]:
        body = await caller(EMPLOYEES, first=50, filter=filter)
        return sorted(edge["node"]["name"] for edge in body["data"]["employees"]["edges"])

    assert await names(managerId=gid("Employee", ceo)) == ["Vp"]
    assert await names(managerId=gid("Employee", ceo), includeIndirect=True) == [
        "Lead",
        "Rep",
        "Vp",
    ]
    assert await names(managerId=gid("Employee", lead), includeIndirect=True) == ["Rep"]
