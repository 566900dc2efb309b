"""Employees as the API shows them, and `load_employee`, the one way other domains resolve
an employee reference (`Account.owner`, `Opportunity.owner`): batched and visibility-checked.

Every field that reads more rows (`manager`, `user`, `reports`, `objectives`,
`compensationPlan`, `scorecard`) goes through a per-request DataLoader (`loaders`), so a
page of employees costs one statement per field, not one per employee."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from prm.employees.models import Employee
from prm.employees.service import can_read_employees
from prm.graphql.context import Context, Info
from prm.graphql.employees import loaders
from prm.graphql.pagination import Connection
from prm.graphql.permissions import require_principal
from prm.graphql.relay import Node, register_node

if TYPE_CHECKING:
    from prm.graphql.erm.types import CompensationPlanType, ObjectiveType
    from prm.graphql.scorecards.employee_types import EmployeeScorecardType
    from prm.graphql.tenants.types import UserType


@strawberry.type(name="Employee", description="A member of the tenant's staff.")
class EmployeeType(Node):
    name: str
    email: str | None
    title: str | None
    team: str | None
    territory: str | None
    active: bool
    created_at: datetime
    updated_at: datetime
    manager_pk: strawberry.Private[uuid.UUID | None]
    user_pk: strawberry.Private[uuid.UUID | None]

    @strawberry.field(description="The employee's manager, if any.")
    async def manager(self, info: Info) -> EmployeeType | None:
        if self.manager_pk is None:
            return None
        return await load_employee(info.context, self.manager_pk)

    @strawberry.field(description="The user the employee signs in as, if linked and visible.")
    async def user(
        self, info: Info
    ) -> Annotated[UserType, strawberry.lazy("prm.graphql.tenants.types")] | None:
        from prm.graphql.tenants.types import load_user

        if self.user_pk is None:
            return None
        return await load_user(info.context, self.user_pk)

    @strawberry.field(
        description="The employee's scorecard for a period (`2026-11`, `2026-Q4`, `2026`): "
        "null until computed, or if the caller may not read it."
    )
    async def scorecard(
        self, info: Info, period: str
    ) -> (
        Annotated[EmployeeScorecardType, strawberry.lazy("prm.graphql.scorecards.employee_types")]
        | None
    ):
        from prm.graphql.scorecards.employee_types import EmployeeScorecardType
        from prm.graphql.scorecards.ordering import parse_period_argument

        principal = require_principal(info)
        key = parse_period_argument(period).key
        row = await loaders.load_scorecard(info.context, principal, self.pk, key)
        return EmployeeScorecardType.from_row(row) if row is not None else None

    @strawberry.field(
        description="Whom the employee manages: directly, or with `transitive` everyone "
        "below it in the reporting line."
    )
    async def reports(
        self,
        info: Info,
        transitive: bool | None = False,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[EmployeeType]:
        return await loaders.reports_page(
            info.context,
            require_principal(info),
            self.pk,
            transitive=bool(transitive),
            first=first,
            after=after,
            to_node=EmployeeType.from_model,
        )

    @strawberry.field(
        description="The employee's objectives (optionally of one period), if the caller "
        "may read them (itself, its managers, admins); else empty."
    )
    async def objectives(
        self, info: Info, period: str | None = None
    ) -> list[Annotated[ObjectiveType, strawberry.lazy("prm.graphql.erm.types")]]:
        from prm.graphql.erm.queries import period_key
        from prm.graphql.erm.types import ObjectiveType

        key = period_key(period) if period is not None else None
        rows = await loaders.load_objectives(info.context, require_principal(info), self.pk, key)
        return [ObjectiveType.from_model(row) for row in rows]

    @strawberry.field(
        description="The plan the employee is paid by in `period` (assigned for it, or "
        "for the quarter or year containing it), if the caller may read it."
    )
    async def compensation_plan(
        self, info: Info, period: str
    ) -> Annotated[CompensationPlanType, strawberry.lazy("prm.graphql.erm.types")] | None:
        from prm.graphql.erm.queries import period_key
        from prm.graphql.erm.types import CompensationPlanType

        plan = await loaders.load_compensation_plan(
            info.context, require_principal(info), self.pk, period_key(period)
        )
        return CompensationPlanType.from_model(plan) if plan is not None else None

    @classmethod
    def from_model(cls, employee: Employee) -> EmployeeType:
        return cls.from_row(employee, manager_pk=employee.manager_id, user_pk=employee.user_id)


async def load_employee(context: Context, pk: uuid.UUID) -> EmployeeType | None:
    """The employee if the caller may see it (tenant staff), else None. Batched per request."""
    if context.principal is None or not can_read_employees(context.principal):
        return None
    employee = await context.loaders.by_id(Employee).load(pk)
    return EmployeeType.from_model(employee) if employee else None


@register_node(EmployeeType)
async def _employee_node(context: Context, pk: uuid.UUID) -> EmployeeType | None:
    return await load_employee(context, pk)
