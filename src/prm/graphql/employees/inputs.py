"""Inputs and filters of the employees API."""

from __future__ import annotations

import strawberry


@strawberry.input
class CreateEmployeeInput:
    name: str
    email: str | None = None
    title: str | None = None
    manager_id: strawberry.ID | None = strawberry.field(
        default=None, description="An Employee of the tenant."
    )
    user_id: strawberry.ID | None = strawberry.field(
        default=None, description="The tenant User the employee signs in as (one at most)."
    )
    team: str | None = None
    territory: str | None = None


@strawberry.input(description="Only the fields given change; null clears a field.")
class UpdateEmployeeInput:
    name: str | None = strawberry.UNSET
    email: str | None = strawberry.UNSET
    title: str | None = strawberry.UNSET
    manager_id: strawberry.ID | None = strawberry.UNSET
    user_id: strawberry.ID | None = strawberry.UNSET
    team: str | None = strawberry.UNSET
    territory: str | None = strawberry.UNSET
    active: bool | None = strawberry.UNSET


@strawberry.input(description="Narrows `employees`; every field is optional and they combine.")
class EmployeeFilter:
    team: str | None = None
    manager_id: strawberry.ID | None = strawberry.field(
        default=None, description="Direct reports of this employee."
    )
    include_indirect: bool | None = strawberry.field(
        default=None, description="With managerId: everyone below that manager, transitively."
    )
    active: bool | None = None
    search: str | None = strawberry.field(
        default=None, description="Case-insensitive substring of the name or email."
    )
