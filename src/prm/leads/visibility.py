"""Who may see which leads and offers: the one place these rules live.

- Tenant staff (ADMIN, MANAGER, EMPLOYEE, and API clients holding those roles) see every
  lead and offer of their tenant, including the UNROUTABLE queue.
- A partner user (PARTNER_ADMIN or PARTNER_REP) sees the leads its partner holds, the
  leads offered to its partner (any offer, so its offer history keeps its leads), and the
  pooled leads its partner is eligible to claim; of offers, only its partner's.

Anything else is invisible: absent from lists, `null` as a node, `NOT_FOUND` to mutations.
"""

from __future__ import annotations

import uuid

from sqlalchemy import ColumnElement, Select, and_, false, or_, select, true
from sqlalchemy.orm import Session

from prm.auth.principal import Principal, Role, is_staff, own_partner
from prm.errors import Forbidden, NotFound
from prm.leads.eligibility import partner_may_claim
from prm.leads.models import Lead, LeadOffer, LeadStatus


def is_lead_manager(principal: Principal) -> bool:
    """Admins and managers steer leads: route, work, convert any lead."""
    return principal.has_any(Role.ADMIN, Role.MANAGER)


def require_partner(principal: Principal, what: str) -> uuid.UUID:
    partner = own_partner(principal)
    if partner is None:
        raise Forbidden(f"only partner users may {what}")
    return partner


def lead_visible(principal: Principal) -> ColumnElement[bool]:
    if is_staff(principal):
        return true()
    partner = own_partner(principal)
    if partner is None:
        return false()
    offered = (
        select(LeadOffer.id)
        .where(
            LeadOffer.tenant_id == Lead.tenant_id,
            LeadOffer.lead_id == Lead.id,
            LeadOffer.partner_id == partner,
        )
        .exists()
    )
    return or_(
        Lead.partner_id == partner,
        offered,
        and_(Lead.status == LeadStatus.POOLED, partner_may_claim(partner)),
    )


def readable_leads(principal: Principal) -> Select[Lead]:
    return select(Lead).where(Lead.tenant_id == principal.tenant_id, lead_visible(principal))


def pool_statement(principal: Principal) -> Select[Lead]:
    """Pooled leads the caller's partner may claim; staff see the whole pool."""
    statement = select(Lead).where(
        Lead.tenant_id == principal.tenant_id, Lead.status == LeadStatus.POOLED
    )
    if is_staff(principal):
        return statement
    partner = own_partner(principal)
    if partner is None:
        return statement.where(false())
    return statement.where(partner_may_claim(partner))


def offer_visible(principal: Principal) -> ColumnElement[bool]:
    if is_staff(principal):
        return true()
    partner = own_partner(principal)
    return false() if partner is None else LeadOffer.partner_id == partner


def can_read_offer(principal: Principal, offer: LeadOffer) -> bool:
    if offer.tenant_id != principal.tenant_id:
        return False
    partner = own_partner(principal)
    return is_staff(principal) or (partner is not None and offer.partner_id == partner)


def readable_offers(principal: Principal) -> Select[LeadOffer]:
    return select(LeadOffer).where(
        LeadOffer.tenant_id == principal.tenant_id, offer_visible(principal)
    )


def get_lead(
    session: Session,
    principal: Principal,
    lead_id: uuid.UUID,
    *,
    field: str = "id",
    for_update: bool = False,
) -> Lead:
    """A lead the principal may see, or `NOT_FOUND` on `field`."""
    statement = readable_leads(principal).where(Lead.id == lead_id)
    if for_update:
        statement = statement.with_for_update(of=Lead)
    lead = session.scalar(statement.execution_options(populate_existing=True))
    if lead is None:
        raise NotFound("no such lead", field=field)
    return lead
