"""Queries of the employees domain: `employees`."""

from __future__ import annotations

import strawberry
from sqlalchemy import false

from prm.employees import service
from prm.graphql.context import Info
from prm.graphql.employees.inputs import EmployeeFilter
from prm.graphql.employees.types import EmployeeType
from prm.graphql.pagination import Connection, paginate
from prm.graphql.permissions import require_principal
from prm.graphql.relay import pk_of


@strawberry.type
class Query:
    @strawberry.field(
        description="The tenant's employees, oldest first (tenant staff; partner users are "
        "FORBIDDEN)."
    )
    async def employees(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: EmployeeFilter | None = None,
    ) -> Connection[EmployeeType]:
        principal = require_principal(info)
        statement = service.readable_employees(principal)
        if filter is not None:
            manager_id = None
            if filter.manager_id is not None:
                manager_id = pk_of(filter.manager_id, "Employee")
                if manager_id is None:  # an id of nothing: nothing matches
                    statement = statement.where(false())
            statement = service.filter_employees(
                statement,
                team=filter.team,
                manager_id=manager_id,
                include_indirect=bool(filter.include_indirect),
                tenant_id=principal.tenant_id,
                active=filter.active,
                search=filter.search,
            )
        return await paginate(
            info.context, statement, to_node=EmployeeType.from_model, first=first, after=after
        )
