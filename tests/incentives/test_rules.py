"""Incentive rules through the API: admins create, change and end them; bad input is a
typed error that writes nothing; partner users may not manage them and read only the
rules of programs their partner is enrolled in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from prm.auth.principal import Role
from prm.db.engine import Database
from prm.incentives.models import IncentiveRule
from tests.catalog.factories import make_product
from tests.factories import bearer, make_user
from tests.graphql.support import error_codes, gql
from tests.incentives.factories import (
    CREATE_RULE,
    END_RULE,
    NODE,
    RULES,
    UPDATE_RULE,
    add_program,
    create_rule,
    gid,
    make_world,
    rule_count,
    rule_ok,
)

NOW = datetime.now(UTC)


def codes(payload: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [(error["code"], error["field"]) for error in payload["errors"]]


@pytest.mark.asyncio
async def test_bad_rules_get_typed_errors_and_write_nothing(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    world = await make_world(database)
    other = await make_world(database)
    foreign_product = await make_product(database, other.tenant.id)
    usd = {"amount": "10", "currency": "USD"}
    cases: list[tuple[dict[str, Any], tuple[str, str]]] = [
        ({"kind": "REVENUE_PERCENT", "percent": "100.01"}, ("INVALID", "percent")),
        ({"kind": "REVENUE_PERCENT", "percent": "-5"}, ("INVALID", "percent")),
        ({"kind": "REVENUE_PERCENT", "percent": "0"}, ("INVALID", "percent")),
        ({"kind": "REVENUE_PERCENT"}, ("INVALID", "percent")),
        ({"kind": "REVENUE_PERCENT", "percent": "5", "amount": usd}, ("INVALID", "amount")),
        (
            {"kind": "DEAL_BONUS", "amount": {"amount": "10", "currency": "EUR"},
             "currency": "USD"},
            ("INVALID", "currency"),
        ),
        ({"kind": "DEAL_BONUS", "amount": {"amount": "-10", "currency": "USD"}},
         ("INVALID", "amount.amount")),
        ({"kind": "DEAL_BONUS", "amount": {"amount": "10", "currency": "XYZ"}},
         ("INVALID", "amount.currency")),
        (
            {"kind": "DEAL_BONUS", "amount": usd, "startsAt": NOW.isoformat(),
             "endsAt": (NOW - timedelta(days=1)).isoformat()},
            ("INVALID", "endsAt"),
        ),
        ({"kind": "DEAL_BONUS", "amount": usd, "disputeDays": -1}, ("INVALID", "disputeDays")),
        (
            {"kind": "SPIFF", "amount": usd, "startsAt": NOW.isoformat(),
             "endsAt": (NOW + timedelta(days=1)).isoformat()},
            ("INVALID", "productIds"),
        ),
        (
            {"kind": "SPIFF", "amount": usd, "productIds": [gid("Product", foreign_product.id)],
             "startsAt": NOW.isoformat(), "endsAt": (NOW + timedelta(days=1)).isoformat()},
            ("NOT_FOUND", "productIds"),
        ),
        (
            {"kind": "VOLUME_REBATE", "currency": "USD",
             "tiers": [{"threshold": "10000", "percent": "2"},
                       {"threshold": "10000", "percent": "3"}]},
            ("INVALID", "tiers"),
        ),
        (
            {"kind": "VOLUME_REBATE", "currency": "USD",
             "tiers": [{"threshold": "10000", "percent": "120"}]},
            ("INVALID", "tiers"),
        ),
        ({"kind": "VOLUME_REBATE", "tiers": [{"threshold": "1", "percent": "2"}]},
         ("INVALID", "currency")),
        (
            {"kind": "DEAL_BONUS", "amount": usd,
             "programId": gid("ChannelProgram", other.program_id)},
            ("NOT_FOUND", "programId"),
        ),
        (
            {"kind": "DEAL_BONUS", "amount": usd,
             "levelId": gid("ProgramLevel", other.gold_id)},
            ("NOT_FOUND", "levelId"),
        ),
    ]  # fmt: skip
    for fields, expected in cases:
        payload = await create_rule(client, app, world, name="Bad", **fields)
        assert codes(payload) == [expected], (fields, payload)
        assert payload["incentiveRule"] is None
    # A level of another program of the same tenant is not a level of this program.
    _, level_id = add_program(database, world)
    payload = await create_rule(
        client, app, world, name="Bad", kind="DEAL_BONUS", amount=usd,
        levelId=gid("ProgramLevel", level_id),
    )  # fmt: skip
    assert codes(payload) == [("NOT_FOUND", "levelId")]
    assert rule_count(database, world.tenant.id) == 0
    assert rule_count(database, other.tenant.id) == 0


@pytest.mark.asyncio
async def test_a_bad_update_or_end_changes_nothing(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    world = await make_world(database)
    other = await make_world(database)
    starts = NOW - timedelta(days=2)
    rule = await rule_ok(
        client, app, world, name="Five", kind="REVENUE_PERCENT", percent="5",
        startsAt=starts.isoformat(),
    )  # fmt: skip
    admin = world.admin_headers(app)

    async def update(input: dict[str, Any]) -> dict[str, Any]:
        body = await gql(client, UPDATE_RULE, {"id": rule["id"], "input": input}, headers=admin)
        payload: dict[str, Any] = body["data"]["updateIncentiveRule"]
        return payload

    assert codes(await update({"name": "Renamed", "percent": "101"})) == [("INVALID", "percent")]
    bad_end = (starts - timedelta(days=1)).isoformat()
    assert codes(await update({"name": "Renamed", "endsAt": bad_end})) == [("INVALID", "endsAt")]
    assert codes(await update({"amount": {"amount": "5", "currency": "USD"}})) == [
        ("INVALID", "amount")
    ]
    body = await gql(client, END_RULE, {"id": rule["id"], "endsAt": bad_end}, headers=admin)
    assert codes(body["data"]["endIncentiveRule"]) == [("INVALID", "endsAt")]
    with database.sync_session(world.tenant.id) as session:
        stored = session.scalar(select(IncentiveRule))
        assert stored is not None
        assert (stored.name, str(stored.percent), stored.ends_at) == ("Five", "5.0000", None)

    foreign = await gql(
        client, UPDATE_RULE, {"id": rule["id"], "input": {"name": "Mine"}},
        headers=other.admin_headers(app),
    )  # fmt: skip
    assert codes(foreign["data"]["updateIncentiveRule"]) == [("NOT_FOUND", "id")]
    foreign = await gql(client, END_RULE, {"id": rule["id"]}, headers=other.admin_headers(app))
    assert codes(foreign["data"]["endIncentiveRule"]) == [("NOT_FOUND", "id")]

    ok = await update({"name": "Six", "percent": "6.25"})
    assert ok["errors"] == []
    assert (ok["incentiveRule"]["name"], ok["incentiveRule"]["percent"]) == ("Six", "6.25")
    ended = await gql(client, END_RULE, {"id": rule["id"]}, headers=admin)
    assert ended["data"]["endIncentiveRule"]["errors"] == []
    assert ended["data"]["endIncentiveRule"]["incentiveRule"]["endsAt"] is not None


@pytest.mark.asyncio
async def test_partner_users_may_not_create_change_or_end_rules(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    world = await make_world(database)
    rule = await rule_ok(client, app, world, name="Five", kind="REVENUE_PERCENT", percent="5")
    manager = await make_user(database, world.tenant.id, roles=(Role.MANAGER,))
    for user in (world.partner_user, world.other_partner_user, manager):
        headers = bearer(app.state.issuer, user)
        create = await gql(
            client, CREATE_RULE,
            {"input": {"programId": gid("ChannelProgram", world.program_id), "name": "x",
                       "kind": "DEAL_BONUS", "amount": {"amount": "1", "currency": "USD"}}},
            headers=headers,
        )  # fmt: skip
        update = await gql(
            client, UPDATE_RULE, {"id": rule["id"], "input": {"percent": "50"}}, headers=headers
        )
        end = await gql(client, END_RULE, {"id": rule["id"]}, headers=headers)
        for body in (create, update, end):
            assert error_codes(body) == ["FORBIDDEN"], body
    assert rule_count(database, world.tenant.id) == 1
    with database.sync_session(world.tenant.id) as session:
        stored = session.scalar(select(IncentiveRule))
        assert stored is not None
        assert (str(stored.percent), stored.ends_at) == ("5.0000", None)


@pytest.mark.asyncio
async def test_partner_users_read_only_the_rules_of_their_programs(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    world = await make_world(database)
    other_tenant = await make_world(database)
    gold = await rule_ok(
        client, app, world, name="Gold", kind="DEAL_BONUS",
        levelId=gid("ProgramLevel", world.gold_id), amount={"amount": "5", "currency": "USD"},
    )  # fmt: skip
    wide = await rule_ok(client, app, world, name="All", kind="REVENUE_PERCENT", percent="1")
    program_id, _ = add_program(database, world)
    hidden = await rule_ok(
        client, app, world, name="Distributors", kind="REVENUE_PERCENT", percent="2",
        programId=gid("ChannelProgram", program_id),
    )  # fmt: skip
    employee = await make_user(database, world.tenant.id, roles=(Role.EMPLOYEE,))

    async def names(user: Any, filter: dict[str, Any] | None = None) -> set[str]:
        body = await gql(client, RULES, {"filter": filter}, headers=bearer(app.state.issuer, user))
        assert "errors" not in body, body
        return {edge["node"]["name"] for edge in body["data"]["incentiveRules"]["edges"]}

    assert await names(world.tenant.admin) == {"Gold", "All", "Distributors"}
    assert await names(employee) == {"Gold", "All", "Distributors"}
    assert await names(world.partner_user) == {"Gold", "All"}
    assert await names(world.other_partner_user) == {"Gold", "All"}
    assert await names(other_tenant.tenant.admin) == set()
    assert await names(other_tenant.partner_user) == set()
    program_filter = {"programId": gid("ChannelProgram", program_id)}
    assert await names(world.partner_user, program_filter) == set()
    assert await names(world.tenant.admin, program_filter) == {"Distributors"}
    level_filter = {"levelId": gid("ProgramLevel", world.gold_id)}
    assert await names(world.partner_user, level_filter) == {"Gold"}

    partner = world.partner_headers(app)
    for rule, visible in ((gold, True), (wide, True), (hidden, False)):
        body = await gql(client, NODE, {"id": rule["id"]}, headers=partner)
        assert (body["data"]["node"] is not None) is visible, (rule["name"], body)
    body = await gql(client, NODE, {"id": gold["id"]}, headers=other_tenant.admin_headers(app))
    assert body["data"]["node"] is None
