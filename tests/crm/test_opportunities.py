"""Opportunities over GraphQL: money, stages and their transitions, probabilities, close
times, and the `opportunities` list with its filters and orderings."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from prm.auth.principal import Role
from prm.crm.models import Opportunity
from prm.crm.models import OpportunityStage as Stage
from prm.db.engine import Database
from tests.crm.factories import (
    CREATE_OPPORTUNITY,
    DELETE_OPPORTUNITY,
    UPDATE_OPPORTUNITY,
    gid,
    make_account,
    make_activity,
    make_opportunity,
)
from tests.factories import TenantWithAdmin, bearer, make_employee, make_tenant, make_user
from tests.graphql.support import error_codes, gql

OPPORTUNITIES = """query ($first: Int, $after: String, $filter: OpportunityFilter,
                         $orderBy: OpportunityOrder) {
  opportunities(first: $first, after: $after, filter: $filter, orderBy: $orderBy) {
    totalCount edges { node { name } } pageInfo { hasNextPage endCursor }
  }
}"""


async def opportunity_count(database: Database, tenant: TenantWithAdmin) -> int:
    async with database.session(tenant.id) as session:
        count = await session.scalar(
            select(func.count()).select_from(Opportunity).where(Opportunity.tenant_id == tenant.id)
        )
        return int(count or 0)


async def create(
    client: httpx.AsyncClient, headers: dict[str, str], **fields: Any
) -> dict[str, Any]:
    body = await gql(client, CREATE_OPPORTUNITY, {"input": fields}, headers=headers)
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["createOpportunity"]
    return payload


async def update(
    client: httpx.AsyncClient, headers: dict[str, str], opportunity_id: str, **fields: Any
) -> dict[str, Any]:
    body = await gql(
        client, UPDATE_OPPORTUNITY, {"id": opportunity_id, "input": fields}, headers=headers
    )
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["updateOpportunity"]
    return payload


@pytest.mark.asyncio
async def test_an_opportunity_is_created_with_money_and_the_stage_probability(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    account = await make_account(database, tenant.id)
    owner = await make_employee(database, tenant.id, name="Sam Seller")
    headers = bearer(app.state.issuer, tenant.admin)

    payload = await create(
        client,
        headers,
        accountId=gid("Account", account),
        name="Big deal",
        amount={"amount": "1234.5", "currency": "usd"},
        stage="PROPOSAL",
        closeDate="2026-12-31",
        ownerId=gid("Employee", owner),
    )
    plain = await create(client, headers, accountId=gid("Account", account), name="Small")
    given = await create(
        client, headers, accountId=gid("Account", account), name="Sure", probability=90
    )

    assert payload["errors"] == []
    deal = payload["opportunity"]
    assert deal["amount"] == {"amount": "1234.50", "currency": "USD"}
    assert deal["stage"] == "PROPOSAL"
    assert deal["probability"] == 50
    assert deal["closeDate"] == "2026-12-31"
    assert deal["closedAt"] is None
    assert deal["account"] == {"id": gid("Account", account)}
    assert deal["owner"] == {"name": "Sam Seller"}
    assert plain["opportunity"]["stage"] == "PROSPECTING"
    assert plain["opportunity"]["probability"] == 10
    assert plain["opportunity"]["amount"] is None
    assert given["opportunity"]["probability"] == 90


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [
        ({"amount": {"amount": "-1", "currency": "USD"}}, "INVALID", "amount.amount"),
        ({"amount": {"amount": "10", "currency": "XYZ"}}, "INVALID", "amount.currency"),
        ({"amount": {"amount": "1.234", "currency": "USD"}}, "INVALID", "amount.amount"),
        ({"amount": {"amount": "NaN", "currency": "USD"}}, "INVALID", "amount.amount"),
        ({"name": "  "}, "INVALID", "name"),
        ({"probability": 101}, "INVALID", "probability"),
        ({"accountId": gid("Account", uuid.uuid4())}, "NOT_FOUND", "accountId"),
        ({"accountId": "garbage"}, "NOT_FOUND", "accountId"),
        ({"ownerId": gid("Employee", uuid.uuid4())}, "NOT_FOUND", "ownerId"),
    ],
)
async def test_bad_opportunity_input_is_a_typed_error_and_writes_nothing(
    client: httpx.AsyncClient,
    app: FastAPI,
    database: Database,
    fields: dict[str, Any],
    code: str,
    field: str,
) -> None:
    tenant = await make_tenant(database)
    account = await make_account(database, tenant.id)
    values = {"accountId": gid("Account", account), "name": "Deal"} | fields
    payload = await create(client, bearer(app.state.issuer, tenant.admin), **values)
    assert payload["opportunity"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [(code, field)]
    assert await opportunity_count(database, tenant) == 0


@pytest.mark.asyncio
async def test_a_malformed_decimal_is_bad_user_input(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    account = await make_account(database, tenant.id)
    body = await gql(
        client,
        CREATE_OPPORTUNITY,
        {
            "input": {
                "accountId": gid("Account", account),
                "name": "Deal",
                "amount": {"amount": "lots", "currency": "USD"},
            }
        },
        headers=bearer(app.state.issuer, tenant.admin),
    )
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert await opportunity_count(database, tenant) == 0


@pytest.mark.asyncio
async def test_stages_move_freely_while_open_and_closing_is_terminal(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    account = await make_account(database, tenant.id)
    deal = await make_opportunity(database, tenant.id, account_id=account.id)
    employee = bearer(app.state.issuer, await make_user(database, tenant.id))
    manager = bearer(app.state.issuer, await make_user(database, tenant.id, roles=(Role.MANAGER,)))
    deal_id = gid("Opportunity", deal)

    back_and_forth = [
        await update(client, employee, deal_id, stage=stage)
        for stage in ("NEGOTIATION", "QUALIFICATION")
    ]
    assert [p["opportunity"]["probability"] for p in back_and_forth] == [75, 25]

    won = await update(client, employee, deal_id, stage="CLOSED_WON")
    assert won["opportunity"]["probability"] == 100
    closed_at = won["opportunity"]["closedAt"]
    assert closed_at is not None

    for stage, who in (("PROPOSAL", employee), ("CLOSED_LOST", manager), ("NEGOTIATION", employee)):
        refused = await update(client, who, deal_id, stage=stage)
        assert refused["opportunity"] is None
        assert [(e["code"], e["field"]) for e in refused["errors"]] == [
            ("INVALID_TRANSITION", "stage")
        ]
    unchanged = await update(client, employee, deal_id, name="Renamed")
    assert unchanged["opportunity"]["stage"] == "CLOSED_WON"
    assert unchanged["opportunity"]["closedAt"] == closed_at

    reopened = await update(client, manager, deal_id, stage="NEGOTIATION", probability=60)
    assert reopened["errors"] == []
    assert reopened["opportunity"]["stage"] == "NEGOTIATION"
    assert reopened["opportunity"]["probability"] == 60
    assert reopened["opportunity"]["closedAt"] is None


@pytest.mark.asyncio
async def test_a_failed_update_writes_nothing(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    account = await make_account(database, tenant.id)
    deal = await make_opportunity(database, tenant.id, account_id=account.id, name="Before")
    payload = await update(
        client,
        bearer(app.state.issuer, tenant.admin),
        gid("Opportunity", deal),
        name="After",
        amount={"amount": "-5", "currency": "USD"},
    )
    assert payload["errors"][0]["code"] == "INVALID"
    async with database.session(tenant.id) as session:
        row = await session.get(Opportunity, (tenant.id, deal.id))
        assert row is not None
        assert row.name == "Before"


@pytest.mark.asyncio
async def test_deleting_a_deal_takes_its_activities_and_needs_a_manager(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    account = await make_account(database, tenant.id)
    deal = await make_opportunity(database, tenant.id, account_id=account.id)
    activity = await make_activity(
        database, tenant.id, account_id=account.id, opportunity_id=deal.id
    )
    employee = bearer(app.state.issuer, await make_user(database, tenant.id))

    forbidden = await gql(
        client, DELETE_OPPORTUNITY, {"id": gid("Opportunity", deal)}, headers=employee
    )
    assert error_codes(forbidden) == ["FORBIDDEN"]
    admin = bearer(app.state.issuer, tenant.admin)
    deleted = await gql(client, DELETE_OPPORTUNITY, {"id": gid("Opportunity", deal)}, headers=admin)
    assert deleted["data"]["deleteOpportunity"]["errors"] == []
    gone = await gql(
        client,
        "query ($a: ID!, $o: ID!) { a: node(id: $a) { id } o: node(id: $o) { id } }",
        {"a": gid("Activity", activity), "o": gid("Opportunity", deal)},
        headers=admin,
    )
    assert gone["data"] == {"a": None, "o": None}


@pytest.mark.asyncio
async def test_opportunities_filter_by_stage_dates_amounts_currency_and_name(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    owner = await make_employee(database, tenant.id)
    account = await make_account(database, tenant.id)
    other_account = await make_account(database, tenant.id)
    headers = bearer(app.state.issuer, tenant.admin)
    rows = [
        ("alpha", "100", "USD", Stage.PROSPECTING, "2026-01-10"),
        ("bravo", "500", "USD", Stage.PROPOSAL, "2026-02-10"),
        ("charlie", "900", "EUR", Stage.CLOSED_WON, "2026-03-10"),
        ("delta", None, "USD", Stage.NEGOTIATION, None),
    ]
    for name, amount, currency, stage, close in rows:
        body = await create(
            client,
            headers,
            accountId=gid("Account", account),
            name=name,
            amount={"amount": amount, "currency": currency} if amount else None,
            stage=stage.value,
            closeDate=close,
            ownerId=gid("Employee", owner) if name == "alpha" else None,
        )
        assert body["errors"] == []
    await make_opportunity(database, tenant.id, account_id=other_account.id, name="echo")

    async def names(filter: dict[str, Any]) -> list[str]:
        body = await gql(client, OPPORTUNITIES, {"filter": filter}, headers=headers)
        assert "errors" not in body, body
        return sorted(edge["node"]["name"] for edge in body["data"]["opportunities"]["edges"])

    assert await names({"accountId": gid("Account", other_account)}) == ["echo"]
    assert await names({"ownerId": gid("Employee", owner)}) == ["alpha"]
    assert await names({"stage": "PROPOSAL"}) == ["bravo"]
    assert await names({"stages": ["PROSPECTING", "CLOSED_WON"]}) == ["alpha", "charlie", "echo"]
    assert await names({"closeDateFrom": "2026-02-01", "closeDateTo": "2026-03-10"}) == [
        "bravo",
        "charlie",
    ]
    assert await names({"amountMin": "100", "amountMax": "500", "currency": "usd"}) == [
        "alpha",
        "bravo",
    ]
    assert await names({"search": "ARL"}) == ["charlie"]
    bad_currency = await gql(
        client, OPPORTUNITIES, {"filter": {"currency": "ZZZ"}}, headers=headers
    )
    assert error_codes(bad_currency) == ["BAD_USER_INPUT"]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("order", "expected"),
    [
        ({"field": "CLOSE_DATE"}, ["b", "a", "c", "none"]),
        ({"field": "CLOSE_DATE", "direction": "DESC"}, ["none", "c", "a", "b"]),
        ({"field": "AMOUNT", "direction": "DESC"}, ["c", "b", "a", "none"]),
        ({"field": "NAME"}, ["a", "b", "c", "none"]),
        ({"field": "CREATED"}, ["a", "b", "c", "none"]),
    ],
)
async def test_opportunities_page_in_every_order_including_missing_values(
    client: httpx.AsyncClient,
    app: FastAPI,
    database: Database,
    order: dict[str, str],
    expected: list[str],
) -> None:
    tenant = await make_tenant(database)
    account = await make_account(database, tenant.id)
    headers = bearer(app.state.issuer, tenant.admin)
    for name, amount, close in (
        ("a", "10", "2026-05-01"),
        ("b", "20", "2026-04-01"),
        ("c", "30", "2026-06-01"),
        ("none", None, None),
    ):
        await create(
            client,
            headers,
            accountId=gid("Account", account),
            name=name,
            amount={"amount": amount, "currency": "USD"} if amount else None,
            closeDate=close,
        )
    seen: list[str] = []
    after = None
    while True:
        body = await gql(
            client, OPPORTUNITIES, {"first": 1, "after": after, "orderBy": order}, headers=headers
        )
        assert "errors" not in body, body
        page = body["data"]["opportunities"]
        seen += [edge["node"]["name"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == expected
