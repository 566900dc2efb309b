"""Routing: where a lead goes, decided in SQL.

`route_lead` finds the first matching rule (`rules.matching_rule`). POOL: the lead is
POOLED if any partner is eligible (`eligibility.covers_lead`), for all of them to claim.
OFFER: one eligible partner (also below capacity and not offered this lead before) is
chosen by the rule's strategy, in one query over the eligible set:

- ROUND_ROBIN: the rule's `rr_cursor` is advanced by one atomic `UPDATE … RETURNING`, and
  the partner at position `cursor mod n` of the eligible partners (by id) wins. The
  increment is serialised by PostgreSQL's row lock, so concurrent routings in any number
  of processes each get their own position: the rotation stays fair.
- WEIGHTED: a weighted random draw by tier `leadWeight` (partners without a tier weigh 1;
  weight 0 never wins): the smallest `-ln(U) / w` (Efraimidis-Spirakis), in SQL.
- PERFORMANCE: the highest `performanceScore` wins; ties (and a field with no scores) are
  broken round-robin with the same cursor.

No rule, or no eligible partner: UNROUTABLE, for managers to see in
`leads(filter: {status: UNROUTABLE})`. Re-routing (reject, expiry, `routeLead`) first
withdraws a pending offer; the "not offered before" condition then moves the lead on.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import ColumnElement, Select, and_, exists, func, select, update
from sqlalchemy.orm import Session

from prm.auth.principal import Principal
from prm.errors import DomainError, ErrorCode, Forbidden
from prm.events.bus import emit_sync, event
from prm.leads.eligibility import covers_lead, offer_conditions
from prm.leads.history import change_status, record_event
from prm.leads.models import (
    DistributionMode,
    DistributionRule,
    DistributionStrategy,
    Lead,
    LeadOffer,
    LeadStatus,
    OfferDeadline,
    OfferStatus,
)
from prm.leads.rules import matching_rule
from prm.leads.visibility import get_lead, is_lead_manager
from prm.partners.models import Partner, PartnerTier
from prm.tenants.models import Tenant

ROUTABLE = frozenset({LeadStatus.NEW, LeadStatus.UNROUTABLE, LeadStatus.POOLED, LeadStatus.OFFERED})
"""Statuses `routeLead` may (re-)route from: nothing a partner holds or that is closed."""


def _covers(lead: Lead, rule: DistributionRule) -> ColumnElement[bool]:
    return covers_lead(
        country=lead.country,
        region=lead.region,
        postal_code=lead.postal_code,
        capabilities=list(rule.capabilities or []),
        min_tier_rank=rule.min_tier_rank,
    )


def eligible_for_offer(
    lead: Lead, rule: DistributionRule
) -> Select[uuid.UUID, Decimal, float | None]:
    """`(id, weight, score)` of every partner the lead may be offered to under `rule`."""
    return (
        select(
            Partner.id.label("id"),
            func.coalesce(PartnerTier.lead_weight, 1).label("weight"),
            Partner.performance_score.label("score"),
        )
        .select_from(Partner)
        .outerjoin(
            PartnerTier,
            and_(PartnerTier.tenant_id == Partner.tenant_id, PartnerTier.id == Partner.tier_id),
        )
        .where(
            Partner.tenant_id == lead.tenant_id,
            _covers(lead, rule),
            offer_conditions(lead.id),
        )
    )


def _advance_cursor(session: Session, rule: DistributionRule) -> int:
    cursor = session.scalar(
        update(DistributionRule)
        .where(DistributionRule.tenant_id == rule.tenant_id, DistributionRule.id == rule.id)
        .values(rr_cursor=DistributionRule.rr_cursor + 1)
        .returning(DistributionRule.rr_cursor - 1)
        .execution_options(synchronize_session=False)
    )
    return int(cursor or 0)


def choose_partner(session: Session, lead: Lead, rule: DistributionRule) -> uuid.UUID | None:
    """The partner to offer `lead` to under `rule`'s strategy, or None if none is eligible."""
    eligible = eligible_for_offer(lead, rule)
    if rule.strategy is DistributionStrategy.WEIGHTED:
        pool = eligible.subquery("eligible")
        draw = -func.ln(1 - func.random()) / pool.c.weight
        chosen: uuid.UUID | None = session.scalar(
            select(pool.c.id).where(pool.c.weight > 0).order_by(draw).limit(1)
        )
        return chosen
    cursor = _advance_cursor(session, rule)
    pool_cte = eligible.cte("eligible")
    candidates = select(pool_cte.c.id)
    if rule.strategy is DistributionStrategy.PERFORMANCE:
        best = select(func.max(pool_cte.c.score)).scalar_subquery()
        candidates = candidates.where(pool_cte.c.score.is_not_distinct_from(best))
    subquery = candidates.subquery("candidates")
    ranked = select(
        subquery.c.id,
        (func.row_number().over(order_by=subquery.c.id) - 1).label("position"),
        func.count().over().label("size"),
    ).subquery("ranked")
    chosen = session.scalar(
        select(ranked.c.id).where(ranked.c.position == func.mod(cursor, ranked.c.size))
    )
    return chosen


def any_partner_covers(session: Session, lead: Lead, rule: DistributionRule) -> bool:
    found = session.scalar(
        select(exists().where(Partner.tenant_id == lead.tenant_id, _covers(lead, rule)))
    )
    return bool(found)


def withdraw_pending_offer(session: Session, actor: Principal, lead: Lead, now: datetime) -> None:
    """Withdraw the lead's pending offer, if any (re-routing, or the lead was closed)."""
    withdrawn = session.execute(
        update(LeadOffer)
        .where(
            LeadOffer.tenant_id == lead.tenant_id,
            LeadOffer.lead_id == lead.id,
            LeadOffer.status == OfferStatus.PENDING,
        )
        .values(status=OfferStatus.WITHDRAWN, responded_at=now)
        .returning(LeadOffer.id, LeadOffer.partner_id)
        .execution_options(synchronize_session="fetch")
    ).all()
    for offer_id, partner_id in withdrawn:
        clear_deadline(session, lead.tenant_id, offer_id)
        record_event(session, actor, lead, "OFFER_WITHDRAWN", partner_id=partner_id, at=now)


def clear_deadline(session: Session, tenant_id: uuid.UUID, offer_id: uuid.UUID) -> None:
    session.query(OfferDeadline).filter(
        OfferDeadline.tenant_id == tenant_id, OfferDeadline.offer_id == offer_id
    ).delete(synchronize_session=False)


def _sla_hours(session: Session, lead: Lead, rule: DistributionRule | None) -> int:
    """The rule's SLA, else the tenant's default."""
    if rule is not None and rule.offer_sla_hours:
        return rule.offer_sla_hours
    hours = session.scalar(select(Tenant.offer_sla_hours).where(Tenant.id == lead.tenant_id))
    return int(hours or 48)


def offer_to(
    session: Session,
    actor: Principal,
    lead: Lead,
    partner_id: uuid.UUID,
    rule: DistributionRule | None,
    now: datetime,
    *,
    note: str | None = None,
) -> LeadOffer:
    """Offer `lead` to one partner: the PENDING offer, its deadline, the lead OFFERED.
    Without a rule (a protected deal's partner) the tenant's default SLA applies."""
    offer = LeadOffer(
        tenant_id=lead.tenant_id,
        lead_id=lead.id,
        partner_id=partner_id,
        rule_id=rule.id if rule is not None else None,
        status=OfferStatus.PENDING,
        offered_at=now,
        expires_at=now + timedelta(hours=_sla_hours(session, lead, rule)),
    )
    session.add(offer)
    session.flush()
    session.add(
        OfferDeadline(tenant_id=lead.tenant_id, offer_id=offer.id, expires_at=offer.expires_at)
    )
    change_status(
        session,
        actor,
        lead,
        LeadStatus.OFFERED,
        "OFFERED",
        partner_id=partner_id,
        note=note if note is not None else f"rule {rule.name}" if rule is not None else None,
        at=now,
    )
    emit_sync(
        session,
        event(
            "lead.offered",
            lead.tenant_id,
            {
                "leadId": lead.id,
                "offerId": offer.id,
                "partnerId": partner_id,
                "expiresAt": offer.expires_at,
            },
            partner_ids=[partner_id],
        ),
    )
    return offer


def route_lead(
    session: Session, actor: Principal, lead: Lead, *, now: datetime | None = None
) -> Lead:
    """Route `lead` (whose row the caller has locked or just created) by the tenant's rules."""
    now = now or datetime.now(UTC)
    withdraw_pending_offer(session, actor, lead, now)
    lead.partner_id = None
    lead.routed_at = now
    # Deal protection first: an approved registration's partner gets its company's leads.
    from prm.deals.protection import route_to_protected_partner  # deals imports leads

    if route_to_protected_partner(session, actor, lead, now=now):
        return lead
    rule = matching_rule(session, lead)
    if rule is None:
        lead.rule_id = None
        change_status(
            session,
            actor,
            lead,
            LeadStatus.UNROUTABLE,
            "UNROUTABLE",
            note="no distribution rule matches",
            at=now,
        )
        return lead
    lead.rule_id = rule.id
    if rule.mode is DistributionMode.POOL:
        if any_partner_covers(session, lead, rule):
            change_status(
                session, actor, lead, LeadStatus.POOLED, "POOLED", note=f"rule {rule.name}", at=now
            )
            emit_sync(session, event("lead.pooled", lead.tenant_id, {"leadId": lead.id}))
            return lead
    elif (partner_id := choose_partner(session, lead, rule)) is not None:
        offer_to(session, actor, lead, partner_id, rule, now)
        return lead
    change_status(
        session,
        actor,
        lead,
        LeadStatus.UNROUTABLE,
        "UNROUTABLE",
        note=f"rule {rule.name}: no eligible partner",
        at=now,
    )
    return lead


def reroute_lead(session: Session, principal: Principal, lead_id: uuid.UUID) -> Lead:
    """`routeLead`: route again by the current rules (admins and managers), e.g. an
    UNROUTABLE lead after a rule or partner was added. A pending offer is withdrawn."""
    if not is_lead_manager(principal):
        raise Forbidden("only an admin or a manager may route leads")
    lead = get_lead(session, principal, lead_id, for_update=True)
    if lead.status not in ROUTABLE:
        raise DomainError(
            f"a {lead.status.value} lead cannot be routed",
            field="id",
            code=ErrorCode.INVALID_TRANSITION,
        )
    route_lead(session, principal, lead)
    session.flush()
    return lead


def route_leads(session: Session, actor: Principal, lead_ids: Sequence[uuid.UUID]) -> int:
    """Route many NEW leads (bulk import): each one locked and routed in this transaction;
    leads that are no longer NEW (routed meanwhile) are skipped. Returns how many."""
    leads = session.scalars(
        select(Lead)
        .where(
            Lead.tenant_id == actor.tenant_id,
            Lead.id.in_(list(lead_ids)),
            Lead.status == LeadStatus.NEW,
        )
        .order_by(Lead.id)
        .with_for_update(skip_locked=True)
    ).all()
    for lead in leads:
        route_lead(session, actor, lead)
    session.flush()
    return len(leads)
