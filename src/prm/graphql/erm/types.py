"""ERM objects as the API shows them: `Objective`, `CompensationPlan`,
`CompensationAssignment`, `PerformanceReview` and `TrainingRecord`. Each node loader applies
the domain's readable statement, so `node(id:)` answers null for what the caller may not
see."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import strawberry
from sqlalchemy import select

from prm.employees.compensation import can_read_plans
from prm.employees.erm_models import (
    CompensationAssignment,
    CompensationPlan,
    Objective,
    ObjectiveMetric,
    PerformanceReview,
    TrainingRecord,
)
from prm.employees.hierarchy import readable_by
from prm.employees.objectives import readable_objectives
from prm.employees.reviews import readable_reviews
from prm.employees.training import readable_training
from prm.graphql.context import Context, Info
from prm.graphql.relay import Node, register_node
from prm.graphql.scalars import MoneyType

if TYPE_CHECKING:
    from prm.graphql.employees.types import EmployeeType
    from prm.graphql.partners.types import PartnerType
    from prm.graphql.tenants.types import UserType

ObjectiveMetricEnum = strawberry.enum(
    ObjectiveMetric,
    name="ObjectiveMetric",
    description="What an objective measures: REVENUE_WON in the tenant's default currency, "
    "the others count.",
)

EmployeeRef = Annotated["EmployeeType", strawberry.lazy("prm.graphql.employees.types")]


async def _employee(info: Info, pk: uuid.UUID | None) -> EmployeeType | None:
    from prm.graphql.employees.types import load_employee

    return await load_employee(info.context, pk) if pk is not None else None


@strawberry.type(name="Objective", description="A target an employee should reach in a period.")
class ObjectiveType(Node):
    period: str
    metric: ObjectiveMetricEnum  # type: ignore[valid-type]
    target: Decimal = strawberry.field(
        description="Money (tenant currency) for REVENUE_WON, a whole count otherwise."
    )
    set_at: datetime = strawberry.field(description="When the target was last set.")
    employee_pk: strawberry.Private[uuid.UUID]

    @strawberry.field(description="Whose objective it is.")
    async def employee(self, info: Info) -> EmployeeRef | None:
        return await _employee(info, self.employee_pk)

    @classmethod
    def from_model(cls, row: Objective) -> ObjectiveType:
        # The column holds four decimals: show the value as set, without trailing zeros.
        target = Decimal(format(row.target.normalize(), "f"))
        return cls.from_row(
            row,
            metric=ObjectiveMetric(row.metric),
            target=target,
            set_at=row.updated_at,
            employee_pk=row.employee_id,
        )


@strawberry.type(
    name="CompensationPlan",
    description="Commission on won revenue: `basePercent` up to the quota, `basePercent + "
    "acceleratorPercent` above it, at most `capAmount` per period.",
)
class CompensationPlanType(Node):
    name: str
    base_percent: Decimal
    accelerator_percent: Decimal
    cap_amount: MoneyType | None
    currency: str
    active: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_model(cls, row: CompensationPlan) -> CompensationPlanType:
        hundredths = Decimal("0.01")  # the column's scale, whether read back or just set
        return cls.from_row(
            row,
            base_percent=row.base_percent.quantize(hundredths),
            accelerator_percent=row.accelerator_percent.quantize(hundredths),
            cap_amount=MoneyType.maybe(row.cap_amount, row.currency),
        )


@strawberry.type(
    name="CompensationAssignment", description="An employee is paid by a plan in a period."
)
class CompensationAssignmentType(Node):
    period: str
    employee_pk: strawberry.Private[uuid.UUID]
    plan_pk: strawberry.Private[uuid.UUID]

    @strawberry.field
    async def employee(self, info: Info) -> EmployeeRef | None:
        return await _employee(info, self.employee_pk)

    @strawberry.field
    async def plan(self, info: Info) -> CompensationPlanType | None:
        row = await info.context.loaders.by_id(CompensationPlan).load(self.plan_pk)
        return CompensationPlanType.from_model(row) if row else None

    @classmethod
    def from_model(cls, row: CompensationAssignment) -> CompensationAssignmentType:
        return cls.from_row(row, employee_pk=row.employee_id, plan_pk=row.plan_id)


@strawberry.type(name="PerformanceReview", description="A manager's review of an employee.")
class PerformanceReviewType(Node):
    period: str
    rating: int = strawberry.field(description="1 (lowest) to 5.")
    strengths: str | None
    goals: str | None
    acknowledged_at: datetime | None = strawberry.field(
        description="When the employee acknowledged it; from then on it is final."
    )
    created_at: datetime
    updated_at: datetime
    employee_pk: strawberry.Private[uuid.UUID]
    reviewer_pk: strawberry.Private[uuid.UUID | None]

    @strawberry.field(description="Who is reviewed.")
    async def employee(self, info: Info) -> EmployeeRef | None:
        return await _employee(info, self.employee_pk)

    @strawberry.field(description="The manager who wrote it (null for an admin with no employee).")
    async def reviewer(self, info: Info) -> EmployeeRef | None:
        return await _employee(info, self.reviewer_pk)

    @classmethod
    def from_model(cls, row: PerformanceReview) -> PerformanceReviewType:
        return cls.from_row(row, employee_pk=row.employee_id, reviewer_pk=row.reviewer_id)


@strawberry.type(
    name="TrainingRecord",
    description="A course an employee or a partner user completed; with a certification, "
    "it certifies until `expiresAt` (never, when null).",
)
class TrainingRecordType(Node):
    course: str
    certification: str | None
    completed_at: datetime
    expires_at: datetime | None
    created_at: datetime
    employee_pk: strawberry.Private[uuid.UUID | None]
    user_pk: strawberry.Private[uuid.UUID | None]
    partner_pk: strawberry.Private[uuid.UUID | None]

    @strawberry.field(description="Whether it has not expired now.")
    def current(self) -> bool:
        return self.expires_at is None or self.expires_at > datetime.now(UTC)

    @strawberry.field(description="The employee trained (or null: a partner user was).")
    async def employee(self, info: Info) -> EmployeeRef | None:
        return await _employee(info, self.employee_pk)

    @strawberry.field(description="The partner user trained, if visible.")
    async def user(
        self, info: Info
    ) -> Annotated[UserType, strawberry.lazy("prm.graphql.tenants.types")] | None:
        from prm.graphql.tenants.types import load_user

        return await load_user(info.context, self.user_pk) if self.user_pk else None

    @strawberry.field(description="The partner user's organisation.")
    async def partner(
        self, info: Info
    ) -> Annotated[PartnerType, strawberry.lazy("prm.graphql.partners.types")] | None:
        from prm.graphql.partners.types import load_partner

        return await load_partner(info.context, self.partner_pk) if self.partner_pk else None

    @classmethod
    def from_model(cls, row: TrainingRecord) -> TrainingRecordType:
        return cls.from_row(
            row, employee_pk=row.employee_id, user_pk=row.user_id, partner_pk=row.partner_id
        )


@register_node(ObjectiveType)
async def _objective_node(context: Context, pk: uuid.UUID) -> ObjectiveType | None:
    if context.principal is None:
        return None
    row = await context.session.scalar(
        readable_objectives(context.principal).where(Objective.id == pk)
    )
    return ObjectiveType.from_model(row) if row else None


@register_node(CompensationPlanType)
async def _plan_node(context: Context, pk: uuid.UUID) -> CompensationPlanType | None:
    if context.principal is None or not can_read_plans(context.principal):
        return None
    row = await context.loaders.by_id(CompensationPlan).load(pk)
    return CompensationPlanType.from_model(row) if row else None


@register_node(CompensationAssignmentType)
async def _assignment_node(context: Context, pk: uuid.UUID) -> CompensationAssignmentType | None:
    if context.principal is None:
        return None
    row = await context.session.scalar(
        select(CompensationAssignment).where(
            CompensationAssignment.tenant_id == context.principal.tenant_id,
            CompensationAssignment.id == pk,
            readable_by(context.principal, CompensationAssignment.employee_id),
        )
    )
    return CompensationAssignmentType.from_model(row) if row else None


@register_node(PerformanceReviewType)
async def _review_node(context: Context, pk: uuid.UUID) -> PerformanceReviewType | None:
    if context.principal is None:
        return None
    row = await context.session.scalar(
        readable_reviews(context.principal).where(PerformanceReview.id == pk)
    )
    return PerformanceReviewType.from_model(row) if row else None


@register_node(TrainingRecordType)
async def _training_node(context: Context, pk: uuid.UUID) -> TrainingRecordType | None:
    if context.principal is None:
        return None
    row = await context.session.scalar(
        readable_training(context.principal).where(TrainingRecord.id == pk)
    )
    return TrainingRecordType.from_model(row) if row else None
