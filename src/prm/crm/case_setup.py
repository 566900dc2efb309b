"""Setting up customer service: case queues (with the skills their agents need and the
case kinds routed to them by default) and agents' profiles (skills and case capacity).
Skills are compared in lower case, trimmed; an empty skill is refused."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import String, any_, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from prm.auth.principal import Principal, Role
from prm.crm.case_assignment import dispatch, lock_cases
from prm.crm.case_models import CaseKind, CaseQueue
from prm.employees.models import Employee
from prm.errors import Forbidden, InvalidInput, NotFound

MAX_SKILLS = 50
MAX_CAPACITY = 1000


def require_case_admin(principal: Principal) -> None:
    if not principal.has_any(Role.ADMIN, Role.MANAGER):
        raise Forbidden("only an admin or a manager may set up customer service")


def normalise_skills(skills: Sequence[str], *, field: str = "skills") -> list[str]:
    cleaned = [skill.strip().lower() for skill in skills]
    if any(not skill or len(skill) > 100 for skill in cleaned):
        raise InvalidInput("a skill must have 1 to 100 characters", field=field)
    unique = list(dict.fromkeys(cleaned))
    if len(unique) > MAX_SKILLS:
        raise InvalidInput(f"at most {MAX_SKILLS} skills", field=field)
    return unique


def _kinds(kinds: Sequence[CaseKind]) -> list[str]:
    return [kind.value for kind in dict.fromkeys(kinds)]


def _name(name: str) -> str:
    cleaned = name.strip()
    if not cleaned or len(cleaned) > 200:
        raise InvalidInput("a queue name must have 1 to 200 characters", field="name")
    return cleaned


async def create_queue(
    session: AsyncSession,
    principal: Principal,
    *,
    name: str,
    description: str | None,
    skills: Sequence[str],
    kinds: Sequence[CaseKind],
) -> CaseQueue:
    require_case_admin(principal)
    queue = CaseQueue(
        tenant_id=principal.tenant_id,
        name=_name(name),
        description=description,
        skills=normalise_skills(skills),
        kinds=_kinds(kinds),
    )
    session.add(queue)
    await session.flush()
    return queue


async def get_queue(session: AsyncSession, tenant_id: uuid.UUID, queue_id: uuid.UUID) -> CaseQueue:
    queue = await session.scalar(
        select(CaseQueue).where(CaseQueue.tenant_id == tenant_id, CaseQueue.id == queue_id)
    )
    if queue is None:
        raise NotFound("no such case queue", field="queueId")
    return queue


async def update_queue(
    session: AsyncSession,
    principal: Principal,
    queue_id: uuid.UUID,
    *,
    name: str | None = None,
    description: str | None = None,
    skills: Sequence[str] | None = None,
    kinds: Sequence[CaseKind] | None = None,
) -> CaseQueue:
    """Change a queue; new skills apply to cases still waiting (they are re-dispatched)."""
    require_case_admin(principal)
    await lock_cases(session, principal.tenant_id)
    queue = await get_queue(session, principal.tenant_id, queue_id)
    if name is not None:
        queue.name = _name(name)
    if description is not None:
        queue.description = description
    if skills is not None:
        queue.skills = normalise_skills(skills)
    if kinds is not None:
        queue.kinds = _kinds(kinds)
    await session.flush()
    await dispatch(session, principal.tenant_id)
    return queue


async def default_queue_id(
    session: AsyncSession, tenant_id: uuid.UUID, kind: CaseKind
) -> uuid.UUID | None:
    """The queue a case of `kind` goes to when none is named: the first by name whose
    `kinds` include it; none if no queue claims the kind."""
    return await session.scalar(
        select(CaseQueue.id)
        .where(
            CaseQueue.tenant_id == tenant_id,
            literal(kind.value, String(24)) == any_(CaseQueue.kinds),
        )
        .order_by(CaseQueue.name, CaseQueue.id)
        .limit(1)
    )


async def set_agent_profile(
    session: AsyncSession,
    principal: Principal,
    employee_id: uuid.UUID,
    *,
    skills: Sequence[str],
    case_capacity: int | None,
) -> Employee:
    """Make an employee an agent (capacity set) or not (null), with its skills. A raised
    capacity or new skills may place waiting cases at once."""
    require_case_admin(principal)
    if case_capacity is not None and not 0 <= case_capacity <= MAX_CAPACITY:
        raise InvalidInput(f"must be between 0 and {MAX_CAPACITY}", field="caseCapacity")
    normalised = normalise_skills(skills)
    await lock_cases(session, principal.tenant_id)
    employee = await session.scalar(
        select(Employee).where(
            Employee.tenant_id == principal.tenant_id, Employee.id == employee_id
        )
    )
    if employee is None:
        raise NotFound("no such employee", field="employeeId")
    employee.skills = normalised
    employee.case_capacity = case_capacity
    await session.flush()
    await dispatch(session, principal.tenant_id)
    return employee
