"""Batched look-ups behind `Employee`'s fields: one SQL statement per field per request,
however many employees the page holds (`employees(first: 100) { … reports objectives
compensationPlan scorecard }` is a handful of statements, not 400).

- `reports_page`: each employee's `reports` connection, direct or transitive, for every
  parent at once: one window query, ROW_NUMBER() OVER (PARTITION BY the parent), which also
  counts each parent's reports, so `totalCount` costs no second statement.
- `load_objectives`, `load_compensation_plan`, `load_scorecard`: the domain's readable
  statements (`objectives.readable_objectives`, `hierarchy.readable_by`,
  `employee_scorecards.readable_employee_scorecards`) narrowed to the page's employees, so
  every visibility rule of the one-employee reads applies unchanged.

Each loader is keyed by (employee, arguments) and sends one statement per distinct
arguments: sibling fields ask alike, so in practice one per field.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from sqlalchemy import ColumnElement, and_, func, not_, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, aliased
from strawberry.dataloader import DataLoader

from prm.auth.principal import Principal
from prm.employees.compensation import plans_for
from prm.employees.erm_models import CompensationPlan, Objective
from prm.employees.hierarchy import reports_below_each
from prm.employees.models import Employee
from prm.employees.objectives import readable_objectives
from prm.employees.service import readable_employees
from prm.errors import DomainError
from prm.graphql.context import Context
from prm.graphql.pagination import BY_ID, Connection, connection_of, decode_cursor, page_size
from prm.metrics.employee_scorecards import readable_employee_scorecards
from prm.metrics.models import EmployeeScorecardRow
from prm.metrics.periods import parse_period

A = TypeVar("A", bound=Hashable)
V = TypeVar("V")
T = TypeVar("T")

Fetch = Callable[[AsyncSession, Principal, A, list[uuid.UUID]], Awaitable[dict[uuid.UUID, V]]]
"""Values for each of the employees (every one of them a key of the answer), for one set
of arguments."""


async def _load(
    context: Context, name: str, fetch: Fetch[A, V], employee_id: uuid.UUID, arguments: A
) -> V:
    """`fetch`'s value for `employee_id`, batched with every sibling's in the request."""

    def factory() -> DataLoader[tuple[uuid.UUID, A], V]:
        async def load(keys: Sequence[tuple[uuid.UUID, A]]) -> list[V]:
            principal = context.principal
            assert principal is not None  # resolvers require one before loading
            groups: dict[A, list[uuid.UUID]] = {}
            for pk, args in keys:
                groups.setdefault(args, []).append(pk)
            found: dict[tuple[uuid.UUID, A], V] = {}
            for args, ids in groups.items():
                values = await fetch(context.session, principal, args, list(dict.fromkeys(ids)))
                found.update({(pk, args): value for pk, value in values.items()})
            return [found[key] for key in keys]

        return DataLoader(load_fn=load)

    loader = context.loaders.custom(f"employees.{name}", factory)
    return cast("V", await loader.load((employee_id, arguments)))


# --- reports ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _ReportsSpec:
    transitive: bool
    limit: int
    after: uuid.UUID | None


@dataclass
class _Page:
    rows: list[Employee]
    total: int


async def reports_page(
    context: Context,
    principal: Principal,
    employee_id: uuid.UUID,
    *,
    transitive: bool,
    first: int | None,
    after: str | None,
    to_node: Callable[[Employee], T],
) -> Connection[T]:
    """Whom `employee_id` manages (directly, or everyone below with `transitive`), one
    page in id order like `paginate`'s, batched with every sibling employee's page."""
    readable_employees(principal)  # FORBIDDEN for anyone but tenant staff, before batching
    limit = page_size(context, first)
    cursor = decode_cursor(after, BY_ID)
    spec = _ReportsSpec(transitive, limit, cursor[0] if cursor else None)
    page = await _load(context, "reports", _fetch_reports, employee_id, spec)

    async def count() -> int:
        return page.total

    return connection_of(
        page.rows, limit=limit, after=after, order=BY_ID, to_node=to_node, count=count
    )


async def _fetch_reports(
    session: AsyncSession, principal: Principal, spec: _ReportsSpec, parent_ids: list[uuid.UUID]
) -> dict[uuid.UUID, _Page]:
    """Every parent's page in one statement. Each row carries its parent's total; with a
    cursor, rows up to it are numbered apart and only the first is kept, as a marker that
    reports the total of a parent with nothing left after the cursor."""
    statement = readable_employees(principal)
    parent: ColumnElement[Any] | InstrumentedAttribute[Any]
    if spec.transitive:
        pairs = reports_below_each(principal.tenant_id, parent_ids).subquery("pairs")
        parent = pairs.c.above_id
        statement = statement.join(pairs, pairs.c.id == Employee.id)
    else:
        parent = Employee.manager_id
        statement = statement.where(Employee.manager_id.in_(parent_ids))
    if spec.after is None:
        beyond: ColumnElement[bool] = true()
        partition: list[Any] = [parent]
    else:
        beyond = Employee.id > spec.after
        partition = [parent, beyond]
    windowed = statement.add_columns(
        parent.label("parent_id"),
        beyond.label("beyond"),
        func.count().over(partition_by=parent).label("total"),
        func.row_number().over(partition_by=partition, order_by=Employee.id).label("position"),
    ).subquery("reports")
    row = aliased(Employee, windowed)
    kept = or_(
        and_(windowed.c.beyond, windowed.c.position <= spec.limit + 1),
        and_(not_(windowed.c.beyond), windowed.c.position == 1),
    )
    query = (
        select(windowed.c.parent_id, windowed.c.total, windowed.c.beyond, row)
        .where(kept)
        .order_by(windowed.c.parent_id, windowed.c.id)
    )
    pages = {pk: _Page([], 0) for pk in parent_ids}
    for parent_id, total, is_beyond, employee in await session.execute(query):
        page = pages[parent_id]
        page.total = int(total)
        if is_beyond:
            page.rows.append(employee)
    return pages


# --- objectives, compensation plan, scorecard ---------------------------------------------


async def load_objectives(
    context: Context, principal: Principal, employee_id: uuid.UUID, period_key: str | None
) -> list[Objective]:
    """The employee's objectives (of one period, or all) that `principal` may read, in
    (period, metric) order."""
    return await _load(context, "objectives", _fetch_objectives, employee_id, period_key)


async def _fetch_objectives(
    session: AsyncSession,
    principal: Principal,
    period_key: str | None,
    employee_ids: list[uuid.UUID],
) -> dict[uuid.UUID, list[Objective]]:
    statement = readable_objectives(principal).where(Objective.employee_id.in_(employee_ids))
    if period_key is not None:
        statement = statement.where(Objective.period == period_key)
    statement = statement.order_by(Objective.employee_id, Objective.period, Objective.metric)
    found: dict[uuid.UUID, list[Objective]] = {pk: [] for pk in employee_ids}
    for objective in await session.scalars(statement):
        found[objective.employee_id].append(objective)
    return found


async def load_compensation_plan(
    context: Context, principal: Principal, employee_id: uuid.UUID, period_key: str
) -> CompensationPlan | None:
    """What `compensation.plans_for` answers, through the request's loader: the plan the employee is on in the
    period (assigned for it, else for the quarter or year containing it; the narrowest
    wins), if `principal` may read it."""
    return await _load(context, "compensation_plan", _fetch_plans, employee_id, period_key)


async def _fetch_plans(
    session: AsyncSession, principal: Principal, period_key: str, employee_ids: list[uuid.UUID]
) -> dict[uuid.UUID, CompensationPlan | None]:
    plans = await plans_for(session, principal, employee_ids, period_key)
    return {pk: found.plan if found else None for pk, found in plans.items()}


async def load_scorecard(
    context: Context, principal: Principal, employee_id: uuid.UUID, period_key: str
) -> EmployeeScorecardRow | None:
    """The employee's scorecard snapshot for the period, if computed and `principal` may
    read it."""
    return await _load(context, "scorecard", _fetch_scorecards, employee_id, period_key)


async def _fetch_scorecards(
    session: AsyncSession, principal: Principal, period_key: str, employee_ids: list[uuid.UUID]
) -> dict[uuid.UUID, EmployeeScorecardRow | None]:
    found: dict[uuid.UUID, EmployeeScorecardRow | None] = dict.fromkeys(employee_ids)
    try:
        statement = readable_employee_scorecards(principal, parse_period(period_key))
    except DomainError:  # not the caller's to read at all: null, as one employee's read
        return found
    statement = statement.where(EmployeeScorecardRow.employee_id.in_(employee_ids))
    for row in await session.scalars(statement):
        found[row.employee_id] = row
    return found
