"""Customer service cases: opening, assignment and the status transitions.

Lifecycle (any other move is `INVALID_TRANSITION`; every change appends a `CaseEvent`):

- open → NEW, then routed at once (`case_assignment.dispatch`): ASSIGNED if an agent can
  take it, else it waits in its queue as NEW.
- assign (manual, admin/manager): any open status; NEW becomes ASSIGNED, others keep
  theirs. The agent must be active and below capacity (skills are the manager's call).
- respond (staff): ASSIGNED, IN_PROGRESS, WAITING_ON_CUSTOMER or ESCALATED; sets
  `first_responded_at` the first time; ASSIGNED and IN_PROGRESS become
  WAITING_ON_CUSTOMER (the ball is in the customer's court), the others keep theirs.
- escalate (staff or the partner's users): any open status → ESCALATED (a case still
  waiting for an agent stays NEW, so routing still sees it), `escalation_level + 1`,
  priority one step up (URGENT stays), and the timers tighten: each open timer becomes
  the earlier of its current due time and now + the new priority's timer. An escalation
  never extends a deadline.
- resolve (staff): ASSIGNED, IN_PROGRESS, WAITING_ON_CUSTOMER, ESCALATED → RESOLVED.
- close (staff): any status but CLOSED → CLOSED.
- reopen (staff or the partner's users): RESOLVED or CLOSED within `REOPEN_DAYS` of
  resolving (or closing, if never resolved) → back to its agent as ASSIGNED if the agent
  is still active with room, else NEW and routed again; the resolution timer restarts
  from now; the customer's value and loyalty are refreshed. Later: `EXPIRED`.

Resolving, closing and reassigning free capacity, so they route waiting cases.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from prm.auth.principal import Principal, is_staff, own_partner
from prm.crm import case_sla
from prm.crm.case_assignment import (
    CLOSED_STATUSES,
    assign,
    check_agent_can_take,
    dispatch,
    lock_cases,
)
from prm.crm.case_customer import customer_standing
from prm.crm.case_history import announce_opened, append_event
from prm.crm.case_models import Case, CaseKind, CasePriority, CaseStatus
from prm.crm.case_setup import default_queue_id, get_queue
from prm.crm.case_visibility import is_case_manager, readable_cases
from prm.crm.models import Account, Channel, Contact
from prm.crm.visibility import readable_accounts, readable_contacts
from prm.employees.models import Employee
from prm.errors import ErrorCode, Forbidden, InvalidInput, NotFound

REOPEN_DAYS = 30
MAX_SUBJECT = 300
MAX_TEXT = 20_000

OPEN_WORKED = (
    CaseStatus.ASSIGNED,
    CaseStatus.IN_PROGRESS,
    CaseStatus.WAITING_ON_CUSTOMER,
    CaseStatus.ESCALATED,
)


class InvalidTransition(InvalidInput):
    code = ErrorCode.INVALID_TRANSITION


def _now() -> datetime:
    return datetime.now(UTC)


def _text(value: str | None, field: str, *, required: bool, limit: int = MAX_TEXT) -> str | None:
    cleaned = value.strip() if value is not None else None
    if required and not cleaned:
        raise InvalidInput("must not be empty", field=field)
    if cleaned is not None and len(cleaned) > limit:
        raise InvalidInput(f"at most {limit} characters", field=field)
    return cleaned or None


def _require_opener(principal: Principal) -> None:
    if not is_staff(principal) and own_partner(principal) is None:
        raise Forbidden("only tenant staff and partner users may open cases")


def _require_staff(principal: Principal) -> None:
    if not is_staff(principal):
        raise Forbidden("only tenant staff may work cases")


async def open_case(
    session: AsyncSession,
    principal: Principal,
    *,
    account_id: uuid.UUID,
    contact_id: uuid.UUID | None,
    kind: CaseKind,
    channel: Channel,
    priority: CasePriority,
    subject: str,
    description: str | None,
    queue_id: uuid.UUID | None,
) -> Case:
    """Open a case for an account the caller may see, time it, value its customer,
    number it and route it (see the module doc)."""
    _require_opener(principal)
    tenant_id = principal.tenant_id
    clean_subject = _text(subject, "subject", required=True, limit=MAX_SUBJECT)
    clean_description = _text(description, "description", required=False)
    account = (
        await session.scalars(readable_accounts(principal).where(Account.id == account_id))
    ).first()
    if account is None:
        raise NotFound("no such account", field="accountId")
    if contact_id is not None:
        contact = (
            await session.scalars(readable_contacts(principal).where(Contact.id == contact_id))
        ).first()
        if contact is None or contact.account_id != account_id:
            raise NotFound("no such contact at this account", field="contactId")
    if queue_id is not None:
        await get_queue(session, tenant_id, queue_id)
    else:
        queue_id = await default_queue_id(session, tenant_id, kind)
    now = _now()
    sla = await case_sla.sla_for(session, tenant_id, priority)
    standing = await customer_standing(session, tenant_id, account_id, now)
    await lock_cases(session, tenant_id)
    last = await session.scalar(select(func.max(Case.number)).where(Case.tenant_id == tenant_id))
    case = Case(
        tenant_id=tenant_id,
        number=int(last or 0) + 1,
        account_id=account_id,
        contact_id=contact_id,
        partner_id=own_partner(principal),
        kind=kind,
        channel=channel,
        priority=priority,
        status=CaseStatus.NEW,
        subject=clean_subject,
        description=clean_description,
        queue_id=queue_id,
        opened_by=principal.subject_id,
        customer_value=standing.value,
        loyalty_score=standing.loyalty,
        first_response_due_at=sla.first_response_due(now),
        resolution_due_at=sla.resolution_due(now),
        created_at=now,
        escalation_level=0,
        reopen_count=0,
    )
    session.add(case)
    await session.flush()
    await append_event(session, case, "opened", from_status=None, actor_id=principal.subject_id)
    await announce_opened(session, case)
    await dispatch(session, tenant_id)
    return case


async def _load(
    session: AsyncSession, principal: Principal, case_id: uuid.UUID, *, lock: bool = True
) -> Case:
    statement = readable_cases(principal).where(Case.id == case_id)
    if lock:
        statement = statement.with_for_update()
    case = (await session.scalars(statement)).first()
    if case is None:
        raise NotFound("no such case", field="id")
    return case


def _refuse(case: Case, action: str) -> InvalidTransition:
    return InvalidTransition(f"a {case.status.value} case cannot be {action}")


async def assign_case(
    session: AsyncSession, principal: Principal, case_id: uuid.UUID, *, employee_id: uuid.UUID
) -> Case:
    if not is_case_manager(principal):
        raise Forbidden("only an admin or a manager may assign cases")
    await lock_cases(session, principal.tenant_id)
    case = await _load(session, principal, case_id)
    if case.status in CLOSED_STATUSES:
        raise _refuse(case, "assigned")
    if case.assignee_id == employee_id:
        return case
    await check_agent_can_take(session, principal.tenant_id, employee_id, case)
    previous = case.assignee_id
    await assign(session, case, employee_id, actor_id=principal.subject_id, note="manual")
    if previous is not None:
        await dispatch(session, principal.tenant_id)
    return case


async def respond_to_case(
    session: AsyncSession, principal: Principal, case_id: uuid.UUID, *, message: str
) -> Case:
    _require_staff(principal)
    body = _text(message, "message", required=True)
    case = await _load(session, principal, case_id)
    if case.status not in OPEN_WORKED:
        raise _refuse(case, "responded to")
    before = case.status
    if case.first_responded_at is None:
        case.first_responded_at = _now()
    if case.status in (CaseStatus.ASSIGNED, CaseStatus.IN_PROGRESS):
        case.status = CaseStatus.WAITING_ON_CUSTOMER
    await session.flush()
    await append_event(
        session, case, "responded", from_status=before, actor_id=principal.subject_id, note=body
    )
    return case


async def escalate_case(
    session: AsyncSession, principal: Principal, case_id: uuid.UUID, *, reason: str
) -> Case:
    _require_opener(principal)
    note = _text(reason, "reason", required=True)
    case = await _load(session, principal, case_id)
    if case.status in CLOSED_STATUSES:
        raise _refuse(case, "escalated")
    before = case.status
    now = _now()
    case.escalation_level += 1
    case.priority = case_sla.raised(case.priority)
    sla = await case_sla.sla_for(session, case.tenant_id, case.priority)
    if case.resolution_due_at is not None:
        case.resolution_due_at = min(case.resolution_due_at, sla.resolution_due(now))
    if case.first_responded_at is None and case.first_response_due_at is not None:
        case.first_response_due_at = min(case.first_response_due_at, sla.first_response_due(now))
    if case.status != CaseStatus.NEW:
        case.status = CaseStatus.ESCALATED
    await session.flush()
    await append_event(
        session, case, "escalated", from_status=before, actor_id=principal.subject_id, note=note
    )
    return case


async def resolve_case(
    session: AsyncSession, principal: Principal, case_id: uuid.UUID, *, resolution: str
) -> Case:
    _require_staff(principal)
    note = _text(resolution, "resolution", required=True)
    await lock_cases(session, principal.tenant_id)
    case = await _load(session, principal, case_id)
    if case.status not in OPEN_WORKED:
        raise _refuse(case, "resolved")
    before = case.status
    case.status = CaseStatus.RESOLVED
    case.resolved_at = _now()
    await session.flush()
    await append_event(
        session, case, "resolved", from_status=before, actor_id=principal.subject_id, note=note
    )
    await dispatch(session, principal.tenant_id)
    return case


async def close_case(session: AsyncSession, principal: Principal, case_id: uuid.UUID) -> Case:
    _require_staff(principal)
    await lock_cases(session, principal.tenant_id)
    case = await _load(session, principal, case_id)
    if case.status == CaseStatus.CLOSED:
        raise _refuse(case, "closed")
    before = case.status
    case.status = CaseStatus.CLOSED
    case.closed_at = _now()
    await session.flush()
    await append_event(session, case, "closed", from_status=before, actor_id=principal.subject_id)
    await dispatch(session, principal.tenant_id)
    return case


async def reopen_case(
    session: AsyncSession, principal: Principal, case_id: uuid.UUID, *, reason: str
) -> Case:
    _require_opener(principal)
    note = _text(reason, "reason", required=True)
    await lock_cases(session, principal.tenant_id)
    case = await _load(session, principal, case_id)
    if case.status not in CLOSED_STATUSES:
        raise _refuse(case, "reopened")
    now = _now()
    ended = case.resolved_at or case.closed_at or now
    if now - ended > timedelta(days=REOPEN_DAYS):
        raise InvalidInput(
            f"cases can be reopened within {REOPEN_DAYS} days", field="id", code=ErrorCode.EXPIRED
        )
    before = case.status
    standing = await customer_standing(session, case.tenant_id, case.account_id, now)
    sla = await case_sla.sla_for(session, case.tenant_id, case.priority)
    case.customer_value = standing.value
    case.loyalty_score = standing.loyalty
    case.resolution_due_at = sla.resolution_due(now)
    case.resolved_at = None
    case.closed_at = None
    case.reopen_count += 1
    keeps_agent = case.assignee_id is not None and await _has_room(session, case)
    if keeps_agent:
        case.status = CaseStatus.ASSIGNED
    else:
        case.assignee_id = None
        case.status = CaseStatus.NEW
    await session.flush()
    await append_event(
        session, case, "reopened", from_status=before, actor_id=principal.subject_id, note=note
    )
    await dispatch(session, case.tenant_id)
    return case


async def _has_room(session: AsyncSession, case: Case) -> bool:
    """Whether the case's agent is still an active agent with a free slot."""
    agent = await session.get(Employee, (case.tenant_id, case.assignee_id))
    if agent is None or not agent.active or agent.case_capacity is None:
        return False
    held = await session.scalar(
        select(func.count()).where(
            Case.tenant_id == case.tenant_id,
            Case.assignee_id == agent.id,
            Case.status.not_in(CLOSED_STATUSES),
            Case.id != case.id,
        )
    )
    return int(held or 0) < agent.case_capacity
