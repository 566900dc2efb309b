"""`emit`: announce a domain event from inside the transaction that caused it.

Two audiences, both transactional:

- Live subscribers: `pg_notify('prm_events', …)` is delivered by PostgreSQL at commit and
  dropped on rollback, to every API process LISTENing (so subscriptions work across
  processes). The notification carries ids only (the 8000-byte payload limit, and no
  data a listener has not checked it may show): the tenant, the event type, its id, the
  partners it concerns and the object's ids.
- Webhooks: one `webhook_deliveries` row per active endpoint of the tenant subscribed to
  the type, with the full payload to sign, and a `webhook_delivery_due` row so the
  scheduler (which has no tenant) finds it; one INSERT … SELECT each, whatever the number
  of endpoints.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import String, bindparam, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from prm.db.ids import new_id

CHANNEL = "prm_events"

EVENT_TYPES: dict[str, str] = {
    "lead.offered": "a lead was offered to a partner",
    "lead.claimed": "a partner claimed a pooled lead",
    "lead.pooled": "a lead entered the claim pool",
    "lead.converted": "a lead became an opportunity",
    "offer.expiring": "a pending offer is about to expire",
    "deal_registration.approved": "a partner's deal registration was approved",
    "opportunity.closed": "an opportunity was won or lost",
    "case.opened": "a customer case was opened",
    "case.assigned": "a case was assigned to an agent",
}
"""Every event type, with what it means: webhook endpoints subscribe to these names."""


@dataclass(frozen=True)
class Event:
    type: str
    tenant_id: uuid.UUID
    data: Mapping[str, Any]
    """The JSON-ready payload webhooks receive (ids as strings)."""
    partner_ids: Sequence[uuid.UUID] = ()
    """The partners the event concerns (subscriptions show it to their users only)."""
    id: uuid.UUID = field(default_factory=new_id)
    at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def body(self) -> dict[str, Any]:
        """What a webhook endpoint receives."""
        return {
            "id": str(self.id),
            "type": self.type,
            "occurredAt": self.at.isoformat(),
            "data": _jsonable(self.data),
        }

    def notification(self) -> str:
        """What LISTENers receive: ids only."""
        return json.dumps(
            {
                "id": str(self.id),
                "tenant": str(self.tenant_id),
                "type": self.type,
                "partners": [str(pk) for pk in self.partner_ids],
                "ids": {k: v for k, v in _jsonable(self.data).items() if k.endswith("Id")},
            },
            separators=(",", ":"),
        )


def _jsonable(data: Mapping[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(dict(data), default=str))


def event(
    type_: str,
    tenant_id: uuid.UUID,
    data: Mapping[str, Any],
    *,
    partner_ids: Sequence[uuid.UUID | None] = (),
) -> Event:
    if type_ not in EVENT_TYPES:
        raise ValueError(f"unknown event type {type_!r}")
    return Event(
        type=type_,
        tenant_id=tenant_id,
        data=data,
        partner_ids=tuple(pk for pk in partner_ids if pk is not None),
    )


_DELIVERIES = text(
    """
WITH made AS (
    INSERT INTO webhook_deliveries (
        tenant_id, id, endpoint_id, event_id, event_type, payload, status, attempts,
        next_attempt_at, created_at, updated_at
    )
    SELECT e.tenant_id, gen_random_uuid(), e.id, :event_id, :event_type,
           CAST(:payload AS jsonb), 'PENDING', 0, :at, :at, :at
    FROM webhook_endpoints e
    WHERE e.tenant_id = :tenant_id
      AND e.active
      AND e.event_types @> ARRAY[CAST(:event_type AS varchar)]
    RETURNING tenant_id, id
)
INSERT INTO webhook_delivery_due (tenant_id, delivery_id, due_at)
SELECT tenant_id, id, :at FROM made
"""
)
_NOTIFY = select(func.pg_notify(CHANNEL, bindparam("message", type_=String())))


def _parameters(happened: Event) -> dict[str, Any]:
    return {
        "tenant_id": happened.tenant_id,
        "event_id": happened.id,
        "event_type": happened.type,
        "payload": json.dumps(happened.body()),
        "at": happened.at,
    }


async def emit(session: AsyncSession, happened: Event) -> None:
    """Announce `happened` at commit (see the module doc); two statements, no commit."""
    await session.execute(_NOTIFY, {"message": happened.notification()})
    await session.execute(_DELIVERIES, _parameters(happened))


def emit_sync(session: Session, happened: Event) -> None:
    """`emit` for sync sessions (routing, workers)."""
    session.execute(_NOTIFY, {"message": happened.notification()})
    session.execute(_DELIVERIES, _parameters(happened))
