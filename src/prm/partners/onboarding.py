"""Partner onboarding: per-program checklists that partners work through and admins
approve; a partner in ONBOARDING becomes ACTIVE (eligible for leads) once every task of
its checklist is complete.

A partner's checklist is the tasks of every program it is enrolled in. A task is
complete when the partner's row for it is APPROVED, or, for a task with a
`certification` (TRAINING only), while one of the partner's users holds that
certification unexpired: the certification *is* the proof, so no submission exists for
it. A partner with no tasks at all is never activated here (admins do it by hand).

Submissions and reviews lock the partner row first, so two of them for one partner run
one after the other and the second sees the first's work: the last approval always
activates, even when two admins approve the last two tasks at once.

Functions never commit; the caller's transaction announces (notifications) what it
changes.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypedDict

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    exists,
    false,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from prm.auth.principal import Principal, Role, is_staff
from prm.employees.training import partner_has_current_certification
from prm.errors import ErrorCode, Forbidden, InvalidInput, NotFound
from prm.partners.models import Partner, PartnerStatus
from prm.partners.notifications import notify, notify_sync
from prm.partners.program_models import (
    ChannelProgram,
    OnboardingStatus,
    OnboardingTask,
    OnboardingTaskKind,
    PartnerOnboardingTask,
    ProgramEnrolment,
)

MAX_NAME, MAX_CERTIFICATION, MAX_DESCRIPTION = 200, 100, 10_000
MAX_RESPONSE, MAX_COMMENT = 20_000, 2000
MAX_POSITION = 10_000
MAX_TASKS_PER_PROGRAM = 100
"""Keeps a checklist (returned whole, not paged) bounded."""
ACTIVATION_REASON = "onboarding complete"
NEEDS_RESPONSE = frozenset({OnboardingTaskKind.AGREEMENT, OnboardingTaskKind.BUSINESS_PLAN})


# --- checklist definitions (admins) ------------------------------------------------------


class TaskChanges(TypedDict, total=False):
    name: str
    kind: OnboardingTaskKind
    description: str | None
    position: int
    requires_approval: bool
    certification: str | None


def _require_admin(principal: Principal) -> None:
    if not principal.has_any(Role.ADMIN):
        raise Forbidden("only an admin may manage onboarding checklists")


def _name(value: str | None) -> str:
    text = (value or "").strip()
    if not text:
        raise InvalidInput("must not be blank", field="name")
    if len(text) > MAX_NAME:
        raise InvalidInput(f"at most {MAX_NAME} characters", field="name")
    return text


def _optional_text(value: str | None, *, limit: int, field: str) -> str | None:
    text = (value or "").strip()
    if len(text) > limit:
        raise InvalidInput(f"at most {limit} characters", field=field)
    return text or None


def _position(value: int) -> int:
    if not 0 <= value <= MAX_POSITION:
        raise InvalidInput(f"must be between 0 and {MAX_POSITION}", field="position")
    return value


def _check_certification(kind: OnboardingTaskKind, certification: str | None) -> None:
    if certification is not None and kind is not OnboardingTaskKind.TRAINING:
        raise InvalidInput("only a TRAINING task may name a certification", field="certification")


async def _program(session: AsyncSession, principal: Principal, program_id: uuid.UUID) -> None:
    found = await session.scalar(
        select(ChannelProgram.id)
        .where(ChannelProgram.tenant_id == principal.tenant_id, ChannelProgram.id == program_id)
        .with_for_update()
    )
    if found is None:
        raise NotFound("no such program", field="programId")


async def create_task(
    session: AsyncSession,
    principal: Principal,
    *,
    program_id: uuid.UUID,
    name: str,
    kind: OnboardingTaskKind,
    description: str | None = None,
    position: int = 0,
    requires_approval: bool = True,
    certification: str | None = None,
) -> OnboardingTask:
    """Add a task to a program's checklist (locking the program so the task cap holds
    under concurrent creations)."""
    _require_admin(principal)
    task = OnboardingTask(
        tenant_id=principal.tenant_id,
        program_id=program_id,
        name=_name(name),
        kind=kind,
        description=_optional_text(description, limit=MAX_DESCRIPTION, field="description"),
        position=_position(position),
        requires_approval=requires_approval,
        certification=_optional_text(certification, limit=MAX_CERTIFICATION, field="certification"),
    )
    _check_certification(task.kind, task.certification)
    await _program(session, principal, program_id)
    count = await session.scalar(
        select(func.count())
        .select_from(OnboardingTask)
        .where(
            OnboardingTask.tenant_id == principal.tenant_id,
            OnboardingTask.program_id == program_id,
        )
    )
    if int(count or 0) >= MAX_TASKS_PER_PROGRAM:
        raise InvalidInput(
            f"a program has at most {MAX_TASKS_PER_PROGRAM} onboarding tasks",
            field="programId",
            code=ErrorCode.LIMIT_EXCEEDED,
        )
    session.add(task)
    await session.flush()
    return task


async def _task_for_update(
    session: AsyncSession, principal: Principal, task_id: uuid.UUID
) -> OnboardingTask:
    task = await session.scalar(
        select(OnboardingTask)
        .where(OnboardingTask.tenant_id == principal.tenant_id, OnboardingTask.id == task_id)
        .with_for_update()
    )
    if task is None:
        raise NotFound("no such onboarding task", field="id")
    return task


async def update_task(
    session: AsyncSession, principal: Principal, task_id: uuid.UUID, changes: TaskChanges
) -> OnboardingTask:
    """Apply `changes` after validating them all. A change that completes checklists (a
    certification the partners already hold) activates the partners it completes."""
    _require_admin(principal)
    task = await _task_for_update(session, principal, task_id)
    name = _name(changes["name"]) if "name" in changes else task.name
    kind = changes.get("kind", task.kind)
    description = (
        _optional_text(changes["description"], limit=MAX_DESCRIPTION, field="description")
        if "description" in changes
        else task.description
    )
    position = _position(changes["position"]) if "position" in changes else task.position
    certification = (
        _optional_text(changes["certification"], limit=MAX_CERTIFICATION, field="certification")
        if "certification" in changes
        else task.certification
    )
    _check_certification(kind, certification)
    task.name, task.kind, task.description, task.position = name, kind, description, position
    task.requires_approval = changes.get("requires_approval", task.requires_approval)
    task.certification = certification
    await session.flush()
    await activate_onboarded_partners(session, principal.tenant_id, program_id=task.program_id)
    return task


async def delete_task(
    session: AsyncSession, principal: Principal, task_id: uuid.UUID
) -> OnboardingTask:
    """Remove a task (and every partner's progress on it). Partners whose remaining
    checklist is complete become ACTIVE."""
    _require_admin(principal)
    task = await _task_for_update(session, principal, task_id)
    await session.delete(task)
    await session.flush()
    await activate_onboarded_partners(session, principal.tenant_id, program_id=task.program_id)
    return task


def readable_tasks(principal: Principal) -> Select[OnboardingTask]:
    """Task definitions the principal may read: staff all of the tenant's, a partner user
    those of the programs its partner is enrolled in."""
    statement = select(OnboardingTask).where(OnboardingTask.tenant_id == principal.tenant_id)
    if is_staff(principal):
        return statement
    if principal.partner_id is None:
        return statement.where(false())
    return statement.where(
        exists().where(
            ProgramEnrolment.tenant_id == OnboardingTask.tenant_id,
            ProgramEnrolment.program_id == OnboardingTask.program_id,
            ProgramEnrolment.partner_id == principal.partner_id,
        )
    )


# --- completeness (set-based) ------------------------------------------------------------


def _certified(
    task: type[OnboardingTask], partner_id: Any, tenant_id: Any, at: datetime | ColumnElement[Any]
) -> ColumnElement[bool]:
    return and_(
        task.certification.is_not(None),
        partner_has_current_certification(partner_id, task.certification, at, tenant_id=tenant_id),
    )


def _task_complete(partner_id: Any, tenant_id: Any, at: datetime) -> ColumnElement[bool]:
    """A task (`OnboardingTask`, correlated) is complete for the partner: certified, or
    (for a task without certification) its partner row APPROVED."""
    approved = (
        select(PartnerOnboardingTask.id)
        .where(
            PartnerOnboardingTask.tenant_id == tenant_id,
            PartnerOnboardingTask.partner_id == partner_id,
            PartnerOnboardingTask.task_id == OnboardingTask.id,
            PartnerOnboardingTask.status == OnboardingStatus.APPROVED,
        )
        .exists()
    )
    return or_(
        _certified(OnboardingTask, partner_id, tenant_id, at),
        and_(OnboardingTask.certification.is_(None), approved),
    )


def _checklist_tasks(partner_id: Any, tenant_id: Any) -> Select[uuid.UUID]:
    return select(OnboardingTask.id).where(
        OnboardingTask.tenant_id == tenant_id,
        exists().where(
            ProgramEnrolment.tenant_id == tenant_id,
            ProgramEnrolment.program_id == OnboardingTask.program_id,
            ProgramEnrolment.partner_id == partner_id,
        ),
    )


def checklist_complete(partner_id: Any, tenant_id: Any, at: datetime) -> ColumnElement[bool]:
    """The partner (a value or a correlated column) has at least one checklist task and
    every one is complete at `at`."""
    tasks = _checklist_tasks(partner_id, tenant_id)
    return and_(
        tasks.exists(),
        ~tasks.where(~_task_complete(partner_id, tenant_id, at)).exists(),
    )


def _activation(
    tenant_id: uuid.UUID,
    at: datetime,
    partner_ids: list[uuid.UUID] | None,
    program_id: uuid.UUID | None,
) -> Any:
    conditions: list[ColumnElement[bool]] = [
        Partner.tenant_id == tenant_id,
        Partner.status == PartnerStatus.ONBOARDING,
        checklist_complete(Partner.id, Partner.tenant_id, at),
    ]
    if partner_ids is not None:
        conditions.append(Partner.id.in_(partner_ids))
    if program_id is not None:
        conditions.append(
            exists().where(
                ProgramEnrolment.tenant_id == Partner.tenant_id,
                ProgramEnrolment.partner_id == Partner.id,
                ProgramEnrolment.program_id == program_id,
            )
        )
    return (
        update(Partner)
        .where(*conditions)
        .values(
            status=PartnerStatus.ACTIVE,
            status_changed_at=at,
            status_reason=ACTIVATION_REASON,
        )
        .returning(Partner.id)
        .execution_options(synchronize_session=False)
    )


COMPLETED_MESSAGE = "Onboarding complete: your organisation is now active."


async def activate_onboarded_partners(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    *,
    partner_ids: list[uuid.UUID] | None = None,
    program_id: uuid.UUID | None = None,
    at: datetime | None = None,
) -> list[uuid.UUID]:
    """Make ACTIVE every ONBOARDING partner (of `partner_ids`, or enrolled in `program_id`,
    or all of the tenant's) whose checklist is complete, in one UPDATE, and notify each.
    Call it after recording a certification (`recordTraining`) too. Returns their ids."""
    at = at or datetime.now(UTC)
    if partner_ids is not None and not partner_ids:
        return []
    activated = list(
        (await session.scalars(_activation(tenant_id, at, partner_ids, program_id))).all()
    )
    for partner_id in activated:
        await notify(session, tenant_id, partner_id, "onboarding.completed", COMPLETED_MESSAGE, {})
    return activated


def activate_onboarded_partners_sync(
    session: Session,
    tenant_id: uuid.UUID,
    *,
    partner_ids: list[uuid.UUID] | None = None,
    program_id: uuid.UUID | None = None,
    at: datetime | None = None,
) -> list[uuid.UUID]:
    """`activate_onboarded_partners` for workers' sync sessions."""
    at = at or datetime.now(UTC)
    if partner_ids is not None and not partner_ids:
        return []
    activated = list(session.scalars(_activation(tenant_id, at, partner_ids, program_id)).all())
    for partner_id in activated:
        notify_sync(session, tenant_id, partner_id, "onboarding.completed", COMPLETED_MESSAGE, {})
    return activated


# --- a partner's checklist ---------------------------------------------------------------


@dataclass(frozen=True)
class ChecklistItem:
    """One task of a partner's checklist with the partner's progress; `record` is None
    while the partner never submitted it. `status` is the effective one: APPROVED for a
    task completed by a current certification."""

    task: OnboardingTask
    record: PartnerOnboardingTask | None
    status: OnboardingStatus
    certified: bool


@dataclass(frozen=True)
class Checklist:
    partner_id: uuid.UUID
    items: list[ChecklistItem]

    @property
    def completed_count(self) -> int:
        return sum(1 for item in self.items if item.status is OnboardingStatus.APPROVED)

    @property
    def complete(self) -> bool:
        """Complete when it has tasks and all are done (as activation judges it)."""
        return bool(self.items) and self.completed_count == len(self.items)


def effective_status(
    task: OnboardingTask, record: PartnerOnboardingTask | None, certified: bool
) -> OnboardingStatus:
    if task.certification is not None:
        return OnboardingStatus.APPROVED if certified else OnboardingStatus.PENDING
    return record.status if record is not None else OnboardingStatus.PENDING


def can_read_checklist(principal: Principal, partner_id: uuid.UUID) -> bool:
    return is_staff(principal) or principal.partner_id == partner_id


async def checklists(
    session: AsyncSession,
    principal: Principal,
    partner_ids: list[uuid.UUID],
    *,
    at: datetime | None = None,
) -> dict[uuid.UUID, Checklist]:
    """The checklists of the partners the principal may read among `partner_ids`, in one
    query (tasks of the enrolled programs, each partner's row, certification held)."""
    at = at or datetime.now(UTC)
    visible = [pid for pid in dict.fromkeys(partner_ids) if can_read_checklist(principal, pid)]
    tenant_id = principal.tenant_id
    if visible:  # another tenant's (or no) partner has no checklist: None, not an empty one
        existing = set(
            await session.scalars(
                select(Partner.id).where(Partner.tenant_id == tenant_id, Partner.id.in_(visible))
            )
        )
        visible = [pid for pid in visible if pid in existing]
    if not visible:
        return {}
    certified = _certified(OnboardingTask, ProgramEnrolment.partner_id, tenant_id, at)
    rows = await session.execute(
        select(ProgramEnrolment.partner_id, OnboardingTask, PartnerOnboardingTask, certified)
        .join(
            OnboardingTask,
            and_(
                OnboardingTask.tenant_id == ProgramEnrolment.tenant_id,
                OnboardingTask.program_id == ProgramEnrolment.program_id,
            ),
        )
        .outerjoin(
            PartnerOnboardingTask,
            and_(
                PartnerOnboardingTask.tenant_id == ProgramEnrolment.tenant_id,
                PartnerOnboardingTask.partner_id == ProgramEnrolment.partner_id,
                PartnerOnboardingTask.task_id == OnboardingTask.id,
            ),
        )
        .where(ProgramEnrolment.tenant_id == tenant_id, ProgramEnrolment.partner_id.in_(visible))
        .order_by(
            ProgramEnrolment.partner_id,
            OnboardingTask.program_id,
            OnboardingTask.position,
            OnboardingTask.name,
        )
    )
    items: dict[uuid.UUID, list[ChecklistItem]] = {pid: [] for pid in visible}
    for partner_id, task, record, held in rows:
        status = effective_status(task, record, bool(held))
        items[partner_id].append(ChecklistItem(task, record, status, bool(held)))
    return {pid: Checklist(pid, rows_) for pid, rows_ in items.items()}


# --- partners submit, admins review ------------------------------------------------------


async def _lock_partner(session: AsyncSession, tenant_id: uuid.UUID, partner_id: uuid.UUID) -> None:
    """Serialise submissions and reviews of one partner (see the module doc)."""
    await session.execute(
        select(Partner.id)
        .where(Partner.tenant_id == tenant_id, Partner.id == partner_id)
        .with_for_update()
    )


async def _record_for_update(
    session: AsyncSession, tenant_id: uuid.UUID, partner_id: uuid.UUID, task_id: uuid.UUID
) -> PartnerOnboardingTask | None:
    return await session.scalar(
        select(PartnerOnboardingTask)
        .where(
            PartnerOnboardingTask.tenant_id == tenant_id,
            PartnerOnboardingTask.partner_id == partner_id,
            PartnerOnboardingTask.task_id == task_id,
        )
        .with_for_update()
    )


async def submit_task(
    session: AsyncSession,
    principal: Principal,
    task_id: uuid.UUID,
    *,
    response: str | None,
) -> tuple[OnboardingTask, PartnerOnboardingTask]:
    """A partner admin completes a task of its checklist: SUBMITTED for review, or
    APPROVED at once when the task needs no approval (which may activate the partner).
    Allowed from PENDING and REJECTED; a task of a program the partner is not enrolled in
    is NOT_FOUND."""
    partner_id = principal.partner_id
    if partner_id is None or not principal.has_any(Role.PARTNER_ADMIN):
        raise Forbidden("only a partner admin may submit onboarding tasks")
    tenant_id = principal.tenant_id
    await _lock_partner(session, tenant_id, partner_id)
    task = await session.scalar(readable_tasks(principal).where(OnboardingTask.id == task_id))
    if task is None:
        raise NotFound("no such onboarding task", field="taskId")
    if task.certification is not None:
        raise InvalidInput(
            f"this task completes when one of your users holds the certification "
            f"{task.certification!r}",
            field="taskId",
            code=ErrorCode.INVALID_TRANSITION,
        )
    text = _optional_text(response, limit=MAX_RESPONSE, field="response")
    if text is None and task.kind in NEEDS_RESPONSE:
        what = (
            "the agreement version accepted"
            if task.kind is OnboardingTaskKind.AGREEMENT
            else ("the business plan")
        )
        raise InvalidInput(f"must give {what}", field="response")
    record = await _record_for_update(session, tenant_id, partner_id, task.id)
    if record is not None and record.status not in (
        OnboardingStatus.PENDING,
        OnboardingStatus.REJECTED,
    ):
        raise InvalidInput(
            f"the task is already {record.status.value}",
            field="taskId",
            code=ErrorCode.INVALID_TRANSITION,
        )
    if record is None:
        record = PartnerOnboardingTask(
            tenant_id=tenant_id, partner_id=partner_id, task_id=task.id, program_id=task.program_id
        )
        session.add(record)
    now = datetime.now(UTC)
    record.response = text
    record.submitted_at, record.submitted_by = now, principal.user_id
    record.review_comment = None
    if task.requires_approval:
        record.status = OnboardingStatus.SUBMITTED
        record.reviewed_at, record.reviewed_by = None, None
    else:
        record.status = OnboardingStatus.APPROVED
        record.reviewed_at, record.reviewed_by = now, None
    await session.flush()
    if record.status is OnboardingStatus.APPROVED:
        await activate_onboarded_partners(session, tenant_id, partner_ids=[partner_id], at=now)
    return task, record


async def review_task(
    session: AsyncSession,
    principal: Principal,
    *,
    record_id: uuid.UUID | None = None,
    partner_id: uuid.UUID | None = None,
    task_id: uuid.UUID | None = None,
    approve: bool,
    comment: str | None = None,
) -> tuple[OnboardingTask, PartnerOnboardingTask]:
    """An admin approves or rejects (with a comment) a SUBMITTED task, named by the
    partner's record id or by (partner, task). The partner is notified; an approval may
    activate it."""
    _require_admin(principal)
    tenant_id = principal.tenant_id
    text = _optional_text(comment, limit=MAX_COMMENT, field="comment")
    if not approve and text is None:
        raise InvalidInput("a rejection needs a comment", field="comment")
    if record_id is not None:
        found = await session.execute(
            select(PartnerOnboardingTask.partner_id, PartnerOnboardingTask.task_id).where(
                PartnerOnboardingTask.tenant_id == tenant_id,
                PartnerOnboardingTask.id == record_id,
            )
        )
        row = found.first()
        if row is None:
            raise NotFound("no such onboarding item", field="id")
        partner_id, task_id = row
    elif partner_id is None or task_id is None:
        raise InvalidInput("give the item's id, or both partnerId and taskId", field="id")
    await _lock_partner(session, tenant_id, partner_id)
    record = await _record_for_update(session, tenant_id, partner_id, task_id)
    task = await session.scalar(
        select(OnboardingTask).where(
            OnboardingTask.tenant_id == tenant_id, OnboardingTask.id == task_id
        )
    )
    if task is None or record is None:
        if task is None or record_id is not None:
            raise NotFound("no such onboarding item", field="id" if record_id else "taskId")
        raise InvalidInput(
            "the task was not submitted", field="taskId", code=ErrorCode.INVALID_TRANSITION
        )
    if record.status is not OnboardingStatus.SUBMITTED or task.certification is not None:
        raise InvalidInput(
            f"only a SUBMITTED task can be reviewed (it is {record.status.value})",
            field="approve",
            code=ErrorCode.INVALID_TRANSITION,
        )
    now = datetime.now(UTC)
    record.status = OnboardingStatus.APPROVED if approve else OnboardingStatus.REJECTED
    record.reviewed_at, record.reviewed_by, record.review_comment = now, principal.user_id, text
    await session.flush()
    verdict = "approved" if approve else "rejected"
    message = f"Onboarding task {task.name!r} was {verdict}" + (f": {text}" if text else ".")
    await notify(
        session,
        tenant_id,
        partner_id,
        "onboarding.task_reviewed",
        message,
        {"task_id": task.id, "status": record.status.value, "comment": text},
    )
    if approve:
        await activate_onboarded_partners(session, tenant_id, partner_ids=[partner_id], at=now)
    return task, record


def awaiting_review(principal: Principal) -> Select[PartnerOnboardingTask]:
    """SUBMITTED items of the tenant (staff admins and managers; none for others), for
    the `(tenant_id, status, submitted_at)` index."""
    statement = select(PartnerOnboardingTask).where(
        PartnerOnboardingTask.tenant_id == principal.tenant_id,
        PartnerOnboardingTask.status == OnboardingStatus.SUBMITTED,
        # A certification added to a task after submission completes it: nothing to review.
        exists().where(
            OnboardingTask.tenant_id == PartnerOnboardingTask.tenant_id,
            OnboardingTask.id == PartnerOnboardingTask.task_id,
            OnboardingTask.certification.is_(None),
        ),
    )
    if principal.partner_id is None and principal.has_any(Role.ADMIN, Role.MANAGER):
        return statement
    return statement.where(false())
