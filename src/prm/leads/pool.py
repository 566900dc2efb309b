"""The claim pool: pooled leads, first claim wins.

`claim_lead` takes a lock on the claiming partner's row (`FOR NO KEY UPDATE`: it
serialises that partner's claims and nothing else), then claims with ONE conditional
statement:

    UPDATE leads SET status = 'ACCEPTED', partner_id = :me …
    WHERE id = :lead AND status = 'POOLED'
      AND <:me is eligible under the lead's rule>
      AND <:me's open leads < its capacity>
    RETURNING id

Between partners, the lead's row lock decides: a concurrent claimer's UPDATE waits for
the winner, re-checks `status = 'POOLED'` on the new row version (PostgreSQL's
EvalPlanQual), finds it false and updates nothing: exactly one winner under any
concurrency. Within one partner, the capacity count is a subquery that would read the
snapshot taken when the statement started; the partner lock is therefore taken by a
statement *before* the claim, so a second claim by the same partner starts its snapshot
only after the first has committed and sees it in the count.

A claim that updated nothing is explained afterwards (a fresh read). A pooled lead: not
eligible → NOT_ELIGIBLE, else at capacity → LIMIT_EXCEEDED (the pool is an open market:
an ineligible partner learns only that it may not claim). Not pooled: claimed from the
pool (or held by the caller) → ALREADY_CLAIMED; else visible to the caller (offered to it)
→ INVALID_TRANSITION; else NOT_FOUND.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session

from prm.auth.principal import Principal
from prm.errors import DomainError, ErrorCode, NotFound
from prm.events.bus import emit_sync, event
from prm.leads.eligibility import below_capacity, partner_may_claim
from prm.leads.history import record_event
from prm.leads.models import Lead, LeadEvent, LeadStatus
from prm.leads.visibility import lead_visible, require_partner
from prm.partners.models import Partner, PartnerStatus

CLAIMED = "CLAIMED"


def _fail(message: str, code: ErrorCode) -> DomainError:
    return DomainError(message, field="id", code=code)


def claim_lead(session: Session, principal: Principal, lead_id: uuid.UUID) -> Lead:
    partner_id = require_partner(principal, "claim leads")
    tenant_id = principal.tenant_id
    me = session.scalar(
        select(Partner)
        .where(Partner.tenant_id == tenant_id, Partner.id == partner_id)
        .with_for_update(key_share=True)
    )
    if me is None:
        raise NotFound("no such lead", field="id")
    now = datetime.now(UTC)
    claimed = session.scalar(
        update(Lead)
        .where(
            Lead.tenant_id == tenant_id,
            Lead.id == lead_id,
            Lead.status == LeadStatus.POOLED,
            partner_may_claim(partner_id),
            select(Partner.id)
            .where(Partner.tenant_id == tenant_id, Partner.id == partner_id, below_capacity())
            .exists(),
        )
        .values(status=LeadStatus.ACCEPTED, partner_id=partner_id, accepted_at=now, updated_at=now)
        .returning(Lead.id)
        .execution_options(synchronize_session=False)
    )
    if claimed is None:
        raise _explain(session, principal, partner_id, lead_id, me)
    # Just claimed by the caller's partner, so visible to it: no visibility query needed.
    lead = session.get_one(Lead, (tenant_id, lead_id), populate_existing=True)
    record_event(
        session,
        principal,
        lead,
        CLAIMED,
        from_status=LeadStatus.POOLED,
        to_status=LeadStatus.ACCEPTED,
        partner_id=partner_id,
        at=now,
    )
    emit_sync(
        session,
        event(
            "lead.claimed",
            tenant_id,
            {"leadId": lead.id, "partnerId": partner_id},
            partner_ids=[partner_id],
        ),
    )
    session.flush()
    return lead


def _explain(
    session: Session, principal: Principal, partner_id: uuid.UUID, lead_id: uuid.UUID, me: Partner
) -> DomainError:
    lead = session.scalar(
        select(Lead)
        .where(Lead.tenant_id == principal.tenant_id, Lead.id == lead_id)
        .execution_options(populate_existing=True)
    )
    if lead is None:
        return NotFound("no such lead", field="id")
    if lead.status is LeadStatus.POOLED:
        # The pool is an open market: a partner outside it learns only that it may not claim.
        eligible = session.scalar(
            select(
                exists().where(
                    Lead.tenant_id == lead.tenant_id,
                    Lead.id == lead_id,
                    partner_may_claim(partner_id),
                )
            )
        )
        paused_until = me.leads_paused_until
        if paused_until is not None and paused_until > datetime.now(UTC):
            return _fail(
                f"lead delivery to your partner is paused until {paused_until.isoformat()}: "
                f"{me.leads_paused_reason or 'no reason given'}",
                ErrorCode.NOT_ELIGIBLE,
            )
        if me.status is not PartnerStatus.ACTIVE or not eligible:
            return _fail("your partner is not eligible for this lead", ErrorCode.NOT_ELIGIBLE)
        return _fail(
            f"your partner is at its capacity of {me.capacity} open leads",
            ErrorCode.LIMIT_EXCEEDED,
        )
    if lead.partner_id is not None:
        was_claimed = session.scalar(
            select(
                exists().where(
                    LeadEvent.tenant_id == lead.tenant_id,
                    LeadEvent.lead_id == lead.id,
                    LeadEvent.kind == CLAIMED,
                )
            )
        )
        if was_claimed or lead.partner_id == partner_id:
            return _fail("the lead has already been claimed", ErrorCode.ALREADY_CLAIMED)
    visible = session.scalar(
        select(
            exists().where(
                Lead.tenant_id == principal.tenant_id, Lead.id == lead_id, lead_visible(principal)
            )
        )
    )
    if not visible:
        return NotFound("no such lead", field="id")
    return _fail(f"the lead is {lead.status.value}, not in the pool", ErrorCode.INVALID_TRANSITION)
