"""The reporting line as access rules: who is below whom, and who may manage whose
objectives, compensation and reviews.

This module is the one place the ERM rules live:

- an ADMIN reads and manages every employee of the tenant;
- a MANAGER user reads and manages everyone below the Employee row linked to it
  (`Employee.user_id`), transitively, and reads its own records;
- an EMPLOYEE (or a MANAGER for itself) only reads its own records;
- partner users, and API clients without a linked employee (but admins), see none.

The acting employee is a scalar subquery, not a prior look-up, so every rule is one SQL
expression that a readable statement embeds: no extra round trip per resolver.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, false, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, aliased

from prm.auth.principal import Principal, Role
from prm.employees.models import Employee

EmployeeRef = uuid.UUID | ColumnElement[Any]
"""An employee id, or an SQL expression yielding one (e.g. the acting employee)."""
EmployeeColumn = ColumnElement[Any] | InstrumentedAttribute[Any]
"""The column of a table that holds the employee a record is about."""


def reports_below(tenant_id: uuid.UUID, employee_id: EmployeeRef) -> Select[tuple[uuid.UUID]]:
    """The ids of everyone below `employee_id` in the reporting line, transitively (not
    the employee itself): one recursive CTE walking `manager_id` downwards. UNION (not
    UNION ALL) drops rows already found, so even a corrupt loop terminates."""
    # Aliases, so that the CTE never correlates with an outer query over `employees`.
    top, child = aliased(Employee), aliased(Employee)
    below = (
        select(top.id)
        .where(top.tenant_id == tenant_id, top.manager_id == employee_id)
        .cte(recursive=True)
    )
    below = below.union(
        select(child.id).where(child.tenant_id == tenant_id, child.manager_id == below.c.id)
    )
    return select(below.c.id)


def reports_below_each(
    tenant_id: uuid.UUID, employee_ids: Collection[uuid.UUID]
) -> Select[tuple[uuid.UUID, uuid.UUID]]:
    """`(above_id, id)`: for each of `employee_ids`, everyone below it, transitively, as in
    `reports_below`, but for a whole page of managers in one recursive CTE that carries the
    manager each walk started from (what a batched `Employee.reports` reads). UNION on the
    pair drops rows already found, so even a corrupt loop terminates."""
    top, child = aliased(Employee), aliased(Employee)
    below = (
        select(top.manager_id.label("above_id"), top.id.label("id"))
        .where(top.tenant_id == tenant_id, top.manager_id.in_(list(employee_ids)))
        .cte("reports_below_each", recursive=True)
    )
    below = below.union(
        select(below.c.above_id, child.id).where(
            child.tenant_id == tenant_id, child.manager_id == below.c.id
        )
    )
    return select(below.c.above_id, below.c.id)


def filter_reports(
    statement: Select[Any],
    tenant_id: uuid.UUID,
    manager_id: uuid.UUID,
    *,
    include_indirect: bool = False,
) -> Select[Any]:
    """`statement` (over `Employee`) narrowed to the reports of `manager_id`: direct ones,
    or everyone below with `include_indirect`."""
    if not include_indirect:
        return statement.where(Employee.manager_id == manager_id)
    return statement.where(Employee.id.in_(reports_below(tenant_id, manager_id)))


def acting_employee_id(principal: Principal) -> ColumnElement[Any] | None:
    """The Employee row linked to the acting user, as a scalar subquery (NULL when the
    user has none); None for API clients and the platform, which have no user."""
    if principal.user_id is None:
        return None
    me = aliased(Employee)  # an alias: never correlated with an outer `employees`
    return (
        select(me.id)
        .where(me.tenant_id == principal.tenant_id, me.user_id == principal.user_id)
        .scalar_subquery()
    )


def managed_by(principal: Principal, employee_column: EmployeeColumn) -> ColumnElement[bool]:
    """Whether `principal` may set objectives, plans and reviews for the employee in
    `employee_column`: an admin for anyone, a manager for those below it."""
    if principal.is_partner:
        return false()
    if principal.has_any(Role.ADMIN):
        return true()
    acting = acting_employee_id(principal)
    if acting is None or not principal.has_any(Role.MANAGER):
        return false()
    return employee_column.in_(reports_below(principal.tenant_id, acting))


def readable_by(principal: Principal, employee_column: EmployeeColumn) -> ColumnElement[bool]:
    """Whether `principal` may read the ERM records (objectives, plan, reviews) of the
    employee in `employee_column`: whom it manages, and itself."""
    if principal.is_partner:
        return false()
    acting = acting_employee_id(principal)
    own = employee_column == acting if acting is not None else false()
    return or_(managed_by(principal, employee_column), own)


async def can_manage(session: AsyncSession, principal: Principal, employee_id: uuid.UUID) -> bool:
    """Whether the employee exists in the principal's tenant and `principal` manages it
    (see `managed_by`). Callers answer NOT_FOUND when not: existence does not leak."""
    found = await session.scalar(
        select(
            exists().where(
                and_(
                    Employee.tenant_id == principal.tenant_id,
                    Employee.id == employee_id,
                    managed_by(principal, Employee.id),
                )
            )
        )
    )
    return bool(found)


async def can_read(session: AsyncSession, principal: Principal, employee_id: uuid.UUID) -> bool:
    """Whether `principal` may read the ERM records of `employee_id` (see `readable_by`)."""
    found = await session.scalar(
        select(
            exists().where(
                and_(
                    Employee.tenant_id == principal.tenant_id,
                    Employee.id == employee_id,
                    readable_by(principal, Employee.id),
                )
            )
        )
    )
    return bool(found)
