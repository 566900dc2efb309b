"""The 360-degree view: one request fetches accounts with their owner, partner, contacts,
opportunities, timeline (rolled up from contacts and opportunities, newest first), open
pipeline and won revenue, in a number of SQL statements that does not grow with the page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI

from prm.crm.models import Account, Activity, Channel, Contact, Direction, Opportunity
from prm.crm.models import OpportunityStage as Stage
from prm.db.engine import Database
from tests.crm.factories import (
    edge_ids,
    gid,
    make_account,
    make_activity,
    make_contact,
    make_opportunity,
)
from tests.factories import bearer, make_employee, make_partner, make_tenant
from tests.graphql.support import error_codes, gql
from tests.statements import counting_statements

ACCOUNT_360 = """query ($id: ID!, $first: Int, $after: String) {
  node(id: $id) { ... on Account {
    name
    openPipeline { amount currency }
    wonRevenue { amount currency }
    contacts(first: $first) { totalCount edges { node { id } } }
    opportunities(first: $first) { totalCount edges { node { id } } }
    activities(first: $first, after: $after) {
      totalCount edges { node { id summary contact { id } opportunity { id } } }
      pageInfo { hasNextPage endCursor }
    }
  } }
}"""

PAGE_360 = """query ($first: Int!) {
  accounts(first: $first) { edges { node {
    name owner { name } partner { name }
    contacts(first: 5) { edges { node { firstName email } } }
    opportunities(first: 5) { edges { node { name stage amount { amount currency } } } }
    activities(first: 5) { edges { node { channel summary occurredAt } } }
  } } }
}"""


@pytest.mark.asyncio
async def test_an_account_shows_its_contacts_deals_timeline_and_money(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    account = await make_account(database, tenant.id, name="Hub")
    other = await make_account(database, tenant.id)
    contact = await make_contact(database, tenant.id, account_id=account.id)
    await make_contact(database, tenant.id, account_id=other.id)
    open_usd = await make_opportunity(database, tenant.id, account_id=account.id, amount="100.10")
    await make_opportunity(
        database, tenant.id, account_id=account.id, amount="50", stage=Stage.NEGOTIATION
    )
    await make_opportunity(database, tenant.id, account_id=account.id, amount="7", currency="EUR")
    await make_opportunity(
        database, tenant.id, account_id=account.id, amount="900", stage=Stage.CLOSED_WON
    )
    await make_opportunity(
        database, tenant.id, account_id=account.id, amount="5000", stage=Stage.CLOSED_LOST
    )
    await make_opportunity(database, tenant.id, account_id=account.id, amount=None)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    # The account's own, its contact's and its deal's activities (account set as the
    # service sets it), plus another account's: the timeline has the first three.
    on_account = await make_activity(
        database, tenant.id, account_id=account.id, occurred_at=start, summary="own"
    )
    on_contact = await make_activity(
        database,
        tenant.id,
        account_id=account.id,
        contact_id=contact.id,
        occurred_at=start + timedelta(days=2),
        summary="contact",
    )
    on_deal = await make_activity(
        database,
        tenant.id,
        account_id=account.id,
        opportunity_id=open_usd.id,
        occurred_at=start + timedelta(days=1),
        summary="deal",
    )
    await make_activity(database, tenant.id, account_id=other.id)

    body = await gql(
        client,
        ACCOUNT_360,
        {"id": gid("Account", account), "first": 2},
        headers=bearer(app.state.issuer, tenant.admin),
    )

    assert "errors" not in body, body
    view = body["data"]["node"]
    assert view["openPipeline"] == [
        {"amount": "7.00", "currency": "EUR"},
        {"amount": "150.10", "currency": "USD"},
    ]
    assert view["wonRevenue"] == [{"amount": "900.00", "currency": "USD"}]
    assert view["contacts"]["totalCount"] == 1
    assert edge_ids(view["contacts"]) == [gid("Contact", contact)]
    assert view["opportunities"]["totalCount"] == 6
    assert len(view["opportunities"]["edges"]) == 2
    timeline = view["activities"]
    assert timeline["totalCount"] == 3
    assert edge_ids(timeline) == [gid("Activity", on_contact), gid("Activity", on_deal)]
    assert timeline["edges"][0]["node"]["contact"] == {"id": gid("Contact", contact)}
    assert timeline["edges"][1]["node"]["opportunity"] == {"id": gid("Opportunity", open_usd)}
    assert timeline["pageInfo"]["hasNextPage"] is True

    rest = await gql(
        client,
        ACCOUNT_360,
        {"id": gid("Account", account), "first": 2, "after": timeline["pageInfo"]["endCursor"]},
        headers=bearer(app.state.issuer, tenant.admin),
    )
    assert edge_ids(rest["data"]["node"]["activities"]) == [gid("Activity", on_account)]
    assert rest["data"]["node"]["activities"]["pageInfo"]["hasNextPage"] is False


@pytest.mark.asyncio
async def test_a_contact_and_a_deal_show_their_own_activities(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    owner = await make_employee(database, tenant.id, name="Dee Owner")
    partner = await make_partner(database, tenant.id)
    account = await make_account(database, tenant.id)
    contact = await make_contact(database, tenant.id, account_id=account.id)
    deal = await make_opportunity(
        database, tenant.id, account_id=account.id, owner_id=owner.id, partner_id=partner.id
    )
    about_contact = await make_activity(
        database, tenant.id, account_id=account.id, contact_id=contact.id
    )
    about_deal = await make_activity(
        database, tenant.id, account_id=account.id, opportunity_id=deal.id
    )
    headers = bearer(app.state.issuer, tenant.admin)

    body = await gql(
        client,
        """query ($c: ID!, $o: ID!) {
          c: node(id: $c) { ... on Contact { account { id } activities { edges { node { id } } } } }
          o: node(id: $o) { ... on Opportunity {
              account { id } owner { name } partner { id }
              activities { totalCount edges { node { id } } } } }
        }""",
        {"c": gid("Contact", contact), "o": gid("Opportunity", deal)},
        headers=headers,
    )

    assert "errors" not in body, body
    assert body["data"]["c"]["account"] == {"id": gid("Account", account)}
    assert edge_ids(body["data"]["c"]["activities"]) == [gid("Activity", about_contact)]
    assert body["data"]["o"]["account"] == {"id": gid("Account", account)}
    assert body["data"]["o"]["owner"] == {"name": "Dee Owner"}
    assert body["data"]["o"]["partner"] == {"id": gid("Partner", partner)}
    assert body["data"]["o"]["activities"]["totalCount"] == 1
    assert edge_ids(body["data"]["o"]["activities"]) == [gid("Activity", about_deal)]


@pytest.mark.asyncio
async def test_nested_connections_refuse_a_foreign_cursor(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    account = await make_account(database, tenant.id)
    body = await gql(
        client,
        ACCOUNT_360,
        {"id": gid("Account", account), "first": 2, "after": "bm90LWEtY3Vyc29y"},
        headers=bearer(app.state.issuer, tenant.admin),
    )
    assert error_codes(body) == ["BAD_USER_INPUT"]


async def seed_accounts(database: Database, tenant_id: object, count: int) -> None:
    """`count` accounts, each with an owner, a partner, 3 contacts, 2 deals and 8
    activities, in one transaction."""
    owner = await make_employee(database, tenant_id)  # type: ignore[arg-type]
    partner = await make_partner(database, tenant_id)  # type: ignore[arg-type]
    async with database.session(tenant_id) as session:  # type: ignore[arg-type]
        for n in range(count):
            account = Account(
                tenant_id=tenant_id,
                name=f"Account {n:03}",
                normalized_name=f"account {n:03}",
                owner_id=owner.id,
                partner_id=partner.id,
            )
            session.add(account)
            await session.flush()
            contacts = [
                Contact(
                    tenant_id=tenant_id,
                    account_id=account.id,
                    first_name="C",
                    last_name=str(k),
                    email=f"c{n}-{k}@example.com",
                    marketing_opt_out=False,
                )
                for k in range(3)
            ]
            deals = [
                Opportunity(
                    tenant_id=tenant_id,
                    account_id=account.id,
                    name=f"Deal {k}",
                    amount=100,
                    currency="USD",
                    stage=Stage.PROPOSAL,
                    probability=50,
                )
                for k in range(2)
            ]
            session.add_all([*contacts, *deals])
            await session.flush()
            session.add_all(
                Activity(
                    tenant_id=tenant_id,
                    channel=Channel.PHONE,
                    direction=Direction.INBOUND,
                    summary=f"call {k}",
                    account_id=account.id,
                    contact_id=contacts[k % 3].id if k % 2 else None,
                    opportunity_id=deals[k % 2].id if k % 3 == 0 else None,
                )
                for k in range(8)
            )


@pytest.mark.asyncio
async def test_the_account_page_costs_the_same_statements_at_any_size(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    await seed_accounts(database, tenant.id, 50)
    headers = bearer(app.state.issuer, tenant.admin)

    counts = {}
    for first in (5, 50):
        with counting_statements(database) as statements:
            body = await gql(client, PAGE_360, {"first": first}, headers=headers)
        assert "errors" not in body, body
        edges = body["data"]["accounts"]["edges"]
        assert len(edges) == first
        assert all(len(edge["node"]["contacts"]["edges"]) == 3 for edge in edges)
        assert all(len(edge["node"]["opportunities"]["edges"]) == 2 for edge in edges)
        assert all(len(edge["node"]["activities"]["edges"]) == 5 for edge in edges)
        assert all(edge["node"]["owner"] and edge["node"]["partner"] for edge in edges)
        counts[first] = len(statements)

    assert counts[5] == counts[50]
    # tenant scope + token check, then the page, owners, partners, contacts,
    # opportunities and activities: one statement each
    assert counts[50] <= 8
