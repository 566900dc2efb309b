"""Compensation plans, who is on which plan in a period, and `commission`, the one formula
the metrics worker pays by.

Admins create and change plans; a plan is assigned to an employee for a period (one per
employee and period, assigning again replaces it) by an admin or by the employee's manager
(transitively, `hierarchy.managed_by`). Plans are in one currency: the cap's, else the
tenant's default. Functions never commit.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TypedDict

from sqlalchemy import Select, case, func, select
from sqlalchemy.dialects.postgresql import distinct_on, insert
from sqlalchemy.ext.asyncio import AsyncSession

from prm.auth.principal import Principal, Role
from prm.employees.erm_models import CompensationAssignment, CompensationPlan
from prm.employees.hierarchy import can_manage, readable_by
from prm.errors import Duplicate, Forbidden, InvalidInput, NotFound
from prm.metrics.periods import parse_period
from prm.money import Money, round_money
from prm.tenants.models import Tenant

HUNDRED = Decimal(100)
MAX_NAME = 200


def commission(
    revenue: Decimal,
    quota: Decimal | None,
    base_percent: Decimal,
    accelerator_percent: Decimal,
    cap: Decimal | None,
    currency: str,
) -> Decimal:
    """The commission earned on `revenue` won in a period.

    `base_percent` % of the revenue up to `quota`, and `base_percent + accelerator_percent`
    % of the revenue above it; with no quota, `base_percent` % of all of it. The result is
    at most `cap` (when given) and rounded half-up to `currency`'s minor unit once, at the
    end, so no cent is lost between the two bands. No revenue (or a negative net, e.g.
    after refunds) earns nothing.

    Example: revenue 150 000, quota 100 000, base 5 %, accelerator 3 % →
    5 % x 100 000 + 8 % x 50 000 = 5 000 + 4 000 = 9 000 (or the cap, if lower).
    """
    if revenue <= 0:
        return round_money(Decimal(0), currency)
    if quota is None:
        earned = revenue * base_percent / HUNDRED
    else:
        within = min(revenue, max(quota, Decimal(0)))
        above = revenue - within
        earned = (
            within * base_percent / HUNDRED + above * (base_percent + accelerator_percent) / HUNDRED
        )
    if cap is not None:
        earned = min(earned, cap)
    return round_money(earned, currency)


async def tenant_currency(session: AsyncSession, tenant_id: uuid.UUID) -> str:
    """The tenant's default currency: what quotas and scorecards' money are in."""
    currency = await session.scalar(select(Tenant.default_currency).where(Tenant.id == tenant_id))
    return currency or "USD"


class PlanChanges(TypedDict, total=False):
    """What `update_plan` sets; absent keys stay, `cap` None removes the cap."""

    name: str
    base_percent: Decimal
    accelerator_percent: Decimal
    cap: Money | None
    active: bool


def _require_admin(principal: Principal) -> None:
    if not principal.has_any(Role.ADMIN):
        raise Forbidden("only an admin may manage compensation plans")


def can_read_plans(principal: Principal) -> bool:
    return principal.has_any(Role.ADMIN, Role.MANAGER)


def readable_plans(principal: Principal) -> Select[CompensationPlan]:
    """Every plan of the tenant, for admins and managers (they assign them)."""
    if not can_read_plans(principal):
        raise Forbidden("only admins and managers may list compensation plans")
    return select(CompensationPlan).where(CompensationPlan.tenant_id == principal.tenant_id)


def _name(value: str) -> str:
    name = (value or "").strip()
    if not name:
        raise InvalidInput("must not be blank", field="name")
    if len(name) > MAX_NAME:
        raise InvalidInput(f"must be at most {MAX_NAME} characters", field="name")
    return name


def _percent(value: Decimal, field: str) -> Decimal:
    """0 to 100 with at most two decimals (the column's scale)."""
    try:
        percent = Decimal(value)
    except (InvalidOperation, ValueError, TypeError) as error:
        raise InvalidInput("is not a decimal number", field=field) from error
    if not percent.is_finite() or not Decimal(0) <= percent <= HUNDRED:
        raise InvalidInput("must be between 0 and 100", field=field)
    exponent = percent.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2:
        raise InvalidInput("has at most 2 decimal places", field=field)
    return percent


def _cap(cap: Money) -> Decimal:
    if cap.amount <= 0:
        raise InvalidInput("must be more than zero", field="capAmount.amount")
    return cap.amount


async def _check_name_free(
    session: AsyncSession, principal: Principal, name: str, *, own_id: uuid.UUID | None
) -> None:
    statement = select(CompensationPlan.id).where(
        CompensationPlan.tenant_id == principal.tenant_id, CompensationPlan.name == name
    )
    if own_id is not None:
        statement = statement.where(CompensationPlan.id != own_id)
    existing = await session.scalar(statement)
    if existing is not None:
        raise Duplicate(
            "a plan with this name exists",
            field="name",
            existing_key=f"CompensationPlan:{existing}",
        )


async def create_plan(
    session: AsyncSession,
    principal: Principal,
    *,
    name: str,
    base_percent: Decimal,
    accelerator_percent: Decimal = Decimal(0),
    cap: Money | None = None,
) -> CompensationPlan:
    """A new active plan (admins). `cap` is validated money (`Money.parse`)."""
    _require_admin(principal)
    clean_name = _name(name)
    base = _percent(base_percent, "basePercent")
    accelerator = _percent(accelerator_percent, "acceleratorPercent")
    cap_amount = _cap(cap) if cap is not None else None
    currency = (
        cap.currency if cap is not None else await tenant_currency(session, principal.tenant_id)
    )
    await _check_name_free(session, principal, clean_name, own_id=None)
    plan = CompensationPlan(
        tenant_id=principal.tenant_id,
        name=clean_name,
        base_percent=base,
        accelerator_percent=accelerator,
        cap_amount=cap_amount,
        currency=currency,
        active=True,
    )
    session.add(plan)
    await session.flush()
    return plan


async def update_plan(
    session: AsyncSession, principal: Principal, plan_id: uuid.UUID, changes: PlanChanges
) -> CompensationPlan:
    """Apply `changes` (admins) after validating all of them. A new cap must be in the
    plan's currency: amounts already earned under it stay comparable."""
    _require_admin(principal)
    plan = await session.scalar(
        select(CompensationPlan)
        .where(CompensationPlan.tenant_id == principal.tenant_id, CompensationPlan.id == plan_id)
        .with_for_update()
    )
    if plan is None:
        raise NotFound("no such compensation plan", field="id")
    if "name" in changes:
        clean_name = _name(changes["name"])
        await _check_name_free(session, principal, clean_name, own_id=plan.id)
        plan.name = clean_name
    if "base_percent" in changes:
        plan.base_percent = _percent(changes["base_percent"], "basePercent")
    if "accelerator_percent" in changes:
        plan.accelerator_percent = _percent(changes["accelerator_percent"], "acceleratorPercent")
    if "cap" in changes:
        cap = changes["cap"]
        if cap is not None and cap.currency != plan.currency:
            raise InvalidInput(
                f"the plan is in {plan.currency}: the cap must be too",
                field="capAmount.currency",
            )
        plan.cap_amount = _cap(cap) if cap is not None else None
    if "active" in changes:
        plan.active = bool(changes["active"])
    await session.flush()
    return plan


async def assign_plan(
    session: AsyncSession,
    principal: Principal,
    *,
    employee_id: uuid.UUID,
    plan_id: uuid.UUID,
    period: str,
) -> CompensationAssignment:
    """Put the employee on an active plan for `period`, replacing the plan it had there
    (admins, and the employee's managers up the line)."""
    if not await can_manage(session, principal, employee_id):
        raise NotFound("no such employee", field="employeeId")
    key = parse_period(period).key
    plan = await session.scalar(
        select(CompensationPlan).where(
            CompensationPlan.tenant_id == principal.tenant_id, CompensationPlan.id == plan_id
        )
    )
    if plan is None:
        raise NotFound("no such compensation plan", field="planId")
    if not plan.active:
        raise InvalidInput("the plan is inactive", field="planId")
    statement = (
        insert(CompensationAssignment)
        .values(tenant_id=principal.tenant_id, employee_id=employee_id, plan_id=plan_id, period=key)
        .on_conflict_do_update(
            index_elements=["tenant_id", "employee_id", "period"],
            set_={"plan_id": plan_id, "updated_at": func.now()},
        )
        .returning(CompensationAssignment)
    )
    assignment = await session.scalar(statement, execution_options={"populate_existing": True})
    assert assignment is not None
    return assignment


@dataclass(frozen=True)
class PlanInPeriod:
    plan: CompensationPlan
    period: str
    """The period the plan was assigned for: the one asked about, or one containing it."""


def containing_keys(period: str) -> list[str]:
    """`period` and the quarter and year containing it, narrowest first."""
    asked = parse_period(period)
    keys = [asked.key]
    if asked.kind == "MONTH":
        keys.append(f"{asked.start.year}-Q{(asked.start.month - 1) // 3 + 1}")
    if asked.kind != "YEAR":
        keys.append(str(asked.start.year))
    return keys


async def plans_for(
    session: AsyncSession, principal: Principal, employee_ids: Sequence[uuid.UUID], period: str
) -> dict[uuid.UUID, PlanInPeriod | None]:
    """The plan each employee is on in `period`, where `principal` may read it: assigned
    for that period exactly, else for the quarter or year containing it (the narrowest
    wins). One statement for any number of employees."""
    keys = containing_keys(period)
    narrowest = case(
        {key: rank for rank, key in enumerate(keys)}, value=CompensationAssignment.period
    )
    statement = (
        select(CompensationAssignment.employee_id, CompensationPlan, CompensationAssignment.period)
        .join(
            CompensationAssignment,
            (CompensationAssignment.tenant_id == CompensationPlan.tenant_id)
            & (CompensationAssignment.plan_id == CompensationPlan.id),
        )
        .where(
            CompensationAssignment.tenant_id == principal.tenant_id,
            CompensationAssignment.employee_id.in_(employee_ids),
            CompensationAssignment.period.in_(keys),
            readable_by(principal, CompensationAssignment.employee_id),
        )
        .ext(distinct_on(CompensationAssignment.employee_id))
        .order_by(CompensationAssignment.employee_id, narrowest)
    )
    found: dict[uuid.UUID, PlanInPeriod | None] = dict.fromkeys(employee_ids)
    for employee_id, plan, assigned_for in await session.execute(statement):
        found[employee_id] = PlanInPeriod(plan=plan, period=assigned_for)
    return found
