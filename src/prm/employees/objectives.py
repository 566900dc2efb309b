"""Objectives: what an employee should reach in a period, per metric.

One objective per (employee, period, metric): setting it again replaces the target. A
manager sets them for everyone below it, an admin for anyone (`hierarchy.managed_by`);
they are read by the same people and by the employee itself (`hierarchy.readable_by`).
REVENUE_WON's target is money in the tenant's default currency (scorecards compare it with
revenue in that currency only, no FX); the other metrics count things, so whole numbers.
Functions never commit.
"""

from __future__ import annotations

import uuid
from decimal import Decimal, InvalidOperation

from sqlalchemy import Select, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from prm.auth.principal import Principal
from prm.employees.compensation import tenant_currency
from prm.employees.erm_models import Objective, ObjectiveMetric
from prm.employees.hierarchy import can_manage, readable_by
from prm.errors import InvalidInput, NotFound
from prm.metrics.periods import parse_period
from prm.money import MAX_AMOUNT, minor_units

COUNT_METRICS = frozenset(
    {ObjectiveMetric.DEALS_WON, ObjectiveMetric.ACTIVITIES, ObjectiveMetric.LEADS_CONVERTED}
)


def readable_objectives(principal: Principal) -> Select[Objective]:
    """The objectives `principal` may read: its reports' (transitively) and its own."""
    return select(Objective).where(
        Objective.tenant_id == principal.tenant_id, readable_by(principal, Objective.employee_id)
    )


def check_target(target: Decimal, metric: ObjectiveMetric, currency: str) -> Decimal:
    """A valid target: finite, not negative, within range; money with at most the
    currency's decimals, counts whole."""
    try:
        value = Decimal(target)
    except (InvalidOperation, ValueError, TypeError) as error:
        raise InvalidInput("is not a decimal number", field="target") from error
    if not value.is_finite():
        raise InvalidInput("must be a finite number", field="target")
    if value < 0:
        raise InvalidInput("must not be negative", field="target")
    if value > MAX_AMOUNT:
        raise InvalidInput("is too large", field="target")
    exponent = value.as_tuple().exponent
    decimals = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    if metric in COUNT_METRICS:
        if value != value.to_integral_value():
            raise InvalidInput(
                f"{metric.value} counts things: the target is a whole number", field="target"
            )
        return value.quantize(Decimal(1))
    if decimals > minor_units(currency):
        raise InvalidInput(
            f"{currency} amounts have at most {minor_units(currency)} decimal places",
            field="target",
        )
    return value


async def set_objective(
    session: AsyncSession,
    principal: Principal,
    *,
    employee_id: uuid.UUID,
    period: str,
    metric: ObjectiveMetric,
    target: Decimal,
) -> Objective:
    """Create or replace the employee's objective for `period` and `metric` (one
    INSERT … ON CONFLICT DO UPDATE, so concurrent setters cannot duplicate it)."""
    if not await can_manage(session, principal, employee_id):
        raise NotFound("no such employee", field="employeeId")
    key = parse_period(period).key
    value = check_target(target, metric, await tenant_currency(session, principal.tenant_id))
    statement = (
        insert(Objective)
        .values(
            tenant_id=principal.tenant_id,
            employee_id=employee_id,
            period=key,
            metric=metric,
            target=value,
            set_by=principal.subject_id,
        )
        .on_conflict_do_update(
            index_elements=["tenant_id", "employee_id", "period", "metric"],
            set_={"target": value, "set_by": principal.subject_id, "updated_at": func.now()},
        )
        .returning(Objective)
    )
    objective = await session.scalar(statement, execution_options={"populate_existing": True})
    assert objective is not None
    return objective
