"""Training and certification records, for employees and partner users.

A record has exactly one subject: an employee, or a partner user (whose partner is stored
with it, so "does this partner hold a current certification" is one index scan, see
`partner_has_current_certification`). Admins and managers record training for anyone, a
partner admin for its own partner's users. Staff admins and managers read every record,
an employee its own, partner users their partner's. Functions never commit.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import QueryableAttribute

from prm.auth.principal import Principal, Role
from prm.employees.erm_models import TrainingRecord
from prm.employees.hierarchy import acting_employee_id
from prm.employees.models import Employee
from prm.errors import Forbidden, InvalidInput, NotFound
from prm.tenants.models import User

MAX_COURSE, MAX_CERTIFICATION = 200, 100
CLOCK_SKEW = timedelta(minutes=5)
"""How far in the future a completion time may lie (clients' clocks drift)."""


def partner_has_current_certification(
    partner_id: uuid.UUID | ColumnElement[Any],
    certification: str | ColumnElement[Any] | QueryableAttribute[Any],
    at: datetime | ColumnElement[Any],
    *,
    tenant_id: uuid.UUID | ColumnElement[Any] | None = None,
) -> ColumnElement[bool]:
    """EXISTS a record of `certification` for one of the partner's users that is current
    at `at` (no expiry, or expiring later). `partner_id` may be a column (e.g.
    `Partner.id`) to correlate with; pass `tenant_id` too (e.g. `Partner.tenant_id`) so
    the `(tenant_id, partner_id, certification, expires_at)` index serves it."""
    conditions: list[ColumnElement[bool]] = [
        TrainingRecord.partner_id == partner_id,
        TrainingRecord.certification == certification,
        or_(TrainingRecord.expires_at.is_(None), TrainingRecord.expires_at > at),
    ]
    if tenant_id is not None:
        conditions.append(TrainingRecord.tenant_id == tenant_id)
    # Correlate everything but the records, so `partner_id` may come from any enclosing query.
    return select(TrainingRecord.id).where(*conditions).correlate_except(TrainingRecord).exists()


def readable_training(principal: Principal) -> Select[TrainingRecord]:
    statement = select(TrainingRecord).where(TrainingRecord.tenant_id == principal.tenant_id)
    if principal.is_partner:
        return statement.where(TrainingRecord.partner_id == principal.partner_id)
    if principal.has_any(Role.ADMIN, Role.MANAGER):
        return statement
    acting = acting_employee_id(principal)
    if acting is None or not principal.has_any(Role.EMPLOYEE):
        return statement.where(false())
    return statement.where(TrainingRecord.employee_id == acting)


def filter_training(
    statement: Select[TrainingRecord],
    *,
    employee_id: uuid.UUID | None = None,
    user_id: uuid.UUID | None = None,
    partner_id: uuid.UUID | None = None,
    certification: str | None = None,
    current_at: datetime | None = None,
    current: bool | None = None,
) -> Select[TrainingRecord]:
    """Narrow `statement`; `current` True keeps records unexpired at `current_at` (now by
    default), False the expired ones."""
    if employee_id is not None:
        statement = statement.where(TrainingRecord.employee_id == employee_id)
    if user_id is not None:
        statement = statement.where(TrainingRecord.user_id == user_id)
    if partner_id is not None:
        statement = statement.where(TrainingRecord.partner_id == partner_id)
    if certification is not None:
        statement = statement.where(TrainingRecord.certification == certification.strip())
    if current is not None:
        at = current_at or datetime.now(UTC)
        unexpired = or_(TrainingRecord.expires_at.is_(None), TrainingRecord.expires_at > at)
        statement = statement.where(unexpired if current else ~unexpired)
    return statement


def _text(value: str | None, field: str, limit: int, *, required: bool = False) -> str | None:
    text = (value or "").strip()
    if not text:
        if required:
            raise InvalidInput("must not be blank", field=field)
        return None
    if len(text) > limit:
        raise InvalidInput(f"must be at most {limit} characters", field=field)
    return text


async def record_training(
    session: AsyncSession,
    principal: Principal,
    *,
    employee_id: uuid.UUID | None = None,
    user_id: uuid.UUID | None = None,
    course: str,
    certification: str | None = None,
    completed_at: datetime,
    expires_at: datetime | None = None,
) -> TrainingRecord:
    """Record a completed course for exactly one of an employee or a partner user."""
    if not principal.has_any(Role.ADMIN, Role.MANAGER, Role.PARTNER_ADMIN):
        raise Forbidden("only admins, managers and partner admins record training")
    if (employee_id is None) == (user_id is None):
        raise InvalidInput("give exactly one of employeeId and userId", field="employeeId")
    clean_course = _text(course, "course", MAX_COURSE, required=True)
    clean_certification = _text(certification, "certification", MAX_CERTIFICATION)
    if completed_at.tzinfo is None:
        completed_at = completed_at.replace(tzinfo=UTC)
    if completed_at > datetime.now(UTC) + CLOCK_SKEW:
        raise InvalidInput("must not be in the future", field="completedAt")
    if expires_at is not None:
        if expires_at.tzinfo is None:
            expires_at = expires_at.replace(tzinfo=UTC)
        if expires_at <= completed_at:
            raise InvalidInput("must be after completedAt", field="expiresAt")
    partner_id: uuid.UUID | None = None
    if employee_id is not None:
        found = await session.scalar(
            select(Employee.id).where(
                Employee.tenant_id == principal.tenant_id, Employee.id == employee_id
            )
        )
        if found is None or principal.is_partner:
            raise NotFound("no such employee", field="employeeId")
    else:
        user = await session.scalar(
            select(User).where(User.tenant_id == principal.tenant_id, User.id == user_id)
        )
        if user is None or (principal.is_partner and user.partner_id != principal.partner_id):
            raise NotFound("no such user", field="userId")
        if user.partner_id is None:
            raise InvalidInput(
                "a staff user's training is recorded on their employee (employeeId)",
                field="userId",
            )
        partner_id = user.partner_id
    record = TrainingRecord(
        tenant_id=principal.tenant_id,
        employee_id=employee_id,
        user_id=user_id,
        partner_id=partner_id,
        course=clean_course,
        certification=clean_certification,
        completed_at=completed_at,
        expires_at=expires_at,
    )
    session.add(record)
    await session.flush()
    if partner_id is not None and clean_certification is not None:
        # A certification may be the last item of the partner's onboarding checklist.
        from prm.partners.onboarding import activate_onboarded_partners  # imports this module

        await activate_onboarded_partners(session, principal.tenant_id, partner_ids=[partner_id])
    return record
