"""Trends: one partner's or employee's scorecards over the last N periods of a kind.

The periods are worked out here (`Period.previous()` from `until` back), then every
snapshot is read in one statement: the subject row, outer-joined to its scorecards of
those period keys. The subject row doubles as the visibility and existence check: a
subject that does not exist, or that the caller may not read, returns no row at all and
is `NotFound` (the same answer, so existence does not leak), while a period never computed
is a point without a scorecard.

Visibility is the scorecard lists' rule: tenant staff read every partner, a partner user
its own (`prm.partners.service.can_read_partner`); employee scorecards follow
`prm.employees.hierarchy.readable_by` (admin all, manager its reports and itself,
employee itself) and are not for partner users at all (`Forbidden`, the operation).
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from prm.auth.principal import TENANT_ROLES, Principal
from prm.employees.hierarchy import readable_by
from prm.employees.models import Employee
from prm.errors import Forbidden, InvalidInput, NotFound
from prm.metrics.models import EmployeeScorecardRow, PartnerScorecardRow
from prm.metrics.periods import Period, parse_period, period_containing
from prm.partners.models import Partner
from prm.partners.service import can_read_partner

MIN_POINTS, MAX_POINTS = 1, 24


class PeriodKind(enum.StrEnum):
    MONTH = "MONTH"
    QUARTER = "QUARTER"
    YEAR = "YEAR"


R = TypeVar("R", PartnerScorecardRow, EmployeeScorecardRow)


@dataclass(frozen=True)
class TrendPoint(Generic[R]):
    period: Period
    row: R | None
    """None when that period's scorecards were never computed (or the subject had none)."""


def trend_periods(kind: PeriodKind, last: int, until: str | None, *, now: datetime) -> list[Period]:
    """The `last` periods of `kind` ending at `until` (default: the one containing `now`),
    oldest first. `last` outside 1..24, an `until` of another kind, or a run reaching
    before the first supported year, is `InvalidInput`."""
    if not MIN_POINTS <= last <= MAX_POINTS:
        raise InvalidInput(f"`last` must be between {MIN_POINTS} and {MAX_POINTS}", field="last")
    if until is None:
        end = period_containing(now, kind.value)
    else:
        end = parse_period(until, field="until")
        if end.kind != kind.value:
            raise InvalidInput(
                f"`until` must be a {kind.value.lower()} like the trend's periods", field="until"
            )
    periods = [end]
    try:
        while len(periods) < last:
            periods.append(periods[-1].previous())
    except InvalidInput as error:
        raise InvalidInput(
            f"the trend reaches too far back: {error.message}", field="last"
        ) from error
    return periods[::-1]


def _points(periods: list[Period], rows: list[Any]) -> list[TrendPoint[Any]]:
    by_key = {row.period: row for row in rows if row is not None}
    return [TrendPoint(period, by_key.get(period.key)) for period in periods]


async def partner_trend(
    session: AsyncSession, principal: Principal, partner_id: uuid.UUID, periods: list[Period]
) -> list[TrendPoint[PartnerScorecardRow]]:
    """The partner's scorecards of `periods`; `NotFound` if it is not the caller's to read."""
    if not can_read_partner(principal, partner_id):
        raise NotFound("no such partner", field="partnerId")
    card = PartnerScorecardRow
    statement = (
        select(Partner.id, card)
        .outerjoin(
            card,
            and_(
                card.tenant_id == Partner.tenant_id,
                card.partner_id == Partner.id,
                card.period.in_([period.key for period in periods]),
            ),
        )
        .where(Partner.tenant_id == principal.tenant_id, Partner.id == partner_id)
    )
    found = (await session.execute(statement)).all()
    if not found:
        raise NotFound("no such partner", field="partnerId")
    return _points(periods, [row for _, row in found])


async def employee_trend(
    session: AsyncSession, principal: Principal, employee_id: uuid.UUID, periods: list[Period]
) -> list[TrendPoint[EmployeeScorecardRow]]:
    """The employee's scorecards of `periods`; `NotFound` if the caller may not read it,
    `Forbidden` for partner users (as `employeeScorecards`)."""
    if principal.is_partner or not principal.has_any(*TENANT_ROLES):
        raise Forbidden("only tenant staff may read employee scorecards")
    card = EmployeeScorecardRow
    statement = (
        select(Employee.id, card)
        .outerjoin(
            card,
            and_(
                card.tenant_id == Employee.tenant_id,
                card.employee_id == Employee.id,
                card.period.in_([period.key for period in periods]),
            ),
        )
        .where(
            Employee.tenant_id == principal.tenant_id,
            Employee.id == employee_id,
            readable_by(principal, Employee.id),
        )
    )
    found = (await session.execute(statement)).all()
    if not found:
        raise NotFound("no such employee", field="employeeId")
    return _points(periods, [row for _, row in found])
