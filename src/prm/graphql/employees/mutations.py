"""Mutations of the employees domain (admins, and API clients with the admin scope)."""

from __future__ import annotations

import strawberry

from prm.auth.principal import Role
from prm.employees import service
from prm.graphql.context import Info
from prm.graphql.employees.inputs import CreateEmployeeInput, UpdateEmployeeInput
from prm.graphql.employees.types import EmployeeType
from prm.graphql.mutations import Payload, mutation
from prm.graphql.permissions import require_principal
from prm.graphql.relay import require_pk

ADMIN = (Role.ADMIN,)


@strawberry.type
class EmployeePayload(Payload):
    employee: EmployeeType | None = None


@strawberry.type
class Mutation:
    @mutation(EmployeePayload, roles=ADMIN, description="Add an employee (admins only).")
    async def create_employee(self, info: Info, input: CreateEmployeeInput) -> EmployeePayload:
        employee = await service.create_employee(
            info.context.session,
            require_principal(info),
            name=input.name,
            email=input.email,
            title=input.title,
            manager_id=(
                require_pk(input.manager_id, "Employee", field="managerId")
                if input.manager_id is not None
                else None
            ),
            user_id=(
                require_pk(input.user_id, "User", field="userId")
                if input.user_id is not None
                else None
            ),
            team=input.team,
            territory=input.territory,
        )
        return EmployeePayload(employee=EmployeeType.from_model(employee))

    @mutation(EmployeePayload, roles=ADMIN, description="Change an employee (admins only).")
    async def update_employee(
        self, info: Info, id: strawberry.ID, input: UpdateEmployeeInput
    ) -> EmployeePayload:
        changes = service.EmployeeChanges()
        if input.name is not strawberry.UNSET:
            changes["name"] = input.name  # type: ignore[typeddict-item]
        for field in ("email", "title", "team", "territory"):
            value = getattr(input, field)
            if value is not strawberry.UNSET:
                changes[field] = value
        if input.manager_id is not strawberry.UNSET:
            changes["manager_id"] = (
                require_pk(input.manager_id, "Employee", field="managerId")
                if input.manager_id is not None
                else None
            )
        if input.user_id is not strawberry.UNSET:
            changes["user_id"] = (
                require_pk(input.user_id, "User", field="userId")
                if input.user_id is not None
                else None
            )
        if input.active is not strawberry.UNSET:
            changes["active"] = input.active  # type: ignore[typeddict-item]
        employee = await service.update_employee(
            info.context.session,
            require_principal(info),
            require_pk(id, "Employee", field="id"),
            changes,
        )
        return EmployeePayload(employee=EmployeeType.from_model(employee))
