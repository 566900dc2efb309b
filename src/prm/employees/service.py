"""Employees: who may read and change them, and the rules of the reporting line.

Tenant staff (ADMIN, MANAGER, EMPLOYEE, and API clients with those roles) read every
employee of the tenant; partner users see none. Only an ADMIN creates and changes them.
A manager is an employee of the same tenant and the reporting line never loops; a user
is linked to at most one employee. Functions never commit.
"""

from __future__ import annotations

import uuid
from typing import TypedDict

from sqlalchemy import Select, exists, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from prm.auth.principal import TENANT_ROLES, Principal, Role
from prm.employees.hierarchy import filter_reports, reports_below
from prm.employees.models import Employee
from prm.errors import Duplicate, Forbidden, InvalidInput, NotFound
from prm.tenants.models import User
from prm.tenants.service import normalise_email

MAX_TEXT = {"name": 200, "title": 200, "team": 100, "territory": 100}


class EmployeeChanges(TypedDict, total=False):
    """The fields an update sets; absent keys stay as they are, None clears (but `name`)."""

    name: str
    email: str | None
    title: str | None
    team: str | None
    territory: str | None
    manager_id: uuid.UUID | None
    user_id: uuid.UUID | None
    active: bool


def can_read_employees(principal: Principal) -> bool:
    return principal.has_any(*TENANT_ROLES)


def readable_employees(principal: Principal) -> Select[Employee]:
    """The employees `principal` may list: all of the tenant's, for tenant staff."""
    if not can_read_employees(principal):
        raise Forbidden("only tenant staff may list employees")
    return select(Employee).where(Employee.tenant_id == principal.tenant_id)


def filter_employees(
    statement: Select[Employee],
    *,
    team: str | None = None,
    manager_id: uuid.UUID | None = None,
    include_indirect: bool = False,
    tenant_id: uuid.UUID | None = None,
    active: bool | None = None,
    search: str | None = None,
) -> Select[Employee]:
    """Narrowed by team, manager (direct reports, or with `include_indirect` everyone
    below, transitively: needs `tenant_id`), active flag and a name/email search."""
    if team is not None:
        statement = statement.where(Employee.team == team.strip())
    if manager_id is not None:
        if include_indirect and tenant_id is not None:
            statement = filter_reports(statement, tenant_id, manager_id, include_indirect=True)
        else:
            statement = statement.where(Employee.manager_id == manager_id)
    if active is not None:
        statement = statement.where(Employee.active.is_(active))
    if search and search.strip():
        pattern = f"%{_escape_like(search.strip())}%"
        statement = statement.where(
            or_(
                Employee.name.ilike(pattern, escape="\\"),
                Employee.email.ilike(pattern, escape="\\"),
            )
        )
    return statement


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _require_admin(principal: Principal) -> None:
    if not principal.has_any(Role.ADMIN):
        raise Forbidden("only an admin may manage employees")


def _text(value: str | None, field: str, *, required: bool = False) -> str | None:
    if value is None:
        if required:
            raise InvalidInput("must not be null", field=field)
        return None
    value = value.strip()
    if not value:
        if required:
            raise InvalidInput("must not be blank", field=field)
        return None
    if len(value) > MAX_TEXT[field]:
        raise InvalidInput(f"must be at most {MAX_TEXT[field]} characters", field=field)
    return value


async def _check_email(
    session: AsyncSession, principal: Principal, email: str | None, *, own_id: uuid.UUID | None
) -> str | None:
    if email is None or not email.strip():
        return None
    address = normalise_email(email)
    statement = select(Employee.id).where(
        Employee.tenant_id == principal.tenant_id, func.lower(Employee.email) == address
    )
    if own_id is not None:
        statement = statement.where(Employee.id != own_id)
    if await session.scalar(statement) is not None:
        raise Duplicate("an employee with this email exists", field="email")
    return address


async def _check_user(
    session: AsyncSession, principal: Principal, user_id: uuid.UUID, *, own_id: uuid.UUID | None
) -> None:
    """The user exists in the tenant, is staff (not a partner user), and is not linked to
    another employee yet."""
    user = await session.scalar(
        select(User).where(User.tenant_id == principal.tenant_id, User.id == user_id)
    )
    if user is None:
        raise NotFound("no such user", field="userId")
    if user.partner_id is not None:
        raise InvalidInput("a partner user cannot be an employee", field="userId")
    statement = select(Employee.id).where(
        Employee.tenant_id == principal.tenant_id, Employee.user_id == user_id
    )
    if own_id is not None:
        statement = statement.where(Employee.id != own_id)
    if await session.scalar(statement) is not None:
        raise Duplicate("this user is linked to another employee", field="userId")


async def _check_manager(
    session: AsyncSession,
    principal: Principal,
    manager_id: uuid.UUID,
    *,
    own_id: uuid.UUID | None,
) -> None:
    """The manager exists in the tenant, and (for an existing employee) is not the
    employee itself nor anyone who reports to it, directly or transitively."""
    manager = await session.scalar(
        select(Employee.id).where(
            Employee.tenant_id == principal.tenant_id, Employee.id == manager_id
        )
    )
    if manager is None:
        raise NotFound("no such employee", field="managerId")
    if own_id is None:
        return
    if manager_id == own_id:
        raise InvalidInput("an employee cannot manage itself", field="managerId")
    # Concurrent re-parenting could close a loop that neither transaction sees: serialise
    # reporting-line changes per tenant for the rest of this transaction.
    await session.execute(
        select(
            func.pg_advisory_xact_lock(
                func.hashtextextended(literal(f"employees.hierarchy:{principal.tenant_id}"), 0)
            )
        )
    )
    if await _is_below(session, principal.tenant_id, manager_id, own_id):
        raise InvalidInput(
            "the manager reports to this employee: the reporting line would loop",
            field="managerId",
        )


async def _is_below(
    session: AsyncSession, tenant_id: uuid.UUID, employee_id: uuid.UUID, manager_id: uuid.UUID
) -> bool:
    """Whether `employee_id` is somewhere below `manager_id` in the reporting line: the walk
    of `hierarchy.reports_below` (one statement, however deep the line), so the cycle check
    and the access rules agree on what "below" means."""
    below = reports_below(tenant_id, manager_id).subquery()
    found = await session.scalar(select(exists().where(below.c.id == employee_id)))
    return bool(found)


async def create_employee(
    session: AsyncSession,
    principal: Principal,
    *,
    name: str,
    email: str | None = None,
    title: str | None = None,
    manager_id: uuid.UUID | None = None,
    user_id: uuid.UUID | None = None,
    team: str | None = None,
    territory: str | None = None,
) -> Employee:
    _require_admin(principal)
    clean_name = _text(name, "name", required=True)
    assert clean_name is not None
    address = await _check_email(session, principal, email, own_id=None)
    if manager_id is not None:
        await _check_manager(session, principal, manager_id, own_id=None)
    if user_id is not None:
        await _check_user(session, principal, user_id, own_id=None)
    employee = Employee(
        tenant_id=principal.tenant_id,
        name=clean_name,
        email=address,
        title=_text(title, "title"),
        team=_text(team, "team"),
        territory=_text(territory, "territory"),
        manager_id=manager_id,
        user_id=user_id,
        active=True,
    )
    session.add(employee)
    await session.flush()
    return employee


async def update_employee(
    session: AsyncSession,
    principal: Principal,
    employee_id: uuid.UUID,
    changes: EmployeeChanges,
) -> Employee:
    """Apply `changes` (absent keys stay) after validating all of them."""
    _require_admin(principal)
    employee = await session.scalar(
        select(Employee)
        .where(Employee.tenant_id == principal.tenant_id, Employee.id == employee_id)
        .with_for_update()
    )
    if employee is None:
        raise NotFound("no such employee", field="id")
    if "name" in changes:
        clean_name = _text(changes["name"], "name", required=True)
        assert clean_name is not None
        employee.name = clean_name
    if "email" in changes:
        employee.email = await _check_email(
            session, principal, changes["email"], own_id=employee.id
        )
    for field in ("title", "team", "territory"):
        if field in changes:
            setattr(employee, field, _text(changes[field], field))
    if "manager_id" in changes:
        manager_id = changes["manager_id"]
        if manager_id is not None and manager_id != employee.manager_id:
            await _check_manager(session, principal, manager_id, own_id=employee.id)
        employee.manager_id = manager_id
    if "user_id" in changes:
        user_id = changes["user_id"]
        if user_id is not None and user_id != employee.user_id:
            await _check_user(session, principal, user_id, own_id=employee.id)
        employee.user_id = user_id
    if "active" in changes:
        active = changes["active"]
        if active is None:
            raise InvalidInput("must not be null", field="active")
        employee.active = active
    await session.flush()
    return employee
