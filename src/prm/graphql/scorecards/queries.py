"""`partnerScorecards` and `employeeScorecards`: the leaderboards of a period."""

from __future__ import annotations

import strawberry

from prm.graphql.context import Info
from prm.graphql.pagination import Connection
from prm.graphql.scorecards.employee_types import (
    EmployeeScorecardType,
    employee_scorecards_connection,
)
from prm.graphql.scorecards.types import (
    PartnerScorecardType,
    ScorecardOrder,
    partner_scorecards_connection,
)


@strawberry.type
class Query:
    @strawberry.field(
        description="Partner scorecards of a period (`2026-11`, `2026-Q4`, `2026`), by rank "
        "unless `orderBy` says otherwise. Tenant staff see every partner's, a partner user "
        "only its own. A period not yet computed is empty; a malformed one is INVALID."
    )
    async def partner_scorecards(
        self,
        info: Info,
        period: str,
        first: int | None = None,
        after: str | None = None,
        order_by: ScorecardOrder | None = None,
    ) -> Connection[PartnerScorecardType]:
        return await partner_scorecards_connection(info, period, first, after, order_by)

    @strawberry.field(
        description="Employee scorecards of a period, by rank unless `orderBy` says otherwise: "
        "an admin sees all, a manager its reports and itself, an employee its own."
    )
    async def employee_scorecards(
        self,
        info: Info,
        period: str,
        first: int | None = None,
        after: str | None = None,
        order_by: ScorecardOrder | None = None,
    ) -> Connection[EmployeeScorecardType]:
        return await employee_scorecards_connection(info, period, first, after, order_by)
