"""Who sees which cases (the one place the rule lives; lists, loaders, `node(id:)` and
mutations all start from `readable_cases`):

- ADMIN and MANAGER (and API clients holding those roles): every case of the tenant.
- EMPLOYEE (a user linked to an employee record): cases assigned to them, and the cases
  of the queues they can work: they are an active agent whose skills cover the queue's
  (a case without a queue is open to every agent), so an agent sees what it may pick up.
- Partner users: their partner's cases (`partner_id`, set when a partner user opens one).

Anything else is invisible: absent from lists, `null` as a node, `NOT_FOUND` to
mutations.
"""

from __future__ import annotations

import uuid

from sqlalchemy import (
    Boolean,
    ColumnElement,
    ScalarSelect,
    Select,
    exists,
    false,
    or_,
    select,
    true,
)

from prm.auth.principal import Principal, Role, own_partner
from prm.crm.case_models import Case, CaseQueue
from prm.employees.models import Employee


def is_case_manager(principal: Principal) -> bool:
    return principal.has_any(Role.ADMIN, Role.MANAGER)


def my_employee_id(principal: Principal) -> ScalarSelect[uuid.UUID]:
    """The caller's employee id as a scalar subquery (NULL when it has none)."""
    return (
        select(Employee.id)
        .where(Employee.tenant_id == principal.tenant_id, Employee.user_id == principal.user_id)
        .scalar_subquery()
    )


def case_visible(principal: Principal) -> ColumnElement[bool]:
    if is_case_manager(principal):
        return true()
    partner = own_partner(principal)
    if partner is not None:
        return Case.partner_id == partner
    if not principal.has_any(Role.EMPLOYEE) or principal.user_id is None:
        return false()
    queue_covered = exists(
        select(CaseQueue.id)
        .where(
            CaseQueue.tenant_id == Case.tenant_id,
            CaseQueue.id == Case.queue_id,
            Employee.skills.op("@>", return_type=Boolean)(CaseQueue.skills),
        )
        .correlate(Case, Employee)
    )
    agent_of_queue = exists(
        select(Employee.id).where(
            Employee.tenant_id == principal.tenant_id,
            Employee.user_id == principal.user_id,
            Employee.active,
            Employee.case_capacity.is_not(None),
            or_(Case.queue_id.is_(None), queue_covered),
        )
    )
    return or_(Case.assignee_id == my_employee_id(principal), agent_of_queue)


def readable_cases(principal: Principal) -> Select[Case]:
    return select(Case).where(Case.tenant_id == principal.tenant_id, case_visible(principal))
