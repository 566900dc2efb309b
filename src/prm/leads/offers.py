"""Offers: a partner accepts or rejects, the scheduler expires, the lead moves on.

Only the offered partner's users answer an offer; to anyone else's partner it does not
exist (`NOT_FOUND`), and tenant staff may look but not answer (`FORBIDDEN`). Accepting
leaves the lead ACCEPTED with the partner set; rejecting (a reason is required) and
expiry re-route it to the next eligible partner that has not had it, else UNROUTABLE.

Expiry: offers past `expiresAt` are expired by `expire_due_offers`, a periodic task of
the scheduler (`prm.workers.scheduler`). The scheduler has no tenant, and RLS hides every
tenant's `lead_offers` from it; rather than open a transaction in every active tenant each
minute, it reads the platform table `lead_offer_deadlines` (tenant id, offer id, time:
one row per pending offer, written and deleted with the offer) with one indexed query for
the tenants that have offers due, and expires those in a transaction per tenant, each
offer locked with SKIP LOCKED so an accept racing the expiry either wins or waits.

Both a rejection and an expiry count against the partner under the tenant's lead-SLA
policy: in the same transaction, `sla_policy.enforce_policy` pauses the partners it puts
over the limit (for an expiry batch, all of them in one pass, before the leads move on).
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from prm.auth.principal import Principal
from prm.db.engine import Database
from prm.errors import DomainError, ErrorCode, InvalidInput, NotFound
from prm.leads.history import change_status, record_event
from prm.leads.models import Lead, LeadOffer, LeadStatus, OfferDeadline, OfferStatus
from prm.leads.routing import clear_deadline, route_lead
from prm.leads.sla_policy import enforce_policy
from prm.leads.visibility import require_partner
from prm.metrics.stale import mark_stale_sync

log = logging.getLogger(__name__)

MAX_REASON = 2000
EXPIRY_BATCH = 500
"""Offers expired per tenant per tick; a backlog drains over the following ticks."""


def _pending_offer(
    session: Session, principal: Principal, offer_id: uuid.UUID, now: datetime
) -> tuple[LeadOffer, Lead]:
    partner_id = require_partner(principal, "answer lead offers")
    offer = session.scalar(
        select(LeadOffer)
        .where(
            LeadOffer.tenant_id == principal.tenant_id,
            LeadOffer.id == offer_id,
            LeadOffer.partner_id == partner_id,
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if offer is None:
        raise NotFound("no such offer", field="id")
    if offer.status is OfferStatus.EXPIRED or (
        offer.status is OfferStatus.PENDING and offer.expires_at <= now
    ):
        raise DomainError("the offer has expired", field="id", code=ErrorCode.EXPIRED)
    if offer.status is not OfferStatus.PENDING:
        raise DomainError(
            f"the offer is {offer.status.value}", field="id", code=ErrorCode.INVALID_TRANSITION
        )
    lead = session.scalar(
        select(Lead)
        .where(Lead.tenant_id == principal.tenant_id, Lead.id == offer.lead_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if lead is None:  # the offer cascades with its lead, so this cannot happen
        raise NotFound("no such offer", field="id")
    return offer, lead


def accept_offer(
    session: Session, principal: Principal, offer_id: uuid.UUID, *, now: datetime | None = None
) -> LeadOffer:
    now = now or datetime.now(UTC)
    offer, lead = _pending_offer(session, principal, offer_id, now)
    offer.status = OfferStatus.ACCEPTED
    offer.responded_at = now
    offer.responded_by = principal.user_id
    clear_deadline(session, offer.tenant_id, offer.id)
    lead.partner_id = offer.partner_id
    lead.accepted_at = now
    change_status(
        session, principal, lead, LeadStatus.ACCEPTED, "ACCEPTED", partner_id=offer.partner_id
    )
    mark_stale_sync(session, principal.tenant_id, now)
    session.flush()
    return offer


def reject_offer(
    session: Session,
    principal: Principal,
    offer_id: uuid.UUID,
    reason: str,
    *,
    now: datetime | None = None,
) -> LeadOffer:
    now = now or datetime.now(UTC)
    clean = (reason or "").strip()
    if not clean:
        raise InvalidInput("a reason is required", field="reason")
    if len(clean) > MAX_REASON:
        raise InvalidInput(f"must be at most {MAX_REASON} characters", field="reason")
    offer, lead = _pending_offer(session, principal, offer_id, now)
    offer.status = OfferStatus.REJECTED
    offer.responded_at = now
    offer.responded_by = principal.user_id
    offer.reject_reason = clean
    clear_deadline(session, offer.tenant_id, offer.id)
    session.flush()
    record_event(session, principal, lead, "REJECTED", partner_id=offer.partner_id, note=clean)
    mark_stale_sync(session, principal.tenant_id, now)
    enforce_policy(session, principal.tenant_id, [offer.partner_id], now=now)
    route_lead(session, principal, lead, now=now)
    session.flush()
    return offer


def expire_offers(
    session: Session, tenant_id: uuid.UUID, *, now: datetime, limit: int = EXPIRY_BATCH
) -> int:
    """Expire the tenant's pending offers due by `now` and re-route their leads (as the
    system). Offers being answered right now are skipped, not waited for."""
    system = Principal.system(tenant_id)
    offers = session.scalars(
        select(LeadOffer)
        .where(
            LeadOffer.tenant_id == tenant_id,
            LeadOffer.status == OfferStatus.PENDING,
            LeadOffer.expires_at <= now,
        )
        .order_by(LeadOffer.expires_at, LeadOffer.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    expired: list[tuple[LeadOffer, Lead]] = []
    for offer in offers:
        lead = session.scalar(
            select(Lead)
            .where(Lead.tenant_id == tenant_id, Lead.id == offer.lead_id)
            .with_for_update()
        )
        offer.status = OfferStatus.EXPIRED
        clear_deadline(session, tenant_id, offer.id)
        session.flush()
        if lead is None:
            continue
        record_event(
            session,
            system,
            lead,
            "EXPIRED",
            partner_id=offer.partner_id,
            note=f"not accepted by {offer.expires_at.isoformat()}",
            at=now,
        )
        expired.append((offer, lead))
    # Pause the partners the batch put over the SLA limit (one set-based pass) before the
    # leads move on, so none of them is offered one of these leads again.
    enforce_policy(session, tenant_id, {offer.partner_id for offer in offers}, now=now)
    for _, lead in expired:
        route_lead(session, system, lead, now=now)
    if offers:
        mark_stale_sync(session, tenant_id, now)
    session.flush()
    return len(offers)


def due_tenants(database: Database, now: datetime, *, limit: int = 1000) -> list[uuid.UUID]:
    with database.sync_session() as session:
        return list(
            session.scalars(
                select(OfferDeadline.tenant_id)
                .where(OfferDeadline.expires_at <= now)
                .group_by(OfferDeadline.tenant_id)
                .order_by(OfferDeadline.tenant_id)
                .limit(limit)
            )
        )


def expire_due_offers(database: Database, *, now: datetime | None = None) -> int:
    """The scheduler's tick: expire due offers in every tenant that has some. One tenant's
    failure is logged and does not stop the others. Returns the offers expired."""
    now = now or datetime.now(UTC)
    expired = 0
    for tenant_id in due_tenants(database, now):
        try:
            with database.sync_session(tenant_id) as session:
                expired += expire_offers(session, tenant_id, now=now)
        except Exception:
            log.exception("expiring lead offers of tenant %s failed", tenant_id)
    if expired:
        log.info("expired %d lead offers", expired)
    return expired
