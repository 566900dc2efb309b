"""Inputs and the filter of the cases API, and their translation into domain criteria.
An id in a filter that names nothing matches nothing."""

from __future__ import annotations

import uuid

import strawberry

from prm.crm.case_filters import CaseCriteria
from prm.crm.case_models import CaseKind, CasePriority, CaseStatus
from prm.graphql.cases.enums import CaseKindEnum, CasePriorityEnum, CaseStatusEnum
from prm.graphql.crm.enums import ChannelEnum
from prm.graphql.relay import pk_of

NOTHING = uuid.UUID(int=0)


def _filter_pk(value: strawberry.ID | None, type_name: str) -> uuid.UUID | None:
    if value is None:
        return None
    return pk_of(value, type_name) or NOTHING


@strawberry.input
class CreateCaseQueueInput:
    name: str
    description: str | None = None
    skills: list[str] = strawberry.field(
        default_factory=list, description="Skills an agent needs (all of them) for its cases."
    )
    kinds: list[CaseKindEnum] = strawberry.field(  # type: ignore[valid-type]
        default_factory=list, description="Case kinds routed here when no queue is named."
    )


@strawberry.input
class UpdateCaseQueueInput:
    name: str | None = None
    description: str | None = None
    skills: list[str] | None = None
    kinds: list[CaseKindEnum] | None = None  # type: ignore[valid-type]


@strawberry.input
class OpenCaseInput:
    account_id: strawberry.ID
    contact_id: strawberry.ID | None = None
    kind: CaseKindEnum  # type: ignore[valid-type]
    channel: ChannelEnum  # type: ignore[valid-type]
    priority: CasePriorityEnum = CasePriority.NORMAL  # type: ignore[valid-type]
    subject: str
    description: str | None = None
    queue_id: strawberry.ID | None = strawberry.field(
        default=None, description="Default: the first queue (by name) taking the case's kind."
    )


@strawberry.input
class CaseFilter:
    status: CaseStatusEnum | None = None  # type: ignore[valid-type]
    statuses: list[CaseStatusEnum] | None = None  # type: ignore[valid-type]
    priority: CasePriorityEnum | None = None  # type: ignore[valid-type]
    kind: CaseKindEnum | None = None  # type: ignore[valid-type]
    queue_id: strawberry.ID | None = None
    assignee_id: strawberry.ID | None = None
    mine: bool | None = strawberry.field(
        default=None, description="true: assigned to the caller's employee record."
    )
    account_id: strawberry.ID | None = None
    breached: bool | None = strawberry.field(
        default=None,
        description="true: open and past a due time (first response not given in time, or "
        "not resolved in time).",
    )


def case_criteria(value: CaseFilter | None) -> CaseCriteria | None:
    if value is None:
        return None
    statuses = [CaseStatus(status) for status in value.statuses or ()]
    if value.status is not None:
        statuses.append(CaseStatus(value.status))
    return CaseCriteria(
        statuses=tuple(dict.fromkeys(statuses)),
        priorities=(CasePriority(value.priority),) if value.priority is not None else (),
        kinds=(CaseKind(value.kind),) if value.kind is not None else (),
        queue_id=_filter_pk(value.queue_id, "CaseQueue"),
        assignee_id=_filter_pk(value.assignee_id, "Employee"),
        account_id=_filter_pk(value.account_id, "Account"),
        mine=value.mine,
        breached=value.breached,
    )
