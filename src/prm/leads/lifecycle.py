"""Working a lead: status transitions and assignment to a partner rep.

Transitions by `updateLeadStatus`: ACCEPTED → WORKING → QUALIFIED, one step at a time;
LOST or DISQUALIFIED from any open status (a pending offer is then withdrawn, a pooled
lead leaves the pool). CONVERTED only through `convertLead`. Anything else is
`INVALID_TRANSITION`. Who: admins and managers on any lead, partner users on the leads
their partner holds (any other lead is `NOT_FOUND` to them).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from prm.auth.principal import PARTNER_ROLES, Principal, Role
from prm.errors import DomainError, ErrorCode, Forbidden, InvalidInput, NotFound
from prm.leads.history import change_status, record_event
from prm.leads.models import HELD_STATUSES, OPEN_STATUSES, Lead, LeadStatus
from prm.leads.routing import withdraw_pending_offer
from prm.leads.visibility import get_lead, is_lead_manager, own_partner
from prm.tenants.models import User

MAX_NOTE = 2000
STEPS = {LeadStatus.ACCEPTED: LeadStatus.WORKING, LeadStatus.WORKING: LeadStatus.QUALIFIED}
EXITS = frozenset({LeadStatus.LOST, LeadStatus.DISQUALIFIED})


def invalid_transition(message: str, field: str = "status") -> DomainError:
    return DomainError(message, field=field, code=ErrorCode.INVALID_TRANSITION)


def lead_for_work(session: Session, principal: Principal, lead_id: uuid.UUID) -> Lead:
    """The lead, locked, if the principal may work it: managers any visible lead, partner
    users only a lead their partner holds."""
    if not is_lead_manager(principal) and own_partner(principal) is None:
        raise Forbidden("only admins, managers and partner users work leads")
    lead = get_lead(session, principal, lead_id, for_update=True)
    partner = own_partner(principal)
    if partner is not None and lead.partner_id != partner:
        raise NotFound("no such lead", field="id")
    return lead


def update_status(
    session: Session,
    principal: Principal,
    lead_id: uuid.UUID,
    status: LeadStatus,
    *,
    note: str | None = None,
) -> Lead:
    clean_note = (note or "").strip() or None
    if clean_note and len(clean_note) > MAX_NOTE:
        raise InvalidInput(f"must be at most {MAX_NOTE} characters", field="note")
    lead = lead_for_work(session, principal, lead_id)
    current = lead.status
    if status is LeadStatus.CONVERTED:
        raise invalid_transition("a lead is converted with convertLead")
    if status in EXITS:
        if current not in OPEN_STATUSES:
            raise invalid_transition(f"a {current.value} lead is closed")
        now = datetime.now(UTC)
        withdraw_pending_offer(session, principal, lead, now)
        lead.closed_at = now
        change_status(
            session, principal, lead, status, "STATUS_CHANGED", partner_id=lead.partner_id,
            note=clean_note, at=now,
        )  # fmt: skip
    elif STEPS.get(current) is status:
        change_status(
            session, principal, lead, status, "STATUS_CHANGED", partner_id=lead.partner_id,
            note=clean_note,
        )  # fmt: skip
    else:
        raise invalid_transition(f"a {current.value} lead cannot become {status.value}")
    session.flush()
    return lead


def assign_lead(
    session: Session, principal: Principal, lead_id: uuid.UUID, user_id: uuid.UUID
) -> Lead:
    """Give a held lead to a user of the holding partner (by its partner admin, or an
    admin or manager)."""
    if not is_lead_manager(principal) and not (
        own_partner(principal) is not None and principal.has_any(Role.PARTNER_ADMIN)
    ):
        raise Forbidden("only admins, managers and partner admins assign leads")
    lead = lead_for_work(session, principal, lead_id)
    if lead.partner_id is None or lead.status not in HELD_STATUSES:
        raise invalid_transition("only a lead a partner holds can be assigned", field="id")
    user = session.scalar(
        select(User).where(User.tenant_id == principal.tenant_id, User.id == user_id)
    )
    if user is None or (own_partner(principal) is not None and user.partner_id != lead.partner_id):
        raise NotFound("no such user", field="userId")
    if (
        user.partner_id != lead.partner_id
        or not user.active
        or PARTNER_ROLES.isdisjoint(Role(role) for role in user.roles)
    ):
        raise DomainError(
            "the user is not an active user of the partner holding the lead",
            field="userId",
            code=ErrorCode.NOT_ELIGIBLE,
        )
    lead.owner_id = user.id
    lead.updated_at = datetime.now(UTC)
    record_event(session, principal, lead, "ASSIGNED", partner_id=lead.partner_id, note=user.email)
    session.flush()
    return lead
