"""Mutations of ERM. Managers act only on employees below them (others are NOT_FOUND);
admins on anyone; the reviewed employee acknowledges its review."""

from __future__ import annotations

import strawberry

from prm.auth.principal import Role
from prm.employees import compensation, objectives, reviews, training
from prm.employees.erm_models import ObjectiveMetric
from prm.errors import InvalidInput
from prm.graphql.context import Info
from prm.graphql.erm.inputs import (
    AssignCompensationPlanInput,
    CreateCompensationPlanInput,
    RecordTrainingInput,
    SetObjectiveInput,
    SubmitPerformanceReviewInput,
    UpdateCompensationPlanInput,
)
from prm.graphql.erm.types import (
    CompensationAssignmentType,
    CompensationPlanType,
    ObjectiveType,
    PerformanceReviewType,
    TrainingRecordType,
)
from prm.graphql.mutations import Payload, mutation
from prm.graphql.permissions import require_principal
from prm.graphql.relay import require_pk

ADMIN = (Role.ADMIN,)
MANAGERS = (Role.ADMIN, Role.MANAGER)
STAFF = (Role.ADMIN, Role.MANAGER, Role.EMPLOYEE)
TRAINERS = (Role.ADMIN, Role.MANAGER, Role.PARTNER_ADMIN)


@strawberry.type
class ObjectivePayload(Payload):
    objective: ObjectiveType | None = None


@strawberry.type
class CompensationPlanPayload(Payload):
    compensation_plan: CompensationPlanType | None = None


@strawberry.type
class CompensationAssignmentPayload(Payload):
    compensation_assignment: CompensationAssignmentType | None = None


@strawberry.type
class PerformanceReviewPayload(Payload):
    performance_review: PerformanceReviewType | None = None


@strawberry.type
class TrainingRecordPayload(Payload):
    training_record: TrainingRecordType | None = None


@strawberry.type
class Mutation:
    @mutation(
        ObjectivePayload,
        roles=MANAGERS,
        description="Set an employee's target for a period and metric, replacing any "
        "(admins; managers for those below them).",
    )
    async def set_objective(self, info: Info, input: SetObjectiveInput) -> ObjectivePayload:
        row = await objectives.set_objective(
            info.context.session,
            require_principal(info),
            employee_id=require_pk(input.employee_id, "Employee", field="employeeId"),
            period=input.period,
            metric=ObjectiveMetric(input.metric),
            target=input.target,
        )
        return ObjectivePayload(objective=ObjectiveType.from_model(row))

    @mutation(CompensationPlanPayload, roles=ADMIN, description="Create a plan (admins).")
    async def create_compensation_plan(
        self, info: Info, input: CreateCompensationPlanInput
    ) -> CompensationPlanPayload:
        plan = await compensation.create_plan(
            info.context.session,
            require_principal(info),
            name=input.name,
            base_percent=input.base_percent,
            accelerator_percent=input.accelerator_percent,
            cap=input.cap_amount.parse(field="capAmount") if input.cap_amount else None,
        )
        return CompensationPlanPayload(compensation_plan=CompensationPlanType.from_model(plan))

    @mutation(CompensationPlanPayload, roles=ADMIN, description="Change a plan (admins).")
    async def update_compensation_plan(
        self, info: Info, id: strawberry.ID, input: UpdateCompensationPlanInput
    ) -> CompensationPlanPayload:
        changes = compensation.PlanChanges()
        for field, key, camel in (
            ("name", "name", "name"),
            ("base_percent", "base_percent", "basePercent"),
            ("accelerator_percent", "accelerator_percent", "acceleratorPercent"),
            ("active", "active", "active"),
        ):
            value = getattr(input, field)
            if value is strawberry.UNSET:
                continue
            if value is None:
                raise InvalidInput("must not be null", field=camel)
            changes[key] = value  # type: ignore[literal-required]
        if input.cap_amount is not strawberry.UNSET:
            changes["cap"] = input.cap_amount.parse(field="capAmount") if input.cap_amount else None
        plan = await compensation.update_plan(
            info.context.session,
            require_principal(info),
            require_pk(id, "CompensationPlan", field="id"),
            changes,
        )
        return CompensationPlanPayload(compensation_plan=CompensationPlanType.from_model(plan))

    @mutation(
        CompensationAssignmentPayload,
        roles=MANAGERS,
        description="Put an employee on a plan for a period, replacing its plan there "
        "(admins; managers for those below them).",
    )
    async def assign_compensation_plan(
        self, info: Info, input: AssignCompensationPlanInput
    ) -> CompensationAssignmentPayload:
        row = await compensation.assign_plan(
            info.context.session,
            require_principal(info),
            employee_id=require_pk(input.employee_id, "Employee", field="employeeId"),
            plan_id=require_pk(input.plan_id, "CompensationPlan", field="planId"),
            period=input.period,
        )
        return CompensationAssignmentPayload(
            compensation_assignment=CompensationAssignmentType.from_model(row)
        )

    @mutation(
        PerformanceReviewPayload,
        roles=MANAGERS,
        description="Review an employee for a period (admins; managers for those below "
        "them). Submitting again revises it until acknowledged; after, DUPLICATE.",
    )
    async def submit_performance_review(
        self, info: Info, input: SubmitPerformanceReviewInput
    ) -> PerformanceReviewPayload:
        row = await reviews.submit_review(
            info.context.session,
            require_principal(info),
            employee_id=require_pk(input.employee_id, "Employee", field="employeeId"),
            period=input.period,
            rating=input.rating,
            strengths=input.strengths,
            goals=input.goals,
        )
        return PerformanceReviewPayload(performance_review=PerformanceReviewType.from_model(row))

    @mutation(
        PerformanceReviewPayload,
        roles=STAFF,
        description="The reviewed employee confirms it read its review (once: "
        "INVALID_TRANSITION after).",
    )
    async def acknowledge_performance_review(
        self, info: Info, id: strawberry.ID
    ) -> PerformanceReviewPayload:
        row = await reviews.acknowledge_review(
            info.context.session,
            require_principal(info),
            require_pk(id, "PerformanceReview", field="id"),
        )
        return PerformanceReviewPayload(performance_review=PerformanceReviewType.from_model(row))

    @mutation(
        TrainingRecordPayload,
        roles=TRAINERS,
        description="Record a completed course for an employee or a partner user (admins "
        "and managers for anyone; partner admins for their partner's users).",
    )
    async def record_training(
        self, info: Info, input: RecordTrainingInput
    ) -> TrainingRecordPayload:
        row = await training.record_training(
            info.context.session,
            require_principal(info),
            employee_id=(
                require_pk(input.employee_id, "Employee", field="employeeId")
                if input.employee_id is not None
                else None
            ),
            user_id=(
                require_pk(input.user_id, "User", field="userId")
                if input.user_id is not None
                else None
            ),
            course=input.course,
            certification=input.certification,
            completed_at=input.completed_at,
            expires_at=input.expires_at,
        )
        return TrainingRecordPayload(training_record=TrainingRecordType.from_model(row))
