"""The `cases` list's filters as plain criteria (the GraphQL layer parses into these).

`breached`: the case is open (not RESOLVED or CLOSED) and a timer has run out: no first
response by `first_response_due_at`, or not resolved by `resolution_due_at`."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Select, and_, not_, or_

from prm.auth.principal import Principal
from prm.crm.case_models import Case, CaseKind, CasePriority, CaseStatus
from prm.crm.case_visibility import my_employee_id

CLOSED = (CaseStatus.RESOLVED, CaseStatus.CLOSED)


@dataclass(frozen=True)
class CaseCriteria:
    statuses: tuple[CaseStatus, ...] = ()
    priorities: tuple[CasePriority, ...] = ()
    kinds: tuple[CaseKind, ...] = ()
    queue_id: uuid.UUID | None = None
    assignee_id: uuid.UUID | None = None
    account_id: uuid.UUID | None = None
    mine: bool | None = None
    breached: bool | None = None


def breached_at(now: datetime) -> ColumnElement[bool]:
    return and_(
        Case.status.not_in(CLOSED),
        or_(
            and_(Case.first_responded_at.is_(None), Case.first_response_due_at < now),
            Case.resolution_due_at < now,
        ),
    )


def filter_cases(
    statement: Select[Case],
    criteria: CaseCriteria,
    principal: Principal,
    now: datetime,
) -> Select[Case]:
    if criteria.statuses:
        statement = statement.where(Case.status.in_(criteria.statuses))
    if criteria.priorities:
        statement = statement.where(Case.priority.in_(criteria.priorities))
    if criteria.kinds:
        statement = statement.where(Case.kind.in_(criteria.kinds))
    if criteria.queue_id is not None:
        statement = statement.where(Case.queue_id == criteria.queue_id)
    if criteria.assignee_id is not None:
        statement = statement.where(Case.assignee_id == criteria.assignee_id)
    if criteria.account_id is not None:
        statement = statement.where(Case.account_id == criteria.account_id)
    if criteria.mine is True:
        statement = statement.where(Case.assignee_id == my_employee_id(principal))
    elif criteria.mine is False:
        statement = statement.where(Case.assignee_id.is_distinct_from(my_employee_id(principal)))
    if criteria.breached is not None:
        overdue = breached_at(now)
        statement = statement.where(overdue if criteria.breached else not_(overdue))
    return statement
