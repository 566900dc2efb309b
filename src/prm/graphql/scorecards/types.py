"""`PartnerScorecard`, the `ScorecardOrder` input both scorecard lists take, and the
`partnerScorecards` connection and `Partner.scorecard` resolvers, read from the
snapshots `prm.metrics.partner_scorecards` writes.

Who sees which rows is the domain's rule (`readable_partner_scorecards`): tenant staff
every partner's, a partner user only its own organisation's. Pages use keyset cursors
over (sort key, partner id); scorecard rows have no `id` of their own, so they cannot go
through `prm.graphql.pagination.paginate`. A null figure sorts last in either direction.
"""

from __future__ import annotations

import base64
import binascii
import enum
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import strawberry
from sqlalchemy import ColumnElement, func, literal, select, tuple_
from strawberry.dataloader import DataLoader

from prm.errors import InvalidInput
from prm.graphql.context import Context, Info
from prm.graphql.errors import BadUserInput, Forbidden, QueryUserError
from prm.graphql.pagination import Connection, Edge, OrderDirection, PageInfo, page_size
from prm.graphql.partners.types import PartnerType, load_partner
from prm.graphql.permissions import require_principal
from prm.graphql.scalars import MoneyType
from prm.metrics.models import PartnerScorecardRow as Row
from prm.metrics.partner_scorecards import readable_partner_scorecards
from prm.metrics.periods import Period, parse_period
from prm.money import Money


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


@strawberry.type(
    name="PartnerScorecard",
    description="A partner's figures for a period (money in the tenant's default currency; "
    "see `prm.metrics.partner_scorecards` for every definition).",
)
class PartnerScorecardType:
    period: str
    leads_offered: int
    leads_accepted: int = strawberry.field(description="Offers accepted plus pool claims.")
    leads_rejected: int
    leads_expired: int
    acceptance_rate: float | None = strawberry.field(
        description="Accepted / (accepted + rejected + expired) offers; null when none ended."
    )
    median_hours_to_accept: float | None
    leads_converted: int
    conversion_rate: float | None = strawberry.field(description="Converted / accepted.")
    deals_won: int
    deals_lost: int
    win_rate: float | None = strawberry.field(description="Won / (won + lost).")
    revenue_won: MoneyType
    average_deal_size: MoneyType | None
    pipeline_value: MoneyType = strawberry.field(
        description="Open opportunities' amounts when the snapshot was computed."
    )
    sla_compliance: float | None = strawberry.field(
        description="Offers answered by their deadline / offers that ended."
    )
    score: float = strawberry.field(
        description="0 to 100: 20 % acceptance, 15 % speed, 20 % conversion, 20 % win rate, "
        "15 % revenue relative to the tenant's best, 10 % SLA. The current quarter's score "
        "is the partner's `performanceScore`."
    )
    rank: int | None = strawberry.field(description="1 is best; ties share a rank.")
    computed_at: datetime
    partner_pk: strawberry.Private[uuid.UUID]

    @strawberry.field(description="Whose scorecard this is.")
    async def partner(self, info: Info) -> PartnerType:
        partner = await load_partner(info.context, self.partner_pk)
        if partner is None:  # rows are filtered to partners the caller may read
            raise Forbidden("the caller may not read this partner")
        return partner

    @classmethod
    def from_row(cls, row: Row) -> PartnerScorecardType:
        def money(amount: Decimal) -> MoneyType:
            return MoneyType.of(Money(amount, row.currency))

        return cls(
            period=row.period,
            leads_offered=row.leads_offered,
            leads_accepted=row.leads_accepted,
            leads_rejected=row.leads_rejected,
            leads_expired=row.leads_expired,
            acceptance_rate=row.acceptance_rate,
            median_hours_to_accept=row.median_hours_to_accept,
            leads_converted=row.leads_converted,
            conversion_rate=row.conversion_rate,
            deals_won=row.deals_won,
            deals_lost=row.deals_lost,
            win_rate=row.win_rate,
            revenue_won=money(row.revenue_won),
            average_deal_size=(
                money(row.average_deal_size) if row.average_deal_size is not None else None
            ),
            pipeline_value=money(row.pipeline_value),
            sla_compliance=row.sla_compliance,
            score=row.score,
            rank=row.rank,
            computed_at=row.computed_at,
            partner_pk=row.partner_id,
        )


@dataclass(frozen=True)
class _Sort:
    """A sort column of scorecard rows; `nullable` ones get a NOT NULL key per direction."""

    column: Any
    parse: Callable[[Any], Any]
    nullable: bool = False


def _float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("not a number")
    return float(value)


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("not an integer")
    return value


def _decimal(value: Any) -> Decimal:
    if not isinstance(value, str):
        raise ValueError("not a decimal")
    return Decimal(value)


SORTS: dict[ScorecardField, _Sort] = {
    ScorecardField.SCORE: _Sort(Row.score, _float),
    ScorecardField.RANK: _Sort(Row.rank, _float, nullable=True),
    ScorecardField.REVENUE_WON: _Sort(Row.revenue_won, _decimal),
    ScorecardField.WIN_RATE: _Sort(Row.win_rate, _float, nullable=True),
    ScorecardField.ACCEPTANCE_RATE: _Sort(Row.acceptance_rate, _float, nullable=True),
    ScorecardField.CONVERSION_RATE: _Sort(Row.conversion_rate, _float, nullable=True),
    ScorecardField.DEALS_WON: _Sort(Row.deals_won, _int),
    ScorecardField.DEALS_LOST: _Sort(Row.deals_lost, _int),
    ScorecardField.LEADS_ACCEPTED: _Sort(Row.leads_accepted, _int),
    ScorecardField.LEADS_CONVERTED: _Sort(Row.leads_converted, _int),
    ScorecardField.PIPELINE_VALUE: _Sort(Row.pipeline_value, _decimal),
    ScorecardField.SLA_COMPLIANCE: _Sort(Row.sla_compliance, _float, nullable=True),
    ScorecardField.MEDIAN_HOURS_TO_ACCEPT: _Sort(Row.median_hours_to_accept, _float, nullable=True),
}
"""What partner scorecards can be sorted by."""

ASCENDING_BY_DEFAULT = frozenset({ScorecardField.RANK, ScorecardField.MEDIAN_HOURS_TO_ACCEPT})


@dataclass(frozen=True)
class _Ordering:
    name: str
    """Written into cursors, so a cursor of one ordering is refused by another."""
    key: ColumnElement[Any]
    descending: bool
    value_of: Callable[[Row], Any]
    parse: Callable[[Any], Any]


def _ordering(order_by: ScorecardOrder | None) -> _Ordering:
    field = order_by.field if order_by is not None else ScorecardField.RANK
    sort = SORTS.get(field)
    if sort is None:
        raise BadUserInput(f"partner scorecards cannot be ordered by {field.value}")
    direction = order_by.direction if order_by is not None else None
    descending = (
        direction is OrderDirection.DESC
        if direction is not None
        else field not in ASCENDING_BY_DEFAULT
    )
    attribute = str(sort.column.key)
    key: ColumnElement[Any] = sort.column
    value_of: Callable[[Row], Any] = lambda row: getattr(row, attribute)  # noqa: E731
    if sort.nullable:  # null last: below everything descending, above everything ascending
        missing = float("-inf") if descending else float("inf")
        key = func.coalesce(sort.column, literal(missing))

        def value_of(row: Row) -> Any:
            value = getattr(row, attribute)
            return missing if value is None else float(value)

    name = f"{field.value}:{'desc' if descending else 'asc'}"
    return _Ordering(name, key, descending, value_of, sort.parse)


def _encode(order: _Ordering, row: Row) -> str:
    value = order.value_of(row)
    plain = str(value) if isinstance(value, Decimal) else value
    key = [order.name, plain, str(row.partner_id)]
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


async def partner_scorecards_connection(
    info: Info,
    period: str,
    first: int | None,
    after: str | None,
    order_by: ScorecardOrder | None,
) -> Connection[PartnerScorecardType]:
    """One page of the scorecards of `period` the caller may read (by rank by default);
    a period never computed is an empty connection."""
    principal = require_principal(info)
    statement = readable_partner_scorecards(principal, parse_period_argument(period))
    order = _ordering(order_by)
    limit = page_size(info.context, first)
    keys = tuple_(order.key, Row.partner_id)
    page = statement
    if after is not None:
        start = tuple_(*_decode(order, after))
        page = page.where(keys < start if order.descending else keys > start)
    columns = (order.key, Row.partner_id)
    page = page.order_by(*(c.desc() if order.descending else c.asc() for c in columns))
    rows = list((await info.context.session.scalars(page.limit(limit + 1))).all())
    has_next = len(rows) > limit
    rows = rows[:limit]
    edges = [
        Edge(cursor=_encode(order, row), node=PartnerScorecardType.from_row(row)) for row in rows
    ]
    counted: list[int] = []

    async def count() -> int:
        if not counted:
            total = await info.context.session.scalar(
                select(func.count()).select_from(statement.subquery())
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


ScorecardKey = tuple[uuid.UUID, str]
"""(partner id, period key)."""


def _scorecard_loader(context: Context) -> DataLoader[ScorecardKey, Row | None]:
    """Scorecards of many partners (a page of `partners`) in one query per period."""

    async def load(keys: Sequence[ScorecardKey]) -> list[Row | None]:
        principal = context.principal
        if principal is None:
            return [None] * len(keys)
        found: dict[ScorecardKey, Row] = {}
        for period in {key for _, key in keys}:
            partner_ids = {pk for pk, key in keys if key == period}
            statement = readable_partner_scorecards(principal, parse_period(period))
            rows = await context.session.scalars(statement.where(Row.partner_id.in_(partner_ids)))
            found.update({(row.partner_id, row.period): row for row in rows})
        return [found.get(key) for key in keys]

    return context.loaders.custom("scorecards.partner", lambda: DataLoader(load_fn=load))


async def partner_scorecard(
    info: Info, partner_pk: uuid.UUID, period: str
) -> PartnerScorecardType | None:
    """`Partner.scorecard(period)`: the snapshot if the caller may read it, else null
    (never computed, or another organisation's)."""
    require_principal(info)
    key = parse_period_argument(period).key
    row = await _scorecard_loader(info.context).load((partner_pk, key))
    return PartnerScorecardType.from_row(row) if row is not None else None
