"""Deal protection in routing: a new lead for a protected company goes to the protected
partner, or waits for a manager; never to a competitor."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from prm.db.engine import Database
from prm.leads.models import DistributionMode
from prm.partners.models import PartnerStatus
from tests.crm.factories import gid
from tests.deals.factories import make_deal_cast, make_registration
from tests.factories import bearer
from tests.graphql.support import gql
from tests.leads.factories import make_rule
from tests.partners.support import set_partner_columns

CREATE = """
mutation($input: CreateLeadInput!) {
  createLead(input: $input) {
    lead { id status offers { status partner { id } } history { kind note } }
    errors { code message }
  }
}
"""


async def create_lead(
    client: httpx.AsyncClient, app: FastAPI, user: Any, **input_: Any
) -> dict[str, Any]:
    body = await gql(client, CREATE, {"input": input_}, headers=bearer(app.state.issuer, user))
    assert "errors" not in body, body
    payload = body["data"]["createLead"]
    assert payload["errors"] == [], payload
    lead: dict[str, Any] = payload["lead"]
    return lead


@pytest.mark.asyncio
async def test_leads_of_a_protected_company_are_offered_to_the_protected_partner(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    cast = await make_deal_cast(database)
    await make_rule(database, cast.tenant.id, mode=DistributionMode.OFFER)
    await make_registration(
        database,
        cast.rep_b,
        company_name="Protected Corp",
        contact_email="ceo@protected.example",
        approve_as=cast.manager,
    )
    by_name = await create_lead(
        client, app, cast.manager, companyName="PROTECTED CORP LLC", country="US"
    )
    by_domain = await create_lead(
        client,
        app,
        cast.manager,
        companyName="Protected Subsidiary",
        email="buyer@protected.example",
        country="US",
    )
    for lead in (by_name, by_domain):
        assert lead["status"] == "OFFERED"
        assert [offer["partner"]["id"] for offer in lead["offers"]] == [
            gid("Partner", cast.partner_b)
        ]
        assert "deal registration" in lead["history"][-1]["note"]

    # Another company follows the rules as usual (either partner, round robin).
    other = await create_lead(client, app, cast.manager, companyName="Unprotected", country="US")
    assert other["status"] == "OFFERED"


@pytest.mark.asyncio
async def test_a_protected_company_waits_for_a_manager_when_its_partner_cannot_take_it(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    cast = await make_deal_cast(database)
    await make_rule(database, cast.tenant.id, mode=DistributionMode.POOL)
    await make_registration(
        database, cast.rep_a, company_name="Held Back Inc", approve_as=cast.manager
    )
    await set_partner_columns(database, cast.partner_a, status=PartnerStatus.SUSPENDED)
    lead = await create_lead(client, app, cast.manager, companyName="Held Back", country="US")
    assert lead["status"] == "UNROUTABLE"
    assert lead["offers"] == []


@pytest.mark.asyncio
async def test_pending_and_rejected_registrations_do_not_steer_routing(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    cast = await make_deal_cast(database)
    await make_rule(database, cast.tenant.id, mode=DistributionMode.POOL)
    await make_registration(database, cast.rep_a, company_name="Pending Co")
    lead = await create_lead(client, app, cast.manager, companyName="Pending Co", country="US")
    assert lead["status"] == "POOLED"
