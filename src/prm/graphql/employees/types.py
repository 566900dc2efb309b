"""Employees as the API shows them, and `load_employee`, the one way other domains resolve
an employee reference (`Account.owner`, `Opportunity.owner`): batched and visibility-checked."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from prm.employees.models import Employee
from prm.employees.service import can_read_employees
from prm.graphql.context import Context, Info
from prm.graphql.relay import Node, register_node

if TYPE_CHECKING:
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
