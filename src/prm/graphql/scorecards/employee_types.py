"""`EmployeeScorecard` and the `employeeScorecards` connection (wired into `Query` by the
scorecards queries), read from the snapshots `prm.metrics.employee_scorecards` writes.

Who sees which rows is the domain's rule (`readable_employee_scorecards`): an admin all, a
manager its reports and itself, an employee its own; partner users are `FORBIDDEN`.
Pages use keyset cursors over (sort key, employee id), like `prm.graphql.pagination`
(scorecard rows have no `id` of their own, so they cannot go through `paginate`).
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import strawberry
from sqlalchemy import ColumnElement, Select, func, select, tuple_
from sqlalchemy.orm import InstrumentedAttribute

from prm.errors import DomainError, InvalidInput
from prm.graphql.context import Info
from prm.graphql.employees.types import EmployeeType, load_employee
from prm.graphql.errors import BadUserInput, Forbidden, QueryUserError
from prm.graphql.pagination import Connection, Edge, PageInfo, page_size
from prm.graphql.permissions import require_principal
from prm.graphql.scalars import MoneyType
from prm.metrics.employee_scorecards import readable_employee_scorecards
from prm.metrics.models import EmployeeScorecardRow as Row
from prm.metrics.periods import Period, parse_period
from prm.money import Money


@strawberry.type(
    name="EmployeeScorecard",
    description="An employee's figures for a period (money in the tenant's default currency).",
)
class EmployeeScorecardType:
    period: str
    revenue_won: MoneyType
    deals_won: int
    deals_lost: int
    win_rate: float | None
    activities: int
    leads_converted: int
    pipeline_value: MoneyType
    quota_attainment: float | None = strawberry.field(
        description="Revenue won / the REVENUE_WON objective's target; null without one."
    )
    commission_earned: MoneyType
    score: float = strawberry.field(
        description="0 to 100: 50 % quota attainment (counted up to 150 %), 30 % win rate, "
        "20 % activities relative to the busiest colleague in the period."
    )
    rank: int | None = strawberry.field(description="1 is best; ties share a rank.")
    computed_at: datetime
    employee_pk: strawberry.Private[uuid.UUID]

    @strawberry.field(description="Whose scorecard this is.")
    async def employee(self, info: Info) -> EmployeeType:
        employee = await load_employee(info.context, self.employee_pk)
        if employee is None:  # rows are only ever read by staff, who see every employee
            raise Forbidden("only tenant staff may read employees")
        return employee

    @classmethod
    def from_row(cls, row: Row) -> EmployeeScorecardType:
        def money(amount: Decimal) -> MoneyType:
            return MoneyType.of(Money(amount, row.currency))

        return cls(
            period=row.period,
            revenue_won=money(row.revenue_won),
            deals_won=row.deals_won,
            deals_lost=row.deals_lost,
            win_rate=row.win_rate,
            activities=row.activities,
            leads_converted=row.leads_converted,
            pipeline_value=money(row.pipeline_value),
            quota_attainment=row.quota_attainment,
            commission_earned=money(row.commission_earned),
            score=row.score,
            rank=row.rank,
            computed_at=row.computed_at,
            employee_pk=row.employee_id,
        )


@dataclass(frozen=True)
class _Sort:
    """A sort column of scorecard rows and how to parse its value back from a cursor. A
    nullable column sorts through a NOT NULL key (keyset comparisons need one) that puts
    nulls last either way: the `high` sentinel ascending, `low` descending."""

    column: InstrumentedAttribute[Any]
    parse: Callable[[Any], Any]
    low: Any = None
    high: Any = None

    def key(self, descending: bool) -> ColumnElement[Any]:
        if self.low is None:
            return self.column.expression
        return func.coalesce(self.column, self.low if descending else self.high)

    def value_of(self, row: Row, descending: bool) -> Any:
        value = getattr(row, self.column.key)
        if value is None:
            value = self.low if descending else self.high
        return str(value) if isinstance(value, Decimal) else value


def _float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("not a number")
    return float(value)


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("not an integer")
    return value


def _decimal(value: Any) -> Decimal:
    return Decimal(str(value))


SORTS: dict[str, _Sort] = {
    "RANK": _Sort(Row.rank, _int, low=-1, high=2**31 - 1),
    "SCORE": _Sort(Row.score, _float),
    "REVENUE_WON": _Sort(Row.revenue_won, _decimal),
    "WIN_RATE": _Sort(Row.win_rate, _float, low=-1.0, high=1e300),
    "DEALS_WON": _Sort(Row.deals_won, _int),
    "DEALS_LOST": _Sort(Row.deals_lost, _int),
    "ACTIVITIES": _Sort(Row.activities, _int),
    "LEADS_CONVERTED": _Sort(Row.leads_converted, _int),
    "PIPELINE_VALUE": _Sort(Row.pipeline_value, _decimal),
    "QUOTA_ATTAINMENT": _Sort(Row.quota_attainment, _float, low=-1.0, high=1e300),
    "COMMISSION_EARNED": _Sort(Row.commission_earned, _decimal),
}
"""What `ScorecardOrder.field` can sort employee scorecards by (figures are never
negative, so -1 sorts below every real value)."""


def _enum_name(value: Any) -> str | None:
    if value is None:
        return None
    return str(getattr(value, "value", getattr(value, "name", value))).upper()


def _ordering(order_by: Any | None) -> tuple[str, bool]:
    """(sort name, descending) of a `ScorecardOrder`: rank ascending when absent; without a
    direction, rank ascends and every other figure descends (best first)."""
    field = _enum_name(getattr(order_by, "field", None)) or "RANK"
    if field not in SORTS:
        raise BadUserInput(f"employee scorecards cannot be ordered by {field}")
    direction = _enum_name(getattr(order_by, "direction", None))
    descending = direction == "DESC" if direction else field != "RANK"
    return field, descending


def _encode(name: str, row: Row) -> str:
    field, _, direction = name.partition(":")
    key = [name, SORTS[field].value_of(row, direction == "desc"), str(row.employee_id)]
    return base64.urlsafe_b64encode(json.dumps(key, separators=(",", ":")).encode()).decode()


def _decode(cursor: str, name: str) -> tuple[Any, uuid.UUID]:
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode("ascii")))
        if not isinstance(key, list) or len(key) != 3 or key[0] != name:
            raise ValueError("cursor of another ordering")
        return SORTS[name.split(":")[0]].parse(key[1]), uuid.UUID(str(key[2]))
    except (ValueError, TypeError, UnicodeError, binascii.Error, ArithmeticError) as error:
        raise BadUserInput("`after` is not a cursor of this connection") from error


def parse_period_argument(period: str) -> Period:
    """The period a query names; a bad one is a GraphQL error with its own code and field."""
    try:
        return parse_period(period)
    except InvalidInput as error:
        raise QueryUserError(error) from error


async def employee_scorecards_connection(
    info: Info, period: str, first: int | None, after: str | None, order_by: Any | None
) -> Connection[EmployeeScorecardType]:
    """The scorecards of `period` the caller may read, one page, ordered by `order_by`
    (rank, then employee id, by default)."""
    principal = require_principal(info)
    parsed = parse_period_argument(period)
    try:
        statement = readable_employee_scorecards(principal, parsed)
    except DomainError as error:  # partner users: the operation is not theirs at all
        raise Forbidden(error.message) from error
    field, descending = _ordering(order_by)
    name = f"{field}:{'desc' if descending else 'asc'}"
    limit = page_size(info.context, first)
    sort = SORTS[field]
    sort_key = sort.key(descending)
    keys = tuple_(sort_key, Row.employee_id)
    page = statement
    if after is not None:
        start = tuple_(*_decode(after, name))
        page = page.where(keys < start if descending else keys > start)
    ordered = [sort_key, Row.employee_id]
    page = page.order_by(*[k.desc() if descending else k.asc() for k in ordered]).limit(limit + 1)
    rows = list((await info.context.session.scalars(page)).all())
    has_next = len(rows) > limit
    rows = rows[:limit]
    edges = [
        Edge(cursor=_encode(name, row), node=EmployeeScorecardType.from_row(row)) for row in rows
    ]
    counted: list[int] = []

    async def count() -> int:
        if not counted:
            total = await info.context.session.scalar(_count(statement))
            counted.append(int(total or 0))
        return counted[0]

    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=has_next,
            has_previous_page=after is not None,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        count=count,
    )


def _count(statement: Select[Row]) -> Select[int]:
    return select(func.count()).select_from(statement.order_by(None).subquery())


async def employee_scorecard(
    info: Info, employee_pk: uuid.UUID, period: str
) -> EmployeeScorecardType | None:
    """`Employee.scorecard(period)`: the snapshot if the caller may read it, else null
    (none computed yet, or another employee's that the caller may not see)."""
    principal = require_principal(info)
    parsed = parse_period_argument(period)
    try:
        statement = readable_employee_scorecards(principal, parsed)
    except DomainError:
        return None
    row = await info.context.session.scalar(statement.where(Row.employee_id == employee_pk))
    return EmployeeScorecardType.from_row(row) if row is not None else None
