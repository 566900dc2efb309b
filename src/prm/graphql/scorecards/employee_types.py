"""`EmployeeScorecard` and the `employeeScorecards` connection (wired into `Query` by the
scorecards queries), read from the snapshots `prm.metrics.employee_scorecards` writes.

Who sees which rows is the domain's rule (`readable_employee_scorecards`): an admin all, a
manager its reports and itself, an employee its own; partner users are `FORBIDDEN`.
Pages are the keyset pages of `prm.graphql.scorecards.ordering`, over (sort key,
employee id).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

import strawberry

from prm.errors import DomainError
from prm.graphql.context import Info
from prm.graphql.employees.types import EmployeeType, load_employee
from prm.graphql.errors import Forbidden
from prm.graphql.pagination import Connection
from prm.graphql.permissions import require_principal
from prm.graphql.scalars import MoneyType
from prm.graphql.scorecards import ordering
from prm.graphql.scorecards.ordering import ScorecardOrder
from prm.metrics.employee_scorecards import readable_employee_scorecards
from prm.metrics.models import EmployeeScorecardRow as Row
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


PAGES = ordering.ScorecardPages(
    "employee scorecards", Row.employee_id, EmployeeScorecardType.from_row
)
"""Sorts by any `ScorecardField` the row has a column for."""


async def employee_scorecards_connection(
    info: Info, period: str, first: int | None, after: str | None, order_by: ScorecardOrder | None
) -> Connection[EmployeeScorecardType]:
    """The scorecards of `period` the caller may read, one page, ordered by `order_by`
    (rank, then employee id, by default)."""
    principal = require_principal(info)
    parsed = ordering.parse_period_argument(period)
    try:
        statement = readable_employee_scorecards(principal, parsed)
    except DomainError as error:  # partner users: the operation is not theirs at all
        raise Forbidden(error.message) from error
    return await PAGES.page(info, statement, order_by, first, after)
