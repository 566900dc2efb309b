"""Onboarding checklists as the API shows them: `OnboardingTask` (a checklist item a
program defines, a `Node`), `OnboardingItem` (a partner's progress on one task) and
`OnboardingChecklist` (every item of a partner). References (program, partner, task) go
through the request's DataLoaders, so a page of items costs a fixed number of queries."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from prm.graphql.context import Context, Info
from prm.graphql.relay import Node, encode_global_id, register_node
from prm.partners.onboarding import Checklist, ChecklistItem, readable_tasks
from prm.partners.program_models import (
    ChannelProgram,
    OnboardingStatus,
    OnboardingTask,
    OnboardingTaskKind,
    PartnerOnboardingTask,
)

if TYPE_CHECKING:
    from prm.graphql.partners.types import PartnerType

PartnerRef = Annotated["PartnerType", strawberry.lazy("prm.graphql.partners.types")]
ITEM_TYPE = "OnboardingItem"
PROGRAM_TYPE = "ChannelProgram"
"""The global-id type name of programs (the programs domain's `Node`)."""

OnboardingTaskKindEnum = strawberry.enum(
    OnboardingTaskKind, name="OnboardingTaskKind", description="What a checklist task asks for."
)
OnboardingStatusEnum = strawberry.enum(
    OnboardingStatus,
    name="OnboardingStatus",
    description="A partner's progress on a task: PENDING (nothing yet), SUBMITTED (awaiting "
    "review), APPROVED (done), REJECTED (see the comment; submit again).",
)


@strawberry.type(name="OnboardingProgram", description="The program a checklist task belongs to.")
class OnboardingProgramType:
    pk: strawberry.Private[uuid.UUID]
    name: str

    @strawberry.field(description="The program's global id.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(encode_global_id(PROGRAM_TYPE, self.pk))


@strawberry.type(name="OnboardingTask", description="An item of a program's onboarding checklist.")
class OnboardingTaskType(Node):
    name: str
    kind: OnboardingTaskKindEnum  # type: ignore[valid-type]
    description: str | None
    position: int = strawberry.field(description="Order within the program's checklist.")
    requires_approval: bool = strawberry.field(
        description="False: a submission completes the task at once."
    )
    certification: str | None = strawberry.field(
        description="For TRAINING: the task is complete while one of the partner's users "
        "holds this certification unexpired (nothing to submit)."
    )
    created_at: datetime
    program_pk: strawberry.Private[uuid.UUID]

    @strawberry.field
    async def program(self, info: Info) -> OnboardingProgramType | None:
        program = await info.context.loaders.by_id(ChannelProgram).load(self.program_pk)
        return OnboardingProgramType(pk=program.id, name=program.name) if program else None

    @classmethod
    def from_model(cls, task: OnboardingTask) -> OnboardingTaskType:
        return cls.from_row(task, program_pk=task.program_id)


@strawberry.type(
    name="OnboardingItem",
    description="A partner's progress on one checklist task.",
)
class OnboardingItemType:
    record_pk: strawberry.Private[uuid.UUID | None]
    partner_pk: strawberry.Private[uuid.UUID]
    task_row: strawberry.Private[OnboardingTask | None]
    task_pk: strawberry.Private[uuid.UUID]
    status: OnboardingStatusEnum  # type: ignore[valid-type]
    response: str | None = strawberry.field(
        description="What the partner submitted (the agreement version, the plan …)."
    )
    submitted_at: datetime | None
    reviewed_at: datetime | None
    review_comment: str | None

    @strawberry.field(
        description="Names the item for `reviewOnboardingTask`; null until first submitted."
    )
    def id(self) -> strawberry.ID | None:
        if self.record_pk is None:
            return None
        return strawberry.ID(encode_global_id(ITEM_TYPE, self.record_pk))

    @strawberry.field
    async def task(self, info: Info) -> OnboardingTaskType | None:
        task = self.task_row or await info.context.loaders.by_id(OnboardingTask).load(self.task_pk)
        return OnboardingTaskType.from_model(task) if task else None

    @strawberry.field
    async def partner(self, info: Info) -> PartnerRef | None:
        from prm.graphql.partners.types import load_partner

        return await load_partner(info.context, self.partner_pk)

    @classmethod
    def from_item(cls, partner_id: uuid.UUID, item: ChecklistItem) -> OnboardingItemType:
        return cls._build(partner_id, item.task, item.record, item.status)

    @classmethod
    def from_record(
        cls, record: PartnerOnboardingTask, task: OnboardingTask | None = None
    ) -> OnboardingItemType:
        """An item from the partner's row (tasks with a certification are never
        submitted, so the row's status is the item's)."""
        return cls(
            record_pk=record.id,
            partner_pk=record.partner_id,
            task_row=task,
            task_pk=record.task_id,
            status=record.status,
            response=record.response,
            submitted_at=record.submitted_at,
            reviewed_at=record.reviewed_at,
            review_comment=record.review_comment,
        )

    @classmethod
    def _build(
        cls,
        partner_id: uuid.UUID,
        task: OnboardingTask,
        record: PartnerOnboardingTask | None,
        status: OnboardingStatus,
    ) -> OnboardingItemType:
        return cls(
            record_pk=record.id if record else None,
            partner_pk=partner_id,
            task_row=task,
            task_pk=task.id,
            status=status,
            response=record.response if record else None,
            submitted_at=record.submitted_at if record else None,
            reviewed_at=record.reviewed_at if record else None,
            review_comment=record.review_comment if record else None,
        )


@strawberry.type(
    name="OnboardingChecklist",
    description="Every task of the programs a partner is enrolled in, with its progress.",
)
class OnboardingChecklistType:
    partner_pk: strawberry.Private[uuid.UUID]
    complete: bool = strawberry.field(
        description="It has tasks and every one is APPROVED (what makes an ONBOARDING "
        "partner ACTIVE)."
    )
    completed_count: int
    total_count: int
    items: list[OnboardingItemType] = strawberry.field(description="By program, then position.")

    @strawberry.field
    async def partner(self, info: Info) -> PartnerRef | None:
        from prm.graphql.partners.types import load_partner

        return await load_partner(info.context, self.partner_pk)

    @classmethod
    def from_checklist(cls, checklist: Checklist) -> OnboardingChecklistType:
        return cls(
            partner_pk=checklist.partner_id,
            complete=checklist.complete,
            completed_count=checklist.completed_count,
            total_count=len(checklist.items),
            items=[OnboardingItemType.from_item(checklist.partner_id, i) for i in checklist.items],
        )


@register_node(OnboardingTaskType)
async def _task_node(context: Context, pk: uuid.UUID) -> OnboardingTaskType | None:
    if context.principal is None:
        return None
    task = await context.session.scalar(
        readable_tasks(context.principal).where(OnboardingTask.id == pk)
    )
    return OnboardingTaskType.from_model(task) if task else None
