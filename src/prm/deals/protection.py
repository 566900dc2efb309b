"""Deal protection in routing: a new lead for a company an APPROVED registration protects
goes to the protected partner (offered, with the tenant's SLA), or, if that partner cannot
take it (not ACTIVE, at capacity), is held UNROUTABLE for a manager rather than offered
to a competitor. A protected partner that already had the lead (rejected or let it
expire) no longer holds it back: routing goes on by the rules.

`prm.leads.routing.route_lead` calls `route_to_protected_partner` first.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from prm.auth.principal import Principal
from prm.deals.service import protected_partner_of_lead
from prm.leads.eligibility import below_capacity
from prm.leads.history import change_status
from prm.leads.models import Lead, LeadOffer, LeadStatus
from prm.leads.routing import offer_to
from prm.partners.models import Partner, PartnerStatus

PROTECTED_NOTE = "protected by an approved deal registration"


def route_to_protected_partner(
    session: Session, actor: Principal, lead: Lead, *, now: datetime
) -> bool:
    """Route `lead` by deal protection if a registration protects its company; returns
    whether it did (False: route by the rules as usual)."""
    partner_id = protected_partner_of_lead(session, lead, now=now)
    if partner_id is None:
        return False
    had_it = session.scalar(
        select(
            exists().where(
                LeadOffer.tenant_id == lead.tenant_id,
                LeadOffer.lead_id == lead.id,
                LeadOffer.partner_id == partner_id,
            )
        )
    )
    if had_it:
        return False
    lead.rule_id = None
    can_take = session.scalar(
        select(
            exists().where(
                Partner.tenant_id == lead.tenant_id,
                Partner.id == partner_id,
                Partner.status == PartnerStatus.ACTIVE,
                below_capacity(Partner),
            )
        )
    )
    if not can_take:
        change_status(
            session,
            actor,
            lead,
            LeadStatus.UNROUTABLE,
            "UNROUTABLE",
            partner_id=partner_id,
            note=f"{PROTECTED_NOTE}; the protected partner cannot take it now",
            at=now,
        )
        return True
    offer_to(session, actor, lead, partner_id, None, now, note=PROTECTED_NOTE)
    return True
