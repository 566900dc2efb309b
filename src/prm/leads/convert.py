"""Converting a qualified lead into CRM records, in the caller's one transaction.

The account is matched (same normalised name as `accountName` or the company, or the web
domain of a company email address) or created; the contact is matched by email or created
at that account from the lead's contact; the opportunity is created at the account with
the holding partner and `sourceLeadId`; the lead becomes CONVERTED. The CRM records are
made through the CRM services (`prm.crm.accounts`, `contacts`, `opportunities`), so they
are validated exactly like records made through the CRM API.

Matching and creating act for the tenant (`Principal.system`), not as the caller: a
partner user sees only its partner's accounts, and matching must see the tenant's
customer, not create a second copy of it. New records belong to the holding partner.
Who may convert: the holding partner's users, admins and managers. A held lead converts
from ACCEPTED, WORKING or QUALIFIED (a deal may materialise before anyone records the
intermediate steps); any other status is `INVALID_TRANSITION`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from prm.auth.principal import Principal
from prm.crm import accounts, contacts, opportunities
from prm.crm.models import Account, Contact, Opportunity
from prm.events.bus import emit, event
from prm.leads.capture import FREE_MAIL
from prm.leads.fields import required_text
from prm.leads.history import change_status
from prm.leads.lifecycle import invalid_transition, lead_for_work
from prm.leads.models import Lead, LeadStatus
from prm.metrics.stale import mark_stale
from prm.money import Money


@dataclass(frozen=True)
class Conversion:
    lead: Lead
    account: Account
    contact: Contact | None
    opportunity: Opportunity


CONVERTIBLE = frozenset({LeadStatus.ACCEPTED, LeadStatus.WORKING, LeadStatus.QUALIFIED})


def _lock_convertible(session: Session, principal: Principal, lead_id: uuid.UUID) -> Lead:
    lead = lead_for_work(session, principal, lead_id)
    if lead.status not in CONVERTIBLE:
        raise invalid_transition(
            f"a {lead.status.value} lead cannot be converted; it must be held (accepted)",
            field="id",
        )
    return lead


def _mark_converted(
    session: Session, principal: Principal, lead: Lead, opportunity: Opportunity
) -> None:
    lead.closed_at = datetime.now(UTC)
    change_status(
        session,
        principal,
        lead,
        LeadStatus.CONVERTED,
        "CONVERTED",
        partner_id=lead.partner_id,
        note=f"opportunity {opportunity.name}",
    )
    session.flush()


def _split_name(name: str) -> tuple[str, str]:
    parts = name.split()
    if len(parts) == 1:
        return parts[0], parts[0]
    return " ".join(parts[:-1]), parts[-1]


async def convert_lead(
    session: AsyncSession,
    principal: Principal,
    lead_id: uuid.UUID,
    *,
    opportunity_name: str,
    amount: Money | None = None,
    account_name: str | None = None,
    close_date: date | None = None,
) -> Conversion:
    name = required_text(opportunity_name, field="opportunityName")
    lead = await session.run_sync(_lock_convertible, principal, lead_id)
    tenant = Principal.system(principal.tenant_id)
    company = required_text(account_name or lead.company_name, field="accountName")
    domain = lead.email_domain if lead.email_domain not in FREE_MAIL else None

    account = await accounts.find_duplicate_account(
        session,
        tenant,
        normalized_name=accounts.normalise_account_name(company),
        domain=domain,
    )
    if account is None:
        account = await accounts.create_account(
            session,
            tenant,
            name=company,
            domain=domain,
            industry=lead.industry,
            country=lead.country,
            region=lead.region,
            partner_id=lead.partner_id,
            allow_duplicate=True,
        )

    contact = None
    if lead.email:
        contact = await contacts.find_duplicate_contact(session, tenant, lead.email)
    if contact is None and (lead.contact_name or lead.email):
        first, last = _split_name(lead.contact_name or (lead.email or "").split("@")[0])
        contact = await contacts.create_contact(
            session,
            tenant,
            first_name=first,
            last_name=last,
            account_id=account.id,
            email=lead.email,
            phone=lead.phone,
            allow_duplicate=True,
        )

    opportunity = await opportunities.create_opportunity(
        session,
        tenant,
        account_id=account.id,
        name=name,
        amount=amount,
        close_date=close_date,
        partner_id=lead.partner_id,
        source_lead_id=lead.id,
    )
    opportunity.campaign_id = lead.campaign_id  # attribution follows the lead
    await session.run_sync(_mark_converted, principal, lead, opportunity)
    await emit(
        session,
        event(
            "lead.converted",
            principal.tenant_id,
            {"leadId": lead.id, "opportunityId": opportunity.id, "partnerId": lead.partner_id},
            partner_ids=[lead.partner_id],
        ),
    )
    await mark_stale(session, principal.tenant_id, datetime.now(UTC))
    return Conversion(lead=lead, account=account, contact=contact, opportunity=opportunity)
