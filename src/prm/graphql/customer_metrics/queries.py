"""`customerMetrics` (staff) and `costEntries` (admins and managers)."""

from __future__ import annotations

import strawberry
from sqlalchemy import select

from prm.auth.principal import TENANT_ROLES
from prm.errors import DomainError
from prm.graphql.context import Info
from prm.graphql.customer_metrics.inputs import CostEntryFilter
from prm.graphql.customer_metrics.types import CostEntryType, CustomerMetricsType
from prm.graphql.errors import QueryUserError
from prm.graphql.pagination import Connection, OrderDirection, Ordering, paginate
from prm.graphql.permissions import require_roles
from prm.metrics.costs import COST_MANAGERS, readable_cost_entries
from prm.metrics.models import CostEntry, CustomerMetricsRow
from prm.metrics.periods import parse_period

NEWEST_DAY_FIRST = Ordering.by(CostEntry.incurred_on, OrderDirection.DESC)


@strawberry.type
class Query:
    @strawberry.field(
        description="The tenant's customer metrics for a period (`2026-11`, `2026-Q4`, "
        "`2026`), as last computed by the metrics job; null until it has run. Staff only."
    )
    async def customer_metrics(self, info: Info, period: str) -> CustomerMetricsType | None:
        principal = require_roles(info, *TENANT_ROLES)
        try:
            key = parse_period(period).key
        except DomainError as error:
            raise QueryUserError(error) from error
        row = await info.context.session.scalar(
            select(CustomerMetricsRow).where(
                CustomerMetricsRow.tenant_id == principal.tenant_id,
                CustomerMetricsRow.period == key,
            )
        )
        return CustomerMetricsType.from_model(row) if row else None

    @strawberry.field(description="Recorded costs, newest day first (admins and managers).")
    async def cost_entries(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: CostEntryFilter | None = None,
    ) -> Connection[CostEntryType]:
        statement = readable_cost_entries(require_roles(info, *COST_MANAGERS))
        if filter is not None:
            statement = filter.apply(statement)
        return await paginate(
            info.context,
            statement,
            to_node=CostEntryType.from_model,
            first=first,
            after=after,
            order=NEWEST_DAY_FIRST,
        )
