"""A lead's history: every change appends one `LeadEvent` (who, when, what, why)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from prm.auth.principal import Principal
from prm.leads.models import Lead, LeadEvent, LeadStatus


def record_event(
    session: Session,
    actor: Principal,
    lead: Lead,
    kind: str,
    *,
    from_status: LeadStatus | None = None,
    to_status: LeadStatus | None = None,
    partner_id: uuid.UUID | None = None,
    note: str | None = None,
    at: datetime | None = None,
) -> LeadEvent:
    """Append an event; `actor` is recorded when it is a user (API clients and the
    scheduler act without one)."""
    event = LeadEvent(
        tenant_id=lead.tenant_id,
        lead_id=lead.id,
        at=at or datetime.now(UTC),
        kind=kind,
        from_status=from_status,
        to_status=to_status,
        actor_id=actor.user_id,
        partner_id=partner_id,
        note=note,
    )
    session.add(event)
    return event


def change_status(
    session: Session,
    actor: Principal,
    lead: Lead,
    status: LeadStatus,
    kind: str,
    *,
    partner_id: uuid.UUID | None = None,
    note: str | None = None,
    at: datetime | None = None,
) -> LeadEvent:
    """Set the lead's status and record the transition."""
    previous = lead.status
    lead.status = status
    lead.updated_at = at or datetime.now(UTC)
    return record_event(
        session,
        actor,
        lead,
        kind,
        from_status=previous,
        to_status=status,
        partner_id=partner_id,
        note=note,
        at=at,
    )
