"""The lead-SLA policy: partners that let offers expire (or reject them) too often in a
period have lead delivery paused until the period ends.

A violation is an offer of the partner that EXPIRED with `expires_at` in the period, or,
when the policy counts rejections, that was REJECTED with `responded_at` in it. The
tenant has at most one policy (`lead_sla_policies`, upserted by `set_policy`).

`enforce_policy` runs in the transaction that records the violations (`reject_offer`,
`expire_offers`), for every partner touched at once: it locks those partners' rows (so two
violations committing together cannot both count N-1 and miss the pause: the second
counts after the first has committed), then ONE `UPDATE partners … FROM (aggregate)`
pauses each partner at or over the limit that is not already paused, and returns them
for their `leads.paused` notification. Eligibility (`eligibility.covers_lead`) passes a
paused partner over, in routing and in the pool alike.

Admins pause and resume delivery by hand (`pause_delivery`, `resume_delivery`); a resumed
partner that violates again in the same period is paused again at once (its count still
stands): resuming forgives the pause, not the violations.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, String, and_, cast, func, literal, or_, select
from sqlalchemy import update as sql_update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from prm.auth.principal import Principal
from prm.errors import DomainError, ErrorCode, InvalidInput, NotFound
from prm.leads.models import LeadOffer, LeadSlaPolicy, OfferStatus, SlaPeriodKind
from prm.metrics.periods import Period, period_containing
from prm.partners.models import Partner
from prm.partners.notifications import notify_sync

MAX_VIOLATIONS_LIMIT = 1000
MAX_REASON = 500
PAUSED = "leads.paused"
RESUMED = "leads.resumed"
DEFAULT_PERIOD_KIND = SlaPeriodKind.MONTH
"""What `leadDelivery` counts by while the tenant has no policy (the model's default)."""


@dataclass(frozen=True)
class PolicyInput:
    max_violations: int
    period_kind: SlaPeriodKind
    count_rejections: bool
    active: bool


@dataclass(frozen=True)
class LeadDelivery:
    """What a partner sees of its lead delivery: paused (until when, why) and where it
    stands against the policy in the current period."""

    paused: bool
    paused_until: datetime | None
    reason: str | None
    violations: int
    max_violations: int | None
    """Null while the tenant has no active policy."""
    period: str


# The policy ------------------------------------------------------------------------------


def policy_statement(tenant_id: uuid.UUID) -> Select[LeadSlaPolicy]:
    return select(LeadSlaPolicy).where(LeadSlaPolicy.tenant_id == tenant_id)


def get_policy(session: Session, tenant_id: uuid.UUID) -> LeadSlaPolicy | None:
    return session.scalar(policy_statement(tenant_id))


def set_policy(session: Session, principal: Principal, policy: PolicyInput) -> LeadSlaPolicy:
    """Create or replace the tenant's policy (one statement: concurrent first writes meet
    in ON CONFLICT, not in a duplicate error). Takes effect at the next violation."""
    if not 1 <= policy.max_violations <= MAX_VIOLATIONS_LIMIT:
        raise InvalidInput(f"must be between 1 and {MAX_VIOLATIONS_LIMIT}", field="maxViolations")
    values = {
        "max_violations": policy.max_violations,
        "period_kind": policy.period_kind,
        "count_rejections": policy.count_rejections,
        "active": policy.active,
    }
    statement = (
        insert(LeadSlaPolicy)
        .values(tenant_id=principal.tenant_id, id=uuid.uuid4(), **values)
        .on_conflict_do_update(
            index_elements=[LeadSlaPolicy.tenant_id], set_={**values, "updated_at": func.now()}
        )
        .returning(LeadSlaPolicy)
    )
    row = session.scalars(statement, execution_options={"populate_existing": True}).one()
    session.flush()
    return row


# Counting violations ---------------------------------------------------------------------


def violation_condition(period: Period, count_rejections: bool) -> ColumnElement[bool]:
    """A `LeadOffer` row that counts against its partner in `period`."""
    expired = and_(
        LeadOffer.status == OfferStatus.EXPIRED,
        LeadOffer.expires_at >= period.start,
        LeadOffer.expires_at < period.end,
    )
    if not count_rejections:
        return expired
    rejected = and_(
        LeadOffer.status == OfferStatus.REJECTED,
        LeadOffer.responded_at >= period.start,
        LeadOffer.responded_at < period.end,
    )
    return or_(expired, rejected)


def violation_counts(
    tenant_id: uuid.UUID, partner_ids: Iterable[uuid.UUID], period: Period, count_rejections: bool
) -> Any:
    """Subquery (partner_id, violations) of the partners with any: one aggregate over
    `ix_lead_offers_tenant_partner_status` (tenant, partner, status)."""
    statuses = [OfferStatus.EXPIRED, *([OfferStatus.REJECTED] if count_rejections else [])]
    return (
        select(LeadOffer.partner_id, func.count().label("violations"))
        .where(
            LeadOffer.tenant_id == tenant_id,
            LeadOffer.partner_id.in_(list(partner_ids)),
            LeadOffer.status.in_(statuses),
            violation_condition(period, count_rejections),
        )
        .group_by(LeadOffer.partner_id)
        .subquery("sla_violations")
    )


def _period_of(policy: LeadSlaPolicy | None, now: datetime) -> Period:
    kind = policy.period_kind if policy is not None else DEFAULT_PERIOD_KIND
    return period_containing(now, kind.value)


def _not_paused(now: datetime) -> ColumnElement[bool]:
    return or_(Partner.leads_paused_until.is_(None), Partner.leads_paused_until <= now)


def enforce_policy(
    session: Session, tenant_id: uuid.UUID, partner_ids: Iterable[uuid.UUID], *, now: datetime
) -> list[uuid.UUID]:
    """Pause delivery to each of `partner_ids` whose violations in the period of `now`
    reached the active policy's limit and that is not paused already; notify each.
    Returns the partners paused. Call after the violating offers are flushed."""
    ids = sorted(set(partner_ids))
    if not ids:
        return []
    policy = get_policy(session, tenant_id)
    if policy is None or not policy.active:
        return []
    period = _period_of(policy, now)
    # Lock in id order (no deadlock between two batches); FOR NO KEY UPDATE, like a claim.
    candidates = session.scalars(
        select(Partner.id)
        .where(Partner.tenant_id == tenant_id, Partner.id.in_(ids), _not_paused(now))
        .order_by(Partner.id)
        .with_for_update(key_share=True)
    ).all()
    if not candidates:
        return []
    counts = violation_counts(tenant_id, candidates, period, policy.count_rejections)
    what = "expired or rejected" if policy.count_rejections else "expired"
    suffix = f" offers {what} in {period.key}; limit {policy.max_violations}"
    paused = session.execute(
        sql_update(Partner)
        .where(
            Partner.tenant_id == tenant_id,
            Partner.id == counts.c.partner_id,
            counts.c.violations >= policy.max_violations,
            _not_paused(now),
        )
        .values(
            leads_paused_until=period.end,
            leads_paused_reason=cast(counts.c.violations, String) + literal(suffix),
            updated_at=func.now(),
        )
        .returning(Partner.id, counts.c.violations)
        .execution_options(synchronize_session=False)
    ).all()
    for partner_id, violations in sorted(paused):
        notify_sync(
            session,
            tenant_id,
            partner_id,
            PAUSED,
            f"Lead delivery is paused until {period.end.date().isoformat()}: {violations}{suffix}.",
            {
                "until": period.end.isoformat(),
                "violations": int(violations),
                "maxViolations": policy.max_violations,
                "period": period.key,
            },
        )
    return [partner_id for partner_id, _ in paused]


# What a partner sees ---------------------------------------------------------------------


def delivery_statement(
    tenant_id: uuid.UUID,
    partner_ids: Iterable[uuid.UUID],
    policy: LeadSlaPolicy | None,
    now: datetime,
) -> Select[Any]:
    """(id, paused until, reason, violations) of many partners in one query."""
    ids = list(partner_ids)
    period = _period_of(policy, now)
    count_rejections = policy.count_rejections if policy is not None else True
    counts = violation_counts(tenant_id, ids, period, count_rejections)
    return (
        select(
            Partner.id,
            Partner.leads_paused_until,
            Partner.leads_paused_reason,
            func.coalesce(counts.c.violations, 0),
        )
        .outerjoin(counts, counts.c.partner_id == Partner.id)
        .where(Partner.tenant_id == tenant_id, Partner.id.in_(ids))
    )


def delivery_of(row: Any, policy: LeadSlaPolicy | None, now: datetime) -> LeadDelivery:
    """A row of `delivery_statement` as the partner sees it; a pause that has run out is
    no pause (and shows neither its end nor its reason)."""
    _, until, reason, violations = row
    paused = until is not None and until > now
    return LeadDelivery(
        paused=paused,
        paused_until=until if paused else None,
        reason=reason if paused else None,
        violations=int(violations),
        max_violations=policy.max_violations if policy is not None and policy.active else None,
        period=_period_of(policy, now).key,
    )


def empty_delivery(policy: LeadSlaPolicy | None, now: datetime) -> LeadDelivery:
    return delivery_of((None, None, None, 0), policy, now)


# Admins' manual pause and resume ---------------------------------------------------------


def _locked_partner(session: Session, principal: Principal, partner_id: uuid.UUID) -> Partner:
    partner = session.scalar(
        select(Partner)
        .where(Partner.tenant_id == principal.tenant_id, Partner.id == partner_id)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    )
    if partner is None:
        raise NotFound("no such partner", field="partnerId")
    return partner


def _clean_reason(reason: str | None, *, required: bool) -> str | None:
    clean = (reason or "").strip()
    if not clean:
        if required:
            raise InvalidInput("a reason is required", field="reason")
        return None
    if len(clean) > MAX_REASON:
        raise InvalidInput(f"must be at most {MAX_REASON} characters", field="reason")
    return clean


def pause_delivery(
    session: Session,
    principal: Principal,
    partner_id: uuid.UUID,
    *,
    until: datetime,
    reason: str,
    now: datetime | None = None,
) -> Partner:
    """Pause lead delivery to the partner until `until` (replacing any pause)."""
    now = now or datetime.now(UTC)
    clean = _clean_reason(reason, required=True)
    if until.tzinfo is None:
        raise InvalidInput("give a time zone (e.g. 2026-12-01T00:00:00Z)", field="until")
    if until <= now:
        raise InvalidInput("must be in the future", field="until")
    partner = _locked_partner(session, principal, partner_id)
    partner.leads_paused_until = until
    partner.leads_paused_reason = clean
    session.flush()
    notify_sync(
        session,
        principal.tenant_id,
        partner.id,
        PAUSED,
        f"Lead delivery is paused until {until.isoformat()}: {clean}",
        {"until": until.isoformat(), "manual": True},
    )
    return partner


def resume_delivery(
    session: Session,
    principal: Principal,
    partner_id: uuid.UUID,
    *,
    reason: str,
    now: datetime | None = None,
) -> Partner:
    """End the partner's pause now; a partner that is not paused is INVALID_TRANSITION."""
    now = now or datetime.now(UTC)
    clean = _clean_reason(reason, required=True)
    partner = _locked_partner(session, principal, partner_id)
    if partner.leads_paused_until is None or partner.leads_paused_until <= now:
        raise DomainError(
            "lead delivery to this partner is not paused",
            field="partnerId",
            code=ErrorCode.INVALID_TRANSITION,
        )
    partner.leads_paused_until = None
    partner.leads_paused_reason = None
    session.flush()
    notify_sync(
        session,
        principal.tenant_id,
        partner.id,
        RESUMED,
        f"Lead delivery is resumed: {clean}",
        {"reason": clean},
    )
    return partner
