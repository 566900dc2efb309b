"""The life of an earned incentive and who sees it.

PENDING → APPROVED (admin) → PAID (admin, with a payment reference). While
now < `dispute_until`, the partner's users may dispute a PENDING or APPROVED incentive
(→ DISPUTED); an admin resolves a dispute to APPROVED or REJECTED. Anything else is
INVALID_TRANSITION. Every change notifies the partner (`incentive.*`) in the same
transaction.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import Select, false, select
from sqlalchemy.ext.asyncio import AsyncSession

from prm.auth.principal import Principal, Role, is_staff, own_partner
from prm.crm.fields import required_text
from prm.errors import DomainError, ErrorCode, Forbidden, InvalidInput, NotFound
from prm.incentives.models import EarnedIncentive, IncentiveStatus
from prm.partners.notifications import notify

Status = IncentiveStatus


class InvalidTransition(DomainError):
    code = ErrorCode.INVALID_TRANSITION


def readable_incentives(principal: Principal) -> Select[EarnedIncentive]:
    """Admins and managers see the tenant's incentives; a partner user its partner's."""
    statement = select(EarnedIncentive).where(EarnedIncentive.tenant_id == principal.tenant_id)
    if principal.has_any(Role.ADMIN, Role.MANAGER):
        return statement
    partner = own_partner(principal)
    if partner is None or is_staff(principal):
        return statement.where(false())
    return statement.where(EarnedIncentive.partner_id == partner)


async def get_incentive(
    session: AsyncSession, principal: Principal, incentive_id: uuid.UUID
) -> EarnedIncentive:
    statement = (
        readable_incentives(principal)
        .where(EarnedIncentive.id == incentive_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    row = await session.scalar(statement)
    if row is None:
        raise NotFound("no such incentive", field="id")
    return row


def _require(row: EarnedIncentive, *allowed: Status, to: Status) -> None:
    if row.status not in allowed:
        raise InvalidTransition(f"{row.status} to {to.value} is not allowed", field="id")


def _require_admin(principal: Principal) -> None:
    if not principal.has_any(Role.ADMIN):
        raise Forbidden("only admins approve, pay and resolve incentives")


async def _announce(session: AsyncSession, row: EarnedIncentive, kind: str, message: str) -> None:
    await notify(
        session, row.tenant_id, row.partner_id, kind, message,
        {"incentiveId": row.id, "status": row.status.value},
    )  # fmt: skip


def _touch(row: EarnedIncentive, now: datetime) -> None:
    row.updated_at = now


async def approve_incentive(
    session: AsyncSession, principal: Principal, incentive_id: uuid.UUID
) -> EarnedIncentive:
    _require_admin(principal)
    row = await get_incentive(session, principal, incentive_id)
    _require(row, Status.PENDING, to=Status.APPROVED)
    now = datetime.now(UTC)
    row.status, row.approved_at, row.approved_by = Status.APPROVED, now, principal.subject_id
    _touch(row, now)
    await session.flush()
    await _announce(session, row, "incentive.approved", "An incentive of yours was approved.")
    return row


async def pay_incentive(
    session: AsyncSession, principal: Principal, incentive_id: uuid.UUID, *, reference: str
) -> EarnedIncentive:
    _require_admin(principal)
    reference = required_text(reference, field="reference", max_length=200)
    row = await get_incentive(session, principal, incentive_id)
    _require(row, Status.APPROVED, to=Status.PAID)
    now = datetime.now(UTC)
    row.status, row.paid_at, row.paid_by = Status.PAID, now, principal.subject_id
    row.payment_reference = reference
    _touch(row, now)
    await session.flush()
    await _announce(
        session, row, "incentive.paid", f"An incentive of yours was paid (reference {reference})."
    )
    return row


async def dispute_incentive(
    session: AsyncSession, principal: Principal, incentive_id: uuid.UUID, *, reason: str
) -> EarnedIncentive:
    """A partner user contests an incentive within its dispute window."""
    if own_partner(principal) is None:
        raise Forbidden("only the partner's users dispute its incentives")
    reason = required_text(reason, field="reason", max_length=2000)
    row = await get_incentive(session, principal, incentive_id)
    _require(row, Status.PENDING, Status.APPROVED, to=Status.DISPUTED)
    now = datetime.now(UTC)
    if now >= row.dispute_until:
        raise InvalidTransition("the dispute window has closed", field="id")
    row.status, row.disputed_at, row.disputed_by = Status.DISPUTED, now, principal.subject_id
    row.dispute_reason = reason
    _touch(row, now)
    await session.flush()
    await _announce(session, row, "incentive.disputed", "Your dispute was received.")
    return row


async def resolve_dispute(
    session: AsyncSession,
    principal: Principal,
    incentive_id: uuid.UUID,
    *,
    outcome: Status,
    comment: str | None = None,
) -> EarnedIncentive:
    """An admin settles a dispute: APPROVED (payable) or REJECTED (never paid)."""
    _require_admin(principal)
    if outcome not in (Status.APPROVED, Status.REJECTED):
        raise InvalidInput("a dispute resolves to APPROVED or REJECTED", field="outcome")
    row = await get_incentive(session, principal, incentive_id)
    _require(row, Status.DISPUTED, to=outcome)
    now = datetime.now(UTC)
    row.status, row.resolved_at, row.resolved_by = outcome, now, principal.subject_id
    row.resolution_comment = (comment or "").strip()[:2000] or None
    if outcome is Status.APPROVED:
        row.approved_at, row.approved_by = now, principal.subject_id
    _touch(row, now)
    await session.flush()
    await _announce(
        session, row, "incentive.resolved", f"Your dispute was resolved: {outcome.value}."
    )
    return row
