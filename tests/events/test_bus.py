"""`emit`: listeners hear an event when its transaction commits and never when it rolls
back; webhook endpoints subscribed to its type (active, of its tenant) get one delivery
each, due at once, with the full payload."""

from __future__ import annotations

import json
import uuid

import psycopg
import pytest
from sqlalchemy import select

from prm.db.engine import Database
from prm.db.urls import libpq_dsn
from prm.events.bus import CHANNEL, emit, emit_sync, event
from prm.webhooks.models import DeliveryDue, WebhookDelivery, WebhookEndpoint
from tests.factories import make_tenant


async def endpoint(
    database: Database, tenant_id: uuid.UUID, types: list[str], *, active: bool = True
) -> uuid.UUID:
    async with database.session(tenant_id) as session:
        row = WebhookEndpoint(
            tenant_id=tenant_id,
            url="https://example.com/hook",
            event_types=types,
            secret_encrypted="x",
            active=active,
        )
        session.add(row)
        await session.flush()
        return row.id


def heard(listener: psycopg.Connection) -> list[dict[str, object]]:
    return [json.loads(n.payload) for n in listener.notifies(timeout=0.5, stop_after=10)]


@pytest.mark.asyncio
async def test_listeners_hear_committed_events_only_with_ids_and_partners(
    database: Database, owner_url: str
) -> None:
    tenant = await make_tenant(database)
    partner = uuid.uuid4()
    lead_id = uuid.uuid4()
    with psycopg.connect(libpq_dsn(owner_url), autocommit=True) as listener:
        listener.execute(f"LISTEN {CHANNEL}")
        happened = event(
            "lead.offered",
            tenant.id,
            {"leadId": lead_id, "companyName": "Acme"},
            partner_ids=[partner, None],
        )
        async with database.session(tenant.id) as session:
            await emit(session, event("lead.claimed", tenant.id, {"leadId": lead_id}))
            await session.rollback()
        async with database.session(tenant.id) as session:
            await emit(session, happened)
        assert heard(listener) == [
            {
                "id": str(happened.id),
                "tenant": str(tenant.id),
                "type": "lead.offered",
                "partners": [str(partner)],
                "ids": {"leadId": str(lead_id)},
            }
        ]


@pytest.mark.asyncio
async def test_each_subscribed_active_endpoint_gets_one_due_delivery(database: Database) -> None:
    tenant = await make_tenant(database)
    other = await make_tenant(database)
    wanted = await endpoint(database, tenant.id, ["lead.offered", "case.opened"])
    also = await endpoint(database, tenant.id, ["lead.offered"])
    await endpoint(database, tenant.id, ["case.opened"])
    await endpoint(database, tenant.id, ["lead.offered"], active=False)
    await endpoint(database, other.id, ["lead.offered"])
    happened = event("lead.offered", tenant.id, {"leadId": uuid.uuid4()})

    with database.sync_session(tenant.id) as session:
        emit_sync(session, happened)

    with database.sync_session(tenant.id) as session:
        deliveries = list(session.scalars(select(WebhookDelivery)))
        due = list(session.scalars(select(DeliveryDue).where(DeliveryDue.tenant_id == tenant.id)))
    assert sorted(d.endpoint_id for d in deliveries) == sorted([wanted, also])
    assert {d.event_id for d in deliveries} == {happened.id}
    assert deliveries[0].payload == happened.body()
    assert {d.delivery_id for d in due} == {d.id for d in deliveries}
    with database.sync_session(other.id) as session:
        assert list(session.scalars(select(WebhookDelivery))) == []


def test_unknown_event_types_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown event type"):
        event("lead.exploded", uuid.uuid4(), {})
