"""`offer.expiring`: each pending offer is announced once, 15 minutes before its deadline,
by consecutive scheduler ticks whose windows meet exactly."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from sqlalchemy import select

from prm.db.engine import Database
from prm.db.urls import libpq_dsn
from prm.events.bus import CHANNEL
from prm.leads.models import LeadOffer
from prm.realtime.expiring import ExpiringOfferWarnings
from tests.factories import make_tenant
from tests.leads.factories import make_lead, make_rule, make_territory_partner


def heard(listener: psycopg.Connection, tenant_id: uuid.UUID) -> list[dict[str, Any]]:
    found = [json.loads(n.payload) for n in listener.notifies(timeout=0.3, stop_after=50)]
    return [body for body in found if body["tenant"] == str(tenant_id)]


async def offer_of(database: Database, tenant_id: uuid.UUID, lead_id: uuid.UUID) -> LeadOffer:
    async with database.session(tenant_id) as session:
        offer = await session.scalar(
            select(LeadOffer).where(LeadOffer.tenant_id == tenant_id, LeadOffer.lead_id == lead_id)
        )
        assert offer is not None
        return offer


@pytest.mark.asyncio
async def test_each_pending_offer_is_warned_of_once_fifteen_minutes_ahead(
    database: Database, owner_url: str
) -> None:
    tenant = await make_tenant(database)
    await make_rule(database, tenant.id)
    partner = await make_territory_partner(database, tenant.id, country="US")
    offer = await offer_of(
        database, tenant.id, (await make_lead(database, tenant.id, country="US")).id
    )
    warnings = ExpiringOfferWarnings(database)
    mark = offer.expires_at - timedelta(minutes=15)

    with psycopg.connect(libpq_dsn(owner_url), autocommit=True) as listener:
        listener.execute(f"LISTEN {CHANNEL}")
        warnings(mark - timedelta(seconds=40))  # its deadline is still beyond the window
        assert heard(listener, tenant.id) == []
        warnings(mark - timedelta(seconds=10))  # [mark - 40 s + 15 min, mark - 10 s + 15 min)
        assert heard(listener, tenant.id) == []
        warnings(mark + timedelta(seconds=20))  # the next window holds the deadline
        events = heard(listener, tenant.id)
        warnings(mark + timedelta(seconds=50))  # and is not repeated
        warnings(mark + timedelta(seconds=80))
        assert heard(listener, tenant.id) == []

    assert [(e["type"], e["partners"], e["ids"]) for e in events] == [
        (
            "offer.expiring",
            [str(partner.id)],
            {"offerId": str(offer.id), "leadId": str(offer.lead_id), "partnerId": str(partner.id)},
        )
    ]


@pytest.mark.asyncio
async def test_a_first_tick_looks_back_one_interval_and_never_at_past_deadlines(
    database: Database, owner_url: str
) -> None:
    tenant = await make_tenant(database)
    await make_rule(database, tenant.id)
    await make_territory_partner(database, tenant.id, country="US")
    offer = await offer_of(
        database, tenant.id, (await make_lead(database, tenant.id, country="US")).id
    )
    mark = offer.expires_at - timedelta(minutes=15)
    with psycopg.connect(libpq_dsn(owner_url), autocommit=True) as listener:
        listener.execute(f"LISTEN {CHANNEL}")
        # A new scheduler starting 20 s after the mark still warns (window: one interval back).
        ExpiringOfferWarnings(database)(mark + timedelta(seconds=20))
        assert [e["type"] for e in heard(listener, tenant.id)] == ["offer.expiring"]
        # One that starts after the deadline does not.
        ExpiringOfferWarnings(database)(offer.expires_at + timedelta(seconds=1))
        assert heard(listener, tenant.id) == []
