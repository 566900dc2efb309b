"""The domain hooks announce their events, in the causing transaction, to LISTENers:
offers, the pool, conversion, deal approval and closed opportunities."""

from __future__ import annotations

import json
import uuid
from typing import Any

import psycopg
import pytest

from prm.auth.principal import Role
from prm.crm import opportunities
from prm.crm.models import OpportunityStage
from prm.db.engine import Database
from prm.db.urls import libpq_dsn
from prm.events.bus import CHANNEL
from prm.leads import pool
from prm.leads.convert import convert_lead
from prm.leads.models import DistributionMode
from tests.crm.factories import make_account, make_opportunity
from tests.deals.factories import make_deal_cast, make_registration
from tests.factories import make_tenant, make_user, principal_of
from tests.leads.factories import make_lead, make_rule, make_territory_partner


def heard(listener: psycopg.Connection, tenant_id: uuid.UUID) -> list[dict[str, Any]]:
    """The tenant's notifications so far (other tests' tenants are ignored)."""
    found = [json.loads(n.payload) for n in listener.notifies(timeout=0.5, stop_after=50)]
    return [body for body in found if body["tenant"] == str(tenant_id)]


def brief(body: dict[str, Any]) -> tuple[str, list[str], dict[str, str]]:
    return body["type"], body["partners"], body["ids"]


@pytest.mark.asyncio
async def test_offer_pool_claim_and_conversion_are_announced(
    database: Database, owner_url: str
) -> None:
    tenant = await make_tenant(database)
    offer_rule = await make_rule(database, tenant.id, countries=["US"])
    await make_rule(database, tenant.id, mode=DistributionMode.POOL, priority=20)
    partner = await make_territory_partner(database, tenant.id, country=None)
    user = await make_user(database, tenant.id, roles=(Role.PARTNER_REP,), partner_id=partner.id)
    assert offer_rule.countries == ["US"]

    with psycopg.connect(libpq_dsn(owner_url), autocommit=True) as listener:
        listener.execute(f"LISTEN {CHANNEL}")
        offered = await make_lead(database, tenant.id, country="US")
        pooled = await make_lead(database, tenant.id, country="FR")
        async with database.session(tenant.id) as session:
            await session.run_sync(
                lambda sync: pool.claim_lead(sync, principal_of(user), pooled.id)
            )
        async with database.session(tenant.id) as session:
            conversion = await convert_lead(
                session, principal_of(tenant.admin), pooled.id, opportunity_name="Deal"
            )
        events = heard(listener, tenant.id)

    async with database.session(tenant.id) as session:
        from sqlalchemy import select

        from prm.leads.models import LeadOffer

        offer_id = await session.scalar(select(LeadOffer.id).where(LeadOffer.lead_id == offered.id))
    p, lead_a, lead_b = str(partner.id), str(offered.id), str(pooled.id)
    assert [brief(body) for body in events] == [
        ("lead.offered", [p], {"leadId": lead_a, "offerId": str(offer_id), "partnerId": p}),
        ("lead.pooled", [], {"leadId": lead_b}),
        ("lead.claimed", [p], {"leadId": lead_b, "partnerId": p}),
        (
            "lead.converted",
            [p],
            {"leadId": lead_b, "opportunityId": str(conversion.opportunity.id), "partnerId": p},
        ),
    ]


@pytest.mark.asyncio
async def test_approvals_and_closed_deals_are_announced_to_their_partner(
    database: Database, owner_url: str
) -> None:
    cast = await make_deal_cast(database)
    tenant_id = cast.tenant.id
    account = await make_account(database, tenant_id)
    deal = await make_opportunity(
        database, tenant_id, account_id=account.id, partner_id=cast.partner_b.id
    )
    with psycopg.connect(libpq_dsn(owner_url), autocommit=True) as listener:
        listener.execute(f"LISTEN {CHANNEL}")
        registration = await make_registration(database, cast.rep_a, approve_as=cast.manager)
        async with database.session(tenant_id) as session:
            await opportunities.update_opportunity(
                session, principal_of(cast.manager), deal.id, stage=OpportunityStage.NEGOTIATION
            )
        async with database.session(tenant_id) as session:
            await opportunities.update_opportunity(
                session, principal_of(cast.manager), deal.id, stage=OpportunityStage.CLOSED_LOST
            )
        events = heard(listener, tenant_id)

    a, b = str(cast.partner_a.id), str(cast.partner_b.id)
    assert [brief(body) for body in events] == [
        (
            "deal_registration.approved",
            [a],
            {"dealRegistrationId": str(registration.id), "partnerId": a},
        ),
        (
            "opportunity.closed",
            [b],
            {"opportunityId": str(deal.id), "partnerId": b},
        ),
    ]
