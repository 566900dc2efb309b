"""Leaderboards: the partners or employees of a period ranked by one scorecard figure.

A position is earned against the whole tenant, not against what the caller happens to
see: `rank()` runs over every snapshot row of the period first, and only then are the
rows narrowed to the caller's (the same rules as the scorecard lists,
`readable_partner_scorecards` and `readable_employee_scorecards`). So a partner user sees
its own row with its true position, a manager its team with the places they hold in the
company. Ties share a position (`rank()`: 1, 1, 3); a null figure ranks after every
figure, whichever way the metric sorts.

One statement per page: the window in a subquery, the visibility as a semi-join on the
subject id, `LIMIT first`.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, aliased

from prm.auth.principal import Principal
from prm.errors import InvalidInput
from prm.metrics.employee_scorecards import readable_employee_scorecards
from prm.metrics.models import EmployeeScorecardRow, PartnerScorecardRow
from prm.metrics.partner_scorecards import readable_partner_scorecards
from prm.metrics.periods import Period

MIN_ENTRIES, MAX_ENTRIES = 1, 100
_NUMERIC = (int, float, Decimal)


class LeaderboardKind(enum.StrEnum):
    PARTNER = "PARTNER"
    EMPLOYEE = "EMPLOYEE"


R = TypeVar("R", PartnerScorecardRow, EmployeeScorecardRow)


@dataclass(frozen=True)
class Entry(Generic[R]):
    """One place on a leaderboard: `value` is the ranked figure (null ranks last)."""

    position: int
    value: float | None
    row: R


def _metric(row_class: type[Any], metric: str, kind: LeaderboardKind) -> str:
    """The snapshot column `metric` names, if it is a figure of `kind`'s scorecards."""
    attribute = getattr(row_class, metric, None)
    if isinstance(attribute, InstrumentedAttribute):
        python_type = getattr(attribute.expression.type, "python_type", None)
        if python_type in _NUMERIC:
            return metric
    raise InvalidInput(
        f"{metric.upper()} is not a figure of {kind.value.lower()} scorecards", field="metric"
    )


def _check_first(first: int) -> None:
    if not MIN_ENTRIES <= first <= MAX_ENTRIES:
        raise InvalidInput(
            f"`first` must be between {MIN_ENTRIES} and {MAX_ENTRIES}", field="first"
        )


def leaderboard_statement(
    principal: Principal,
    kind: LeaderboardKind,
    period: Period,
    *,
    metric: str,
    descending: bool,
    first: int,
) -> Select[Any, int]:
    """(scorecard row, position) for the top `first` rows `principal` may see, best first.

    `metric` is a snapshot column (`revenue_won`, `median_hours_to_accept`, …); a column
    the kind lacks, or `first` outside 1..100, is `InvalidInput`; an employee leaderboard
    asked for by a partner user is `Forbidden` (the lists' rule)."""
    _check_first(first)
    row_class: type[Any]
    subject: InstrumentedAttribute[uuid.UUID]
    visible: Select[Any]
    if kind is LeaderboardKind.PARTNER:
        row_class, subject = PartnerScorecardRow, PartnerScorecardRow.partner_id
        visible = readable_partner_scorecards(principal, period)
    else:
        row_class, subject = EmployeeScorecardRow, EmployeeScorecardRow.employee_id
        visible = readable_employee_scorecards(principal, period)
    name = _metric(row_class, metric, kind)
    column: ColumnElement[Any] = getattr(row_class, name)
    order = (column.desc() if descending else column.asc()).nulls_last()
    ranked = (
        select(row_class, func.rank().over(order_by=order).label("position"))
        .where(row_class.tenant_id == principal.tenant_id, row_class.period == period.key)
        .subquery("ranked")
    )
    entry = aliased(row_class, ranked)
    entry_subject: InstrumentedAttribute[uuid.UUID] = getattr(entry, subject.key)
    return (
        select(entry, ranked.c.position)
        .where(entry_subject.in_(visible.with_only_columns(subject)))
        .order_by(ranked.c.position, entry_subject)
        .limit(first)
    )


async def leaderboard(
    session: AsyncSession,
    principal: Principal,
    kind: LeaderboardKind,
    period: Period,
    *,
    metric: str,
    descending: bool,
    first: int,
) -> list[Entry[Any]]:
    """The leaderboard page (see `leaderboard_statement`), read in one statement."""
    statement = leaderboard_statement(
        principal, kind, period, metric=metric, descending=descending, first=first
    )
    result = await session.execute(statement)
    entries: list[Entry[Any]] = []
    for row, position in result.all():
        value = getattr(row, metric)
        entries.append(Entry(int(position), None if value is None else float(value), row))
    return entries
