"""Campaign metrics and attribution: leads captured with `campaignId`, `convertLead`
copying the lead's campaign to the new deal, costs recorded with `campaignId` (and still
counted by `customerMetrics`), per-campaign figures worked out by hand, batched for a page
of campaigns."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, update

from prm.crm.marketing_models import CampaignMember, MemberResponse
from prm.crm.models import Opportunity, OpportunityStage
from prm.crm.opportunities import DEFAULT_PROBABILITY
from prm.db.engine import Database
from prm.graphql.relay import decode_global_id
from prm.leads.models import Lead, LeadStatus
from prm.metrics.customer_metrics import compute_customer_metrics
from prm.metrics.models import CostEntry
from prm.metrics.periods import parse_period
from tests.crm.factories import gid, make_account, make_contact
from tests.factories import TenantWithAdmin, bearer, make_partner, make_tenant, unique
from tests.graphql.support import gql
from tests.leads.factories import make_lead
from tests.statements import counting_statements

CREATE_CAMPAIGN = """mutation ($input: CreateCampaignInput!) { createCampaign(input: $input) {
  campaign { id } errors { code field } } }"""
CREATE_LEAD = """mutation ($input: CreateLeadInput!) { createLead(input: $input) {
  lead { id } errors { code field } } }"""
CONVERT = """mutation ($id: ID!, $input: ConvertLeadInput!) { convertLead(id: $id, input: $input) {
  opportunity { id } errors { code field } } }"""
RECORD_COST = """mutation ($input: RecordCostInput!) { recordCost(input: $input) {
  costEntry { id } errors { code field } } }"""
CUSTOMER_METRICS = """query ($period: String!) { customerMetrics(period: $period) {
  costPerLead { amount currency } costPerSale { amount currency } } }"""
METRICS = """query ($first: Int) { campaigns(first: $first) { edges { node { name metrics {
  reach responses unsubscribes responseRate leads opportunities wonDeals
  wonRevenue { amount currency } cost { amount currency }
  costPerLead { amount currency } costPerSale { amount currency } successRate } } } } }"""


def pk(global_id: str) -> uuid.UUID:
    decoded = decode_global_id(global_id)
    assert decoded is not None
    return decoded[1]


async def campaign(client: httpx.AsyncClient, headers: dict[str, str], name: str) -> str:
    body = await gql(
        client,
        CREATE_CAMPAIGN,
        {
            "input": {
                "name": name,
                "channel": "EMAIL",
                "startsOn": "2026-11-01",
                "budget": {"amount": "99999", "currency": "USD"},
            }
        },
        headers=headers,
    )
    payload = body["data"]["createCampaign"]
    assert payload["errors"] == [], payload
    campaign_id: str = payload["campaign"]["id"]
    return campaign_id


async def capture(
    client: httpx.AsyncClient, headers: dict[str, str], campaign_id: str | None
) -> dict[str, Any]:
    body = await gql(
        client,
        CREATE_LEAD,
        {"input": {"companyName": unique("Co"), "campaignId": campaign_id}},
        headers=headers,
    )
    payload: dict[str, Any] = body["data"]["createLead"]
    return payload


async def record_cost(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    amount: str,
    campaign_id: str | None,
    day: str = "2026-11-05",
) -> dict[str, Any]:
    body = await gql(
        client,
        RECORD_COST,
        {
            "input": {
                "kind": "CAMPAIGN",
                "name": "newsletter",
                "incurredOn": day,
                "amount": {"amount": amount, "currency": "USD"},
                "campaignId": campaign_id,
            }
        },
        headers=headers,
    )
    payload: dict[str, Any] = body["data"]["recordCost"]
    return payload


async def members(
    database: Database, tenant: TenantWithAdmin, campaign_id: str, *responses: str | None
) -> None:
    """One member per response (None: no response)."""
    async with database.session(tenant.id) as session:
        for response in responses:
            contact = await make_contact(database, tenant.id)
            session.add(
                CampaignMember(
                    tenant_id=tenant.id,
                    campaign_id=pk(campaign_id),
                    contact_id=contact.id,
                    response=MemberResponse(response) if response else None,
                )
            )


async def deal(
    database: Database,
    tenant_id: uuid.UUID,
    campaign_id: str | None,
    stage: OpportunityStage,
    amount: str,
    currency: str = "USD",
) -> None:
    account = await make_account(database, tenant_id)
    async with database.session(tenant_id) as session:
        session.add(
            Opportunity(
                tenant_id=tenant_id,
                account_id=account.id,
                name=unique("Deal"),
                amount=Decimal(amount),
                currency=currency,
                stage=stage,
                probability=DEFAULT_PROBABILITY[stage],
                closed_at=datetime.now(UTC) if stage == OpportunityStage.CLOSED_WON else None,
                campaign_id=pk(campaign_id) if campaign_id else None,
            )
        )


@pytest.mark.asyncio
async def test_campaign_metrics_count_members_leads_deals_and_costs(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    headers = bearer(app.state.issuer, tenant.admin)
    spring = await campaign(client, headers, "spring")
    other = await campaign(client, headers, "other")
    await campaign(client, headers, "empty")

    # spring: 5 members, 3 responded (one of them unsubscribed).
    await members(database, tenant, spring, "OPENED", "PURCHASED", "UNSUBSCRIBED", None, None)
    await members(database, tenant, other, "CLICKED")
    # 3 leads captured for spring, 1 for other, 1 for none.
    for campaign_id in (spring, spring, spring, other, None):
        assert (await capture(client, headers, campaign_id))["errors"] == []
    # spring: won 1200 + 300.50 USD, won 700 EUR (a won deal, not USD revenue), one open.
    won, open_ = OpportunityStage.CLOSED_WON, OpportunityStage.PROPOSAL
    await deal(database, tenant.id, spring, won, "1200")
    await deal(database, tenant.id, spring, won, "300.50")
    await deal(database, tenant.id, spring, won, "700", "EUR")
    await deal(database, tenant.id, spring, open_, "5000")
    await deal(database, tenant.id, other, open_, "10")
    await deal(database, tenant.id, None, won, "9999")
    # Costs: spring 250 + 150.25; other 40; untied 1000. Budgets are not costs.
    for amount, campaign_id in (("250", spring), ("150.25", spring), ("40", other), ("1000", None)):
        assert (await record_cost(client, headers, amount, campaign_id))["errors"] == []

    body = await gql(client, METRICS, {}, headers=headers)
    metrics = {e["node"]["name"]: e["node"]["metrics"] for e in body["data"]["campaigns"]["edges"]}

    def usd(amount: str) -> dict[str, str]:
        return {"amount": amount, "currency": "USD"}

    assert metrics["spring"] == {
        "reach": 5,
        "responses": 3,
        "unsubscribes": 1,
        "responseRate": 3 / 5,
        "leads": 3,
        "opportunities": 4,
        "wonDeals": 3,
        "wonRevenue": usd("1500.50"),  # 1200 + 300.50
        "cost": usd("400.25"),  # 250 + 150.25
        "costPerLead": usd("133.42"),  # 400.25 / 3 = 133.4166…
        "costPerSale": usd("133.42"),  # 400.25 / 3 won deals
        "successRate": 3 / 5,
    }
    assert metrics["other"] == {
        "reach": 1,
        "responses": 1,
        "unsubscribes": 0,
        "responseRate": 1.0,
        "leads": 1,
        "opportunities": 1,
        "wonDeals": 0,
        "wonRevenue": usd("0.00"),
        "cost": usd("40.00"),
        "costPerLead": usd("40.00"),
        "costPerSale": None,
        "successRate": 0.0,
    }
    assert metrics["empty"] == {
        "reach": 0,
        "responses": 0,
        "unsubscribes": 0,
        "responseRate": None,
        "leads": 0,
        "opportunities": 0,
        "wonDeals": 0,
        "wonRevenue": usd("0.00"),
        "cost": usd("0.00"),
        "costPerLead": None,
        "costPerSale": None,
        "successRate": None,
    }


@pytest.mark.asyncio
async def test_metrics_of_a_page_of_campaigns_cost_a_fixed_number_of_statements(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    headers = bearer(app.state.issuer, tenant.admin)
    first = await campaign(client, headers, "a")
    await members(database, tenant, first, "OPENED")
    with counting_statements(database) as one:
        await gql(client, METRICS, {}, headers=headers)
    for name in ("b", "c", "d", "e"):
        await members(database, tenant, await campaign(client, headers, name), None)
    with counting_statements(database) as five:
        body = await gql(client, METRICS, {}, headers=headers)
    reaches = [e["node"]["metrics"]["reach"] for e in body["data"]["campaigns"]["edges"]]
    assert reaches == [1, 1, 1, 1, 1]
    assert len(five) == len(one)


@pytest.mark.asyncio
async def test_a_foreign_campaign_is_not_found_for_leads_and_costs(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    other = await make_tenant(database)
    foreign = await campaign(client, bearer(app.state.issuer, other.admin), "theirs")
    headers = bearer(app.state.issuer, tenant.admin)
    for campaign_id in (foreign, gid("Segment", uuid.uuid4())):
        lead = await capture(client, headers, campaign_id)
        assert lead["errors"] == [{"code": "NOT_FOUND", "field": "campaignId"}]
        cost = await record_cost(client, headers, "10", campaign_id)
        assert cost["errors"] == [{"code": "NOT_FOUND", "field": "campaignId"}]
    async with database.session(tenant.id) as session:
        assert await session.scalar(select(func.count()).select_from(Lead)) == 0
        assert await session.scalar(select(func.count()).select_from(CostEntry)) == 0


@pytest.mark.asyncio
async def test_convert_lead_attributes_the_new_opportunity_to_the_leads_campaign(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    headers = bearer(app.state.issuer, tenant.admin)
    spring = await campaign(client, headers, "spring")
    partner = await make_partner(database, tenant.id)
    lead = await make_lead(database, tenant.id, route=False)
    async with database.session(tenant.id) as session:
        await session.execute(
            update(Lead)
            .where(Lead.id == lead.id)
            .values(status=LeadStatus.ACCEPTED, partner_id=partner.id, campaign_id=pk(spring))
        )
    body = await gql(
        client,
        CONVERT,
        {"id": gid("Lead", lead), "input": {"opportunityName": "Renewal"}},
        headers=headers,
    )
    result = body["data"]["convertLead"]
    assert result["errors"] == []
    async with database.session(tenant.id) as session:
        attributed = await session.scalar(
            select(Opportunity.campaign_id).where(Opportunity.id == pk(result["opportunity"]["id"]))
        )
    assert attributed == pk(spring)

    plain = await make_lead(database, tenant.id, route=False)
    async with database.session(tenant.id) as session:
        await session.execute(
            update(Lead)
            .where(Lead.id == plain.id)
            .values(status=LeadStatus.ACCEPTED, partner_id=partner.id)
        )
    body = await gql(
        client,
        CONVERT,
        {"id": gid("Lead", plain), "input": {"opportunityName": "New"}},
        headers=headers,
    )
    async with database.session(tenant.id) as session:
        unattributed = await session.scalar(
            select(Opportunity.campaign_id).where(
                Opportunity.id == pk(body["data"]["convertLead"]["opportunity"]["id"])
            )
        )
    assert unattributed is None


@pytest.mark.asyncio
async def test_campaign_costs_still_count_in_customer_metrics(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    headers = bearer(app.state.issuer, tenant.admin)
    spring = await campaign(client, headers, "spring")
    # November 2026: costs 300 (campaign) + 100 (none) = 400; 4 leads; 2 won deals.
    await record_cost(client, headers, "300", spring, day="2026-11-03")
    await record_cost(client, headers, "100", None, day="2026-11-20")
    await record_cost(client, headers, "777", spring, day="2026-10-31")  # another period
    created = datetime(2026, 11, 10, tzinfo=UTC)
    async with database.session(tenant.id) as session:
        for _ in range(4):
            name = unique("Co")
            session.add(
                Lead(
                    tenant_id=tenant.id,
                    company_name=name,
                    normalized_company=name.lower(),
                    campaign_id=pk(spring),
                    created_at=created,
                    updated_at=created,
                )
            )
        account = await make_account(database, tenant.id)
        for amount in ("100", "200"):
            session.add(
                Opportunity(
                    tenant_id=tenant.id,
                    account_id=account.id,
                    name=unique("Deal"),
                    amount=Decimal(amount),
                    currency="USD",
                    stage=OpportunityStage.CLOSED_WON,
                    probability=100,
                    closed_at=created,
                )
            )
    async with database.session(tenant.id) as session:
        await session.run_sync(
            lambda sync: compute_customer_metrics(
                sync, tenant.id, parse_period("2026-11"), now=datetime(2026, 12, 1, tzinfo=UTC)
            )
        )
    body = await gql(client, CUSTOMER_METRICS, {"period": "2026-11"}, headers=headers)
    assert body["data"]["customerMetrics"] == {
        "costPerLead": {"amount": "100.00", "currency": "USD"},  # 400 / 4
        "costPerSale": {"amount": "200.00", "currency": "USD"},  # 400 / 2
    }
