"""Performance reviews: a manager rates an employee for a period (1 to 5), the employee
acknowledges it.

One review per employee and period. Until the employee acknowledges it, submitting again
revises it; after, it is final (DUPLICATE). Reviews are written by the employee's managers
up the line and admins (`hierarchy.managed_by`), read by them and the employee
(`hierarchy.readable_by`), and acknowledged only by the reviewed employee's own user.
Functions never commit.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from prm.auth.principal import Principal
from prm.employees.erm_models import PerformanceReview
from prm.employees.hierarchy import acting_employee_id, can_manage, readable_by
from prm.employees.models import Employee
from prm.errors import DomainError, Duplicate, ErrorCode, InvalidInput, NotFound
from prm.metrics.periods import parse_period

MIN_RATING, MAX_RATING = 1, 5
MAX_TEXT = 10_000


def readable_reviews(principal: Principal) -> Select[PerformanceReview]:
    """The reviews `principal` may read: of those it manages, and its own."""
    return select(PerformanceReview).where(
        PerformanceReview.tenant_id == principal.tenant_id,
        readable_by(principal, PerformanceReview.employee_id),
    )


def _text(value: str | None, field: str) -> str | None:
    if value is None or not value.strip():
        return None
    if len(value.strip()) > MAX_TEXT:
        raise InvalidInput(f"must be at most {MAX_TEXT} characters", field=field)
    return value.strip()


async def submit_review(
    session: AsyncSession,
    principal: Principal,
    *,
    employee_id: uuid.UUID,
    period: str,
    rating: int,
    strengths: str | None = None,
    goals: str | None = None,
) -> PerformanceReview:
    """Write the employee's review for `period`, or revise it while unacknowledged."""
    if not await can_manage(session, principal, employee_id):
        raise NotFound("no such employee", field="employeeId")
    key = parse_period(period).key
    if not MIN_RATING <= rating <= MAX_RATING:
        raise InvalidInput(f"must be {MIN_RATING} to {MAX_RATING}", field="rating")
    clean_strengths, clean_goals = _text(strengths, "strengths"), _text(goals, "goals")
    acting = acting_employee_id(principal)
    reviewer_id = await session.scalar(select(acting)) if acting is not None else None
    review = await session.scalar(
        select(PerformanceReview)
        .where(
            PerformanceReview.tenant_id == principal.tenant_id,
            PerformanceReview.employee_id == employee_id,
            PerformanceReview.period == key,
        )
        .with_for_update()
    )
    if review is not None and review.acknowledged_at is not None:
        raise Duplicate(
            "the employee has acknowledged this period's review: it is final",
            field="period",
            existing_key=f"PerformanceReview:{review.id}",
        )
    if review is None:
        review = PerformanceReview(
            tenant_id=principal.tenant_id, employee_id=employee_id, period=key
        )
        session.add(review)
    review.rating = rating
    review.strengths = clean_strengths
    review.goals = clean_goals
    review.reviewer_id = reviewer_id
    await session.flush()
    return review


async def acknowledge_review(
    session: AsyncSession, principal: Principal, review_id: uuid.UUID
) -> PerformanceReview:
    """The reviewed employee confirms it has read the review; once only. Others who may
    read it get NOT_ELIGIBLE; those who may not, NOT_FOUND."""
    review = await session.scalar(
        readable_reviews(principal).where(PerformanceReview.id == review_id).with_for_update()
    )
    if review is None:
        raise NotFound("no such performance review", field="id")
    subject_user = await session.scalar(
        select(Employee.user_id).where(
            Employee.tenant_id == principal.tenant_id, Employee.id == review.employee_id
        )
    )
    if principal.user_id is None or subject_user != principal.user_id:
        raise DomainError(
            "only the reviewed employee may acknowledge a review",
            field="id",
            code=ErrorCode.NOT_ELIGIBLE,
        )
    if review.acknowledged_at is not None:
        raise DomainError(
            "the review is already acknowledged", field="id", code=ErrorCode.INVALID_TRANSITION
        )
    review.acknowledged_at = datetime.now(UTC)
    await session.flush()
    return review
