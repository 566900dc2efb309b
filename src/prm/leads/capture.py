"""Capture: a new lead is validated (`fields.normalise_lead`), checked for duplicates,
stored, scored and routed, all in the caller's transaction.

A duplicate is an open lead with the same email, or with the same normalised company name
and email domain; or an existing contact with the same email; or an account with the same
normalised name (or, for a company address, the same web domain). It is reported as
`DUPLICATE` naming the existing record, unless the caller passes `allow_duplicate`.
Free-mail domains never match an account's domain on their own.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import and_, func, literal, select, union_all
from sqlalchemy.orm import Session

from prm.auth.principal import Principal
from prm.crm.campaigns import require_campaign_sync
from prm.crm.models import Account, Contact
from prm.errors import Duplicate, Forbidden
from prm.leads.fields import LeadFields, normalise_lead
from prm.leads.history import record_event
from prm.leads.lifecycle import invalid_transition, lead_for_work
from prm.leads.models import OPEN_STATUSES, Lead, LeadStatus
from prm.leads.routing import route_lead
from prm.leads.scoring import recompute_scores
from prm.leads.visibility import is_staff

FREE_MAIL = frozenset(
    {
        "aol.com", "gmail.com", "gmx.com", "gmx.de", "googlemail.com", "hotmail.com",
        "icloud.com", "live.com", "mail.com", "me.com", "msn.com", "outlook.com",
        "proton.me", "protonmail.com", "web.de", "yahoo.com", "yandex.com", "zoho.com",
    }
)  # fmt: skip


def find_duplicate(
    session: Session,
    tenant_id: uuid.UUID,
    fields: LeadFields,
    *,
    exclude: uuid.UUID | None = None,
) -> tuple[str, uuid.UUID] | None:
    """`(type name, id)` of the first record `fields` would duplicate, in one query
    (`exclude`: the lead being edited)."""
    branches: list[Any] = []
    open_lead = and_(Lead.tenant_id == tenant_id, Lead.status.in_(OPEN_STATUSES))
    if exclude is not None:
        open_lead = and_(open_lead, Lead.id != exclude)
    if fields.email:
        branches.append(
            select(literal("Lead").label("kind"), Lead.id).where(
                open_lead, Lead.email == fields.email
            )
        )
        branches.append(
            select(literal("Contact").label("kind"), Contact.id).where(
                Contact.tenant_id == tenant_id, func.lower(Contact.email) == fields.email
            )
        )
    if fields.email_domain:
        branches.append(
            select(literal("Lead").label("kind"), Lead.id).where(
                open_lead,
                Lead.normalized_company == fields.normalized_company,
                Lead.email_domain == fields.email_domain,
            )
        )
    branches.append(
        select(literal("Account").label("kind"), Account.id).where(
            Account.tenant_id == tenant_id, Account.normalized_name == fields.normalized_company
        )
    )
    if fields.email_domain and fields.email_domain not in FREE_MAIL:
        branches.append(
            select(literal("Account").label("kind"), Account.id).where(
                Account.tenant_id == tenant_id, Account.domain == fields.email_domain
            )
        )
    found = session.execute(union_all(*branches).limit(1)).first()
    return (str(found[0]), found[1]) if found else None


def _refuse_duplicate(
    session: Session, tenant_id: uuid.UUID, fields: LeadFields, exclude: uuid.UUID | None = None
) -> None:
    duplicate = find_duplicate(session, tenant_id, fields, exclude=exclude)
    if duplicate is not None:
        kind, existing = duplicate
        field = "email" if kind in ("Lead", "Contact") and fields.email else "companyName"
        raise Duplicate(
            f"duplicates an existing {kind.lower()}",
            field=field,
            existing_key=f"{kind}:{existing}",
        )


def create_lead(
    session: Session,
    principal: Principal,
    fields: LeadFields,
    *,
    allow_duplicate: bool = False,
    route: bool = True,
    campaign_id: uuid.UUID | None = None,
) -> Lead:
    """Store a lead, score it and (unless `route=False`, e.g. bulk import routing later
    set-wise) route it by the tenant's rules. Tenant staff only. `campaign_id` attributes
    it to one of the tenant's campaigns (NOT_FOUND otherwise)."""
    if not is_staff(principal):
        raise Forbidden("only tenant staff may capture leads")
    if campaign_id is not None:
        require_campaign_sync(session, principal.tenant_id, campaign_id)
    if not allow_duplicate:
        _refuse_duplicate(session, principal.tenant_id, fields)
    value = fields.estimated_value
    lead = Lead(
        tenant_id=principal.tenant_id,
        status=LeadStatus.NEW,
        source=fields.source,
        company_name=fields.company_name,
        normalized_company=fields.normalized_company,
        contact_name=fields.contact_name,
        email=fields.email,
        email_domain=fields.email_domain,
        phone=fields.phone,
        country=fields.country,
        region=fields.region,
        postal_code=fields.postal_code,
        industry=fields.industry,
        product_interest=list(fields.product_interest),
        estimated_value=value.amount if value else None,
        currency=value.currency if value else None,
        score=0,
        created_by=principal.user_id,
        campaign_id=campaign_id,
    )
    session.add(lead)
    session.flush()
    record_event(session, principal, lead, "CREATED", to_status=LeadStatus.NEW)
    recompute_scores(session, principal.tenant_id, [lead.id])
    session.refresh(lead)
    if route:
        route_lead(session, principal, lead)
    session.flush()
    return lead


EDITABLE = (
    "company_name",
    "contact_name",
    "email",
    "phone",
    "country",
    "region",
    "postal_code",
    "industry",
    "product_interest",
    "estimated_value",
    "source",
)


def update_lead(
    session: Session,
    principal: Principal,
    lead_id: uuid.UUID,
    changes: dict[str, Any],
    *,
    allow_duplicate: bool = False,
) -> Lead:
    """Edit an open lead's captured fields (`changes`: raw values by `EDITABLE` name; a
    blank string clears one). Re-validated as on capture, checked for duplicates, rescored
    and recorded; not re-routed (`routeLead` does that). Admins, managers, and the users
    of the partner holding it."""
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    lead = lead_for_work(session, principal, lead_id)
    if lead.status not in OPEN_STATUSES:
        raise invalid_transition(f"a {lead.status.value} lead is closed", field="id")
    current: dict[str, Any] = {
        "company_name": lead.company_name,
        "contact_name": lead.contact_name,
        "email": lead.email,
        "phone": lead.phone,
        "country": lead.country,
        "region": lead.region,
        "postal_code_value": lead.postal_code,
        "industry": lead.industry,
        "product_interest": list(lead.product_interest or []),
        "estimated_value": (
            (lead.estimated_value.normalize(), lead.currency)
            if lead.estimated_value is not None and lead.currency
            else None
        ),
        "source": lead.source,
    }
    for name, value in changes.items():
        current["postal_code_value" if name == "postal_code" else name] = value
    fields = normalise_lead(**current)
    if not allow_duplicate:
        _refuse_duplicate(session, principal.tenant_id, fields, exclude=lead.id)
    value = fields.estimated_value
    after: dict[str, Any] = {
        "company_name": fields.company_name,
        "normalized_company": fields.normalized_company,
        "contact_name": fields.contact_name,
        "email": fields.email,
        "email_domain": fields.email_domain,
        "phone": fields.phone,
        "country": fields.country,
        "region": fields.region,
        "postal_code": fields.postal_code,
        "industry": fields.industry,
        "product_interest": list(fields.product_interest),
        "estimated_value": value.amount if value else None,
        "currency": value.currency if value else None,
        "source": fields.source,
    }
    changed = sorted(name for name, new in after.items() if getattr(lead, name) != new)
    if not changed:
        return lead
    for name in changed:
        setattr(lead, name, after[name])
    session.flush()
    record_event(session, principal, lead, "UPDATED", note=", ".join(changed))
    recompute_scores(session, principal.tenant_id, [lead.id])
    session.refresh(lead)
    return lead
