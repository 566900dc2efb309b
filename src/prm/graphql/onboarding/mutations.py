"""Mutations of onboarding: admins define checklists and review submissions; partner
admins submit their tasks."""

from __future__ import annotations

import strawberry

from prm.auth.principal import Role
from prm.errors import InvalidInput
from prm.graphql.context import Info
from prm.graphql.mutations import Payload, mutation
from prm.graphql.onboarding.inputs import CreateOnboardingTaskInput, UpdateOnboardingTaskInput
from prm.graphql.onboarding.types import (
    ITEM_TYPE,
    PROGRAM_TYPE,
    OnboardingItemType,
    OnboardingTaskType,
)
from prm.graphql.permissions import require_principal
from prm.graphql.relay import encode_global_id, require_pk
from prm.partners import onboarding
from prm.partners.program_models import OnboardingTaskKind

ADMIN = (Role.ADMIN,)
PARTNER_ADMIN = (Role.PARTNER_ADMIN,)
TASK_TYPE = "OnboardingTask"


@strawberry.type
class OnboardingTaskPayload(Payload):
    onboarding_task: OnboardingTaskType | None = None


@strawberry.type
class DeleteOnboardingTaskPayload(Payload):
    deleted_id: strawberry.ID | None = strawberry.field(
        default=None, description="The global id of the task removed."
    )


@strawberry.type
class OnboardingItemPayload(Payload):
    onboarding_item: OnboardingItemType | None = None


def _changes(input: UpdateOnboardingTaskInput) -> onboarding.TaskChanges:
    changes = onboarding.TaskChanges()
    for field, camel in (
        ("name", "name"),
        ("kind", "kind"),
        ("position", "position"),
        ("requires_approval", "requiresApproval"),
    ):
        value = getattr(input, field)
        if value is strawberry.UNSET:
            continue
        if value is None:
            raise InvalidInput("must not be null", field=camel)
        changes[field] = OnboardingTaskKind(value) if field == "kind" else value  # type: ignore[literal-required]
    if input.description is not strawberry.UNSET:
        changes["description"] = input.description
    if input.certification is not strawberry.UNSET:
        changes["certification"] = input.certification
    return changes


@strawberry.type
class Mutation:
    @mutation(
        OnboardingTaskPayload,
        roles=ADMIN,
        description="Add a task to a program's onboarding checklist (admins).",
    )
    async def create_onboarding_task(
        self, info: Info, input: CreateOnboardingTaskInput
    ) -> OnboardingTaskPayload:
        task = await onboarding.create_task(
            info.context.session,
            require_principal(info),
            program_id=require_pk(input.program_id, PROGRAM_TYPE, field="programId"),
            name=input.name,
            kind=OnboardingTaskKind(input.kind),
            description=input.description,
            position=input.position,
            requires_approval=input.requires_approval,
            certification=input.certification,
        )
        return OnboardingTaskPayload(onboarding_task=OnboardingTaskType.from_model(task))

    @mutation(
        OnboardingTaskPayload,
        roles=ADMIN,
        description="Change a checklist task (admins); partners it completes become ACTIVE.",
    )
    async def update_onboarding_task(
        self, info: Info, id: strawberry.ID, input: UpdateOnboardingTaskInput
    ) -> OnboardingTaskPayload:
        task = await onboarding.update_task(
            info.context.session,
            require_principal(info),
            require_pk(id, TASK_TYPE, field="id"),
            _changes(input),
        )
        return OnboardingTaskPayload(onboarding_task=OnboardingTaskType.from_model(task))

    @mutation(
        DeleteOnboardingTaskPayload,
        roles=ADMIN,
        description="Remove a checklist task and every partner's progress on it (admins); "
        "partners whose remaining checklist is complete become ACTIVE.",
    )
    async def delete_onboarding_task(
        self, info: Info, id: strawberry.ID
    ) -> DeleteOnboardingTaskPayload:
        task = await onboarding.delete_task(
            info.context.session, require_principal(info), require_pk(id, TASK_TYPE, field="id")
        )
        info.context.audit_object_ids.append(f"{TASK_TYPE}:{task.id}")
        return DeleteOnboardingTaskPayload(
            deleted_id=strawberry.ID(encode_global_id(TASK_TYPE, task.id))
        )

    @mutation(
        OnboardingItemPayload,
        roles=PARTNER_ADMIN,
        description="Complete a task of your checklist (partner admins): SUBMITTED for "
        "review, or APPROVED at once when it needs no approval. AGREEMENT needs the "
        "agreement version accepted as `response`, BUSINESS_PLAN the plan. Allowed again "
        "after a rejection.",
    )
    async def submit_onboarding_task(
        self, info: Info, task_id: strawberry.ID, response: str | None = None
    ) -> OnboardingItemPayload:
        task, record = await onboarding.submit_task(
            info.context.session,
            require_principal(info),
            require_pk(task_id, TASK_TYPE, field="taskId"),
            response=response,
        )
        info.context.audit_object_ids.append(f"{ITEM_TYPE}:{record.id}")
        return OnboardingItemPayload(onboarding_item=OnboardingItemType.from_record(record, task))

    @mutation(
        OnboardingItemPayload,
        roles=ADMIN,
        description="Approve or reject (with a comment) a SUBMITTED item, named by its id "
        "or by partnerId and taskId (admins). The partner is notified.",
    )
    async def review_onboarding_task(
        self,
        info: Info,
        approve: bool,
        id: strawberry.ID | None = None,
        partner_id: strawberry.ID | None = None,
        task_id: strawberry.ID | None = None,
        comment: str | None = None,
    ) -> OnboardingItemPayload:
        task, record = await onboarding.review_task(
            info.context.session,
            require_principal(info),
            record_id=require_pk(id, ITEM_TYPE, field="id") if id is not None else None,
            partner_id=(
                require_pk(partner_id, "Partner", field="partnerId")
                if partner_id is not None
                else None
            ),
            task_id=require_pk(task_id, TASK_TYPE, field="taskId") if task_id is not None else None,
            approve=approve,
            comment=comment,
        )
        info.context.audit_object_ids.append(f"{ITEM_TYPE}:{record.id}")
        return OnboardingItemPayload(onboarding_item=OnboardingItemType.from_record(record, task))
