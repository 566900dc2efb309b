"""Relay connections with keyset cursors.

    @strawberry.field
    async def users(self, info: Info, first: int | None = None,
                    after: str | None = None) -> Connection[UserType]:
        statement = readable_users(principal)            # a select(Model), unordered
        return await paginate(info.context, statement, to_node=UserType.from_model,
                              first=first, after=after, order=Ordering.by(User.email))

Rows are ordered by an optional sort column and then by id (UUIDv7: creation order), and a
cursor holds the last row's sort key, so the next page is `WHERE (col, id) > (:v, :id)`: as
fast on page 1000 as on page 1, and stable while rows are inserted. `first` defaults to
`settings.default_page_size` and is capped at `settings.max_page_size`; a negative `first`
or a cursor that is malformed or made for another ordering is `BAD_USER_INPUT`.
`totalCount` runs its COUNT only when selected. Forward pagination only: `hasPreviousPage`
is true exactly when `after` was given.

Resolvers that fetch pages themselves (one batched statement for the nested lists of a
whole page of parents, e.g. `prm.graphql.crm.loaders.nested_page`) use the same pieces:
`decode_cursor`, `order_page` (ORDER BY, keyset WHERE, LIMIT n+1) and `connection_of`.
"""

from __future__ import annotations

import base64
import binascii
import enum
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Generic, TypeVar

import strawberry
from sqlalchemy import ColumnElement, Select, func, select, tuple_
from sqlalchemy.orm import InstrumentedAttribute

from prm.db.base import TenantOwned
from prm.graphql.context import Context
from prm.graphql.errors import BadUserInput

T = TypeVar("T")
M = TypeVar("M", bound=TenantOwned)


@strawberry.type(description="Where a page sits in its connection (Relay).")
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo
    count: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="Objects in the whole connection (all pages, after filters).")
    async def total_count(self) -> int:
        return await self.count()


@strawberry.enum(description="Sort direction.")
class OrderDirection(enum.Enum):
    ASC = "ASC"
    DESC = "DESC"


@dataclass(frozen=True)
class Ordering:
    """A sort column (or none: id order) and direction. `name` is written into cursors, so
    a cursor from one ordering is refused by another. The column must be NOT NULL.

    The sort key may instead be an expression (`Ordering.by_expression`), e.g. a COALESCE
    over a nullable column that an expression index serves; `value_of` then reads the
    same value off a row for the cursor."""

    name: str
    column: InstrumentedAttribute[Any] | ColumnElement[Any] | None = None
    descending: bool = False
    value_of: Callable[[Any], Any] | None = None

    @classmethod
    def by(
        cls,
        column: InstrumentedAttribute[Any] | None,
        direction: OrderDirection = OrderDirection.ASC,
    ) -> Ordering:
        """Order by `column` (None: by id alone), ties broken by id in the same direction."""
        descending = direction is OrderDirection.DESC
        name = f"{column.key if column is not None else 'id'}:{direction.value.lower()}"
        return cls(name, column, descending)

    @classmethod
    def by_expression(
        cls,
        name: str,
        expression: ColumnElement[Any],
        value_of: Callable[[Any], Any],
        direction: OrderDirection = OrderDirection.ASC,
    ) -> Ordering:
        """Order by a NOT NULL SQL `expression` whose value for a row is `value_of(row)`."""
        descending = direction is OrderDirection.DESC
        return cls(f"{name}:{direction.value.lower()}", expression, descending, value_of)


BY_ID = Ordering.by(None)
NEWEST_FIRST = Ordering.by(None, OrderDirection.DESC)


def page_size(context: Context, first: int | None) -> int:
    if first is None:
        return context.settings.default_page_size
    if first < 0:
        raise BadUserInput("`first` must not be negative")
    return min(first, context.settings.max_page_size)


async def paginate(
    context: Context,
    statement: Select[M],
    *,
    to_node: Callable[[M], T],
    first: int | None,
    after: str | None,
    order: Ordering = BY_ID,
) -> Connection[T]:
    """One page of `statement` (a filtered `select(Model)` with no ORDER BY): one query,
    plus one COUNT if `totalCount` is selected."""
    limit = page_size(context, first)
    page = order_page(statement, order, decode_cursor(after, order), limit)
    rows = list((await context.session.scalars(page)).all())
    counted: list[int] = []

    async def count() -> int:
        if not counted:
            total = await context.session.scalar(
                select(func.count()).select_from(statement.order_by(None).subquery())
            )
            counted.append(int(total or 0))
        return counted[0]

    return connection_of(rows, limit=limit, after=after, order=order, to_node=to_node, count=count)


def decode_cursor(after: str | None, order: Ordering) -> tuple[Any, ...] | None:
    """The sort key an `after` cursor holds (None without one); `BAD_USER_INPUT` if it is
    malformed or made for another ordering."""
    return None if after is None else tuple(_decode_cursor(after, order))


def order_page(
    statement: Select[M], order: Ordering, after: tuple[Any, ...] | None, limit: int
) -> Select[M]:
    """`statement` ordered by `order`, resumed after the key `after`, with one row more
    than `limit` (so the caller knows whether a next page exists)."""
    model: type[M] = statement.column_descriptions[0]["entity"]
    keys: list[Any] = [model.id] if order.column is None else [order.column, model.id]
    if after is not None:
        bound, start = tuple_(*keys), tuple_(*after)
        statement = statement.where(bound < start if order.descending else bound > start)
    ordered = [key.desc() if order.descending else key.asc() for key in keys]
    return statement.order_by(*ordered).limit(limit + 1)


def connection_of(
    rows: list[M],
    *,
    limit: int,
    after: str | None,
    order: Ordering,
    to_node: Callable[[M], T],
    count: Callable[[], Awaitable[int]],
) -> Connection[T]:
    """The connection of a page fetched by `order_page` (up to `limit + 1` rows), for
    resolvers that fetch pages themselves, e.g. one batched query for many parents."""
    has_next = len(rows) > limit
    rows = rows[:limit]
    edges = [Edge(cursor=_encode_cursor(row, order), node=to_node(row)) for row in rows]
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


def _encode_cursor(row: TenantOwned, order: Ordering) -> str:
    key: list[Any] = [order.name]
    if order.column is not None:
        value = order.value_of(row) if order.value_of else getattr(row, str(order.column.key))
        key.append(value.isoformat() if isinstance(value, datetime) else _plain(value))
    key.append(str(row.id))
    return base64.urlsafe_b64encode(json.dumps(key, separators=(",", ":")).encode()).decode()


def _plain(value: Any) -> Any:
    return value if isinstance(value, int | float | str) else str(value)


def _decode_cursor(cursor: str, order: Ordering) -> list[Any]:
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode("ascii")))
        if not isinstance(key, list) or not key or key[0] != order.name:
            raise ValueError("cursor of another ordering")
        expected = 2 if order.column is None else 3
        if len(key) != expected:
            raise ValueError("cursor of another shape")
        values: list[Any] = []
        if order.column is not None:
            values.append(_parse(key[1], order.column.type.python_type))
        values.append(uuid.UUID(str(key[-1])))
        return values
    except (ValueError, TypeError, UnicodeError, binascii.Error, NotImplementedError) as error:
        raise BadUserInput("`after` is not a cursor of this connection") from error


def _parse(value: Any, python_type: type[Any]) -> Any:
    if python_type is datetime:
        return datetime.fromisoformat(str(value))
    if python_type is date:
        return date.fromisoformat(str(value))
    if python_type in (int, float) and isinstance(value, bool):
        raise ValueError("not a number")
    return python_type(value)
