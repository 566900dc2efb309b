"""Routing cases to agents: skills, capacity, the customer's value and loyalty, waiting
cases placed when capacity frees, manual assignment, queue set-up, and concurrency (cases
opened at once never overfill an agent and never share a number)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from prm.crm.case_models import Case
from prm.db.engine import Database
from tests.crm.factories import gid, make_account
from tests.crm.test_cases_support import (
    ASSIGN,
    CLOSE,
    CREATE_QUEUE,
    NODE,
    OPEN,
    RESOLVE,
    SET_AGENT,
    UPDATE_QUEUE,
    customer,
    make_agent,
    make_queue,
    open_input,
)
from tests.factories import make_employee, make_tenant
from tests.graphql.support import error_codes, gql
from tests.partners.support import Caller, make_cast


def opened(body: dict[str, Any]) -> dict[str, Any]:
    payload = body["data"]["openCase"]
    assert payload["errors"] == [], payload
    case: dict[str, Any] = payload["case"]
    return case


def holder(case: dict[str, Any]) -> str | None:
    return case["assignee"]["id"] if case["assignee"] else None


@pytest.mark.asyncio
async def test_a_case_goes_to_the_best_suited_agent(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    admin = Caller(client, app, tenant.admin)
    billing = await make_queue(database, tenant.id, name="Billing", skills=["billing"])
    plain = await make_agent(database, tenant.id, skills=["billing"], capacity=5)
    versatile = await make_agent(
        database, tenant.id, skills=["billing", "complaint", "returns"], capacity=5
    )
    outsider = await make_agent(database, tenant.id, skills=["support", "complaint"], capacity=9)
    newcomer = await make_account(database, tenant.id)
    now = datetime.now(UTC)
    loyal = await customer(
        database,
        tenant.id,
        won=[
            ("5", now - timedelta(days=5 * 366)),
            ("5", now - timedelta(days=300)),
            ("5", now - timedelta(days=10)),
        ],
    )
    in_billing = {"queueId": gid("CaseQueue", billing)}

    # Complaints go to the agent holding the complaint skill (the outsider lacks billing).
    complaints = [
        opened(await admin(OPEN, input=open_input(newcomer, kind="COMPLAINT", **in_billing)))
        for _ in range(2)
    ]
    assert {holder(case) for case in complaints} == {gid("Employee", versatile)}
    # An ordinary service request: the least versatile agent (also the least loaded).
    ordinary = opened(await admin(OPEN, input=open_input(newcomer, **in_billing)))
    assert holder(ordinary) == gid("Employee", plain)
    # A key (loyal) customer's request goes to the most versatile agent, even though it
    # holds more cases (2) than the other (1).
    key = opened(await admin(OPEN, input=open_input(loyal, **in_billing)))
    assert key["loyaltyScore"] >= 50
    assert holder(key) == gid("Employee", versatile)
    assert gid("Employee", outsider) not in {holder(c) for c in [*complaints, ordinary, key]}


@pytest.mark.asyncio
async def test_waiting_cases_are_placed_by_customer_value_when_capacity_frees(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    admin = Caller(client, app, tenant.admin)
    agent = await make_agent(database, tenant.id, skills=[], capacity=1)
    recent = datetime.now(UTC) - timedelta(days=1)
    small = await customer(database, tenant.id, won=[("100", recent)])
    big = await customer(database, tenant.id, won=[("10000", recent)])
    first = opened(await admin(OPEN, input=open_input(small)))
    assert holder(first) == gid("Employee", agent)
    older_small = opened(await admin(OPEN, input=open_input(small, priority="URGENT")))
    newer_big = opened(await admin(OPEN, input=open_input(big, priority="LOW")))
    assert older_small["status"] == newer_big["status"] == "NEW"
    assert older_small["assignee"] is None
    assert newer_big["assignee"] is None

    await admin(RESOLVE, id=first["id"], resolution="done")
    big_now = (await admin(NODE, id=newer_big["id"]))["data"]["node"]
    small_now = (await admin(NODE, id=older_small["id"]))["data"]["node"]
    assert (big_now["status"], holder(big_now)) == ("ASSIGNED", gid("Employee", agent))
    assert (small_now["status"], holder(small_now)) == ("NEW", None)

    await admin(CLOSE, id=newer_big["id"])
    small_now = (await admin(NODE, id=older_small["id"]))["data"]["node"]
    assert (small_now["status"], holder(small_now)) == ("ASSIGNED", gid("Employee", agent))


@pytest.mark.asyncio
async def test_agent_profiles_route_waiting_cases_and_are_for_managers(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    cast = await make_cast(database)
    tenant_id = cast.tenant.id
    admin = Caller(client, app, cast.admin)
    employee = await make_employee(database, tenant_id)
    account = await make_account(database, tenant_id)
    waiting = opened(await admin(OPEN, input=open_input(account)))
    assert waiting["status"] == "NEW"

    bad = await admin(SET_AGENT, employeeId=gid("Employee", employee), skills=["x"], capacity=-1)
    assert [e["code"] for e in bad["data"]["setAgentProfile"]["errors"]] == ["INVALID"]
    partner = await Caller(client, app, cast.partner_admin)(
        SET_AGENT, employeeId=gid("Employee", employee), skills=[], capacity=3
    )
    assert error_codes(partner) == ["FORBIDDEN"]
    waiting_now = (await admin(NODE, id=waiting["id"]))["data"]["node"]
    assert waiting_now["status"] == "NEW"

    body = await Caller(client, app, cast.manager)(
        SET_AGENT, employeeId=gid("Employee", employee), skills=[" Billing ", "billing"], capacity=2
    )
    assert body["data"]["setAgentProfile"]["profile"] == {
        "skills": ["billing"],
        "caseCapacity": 2,
        "employee": {"id": gid("Employee", employee)},
    }
    placed = (await admin(NODE, id=waiting["id"]))["data"]["node"]
    assert (placed["status"], holder(placed)) == ("ASSIGNED", gid("Employee", employee))


@pytest.mark.asyncio
async def test_manual_assignment_respects_capacity_and_frees_the_previous_agent(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    cast = await make_cast(database)
    tenant_id = cast.tenant.id
    other = await make_tenant(database)
    admin = Caller(client, app, cast.admin)
    vip_desk = await make_queue(database, tenant_id, name="VIP", skills=["vip"])
    vip_agent = await make_agent(database, tenant_id, skills=["vip"], capacity=1)
    account = await make_account(database, tenant_id)
    held = opened(await admin(OPEN, input=open_input(account)))
    waiting = opened(
        await admin(OPEN, input=open_input(account, queueId=gid("CaseQueue", vip_desk)))
    )
    assert holder(held) == gid("Employee", vip_agent)
    assert waiting["status"] == "NEW"

    full = await make_agent(database, tenant_id, skills=[], capacity=0)
    not_agent = await make_employee(database, tenant_id)
    foreign = await make_agent(database, other.id, skills=[], capacity=5)
    for employee, code in (
        (full, "LIMIT_EXCEEDED"),
        (not_agent, "INVALID"),
        (foreign, "NOT_FOUND"),
    ):
        body = await admin(ASSIGN, id=held["id"], employeeId=gid("Employee", employee))
        assert [e["code"] for e in body["data"]["assignCase"]["errors"]] == [code]
    employee_user = await Caller(client, app, cast.employee)(
        ASSIGN, id=held["id"], employeeId=gid("Employee", vip_agent)
    )
    assert error_codes(employee_user) == ["FORBIDDEN"]

    # A general agent cannot take the VIP case, but can take the held one off the VIP
    # agent's hands, who then takes the waiting VIP case.
    general = await make_agent(database, tenant_id, skills=[], capacity=0)
    await admin(SET_AGENT, employeeId=gid("Employee", general), skills=[], capacity=2)
    assert (await admin(NODE, id=waiting["id"]))["data"]["node"]["status"] == "NEW"
    moved = (await admin(ASSIGN, id=held["id"], employeeId=gid("Employee", general)))["data"][
        "assignCase"
    ]
    assert moved["errors"] == []
    assert holder(moved["case"]) == gid("Employee", general)
    placed = (await admin(NODE, id=waiting["id"]))["data"]["node"]
    assert (placed["status"], holder(placed)) == ("ASSIGNED", gid("Employee", vip_agent))


@pytest.mark.asyncio
async def test_queues_route_kinds_by_default_and_are_set_up_by_managers(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    cast = await make_cast(database)
    admin = Caller(client, app, cast.admin)
    created = await admin(
        CREATE_QUEUE,
        input={"name": "Returns", "skills": ["Returns", " logistics "], "kinds": ["RETURN"]},
    )
    queue = created["data"]["createCaseQueue"]["queue"]
    assert queue["skills"] == ["returns", "logistics"]
    assert queue["kinds"] == ["RETURN"]
    duplicate = await admin(CREATE_QUEUE, input={"name": "Returns"})
    assert [e["code"] for e in duplicate["data"]["createCaseQueue"]["errors"]] == ["DUPLICATE"]
    assert error_codes(
        await Caller(client, app, cast.partner_rep)(CREATE_QUEUE, input={"name": "Mine"})
    ) == ["FORBIDDEN"]

    account = await make_account(database, cast.tenant.id)
    returned = opened(await admin(OPEN, input=open_input(account, kind="RETURN")))
    asked = opened(await admin(OPEN, input=open_input(account, kind="INFORMATION_REQUEST")))
    assert returned["queue"]["id"] == queue["id"]
    assert asked["queue"] is None

    # An agent with only `returns` cannot take it; once the queue needs only `returns`, yes.
    agent = await make_agent(database, cast.tenant.id, skills=["returns"], capacity=3)
    assert (await admin(NODE, id=returned["id"]))["data"]["node"]["status"] == "NEW"
    updated = await admin(UPDATE_QUEUE, id=queue["id"], input={"skills": ["returns"]})
    assert updated["data"]["updateCaseQueue"]["queue"]["skills"] == ["returns"]
    placed = (await admin(NODE, id=returned["id"]))["data"]["node"]
    assert holder(placed) == gid("Employee", agent)


@pytest.mark.asyncio
async def test_cases_opened_at_once_never_overfill_an_agent_or_share_a_number(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    small = await make_agent(database, tenant.id, skills=[], capacity=1)
    large = await make_agent(database, tenant.id, skills=[], capacity=2)
    accounts = [await make_account(database, tenant.id) for _ in range(8)]
    from tests.factories import bearer

    headers = bearer(app.state.issuer, tenant.admin)
    bodies = await asyncio.gather(
        *(
            gql(client, OPEN, {"input": open_input(account)}, headers=headers)
            for account in accounts
        )
    )
    cases = [opened(body) for body in bodies]
    assert sorted(case["number"] for case in cases) == list(range(1, 9))
    async with database.session(tenant.id) as session:
        rows = await session.execute(
            select(Case.assignee_id, func.count())
            .where(Case.tenant_id == tenant.id, Case.assignee_id.is_not(None))
            .group_by(Case.assignee_id)
        )
        load = {assignee: count for assignee, count in rows}
        waiting = await session.scalar(
            select(func.count()).where(Case.tenant_id == tenant.id, Case.status == "NEW")
        )
    assert load == {small.id: 1, large.id: 2}
    assert waiting == 5
