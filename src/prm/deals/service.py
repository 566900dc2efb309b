"""Deal registration: a partner registers a deal it found; a manager approves or rejects
it; approval protects the partner for the tenant's `deal_protection_days`.

- Registering checks the deal against open leads, accounts with open opportunities and
  other partners' PENDING or APPROVED registrations, by normalised company name or by the
  contact email's domain (free-mail domains never match). What it finds is recorded on the
  registration for managers to judge. If another partner already holds an APPROVED
  registration for the company, the registration is refused with `CONFLICT`.
- Approving re-checks other partners' APPROVED registrations. Register and approve take
  transaction-level advisory locks on the company name and domain keys first, so two
  partners racing for the same company are serialised and at most one is ever protected.
- The scheduler expires approved registrations once `protected_until` passes
  (`expire_due_protections`), through the platform table of deadlines.

Services are synchronous, like the leads domain's: GraphQL runs them with `run_sync`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Select,
    and_,
    delete,
    func,
    literal,
    null,
    or_,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy.orm import Session

from prm.auth.principal import Principal
from prm.crm.accounts import normalise_account_name
from prm.crm.models import Account, Opportunity, OpportunityStage
from prm.db.engine import Database
from prm.db.locks import LockSpace, lock_keys_sync
from prm.deals.models import (
    LIVE_STATUSES,
    DealRegistration,
    ProtectionDeadline,
    RegistrationStatus,
)
from prm.errors import Conflict, DomainError, ErrorCode, Forbidden, InvalidInput, NotFound
from prm.events.bus import emit_sync, event
from prm.leads.capture import FREE_MAIL
from prm.leads.fields import MAX_NAME, email_address, optional_text, required_text, tags
from prm.leads.models import OPEN_STATUSES, Lead
from prm.leads.visibility import is_lead_manager, is_staff, own_partner
from prm.money import Money
from prm.partners.models import Partner, PartnerStatus
from prm.partners.program_benefits import deal_protection_days

log = logging.getLogger(__name__)

MAX_NOTES = 5_000
MAX_CONFLICTS = 50
CLOSED_STAGES = (OpportunityStage.CLOSED_WON, OpportunityStage.CLOSED_LOST)


class ConflictKind:
    LEAD = "LEAD"
    ACCOUNT = "ACCOUNT"
    DEAL_REGISTRATION = "DEAL_REGISTRATION"


@dataclass(frozen=True)
class RegistrationFields:
    """A registration's input, validated and normalised."""

    company_name: str
    normalized_company: str
    contact_email: str | None = None
    match_domain: str | None = None
    estimated_value: Money | None = None
    product_interest: tuple[str, ...] = field(default_factory=tuple)
    notes: str | None = None


def normalise_registration(
    *,
    company_name: str,
    contact_email: str | None = None,
    estimated_value: tuple[Any, str] | None = None,
    product_interest: Iterable[str] | None = None,
    notes: str | None = None,
) -> RegistrationFields:
    """Validated fields; `InvalidInput` names the first bad one (camelCase)."""
    company = required_text(company_name, field="companyName", max_length=MAX_NAME)
    address = email_address(contact_email, field="contactEmail")
    domain = address[1] if address else None
    value = Money.parse(*estimated_value, field="estimatedValue") if estimated_value else None
    return RegistrationFields(
        company_name=company,
        normalized_company=normalise_account_name(company),
        contact_email=address[0] if address else None,
        match_domain=domain if domain and domain not in FREE_MAIL else None,
        estimated_value=value,
        product_interest=tags(product_interest, field="productInterest"),
        notes=optional_text(notes, field="notes", max_length=MAX_NOTES),
    )


def match_domain_of(email_domain: str | None) -> str | None:
    """The domain a company is recognised by, or None for none or a free-mail domain."""
    return email_domain if email_domain and email_domain not in FREE_MAIL else None


# Visibility --------------------------------------------------------------------------


def readable_registrations(principal: Principal) -> Select[DealRegistration]:
    """Tenant staff see every registration; a partner user its own partner's only."""
    statement = select(DealRegistration).where(DealRegistration.tenant_id == principal.tenant_id)
    if is_staff(principal):
        return statement
    partner = own_partner(principal)
    if partner is None:
        return statement.where(text("false"))
    return statement.where(DealRegistration.partner_id == partner)


def may_see_conflict_details(principal: Principal) -> bool:
    """Managers and admins see what a registration conflicts with; a partner user only
    that it does (the other object may be another partner's)."""
    return is_lead_manager(principal)


def get_registration(
    session: Session, principal: Principal, registration_id: uuid.UUID, *, for_update: bool = False
) -> DealRegistration:
    statement = readable_registrations(principal).where(DealRegistration.id == registration_id)
    if for_update:
        statement = statement.with_for_update()
    row = session.scalar(statement.execution_options(populate_existing=True))
    if row is None:
        raise NotFound("no such deal registration", field="id")
    return row


# Conflicts ---------------------------------------------------------------------------


def _lock_keys(
    session: Session, tenant_id: uuid.UUID, normalized_company: str, match_domain: str | None
) -> None:
    """Serialise registrations and approvals touching the same company name or domain."""
    keys = [f"{tenant_id}:company:{normalized_company}"]
    if match_domain:
        keys.append(f"{tenant_id}:domain:{match_domain}")
    lock_keys_sync(session, LockSpace.DEAL_COMPANY, keys)


def find_conflicts(
    session: Session,
    tenant_id: uuid.UUID,
    *,
    partner_id: uuid.UUID,
    normalized_company: str,
    match_domain: str | None,
    exclude_id: uuid.UUID | None = None,
) -> list[dict[str, Any]]:
    """Open leads, accounts with an open opportunity, and other partners' live
    registrations matching the company name or domain, in one query. Each is
    `{"kind", "id", "matchedOn": [...], "status"?}`; registrations carry their status."""
    open_lead = and_(Lead.tenant_id == tenant_id, Lead.status.in_(OPEN_STATUSES))
    open_opportunity = (
        select(Opportunity.id)
        .where(
            Opportunity.tenant_id == Account.tenant_id,
            Opportunity.account_id == Account.id,
            Opportunity.stage.not_in(CLOSED_STAGES),
        )
        .exists()
    )
    other_live = and_(
        DealRegistration.tenant_id == tenant_id,
        DealRegistration.status.in_(LIVE_STATUSES),
        DealRegistration.partner_id != partner_id,
        DealRegistration.id != exclude_id if exclude_id else literal(True),
    )
    status = null().label("status")
    branches: list[Any] = [
        select(literal(ConflictKind.LEAD).label("kind"), Lead.id, literal("COMPANY_NAME"), status)
        .where(open_lead, Lead.normalized_company == normalized_company)
        .limit(MAX_CONFLICTS),
        select(literal(ConflictKind.ACCOUNT), Account.id, literal("COMPANY_NAME"), status)
        .where(
            Account.tenant_id == tenant_id,
            Account.normalized_name == normalized_company,
            open_opportunity,
        )
        .limit(MAX_CONFLICTS),
        select(
            literal(ConflictKind.DEAL_REGISTRATION),
            DealRegistration.id,
            literal("COMPANY_NAME"),
            DealRegistration.status,
        )
        .where(other_live, DealRegistration.normalized_company == normalized_company)
        .limit(MAX_CONFLICTS),
    ]
    if match_domain:
        branches += [
            select(literal(ConflictKind.LEAD), Lead.id, literal("EMAIL_DOMAIN"), status)
            .where(open_lead, Lead.email_domain == match_domain)
            .limit(MAX_CONFLICTS),
            select(literal(ConflictKind.ACCOUNT), Account.id, literal("EMAIL_DOMAIN"), status)
            .where(Account.tenant_id == tenant_id, Account.domain == match_domain, open_opportunity)
            .limit(MAX_CONFLICTS),
            select(
                literal(ConflictKind.DEAL_REGISTRATION),
                DealRegistration.id,
                literal("EMAIL_DOMAIN"),
                DealRegistration.status,
            )
            .where(other_live, DealRegistration.match_domain == match_domain)
            .limit(MAX_CONFLICTS),
        ]
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for kind, object_id, matched_on, row_status in session.execute(union_all(*branches)):
        entry = found.setdefault(
            (kind, str(object_id)), {"kind": kind, "id": str(object_id), "matchedOn": []}
        )
        if matched_on not in entry["matchedOn"]:
            entry["matchedOn"].append(matched_on)
        if row_status is not None:
            entry["status"] = str(row_status)
    return list(found.values())[:MAX_CONFLICTS]


def _refuse_if_protected(conflicts: list[dict[str, Any]]) -> None:
    if any(
        conflict["kind"] == ConflictKind.DEAL_REGISTRATION
        and conflict.get("status") == RegistrationStatus.APPROVED
        for conflict in conflicts
    ):
        raise Conflict(
            "another partner holds an approved registration for this company",
            field="companyName",
        )


# Commands ----------------------------------------------------------------------------


def register_deal(
    session: Session, principal: Principal, fields: RegistrationFields
) -> DealRegistration:
    """`registerDeal`: partner users only; the registration starts PENDING."""
    partner_id = own_partner(principal)
    if partner_id is None:
        raise Forbidden("only partner users may register deals")
    partner_status = session.scalar(
        select(Partner.status).where(
            Partner.tenant_id == principal.tenant_id, Partner.id == partner_id
        )
    )
    if partner_status is None:
        raise NotFound("your partner organisation no longer exists")
    if partner_status is PartnerStatus.SUSPENDED:
        raise DomainError("a suspended partner cannot register deals", code=ErrorCode.NOT_ELIGIBLE)
    _lock_keys(session, principal.tenant_id, fields.normalized_company, fields.match_domain)
    conflicts = find_conflicts(
        session,
        principal.tenant_id,
        partner_id=partner_id,
        normalized_company=fields.normalized_company,
        match_domain=fields.match_domain,
    )
    _refuse_if_protected(conflicts)
    value = fields.estimated_value
    registration = DealRegistration(
        tenant_id=principal.tenant_id,
        partner_id=partner_id,
        registered_by=principal.user_id,
        status=RegistrationStatus.PENDING,
        company_name=fields.company_name,
        normalized_company=fields.normalized_company,
        contact_email=fields.contact_email,
        match_domain=fields.match_domain,
        estimated_value=value.amount if value else None,
        currency=value.currency if value else None,
        product_interest=list(fields.product_interest),
        notes=fields.notes,
        conflicts=[{k: v for k, v in c.items() if k != "status"} for c in conflicts],
        conflict_count=len(conflicts),
    )
    session.add(registration)
    session.flush()
    session.refresh(registration)
    return registration


def _decidable(
    session: Session, principal: Principal, registration_id: uuid.UUID
) -> DealRegistration:
    if not is_lead_manager(principal):
        raise Forbidden("only an admin or a manager may decide deal registrations")
    registration = get_registration(session, principal, registration_id, for_update=True)
    if registration.status is not RegistrationStatus.PENDING:
        raise DomainError(
            f"the registration is already {registration.status.value}",
            field="id",
            code=ErrorCode.INVALID_TRANSITION,
        )
    return registration


def approve_registration(
    session: Session,
    principal: Principal,
    registration_id: uuid.UUID,
    *,
    now: datetime | None = None,
) -> DealRegistration:
    """`approveDealRegistration`: protect the partner for the tenant's protection days, or
    its program levels' when longer (`program_benefits.deal_protection_days`)."""
    now = now or datetime.now(UTC)
    registration = _decidable(session, principal, registration_id)
    _lock_keys(
        session, principal.tenant_id, registration.normalized_company, registration.match_domain
    )
    conflicts = find_conflicts(
        session,
        principal.tenant_id,
        partner_id=registration.partner_id,
        normalized_company=registration.normalized_company,
        match_domain=registration.match_domain,
        exclude_id=registration.id,
    )
    _refuse_if_protected(conflicts)
    days = deal_protection_days(session, principal.tenant_id, registration.partner_id)
    registration.status = RegistrationStatus.APPROVED
    registration.decided_by = principal.user_id
    registration.decided_at = now
    registration.protected_until = now + timedelta(days=int(days or 90))
    registration.updated_at = now
    session.add(
        ProtectionDeadline(
            tenant_id=registration.tenant_id,
            registration_id=registration.id,
            expires_at=registration.protected_until,
        )
    )
    emit_sync(
        session,
        event(
            "deal_registration.approved",
            registration.tenant_id,
            {
                "dealRegistrationId": registration.id,
                "partnerId": registration.partner_id,
                "protectedUntil": registration.protected_until,
            },
            partner_ids=[registration.partner_id],
        ),
    )
    session.flush()
    return registration


def reject_registration(
    session: Session,
    principal: Principal,
    registration_id: uuid.UUID,
    reason: str,
    *,
    now: datetime | None = None,
) -> DealRegistration:
    """`rejectDealRegistration`: a reason is required."""
    cleaned = (reason or "").strip()
    if not cleaned:
        raise InvalidInput("a reason is required", field="reason")
    if len(cleaned) > MAX_NOTES:
        raise InvalidInput(f"must be at most {MAX_NOTES} characters", field="reason")
    now = now or datetime.now(UTC)
    registration = _decidable(session, principal, registration_id)
    registration.status = RegistrationStatus.REJECTED
    registration.decided_by = principal.user_id
    registration.decided_at = now
    registration.reject_reason = cleaned
    registration.updated_at = now
    session.flush()
    return registration


# Protection, for routing -------------------------------------------------------------


def protected_partner(
    session: Session,
    tenant_id: uuid.UUID,
    *,
    normalized_company: str,
    email_domain: str | None,
    now: datetime | None = None,
) -> uuid.UUID | None:
    """The partner an APPROVED, unexpired registration protects for this company (by
    normalised name or non-free-mail domain), or None. Routing calls this for a new lead:
    a protected company's leads go to the protected partner."""
    domain = match_domain_of(email_domain)
    matches = DealRegistration.normalized_company == normalized_company
    if domain:
        matches = or_(matches, DealRegistration.match_domain == domain)
    partner: uuid.UUID | None = session.scalar(
        select(DealRegistration.partner_id)
        .where(
            DealRegistration.tenant_id == tenant_id,
            DealRegistration.status == RegistrationStatus.APPROVED,
            DealRegistration.protected_until > (now or func.now()),
            matches,
        )
        .order_by(DealRegistration.decided_at, DealRegistration.id)
        .limit(1)
    )
    return partner


def protected_partner_of_lead(
    session: Session, lead: Lead, *, now: datetime | None = None
) -> uuid.UUID | None:
    return protected_partner(
        session,
        lead.tenant_id,
        normalized_company=lead.normalized_company,
        email_domain=lead.email_domain,
        now=now,
    )


# Expiry ------------------------------------------------------------------------------


def expire_protections(session: Session, tenant_id: uuid.UUID, *, now: datetime) -> int:
    """APPROVED registrations of one tenant whose protection has ended become EXPIRED."""
    expired = list(
        session.scalars(
            update(DealRegistration)
            .where(
                DealRegistration.tenant_id == tenant_id,
                DealRegistration.status == RegistrationStatus.APPROVED,
                DealRegistration.protected_until <= now,
            )
            .values(status=RegistrationStatus.EXPIRED, expired_at=now, updated_at=now)
            .returning(DealRegistration.id)
            .execution_options(synchronize_session=False)
        )
    )
    session.execute(
        delete(ProtectionDeadline).where(
            ProtectionDeadline.tenant_id == tenant_id, ProtectionDeadline.expires_at <= now
        )
    )
    return len(expired)


def expire_due_protections(database: Database, *, now: datetime | None = None) -> int:
    """The scheduler's tick: expire due protections in every tenant that has some. One
    tenant's failure is logged and does not stop the others."""
    now = now or datetime.now(UTC)
    with database.sync_session() as session:
        tenants = list(
            session.scalars(
                select(ProtectionDeadline.tenant_id)
                .where(ProtectionDeadline.expires_at <= now)
                .group_by(ProtectionDeadline.tenant_id)
                .limit(1000)
            )
        )
    expired = 0
    for tenant_id in tenants:
        try:
            with database.sync_session(tenant_id) as session:
                expired += expire_protections(session, tenant_id, now=now)
        except Exception:
            log.exception("expiring deal protections of tenant %s failed", tenant_id)
    if expired:
        log.info("expired %d deal registrations", expired)
    return expired
