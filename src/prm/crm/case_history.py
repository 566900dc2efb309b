"""A case's history and announcements: every change appends one `CaseEvent`, and
opening and assignment are also announced on the event bus (`case.opened`,
`case.assigned`: webhooks and live subscribers, delivered at commit)."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from prm.crm.case_models import Case, CaseEvent, CaseStatus
from prm.events.bus import emit, event


async def append_event(
    session: AsyncSession,
    case: Case,
    kind: str,
    *,
    from_status: CaseStatus | None,
    actor_id: uuid.UUID | None,
    note: str | None = None,
) -> CaseEvent:
    """One history line for `case` as it now stands (its status and assignee)."""
    line = CaseEvent(
        tenant_id=case.tenant_id,
        case_id=case.id,
        kind=kind,
        from_status=from_status,
        to_status=case.status,
        actor_id=actor_id,
        assignee_id=case.assignee_id,
        note=note,
    )
    session.add(line)
    await session.flush()
    return line


def _data(case: Case) -> dict[str, object]:
    return {
        "caseId": str(case.id),
        "number": case.number,
        "accountId": str(case.account_id),
        "kind": case.kind.value,
        "priority": case.priority.value,
        "status": case.status.value,
        "queueId": str(case.queue_id) if case.queue_id else None,
        "partnerId": str(case.partner_id) if case.partner_id else None,
    }


async def announce_opened(session: AsyncSession, case: Case) -> None:
    await emit(
        session,
        event("case.opened", case.tenant_id, _data(case), partner_ids=[case.partner_id]),
    )


async def announce_assigned(session: AsyncSession, case: Case) -> None:
    data = {**_data(case), "employeeId": str(case.assignee_id)}
    await emit(
        session,
        event("case.assigned", case.tenant_id, data, partner_ids=[case.partner_id]),
    )
