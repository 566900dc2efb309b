"""Routing cases to agents.

An *agent* is an active employee with a `case_capacity`. An agent may take a case when
its skills include every skill of the case's queue (a case without a queue needs none)
and it holds fewer open cases (not RESOLVED or CLOSED) than its capacity.

**Which case first.** When several cases wait (status NEW, no assignee), the one whose
customer matters most goes first: highest `customer_value x (1 + loyalty_score / 100)`
(loyalty lifts value by up to 2x, so a high-value new customer still outranks a small
loyal one), then higher priority, then the earlier resolution due time, then the lower
number.

**Which agent.** Among the agents who may take it:
1. agents with the case kind's skill (the kind in lower case: `complaint`, `return`,
   `service_request`, `information_request`) first;
2. a *key customer's* case (loyalty score ≥ 50, or value ≥ the tenant's average
   customer value) goes to the agent with the most skills, the most versatile; any other
   case to the one with the fewest, keeping versatile agents free for key customers;
3. then the fewest open cases; then the agent's id (stable).

One statement picks the next (case, agent) pair; `dispatch` repeats it until no waiting
case can be placed. A case no agent can take waits in its queue and is placed when
capacity frees: resolving, closing or reassigning a case, or raising a capacity, calls
`dispatch` again.

**Races.** Every transaction that changes who holds which case takes the tenant's
case lock first (`lock_cases`, a transaction-level advisory lock), so loads are counted
after any concurrent assignment has committed: two cases opened at once can never push an
agent over capacity. The same lock serialises case numbering.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from prm.crm.case_history import announce_assigned, append_event
from prm.crm.case_models import Case, CaseStatus
from prm.crm.models import Opportunity, OpportunityStage
from prm.db.locks import LockSpace, lock_keys
from prm.employees.models import Employee
from prm.errors import ErrorCode, InvalidInput, NotFound
from prm.tenants.models import Tenant

KEY_LOYALTY = 50.0
CLOSED_STATUSES = (CaseStatus.RESOLVED, CaseStatus.CLOSED)

_NEXT = text(
    """
WITH load AS (
    SELECT assignee_id, count(*) AS n
    FROM cases
    WHERE tenant_id = :tenant_id AND assignee_id IS NOT NULL
      AND status NOT IN ('RESOLVED', 'CLOSED')
    GROUP BY assignee_id
),
agents AS (
    SELECT e.id, e.skills, coalesce(l.n, 0) AS open_cases
    FROM employees e
    LEFT JOIN load l ON l.assignee_id = e.id
    WHERE e.tenant_id = :tenant_id AND e.active AND e.case_capacity IS NOT NULL
      AND coalesce(l.n, 0) < e.case_capacity
)
SELECT c.id AS case_id, best.id AS employee_id
FROM cases c
LEFT JOIN case_queues q ON q.tenant_id = c.tenant_id AND q.id = c.queue_id
CROSS JOIN LATERAL (
    SELECT a.id
    FROM agents a
    WHERE a.skills @> coalesce(q.skills, CAST('{}' AS varchar[]))
    ORDER BY
        (lower(c.kind) = ANY (a.skills)) DESC,
        CASE WHEN coalesce(c.loyalty_score, 0) >= :key_loyalty
                  OR (coalesce(c.customer_value, 0) > 0 AND c.customer_value >= :key_value)
             THEN -cardinality(a.skills) ELSE cardinality(a.skills) END,
        a.open_cases,
        a.id
    LIMIT 1
) best
WHERE c.tenant_id = :tenant_id AND c.status = 'NEW' AND c.assignee_id IS NULL
ORDER BY
    coalesce(c.customer_value, 0) * (1 + coalesce(c.loyalty_score, 0) / 100) DESC,
    CASE c.priority WHEN 'URGENT' THEN 3 WHEN 'HIGH' THEN 2 WHEN 'NORMAL' THEN 1 ELSE 0 END DESC,
    c.resolution_due_at,
    c.number
LIMIT 1
"""
)


async def lock_cases(session: AsyncSession, tenant_id: uuid.UUID) -> None:
    """Hold the tenant's case lock until the transaction ends (see the module doc)."""
    await lock_keys(session, LockSpace.CASES, [f"cases:{tenant_id}"])


async def key_customer_value(session: AsyncSession, tenant_id: uuid.UUID) -> Decimal:
    """The tenant's average customer value (won revenue per account that has any, in the
    default currency): the bar a key customer's value reaches."""
    per_account = (
        select(func.sum(Opportunity.amount).label("value"))
        .join(
            Tenant,
            (Tenant.id == Opportunity.tenant_id)
            & (Tenant.default_currency == Opportunity.currency),
        )
        .where(
            Opportunity.tenant_id == tenant_id,
            Opportunity.stage == OpportunityStage.CLOSED_WON,
            Opportunity.amount.is_not(None),
        )
        .group_by(Opportunity.account_id)
        .subquery()
    )
    average = await session.scalar(select(func.avg(per_account.c.value)))
    return Decimal(average) if average is not None else Decimal("0")


async def dispatch(session: AsyncSession, tenant_id: uuid.UUID) -> list[Case]:
    """Place waiting cases while any can be placed; the cases assigned, in order. The
    caller holds `lock_cases`."""
    key_value = await key_customer_value(session, tenant_id)
    assigned: list[Case] = []
    while True:
        found = (
            await session.execute(
                _NEXT,
                {"tenant_id": tenant_id, "key_loyalty": KEY_LOYALTY, "key_value": key_value},
            )
        ).first()
        if found is None:
            return assigned
        case = await session.get_one(Case, (tenant_id, found.case_id))
        await assign(session, case, found.employee_id, actor_id=None, note="automatic")
        assigned.append(case)


async def assign(
    session: AsyncSession,
    case: Case,
    employee_id: uuid.UUID,
    *,
    actor_id: uuid.UUID | None,
    note: str | None = None,
) -> None:
    """Give `case` to `employee_id` (NEW becomes ASSIGNED), record it and announce it."""
    before = case.status
    case.assignee_id = employee_id
    if case.status == CaseStatus.NEW:
        case.status = CaseStatus.ASSIGNED
    await session.flush()
    await append_event(session, case, "assigned", from_status=before, actor_id=actor_id, note=note)
    await announce_assigned(session, case)


async def check_agent_can_take(
    session: AsyncSession, tenant_id: uuid.UUID, employee_id: uuid.UUID, case: Case
) -> None:
    """For a manual assignment: the employee must be an active agent below capacity (a
    manager may overrule skills, not capacity)."""
    agent = await session.scalar(
        select(Employee).where(Employee.tenant_id == tenant_id, Employee.id == employee_id)
    )
    if agent is None:
        raise NotFound("no such employee", field="employeeId")
    if not agent.active or agent.case_capacity is None:
        raise InvalidInput("the employee is not an active agent", field="employeeId")
    held = await session.scalar(
        select(func.count()).where(
            Case.tenant_id == tenant_id,
            Case.assignee_id == employee_id,
            Case.status.not_in(CLOSED_STATUSES),
            Case.id != case.id,
        )
    )
    if int(held or 0) >= agent.case_capacity:
        raise InvalidInput(
            "the agent already holds as many cases as its capacity",
            field="employeeId",
            code=ErrorCode.LIMIT_EXCEEDED,
        )
