"""The `ScorecardOrder` input and the keyset pages both scorecard connections serve.

Scorecard snapshot rows have no `id` of their own, so they cannot go through
`prm.graphql.pagination.paginate`; partner and employee scorecards both page over
(chosen figure, subject id) here instead, with the same cursors, defaults and null rule.
"""

from __future__ import annotations

import base64
import binascii
import enum
import json
import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Generic, TypeVar, cast

import strawberry
from sqlalchemy import Column, ColumnElement, Select, func, literal, select, tuple_
from sqlalchemy.orm import InstrumentedAttribute

from prm.errors import InvalidInput
from prm.graphql.context import Info
from prm.graphql.errors import BadUserInput, QueryUserError
from prm.graphql.pagination import Connection, Edge, OrderDirection, PageInfo, page_size
from prm.metrics.periods import Period, parse_period


@strawberry.enum(
    description="What a scorecard list is sorted by. Partner scorecards take SCORE, RANK, "
    "REVENUE_WON, WIN_RATE, ACCEPTANCE_RATE, CONVERSION_RATE, DEALS_WON, DEALS_LOST, "
    "LEADS_ACCEPTED, LEADS_CONVERTED, PIPELINE_VALUE, SLA_COMPLIANCE and "
    "MEDIAN_HOURS_TO_ACCEPT; employee scorecards SCORE, RANK, REVENUE_WON, WIN_RATE, "
    "DEALS_WON, DEALS_LOST, ACTIVITIES, LEADS_CONVERTED, PIPELINE_VALUE, QUOTA_ATTAINMENT "
    "and COMMISSION_EARNED. Any other is BAD_USER_INPUT."
)
class ScorecardField(enum.Enum):
    SCORE = "SCORE"
    RANK = "RANK"
    REVENUE_WON = "REVENUE_WON"
    WIN_RATE = "WIN_RATE"
    ACCEPTANCE_RATE = "ACCEPTANCE_RATE"
    CONVERSION_RATE = "CONVERSION_RATE"
    DEALS_WON = "DEALS_WON"
    DEALS_LOST = "DEALS_LOST"
    LEADS_ACCEPTED = "LEADS_ACCEPTED"
    LEADS_CONVERTED = "LEADS_CONVERTED"
    PIPELINE_VALUE = "PIPELINE_VALUE"
    SLA_COMPLIANCE = "SLA_COMPLIANCE"
    MEDIAN_HOURS_TO_ACCEPT = "MEDIAN_HOURS_TO_ACCEPT"
    ACTIVITIES = "ACTIVITIES"
    QUOTA_ATTAINMENT = "QUOTA_ATTAINMENT"
    COMMISSION_EARNED = "COMMISSION_EARNED"


@strawberry.input(
    description="Without `direction`, RANK and MEDIAN_HOURS_TO_ACCEPT ascend and every "
    "other figure descends (best first). Nulls sort last; ties break by subject id."
)
class ScorecardOrder:
    field: ScorecardField
    direction: OrderDirection | None = None


ASCENDING_BY_DEFAULT = frozenset({ScorecardField.RANK, ScorecardField.MEDIAN_HOURS_TO_ACCEPT})
"""Figures where smaller is better, so they ascend unless told otherwise."""


def _float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):  # JSON true is an int
        raise ValueError("not a number")
    return float(value)


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("not an integer")
    return value


def _decimal(value: Any) -> Decimal:
    if not isinstance(value, str):  # money goes into cursors as a string: no digit lost
        raise ValueError("not a decimal")
    return Decimal(value)


_PARSERS: dict[type, Callable[[Any], Any]] = {int: _int, float: _float, Decimal: _decimal}


@dataclass(frozen=True)
class _Ordering:
    name: str
    """Written into cursors, so a cursor of one ordering is refused by another."""
    key: ColumnElement[Any]
    descending: bool
    value_of: Callable[[Any], Any]
    parse: Callable[[Any], Any]


def _ordering(
    order_by: ScorecardOrder | None, subject: InstrumentedAttribute[uuid.UUID], what: str
) -> _Ordering:
    field = order_by.field if order_by is not None else ScorecardField.RANK
    sort = getattr(subject.class_, field.value.lower(), None)
    if not isinstance(sort, InstrumentedAttribute):
        raise BadUserInput(f"{what} cannot be ordered by {field.value}")
    direction = order_by.direction if order_by is not None else None
    descending = (
        direction is OrderDirection.DESC
        if direction is not None
        else field not in ASCENDING_BY_DEFAULT
    )
    column = cast("Column[Any]", sort.expression)
    attribute = str(sort.key)
    key: ColumnElement[Any] = column
    parse = _PARSERS[column.type.python_type]

    def value_of(row: Any) -> Any:
        value = getattr(row, attribute)
        return str(value) if isinstance(value, Decimal) else value

    if column.nullable:  # keyset comparisons need a NOT NULL key: nulls become the far end
        missing = float("-inf") if descending else float("inf")
        key = func.coalesce(column, literal(missing))
        parse = _float

        def value_of(row: Any) -> Any:
            value = getattr(row, attribute)
            return missing if value is None else float(value)

    name = f"{field.value}:{'desc' if descending else 'asc'}"
    return _Ordering(name, key, descending, value_of, parse)


def _encode(order: _Ordering, row: Any, subject_id: uuid.UUID) -> str:
    key = [order.name, order.value_of(row), str(subject_id)]
    return base64.urlsafe_b64encode(json.dumps(key, separators=(",", ":")).encode()).decode()


def _decode(order: _Ordering, cursor: str) -> tuple[Any, uuid.UUID]:
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode("ascii")))
        if not isinstance(key, list) or len(key) != 3 or key[0] != order.name:
            raise ValueError("cursor of another ordering")
        return order.parse(key[1]), uuid.UUID(str(key[2]))
    except (ValueError, TypeError, UnicodeError, binascii.Error, ArithmeticError) as error:
        raise BadUserInput("`after` is not a cursor of this connection") from error


def parse_period_argument(period: str) -> Period:
    """The period a query names; a bad one is a GraphQL error with its code and field."""
    try:
        return parse_period(period)
    except InvalidInput as error:
        raise QueryUserError(error) from error


R = TypeVar("R")
N = TypeVar("N")


@dataclass(frozen=True)
class ScorecardPages(Generic[R, N]):
    """How one scorecard list pages: rows of `subject`'s table (the partner or employee id
    breaks ties) shown as `node`s; `what` names the list in errors.

    A list sorts by every `ScorecardField` its row has a column of that name for, so the
    enum is the one list of sortable figures. The column's type and nullability say how a
    cursor's value is read and where nulls go, so they cannot disagree with the data."""

    what: str
    subject: InstrumentedAttribute[uuid.UUID]
    node: Callable[[R], N]

    async def page(
        self,
        info: Info,
        statement: Select[R],
        order_by: ScorecardOrder | None,
        first: int | None,
        after: str | None,
    ) -> Connection[N]:
        """One page of `statement`'s rows by `order_by` (rank ascending when absent). A
        field the row lacks, or a cursor of another ordering, is BAD_USER_INPUT; `count`
        runs only if asked for."""
        order = _ordering(order_by, self.subject, self.what)
        limit = page_size(info.context, first)
        keys = tuple_(order.key, self.subject)
        page = statement
        if after is not None:
            start = tuple_(*_decode(order, after))
            page = page.where(keys < start if order.descending else keys > start)
        columns: Collection[ColumnElement[Any]] = (order.key, self.subject.expression)
        page = page.order_by(*(c.desc() if order.descending else c.asc() for c in columns))
        rows = list((await info.context.session.scalars(page.limit(limit + 1))).all())
        has_next = len(rows) > limit
        rows = rows[:limit]
        edges = [
            Edge(cursor=_encode(order, row, getattr(row, self.subject.key)), node=self.node(row))
            for row in rows
        ]
        counted: list[int] = []

        async def count() -> int:
            if not counted:
                total = await info.context.session.scalar(
                    select(func.count()).select_from(statement.order_by(None).subquery())
                )
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
