"""Analytical CRM: customer metrics computed from rows written directly (every expected
number worked out by hand below), recompute idempotence, recording costs (bad input
writes nothing), and `Account.lifetimeValue` batched over a page of accounts."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from prm.auth.principal import Role
from prm.crm.models import Opportunity, OpportunityStage
from prm.crm.opportunities import DEFAULT_PROBABILITY
from prm.db.engine import Database
from prm.leads.models import Lead
from prm.metrics.customer_metrics import compute_customer_metrics
from prm.metrics.models import CostEntry, CostKind, CustomerMetricsRow
from prm.metrics.periods import parse_period
from prm.tenants.models import AuditEntry, User
from tests.crm.factories import make_account
from tests.factories import bearer, make_partner, make_tenant, make_user, unique
from tests.graphql.support import error_codes, gql
from tests.statements import counting_statements

WON, LOST = OpportunityStage.CLOSED_WON, OpportunityStage.CLOSED_LOST
METRICS = """query($period: String!) { customerMetrics(period: $period) {
  period customers newCustomers churnedCustomers churnRate repeatCustomers
  averageLifetimeValue { amount currency } costPerLead { amount currency }
  costPerSale { amount currency } closingRate computedAt
} }"""
RECORD = """mutation($input: RecordCostInput!) { recordCost(input: $input) {
  costEntry { id kind name incurredOn amount { amount currency } notes }
  errors { code field message }
} }"""
DELETE = """mutation($id: ID!) { deleteCostEntry(id: $id) {
  costEntry { id } errors { code field }
} }"""
COSTS = """query($filter: CostEntryFilter, $first: Int, $after: String) {
  costEntries(first: $first, after: $after, filter: $filter) {
    edges { node { name incurredOn } } pageInfo { hasNextPage endCursor } totalCount
} }"""
ACCOUNTS = """query($first: Int!) { accounts(first: $first) { edges { node {
  name lifetimeValue { amount currency }
} } } }"""


def at(year: int, month: int, day: int, hour: int = 12, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def cents(amount: Decimal) -> Decimal:
    return amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def auth(app: FastAPI, user: User) -> dict[str, str]:
    return bearer(app.state.issuer, user)


async def add_deals(
    database: Database,
    tenant_id: uuid.UUID,
    account_id: uuid.UUID,
    *deals: tuple[OpportunityStage, datetime | None, str, str],
) -> None:
    """Opportunities of one account: (stage, closed_at, amount, currency) each."""
    async with database.session(tenant_id) as session:
        for stage, closed_at, amount, currency in deals:
            session.add(
                Opportunity(
                    tenant_id=tenant_id,
                    account_id=account_id,
                    name=unique("Deal"),
                    amount=Decimal(amount),
                    currency=currency,
                    stage=stage,
                    probability=DEFAULT_PROBABILITY[stage],
                    closed_at=closed_at,
                )
            )


async def add_leads(database: Database, tenant_id: uuid.UUID, *created: datetime) -> None:
    async with database.session(tenant_id) as session:
        for moment in created:
            name = unique("Company")
            session.add(
                Lead(
                    tenant_id=tenant_id,
                    company_name=name,
                    normalized_company=name.lower(),
                    created_at=moment,
                    updated_at=moment,
                )
            )


async def add_costs(
    database: Database, tenant_id: uuid.UUID, *costs: tuple[date, str, str]
) -> None:
    """Cost entries written directly: (incurred_on, amount, currency) each."""
    async with database.session(tenant_id) as session:
        for day, amount, currency in costs:
            session.add(
                CostEntry(
                    tenant_id=tenant_id,
                    kind=CostKind.CAMPAIGN,
                    name=unique("campaign"),
                    incurred_on=day,
                    amount=Decimal(amount),
                    currency=currency,
                )
            )


async def compute(database: Database, tenant_id: uuid.UUID, period: str, now: datetime) -> None:
    async with database.session(tenant_id) as session:
        await session.run_sync(
            lambda sync: compute_customer_metrics(sync, tenant_id, parse_period(period), now=now)
        )


async def stored_row(database: Database, tenant_id: uuid.UUID) -> list[dict[str, Any]]:
    async with database.session(tenant_id) as session:
        rows = (
            await session.scalars(
                select(CustomerMetricsRow).where(CustomerMetricsRow.tenant_id == tenant_id)
            )
        ).all()
        return [
            {c.key: getattr(row, c.key) for c in CustomerMetricsRow.__table__.columns}
            for row in rows
        ]


async def build_quarter(database: Database, tenant_id: uuid.UUID) -> None:
    """2026-Q2 is [2026-04-01, 2026-07-01). Twelve months before its start is 2025-04-01,
    before its end 2025-07-01, and 24 months before its end 2024-07-01. USD tenant."""
    accounts = {
        name: (await make_account(database, tenant_id, name=name)).id
        for name in ("new", "repeat", "churned", "lapsed", "euro", "later", "lost", "old-new")
    }
    # new: first won deal in the quarter.
    await add_deals(database, tenant_id, accounts["new"], (WON, at(2026, 5, 10), "1000", "USD"))
    # repeat: live at start (won 2025-09), wins again in the quarter.
    await add_deals(
        database,
        tenant_id,
        accounts["repeat"],
        (WON, at(2025, 9, 1), "2000", "USD"),
        (WON, at(2026, 6, 15), "3000", "USD"),
    )
    # churned: last won 2025-05-20, in [2025-04-01, 2025-07-01): live at start, not at end.
    await add_deals(database, tenant_id, accounts["churned"], (WON, at(2025, 5, 20), "500", "USD"))
    # lapsed: two wins in 2023: neither live nor churned nor repeat.
    await add_deals(
        database,
        tenant_id,
        accounts["lapsed"],
        (WON, at(2023, 1, 10), "400", "USD"),
        (WON, at(2023, 2, 10), "400", "USD"),
    )
    # euro: live (won 2026-01-15) but its EUR revenue is not summed.
    await add_deals(database, tenant_id, accounts["euro"], (WON, at(2026, 1, 15), "700", "EUR"))
    # later: won exactly at the quarter's end (excluded: periods are half-open) and after.
    await add_deals(
        database,
        tenant_id,
        accounts["later"],
        (WON, datetime(2026, 7, 1, tzinfo=UTC), "9000", "USD"),
        (WON, at(2026, 8, 1), "9000", "USD"),
    )
    # lost: one loss in the quarter, one before it, one still open.
    await add_deals(
        database,
        tenant_id,
        accounts["lost"],
        (LOST, at(2026, 5, 1), "800", "USD"),
        (LOST, at(2026, 3, 1), "800", "USD"),
        (OpportunityStage.PROPOSAL, None, "800", "USD"),
    )
    # old-new: live a year before the end (won 2024-10-01) and still live (won 2026-02-01).
    await add_deals(
        database,
        tenant_id,
        accounts["old-new"],
        (WON, at(2024, 10, 1), "100", "USD"),
        (WON, at(2026, 2, 1), "900", "USD"),
    )
    await add_leads(
        database,
        tenant_id,
        datetime(2026, 4, 1, tzinfo=UTC),
        at(2026, 5, 5),
        datetime(2026, 6, 30, 23, 59, tzinfo=UTC),
        datetime(2026, 3, 31, 23, 59, tzinfo=UTC),  # before
        datetime(2026, 7, 1, tzinfo=UTC),  # after
    )
    await add_costs(
        database,
        tenant_id,
        (date(2026, 4, 1), "300.00", "USD"),
        (date(2026, 6, 30), "150.50", "USD"),
        (date(2026, 5, 1), "999.00", "EUR"),  # another currency: not summed
        (date(2026, 3, 31), "1000.00", "USD"),  # before
        (date(2026, 7, 1), "1000.00", "USD"),  # after
    )


@pytest.mark.asyncio
async def test_every_figure_of_a_quarter(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    await build_quarter(database, tenant.id)
    headers = auth(app, tenant.admin)

    before = await gql(client, METRICS, {"period": "2026-Q2"}, headers=headers)
    assert before == {"data": {"customerMetrics": None}}, "null until computed"

    await compute(database, tenant.id, "2026-Q2", at(2026, 7, 2))
    body = await gql(client, METRICS, {"period": "2026-q2"}, headers=headers)
    assert "errors" not in body, body
    metrics = body["data"]["customerMetrics"]

    # Live at end (a win in [2025-07-01, 2026-07-01)): new, repeat, euro, old-new.
    customers = 4
    # Live at start (a win in [2025-04-01, 2026-04-01)): repeat, churned, euro, old-new.
    live_at_start = 4
    churned = 1  # churned
    # Live a year before the end (a win in [2024-07-01, 2025-07-01)): churned, old-new;
    # of them only churned is not live at the end: annual churn 1/2, so 2 expected years.
    expected_years = Decimal(1) / (Decimal(1) / Decimal(2))
    costs = Decimal("300.00") + Decimal("150.50")
    new_customers = 1
    yearly_revenue = Decimal(1000 + 2000 + 3000 + 900)  # USD wins in the trailing year
    lifetime_value = yearly_revenue / customers * 1 * expected_years - costs / new_customers
    won, lost, leads = 2, 1, 3

    assert metrics == {
        "period": "2026-Q2",
        "customers": customers,
        "newCustomers": new_customers,
        "churnedCustomers": churned,
        "churnRate": churned / live_at_start,
        "repeatCustomers": 2,  # repeat and old-new; lapsed has two wins but is not live
        "averageLifetimeValue": {"amount": str(lifetime_value), "currency": "USD"},
        "costPerLead": {"amount": str(cents(costs / leads)), "currency": "USD"},
        "costPerSale": {"amount": str(costs / won), "currency": "USD"},
        "closingRate": pytest.approx(won / (won + lost)),
        "computedAt": "2026-07-02T12:00:00+00:00",
    }
    assert lifetime_value == Decimal("2999.50")
    assert cents(costs / leads) == Decimal("150.17")


@pytest.mark.asyncio
async def test_a_quiet_period_has_nulls_not_zero_divisions(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    await compute(database, tenant.id, "2026-03", at(2026, 4, 1))
    body = await gql(client, METRICS, {"period": "2026-03"}, headers=auth(app, tenant.admin))
    metrics = body["data"]["customerMetrics"]
    assert {key: value for key, value in metrics.items() if key != "computedAt"} == {
        "period": "2026-03",
        "customers": 0,
        "newCustomers": 0,
        "churnedCustomers": 0,
        "churnRate": None,
        "repeatCustomers": 0,
        "averageLifetimeValue": None,
        "costPerLead": None,
        "costPerSale": None,
        "closingRate": None,
    }


@pytest.mark.asyncio
async def test_recomputing_replaces_the_row_with_the_same_figures(database: Database) -> None:
    tenant = await make_tenant(database)
    await build_quarter(database, tenant.id)
    await compute(database, tenant.id, "2026-Q2", at(2026, 7, 2))
    first = await stored_row(database, tenant.id)
    await compute(database, tenant.id, "2026-Q2", at(2026, 7, 3))
    second = await stored_row(database, tenant.id)

    assert len(first) == len(second) == 1
    assert second[0]["computed_at"] == at(2026, 7, 3)
    assert {**first[0], "computed_at": None} == {**second[0], "computed_at": None}

    # New data is picked up by the next recompute: one more in-period lead.
    await add_leads(database, tenant.id, at(2026, 6, 1))
    await compute(database, tenant.id, "2026-Q2", at(2026, 7, 4))
    (third,) = await stored_row(database, tenant.id)
    assert third["cost_per_lead"] == cents(Decimal("450.50") / 4) == Decimal("112.63")


@pytest.mark.asyncio
async def test_customer_metrics_are_for_staff_and_a_bad_period_is_an_error(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    partner = await make_partner(database, tenant.id)
    partner_user = await make_user(
        database, tenant.id, roles=(Role.PARTNER_ADMIN,), partner_id=partner.id
    )
    employee = await make_user(database, tenant.id, roles=(Role.EMPLOYEE,))
    await compute(database, tenant.id, "2026-Q2", at(2026, 7, 2))

    denied = await gql(client, METRICS, {"period": "2026-Q2"}, headers=auth(app, partner_user))
    assert error_codes(denied) == ["FORBIDDEN"]
    seen = await gql(client, METRICS, {"period": "2026-Q2"}, headers=auth(app, employee))
    assert seen["data"]["customerMetrics"]["period"] == "2026-Q2"

    bad = await gql(client, METRICS, {"period": "2026-Q5"}, headers=auth(app, employee))
    assert error_codes(bad) == ["INVALID"]
    assert bad["errors"][0]["extensions"]["field"] == "period"

    other = await make_tenant(database)
    assert (await gql(client, METRICS, {"period": "2026-Q2"}, headers=auth(app, other.admin)))[
        "data"
    ]["customerMetrics"] is None, "another tenant's snapshot is not visible"


async def cost_rows(database: Database, tenant_id: uuid.UUID) -> int:
    async with database.session(tenant_id) as session:
        costs = await session.scalar(
            select(func.count()).select_from(CostEntry).where(CostEntry.tenant_id == tenant_id)
        )
        audits = await session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.tenant_id == tenant_id, AuditEntry.operation == "recordCost")
        )
        return int(costs or 0) + int(audits or 0)


@pytest.mark.asyncio
async def test_recording_listing_and_deleting_costs(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    manager = await make_user(database, tenant.id, roles=(Role.MANAGER,))
    headers = auth(app, manager)

    recorded = []
    for kind, name, day, amount in [
        ("CAMPAIGN", "Spring mailing", "2026-04-10", "300.00"),
        ("CHANNEL", "Trade fair", "2026-05-20", "1200"),
        ("CAMPAIGN", "Webinar", "2026-06-01", "0"),
    ]:
        body = await gql(
            client,
            RECORD,
            {
                "input": {
                    "kind": kind,
                    "name": f"  {name} ",
                    "incurredOn": day,
                    "amount": {"amount": amount, "currency": "usd"},
                    "notes": "  ",
                }
            },
            headers=headers,
        )
        payload = body["data"]["recordCost"]
        assert payload["errors"] == [], payload
        recorded.append(payload["costEntry"])
    assert recorded[0] == {
        "id": recorded[0]["id"],
        "kind": "CAMPAIGN",
        "name": "Spring mailing",
        "incurredOn": "2026-04-10",
        "amount": {"amount": "300.00", "currency": "USD"},
        "notes": None,
    }

    listed = await gql(client, COSTS, {}, headers=headers)
    names = [edge["node"]["name"] for edge in listed["data"]["costEntries"]["edges"]]
    assert names == ["Webinar", "Trade fair", "Spring mailing"], "newest day first"
    page = await gql(client, COSTS, {"first": 2}, headers=headers)
    rest = await gql(
        client,
        COSTS,
        {"first": 2, "after": page["data"]["costEntries"]["pageInfo"]["endCursor"]},
        headers=headers,
    )
    assert [e["node"]["name"] for e in rest["data"]["costEntries"]["edges"]] == ["Spring mailing"]
    filtered = await gql(
        client,
        COSTS,
        {"filter": {"kind": "CAMPAIGN", "from": "2026-04-11", "to": "2026-06-01"}},
        headers=headers,
    )
    assert [e["node"]["name"] for e in filtered["data"]["costEntries"]["edges"]] == ["Webinar"]

    employee = await make_user(database, tenant.id, roles=(Role.EMPLOYEE,))
    assert error_codes(await gql(client, COSTS, {}, headers=auth(app, employee))) == ["FORBIDDEN"]

    deleted = await gql(client, DELETE, {"id": recorded[1]["id"]}, headers=headers)
    assert deleted["data"]["deleteCostEntry"] == {
        "costEntry": {"id": recorded[1]["id"]},
        "errors": [],
    }
    again = await gql(client, DELETE, {"id": recorded[1]["id"]}, headers=headers)
    assert again["data"]["deleteCostEntry"]["errors"] == [{"code": "NOT_FOUND", "field": "id"}]
    other = await make_tenant(database)
    foreign = await gql(client, DELETE, {"id": recorded[0]["id"]}, headers=auth(app, other.admin))
    assert foreign["data"]["deleteCostEntry"]["errors"] == [{"code": "NOT_FOUND", "field": "id"}]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"amount": {"amount": "-1.00", "currency": "USD"}}, "amount.amount"),
        ({"amount": {"amount": "10.00", "currency": "EUR"}}, "amount.currency"),
        ({"amount": {"amount": "10.001", "currency": "USD"}}, "amount.amount"),
        ({"amount": {"amount": "10", "currency": "XXY"}}, "amount.currency"),
        ({"name": "   "}, "name"),
        ({"incurredOn": "1999-12-31"}, "incurredOn"),
    ],
)
async def test_a_bad_cost_is_refused_and_nothing_is_written(
    client: httpx.AsyncClient,
    app: FastAPI,
    database: Database,
    changes: dict[str, Any],
    field: str,
) -> None:
    tenant = await make_tenant(database)
    good = {
        "kind": "CHANNEL",
        "name": "Search ads",
        "incurredOn": "2026-05-01",
        "amount": {"amount": "10.00", "currency": "USD"},
    }
    body = await gql(
        client, RECORD, {"input": {**good, **changes}}, headers=auth(app, tenant.admin)
    )
    payload = body["data"]["recordCost"]
    assert payload["costEntry"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("INVALID", field)]
    assert await cost_rows(database, tenant.id) == 0


@pytest.mark.asyncio
async def test_only_admins_and_managers_record_costs(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    employee = await make_user(database, tenant.id, roles=(Role.EMPLOYEE,))
    body = await gql(
        client,
        RECORD,
        {
            "input": {
                "kind": "CHANNEL",
                "name": "Search ads",
                "incurredOn": "2026-05-01",
                "amount": {"amount": "10.00", "currency": "USD"},
            }
        },
        headers=auth(app, employee),
    )
    assert error_codes(body) == ["FORBIDDEN"]
    assert await cost_rows(database, tenant.id) == 0


@pytest.mark.asyncio
async def test_lifetime_value_is_won_revenue_in_the_tenant_currency_in_one_statement(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    headers = auth(app, tenant.admin)
    values: dict[str, dict[str, str] | None] = {}
    for n in range(6):
        account = await make_account(database, tenant.id, name=f"Account {n}")
        # n USD wins of 100.25 each, a EUR win (not summed), a loss and an open deal.
        await add_deals(
            database,
            tenant.id,
            account.id,
            *[(WON, at(2026, 1, 1 + i), "100.25", "USD") for i in range(n)],
            (WON, at(2026, 2, 1), "50.00", "EUR"),
            (LOST, at(2026, 2, 2), "70.00", "USD"),
            (OpportunityStage.PROPOSAL, None, "90.00", "USD"),
        )
        values[f"Account {n}"] = (
            {"amount": str(Decimal("100.25") * n), "currency": "USD"} if n else None
        )

    async def page(first: int) -> tuple[dict[str, Any], int]:
        with counting_statements(database) as statements:
            body = await gql(client, ACCOUNTS, {"first": first}, headers=headers)
        assert "errors" not in body, body
        nodes = {
            e["node"]["name"]: e["node"]["lifetimeValue"] for e in body["data"]["accounts"]["edges"]
        }
        return nodes, len(statements)

    small, small_count = await page(2)
    full, full_count = await page(6)
    assert full == values
    assert small == {name: values[name] for name in small}
    assert small_count == full_count, "the statement count does not grow with the page"

    # A partner user counts only the deals it may see: none here.
    partner = await make_partner(database, tenant.id)
    account = await make_account(database, tenant.id, name="Partnered", partner_id=partner.id)
    await add_deals(database, tenant.id, account.id, (WON, at(2026, 1, 1), "10.00", "USD"))
    rep = await make_user(database, tenant.id, roles=(Role.PARTNER_REP,), partner_id=partner.id)
    seen = await gql(client, ACCOUNTS, {"first": 10}, headers=auth(app, rep))
    assert seen["data"]["accounts"]["edges"] == [
        {"node": {"name": "Partnered", "lifetimeValue": None}}
    ]
