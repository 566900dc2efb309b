"""The life of an earned incentive through the API: admins approve, pay and resolve;
the partner's users dispute within the dispute window; anything out of order is
INVALID_TRANSITION; partner users see and touch only their partner's incentives."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from prm.auth.principal import Role
from prm.db.engine import Database
from prm.incentives.evaluate import REBATES
from prm.tenants.models import User
from prm.workers.models import Job
from tests.factories import bearer, make_user
from tests.graphql.support import error_codes, gql
from tests.incentives.factories import (
    APPROVE,
    COMPUTE_REBATES,
    DISPUTE,
    NODE,
    PAY,
    RESOLVE,
    World,
    earned,
    earned_rows,
    gid,
    make_world,
    open_deal,
    rule_ok,
    win,
)


async def earn_bonuses(
    client: httpx.AsyncClient,
    app: FastAPI,
    database: Database,
    world: World,
    *,
    count: int = 1,
    dispute_days: int = 14,
    partner: str = "partner",
) -> list[str]:
    """Global ids of `count` DEAL_BONUS incentives the world's (or other) partner earned."""
    await rule_ok(
        client, app, world, name="Bonus", kind="DEAL_BONUS", disputeDays=dispute_days,
        amount={"amount": "100.50", "currency": "USD"},
    )  # fmt: skip
    partner_id = world.partner_id if partner == "partner" else world.other_partner_id
    for _ in range(count):
        await win(client, app, database, world, open_deal(database, world, partner_id, "10"))
    return [gid("EarnedIncentive", row.id) for row in earned_rows(database, world.tenant.id)]


async def call(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any], headers: dict[str, str]
) -> Any:
    body = await gql(client, query, variables, headers=headers)
    assert body.get("data"), body
    return next(iter(body["data"].values()))


def statuses(database: Database, world: World) -> list[str]:
    return [row.status.value for row in earned_rows(database, world.tenant.id)]


@pytest.mark.asyncio
async def test_approve_pay_dispute_and_resolve_in_order_only(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    world = await make_world(database)
    ids = await earn_bonuses(client, app, database, world, count=3)
    admin, partner = world.admin_headers(app), world.partner_headers(app)

    result = await call(client, PAY, {"id": ids[0], "ref": "WIRE-1"}, admin)
    assert [e["code"] for e in result["errors"]] == ["INVALID_TRANSITION"]
    approved = await call(client, APPROVE, {"id": ids[0]}, admin)
    assert approved["earnedIncentive"]["status"] == "APPROVED"
    again = await call(client, APPROVE, {"id": ids[0]}, admin)
    assert [e["code"] for e in again["errors"]] == ["INVALID_TRANSITION"]
    blank = await call(client, PAY, {"id": ids[0], "ref": "  "}, admin)
    assert [(e["code"], e["field"]) for e in blank["errors"]] == [("INVALID", "reference")]
    paid = await call(client, PAY, {"id": ids[0], "ref": "WIRE-1"}, admin)
    assert paid["earnedIncentive"] == {"status": "PAID", "paymentReference": "WIRE-1"}

    result = await call(client, DISPUTE, {"id": ids[0], "reason": "late"}, partner)
    assert [e["code"] for e in result["errors"]] == ["INVALID_TRANSITION"]
    disputed = await call(client, DISPUTE, {"id": ids[1], "reason": "should be more"}, partner)
    assert disputed["earnedIncentive"] == {"status": "DISPUTED", "disputeReason": "should be more"}
    bad = await call(client, RESOLVE, {"id": ids[1], "outcome": "PAID"}, admin)
    assert [(e["code"], e["field"]) for e in bad["errors"]] == [("INVALID", "outcome")]
    rejected = await call(client, RESOLVE, {"id": ids[1], "outcome": "REJECTED"}, admin)
    assert rejected["earnedIncentive"]["status"] == "REJECTED"
    not_disputed = await call(client, RESOLVE, {"id": ids[2], "outcome": "APPROVED"}, admin)
    assert [e["code"] for e in not_disputed["errors"]] == ["INVALID_TRANSITION"]
    # A dispute resolved as APPROVED is payable.
    await call(client, DISPUTE, {"id": ids[2], "reason": "wrong level"}, partner)
    resolved = await call(client, RESOLVE, {"id": ids[2], "outcome": "APPROVED"}, admin)
    assert resolved["earnedIncentive"]["status"] == "APPROVED"
    assert statuses(database, world) == ["PAID", "REJECTED", "APPROVED"]


@pytest.mark.asyncio
async def test_a_dispute_after_the_window_closed_is_an_invalid_transition(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    world = await make_world(database)
    [incentive] = await earn_bonuses(client, app, database, world, dispute_days=0)
    result = await call(
        client, DISPUTE, {"id": incentive, "reason": "too late"}, world.partner_headers(app)
    )
    assert [(e["code"], e["field"]) for e in result["errors"]] == [("INVALID_TRANSITION", "id")]
    [row] = earned_rows(database, world.tenant.id)
    assert (row.status.value, row.dispute_reason, row.disputed_at) == ("PENDING", None, None)


@pytest.mark.asyncio
async def test_admin_only_mutations_are_forbidden_to_partner_users_and_disputes_to_staff(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    world = await make_world(database)
    [incentive] = await earn_bonuses(client, app, database, world)
    manager = await make_user(database, world.tenant.id, roles=(Role.MANAGER,))
    for user in (world.partner_user, world.other_partner_user, manager):
        headers = bearer(app.state.issuer, user)
        for query, variables in (
            (APPROVE, {"id": incentive}),
            (PAY, {"id": incentive, "ref": "WIRE"}),
            (RESOLVE, {"id": incentive, "outcome": "APPROVED"}),
            (COMPUTE_REBATES, {"period": "2026-Q4"}),
        ):
            body = await gql(client, query, variables, headers=headers)
            assert error_codes(body) == ["FORBIDDEN"], (user.email, query, body)
    for user in (world.tenant.admin, manager):
        body = await gql(
            client, DISPUTE, {"id": incentive, "reason": "x"},
            headers=bearer(app.state.issuer, user),
        )  # fmt: skip
        assert error_codes(body) == ["FORBIDDEN"], body
    assert statuses(database, world) == ["PENDING"]
    with database.sync_session(world.tenant.id) as session:
        assert list(session.scalars(select(Job.id).where(Job.kind == REBATES))) == []
    # An admin may ask for the rebates; a bad period is a typed error.
    ok = await call(client, COMPUTE_REBATES, {"period": "2026-q4"}, world.admin_headers(app))
    assert ok["errors"] == []
    assert ok["job"]["kind"] == REBATES
    bad = await call(client, COMPUTE_REBATES, {"period": "2026-13"}, world.admin_headers(app))
    assert [(e["code"], e["field"]) for e in bad["errors"]] == [("INVALID", "period")]


@pytest.mark.asyncio
async def test_partner_users_see_and_dispute_only_their_partners_incentives(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    world = await make_world(database)
    other_tenant = await make_world(database)
    await earn_bonuses(client, app, database, world, count=2)
    await win(
        client, app, database, world, open_deal(database, world, world.other_partner_id, "10")
    )
    rows = earned_rows(database, world.tenant.id)
    mine = {gid("EarnedIncentive", r.id) for r in rows if r.partner_id == world.partner_id}
    theirs = {gid("EarnedIncentive", r.id) for r in rows if r.partner_id != world.partner_id}
    assert (len(mine), len(theirs)) == (2, 1)
    manager = await make_user(database, world.tenant.id, roles=(Role.MANAGER,))
    employee = await make_user(database, world.tenant.id, roles=(Role.EMPLOYEE,))

    async def ids(user: User, **filter: Any) -> set[str]:
        return {node["id"] for node in await earned(client, app, user, **filter)}

    assert await ids(world.partner_user) == mine
    assert await ids(world.other_partner_user) == theirs
    assert await ids(world.tenant.admin) == mine | theirs
    assert await ids(manager) == mine | theirs
    assert await ids(employee) == set()
    assert await ids(other_tenant.tenant.admin) == set()
    other_partner = gid("Partner", world.other_partner_id)
    assert await ids(world.partner_user, partnerId=other_partner) == set()
    assert await ids(world.tenant.admin, partnerId=other_partner) == theirs

    [foreign] = theirs
    body = await gql(client, NODE, {"id": foreign}, headers=world.partner_headers(app))
    assert body["data"]["node"] is None
    result = await call(
        client, DISPUTE, {"id": foreign, "reason": "mine"}, world.partner_headers(app)
    )
    assert [e["code"] for e in result["errors"]] == ["NOT_FOUND"]
    result = await call(client, APPROVE, {"id": foreign}, other_tenant.admin_headers(app))
    assert [e["code"] for e in result["errors"]] == ["NOT_FOUND"]
    assert set(statuses(database, world)) == {"PENDING"}
