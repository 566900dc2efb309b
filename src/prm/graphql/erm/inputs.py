"""Inputs and filters of the ERM API."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import strawberry

from prm.graphql.erm.types import ObjectiveMetricEnum
from prm.graphql.scalars import MoneyInput


@strawberry.input(description="Set (or replace) an employee's target for a period and metric.")
class SetObjectiveInput:
    employee_id: strawberry.ID
    period: str = strawberry.field(description="2026-11, 2026-Q4 or 2026.")
    metric: ObjectiveMetricEnum  # type: ignore[valid-type]
    target: Decimal = strawberry.field(
        description="Not negative; REVENUE_WON in the tenant's default currency, else whole."
    )


@strawberry.input
class CreateCompensationPlanInput:
    name: str
    base_percent: Decimal = strawberry.field(description="0 to 100, on revenue up to quota.")
    accelerator_percent: Decimal = strawberry.field(
        default=Decimal(0), description="0 to 100, added to the base above quota."
    )
    cap_amount: MoneyInput | None = strawberry.field(
        default=None,
        description="At most this much per period; its currency is the plan's (default: "
        "the tenant's).",
    )


@strawberry.input(description="Only the fields given change; a null capAmount removes the cap.")
class UpdateCompensationPlanInput:
    name: str | None = strawberry.UNSET
    base_percent: Decimal | None = strawberry.UNSET
    accelerator_percent: Decimal | None = strawberry.UNSET
    cap_amount: MoneyInput | None = strawberry.UNSET
    active: bool | None = strawberry.UNSET


@strawberry.input(description="Put an employee on a plan for a period (replaces its plan there).")
class AssignCompensationPlanInput:
    employee_id: strawberry.ID
    plan_id: strawberry.ID
    period: str


@strawberry.input
class SubmitPerformanceReviewInput:
    employee_id: strawberry.ID
    period: str
    rating: int = strawberry.field(description="1 (lowest) to 5.")
    strengths: str | None = None
    goals: str | None = None


@strawberry.input(description="Narrows `performanceReviews`; the fields combine.")
class PerformanceReviewFilter:
    employee_id: strawberry.ID | None = None
    period: str | None = None


@strawberry.input(description="Training for exactly one of an employee or a partner user.")
class RecordTrainingInput:
    employee_id: strawberry.ID | None = None
    user_id: strawberry.ID | None = strawberry.field(
        default=None, description="A partner user (staff users: use employeeId)."
    )
    course: str
    certification: str | None = None
    completed_at: datetime
    expires_at: datetime | None = None


@strawberry.input(description="Narrows `trainingRecords`; the fields combine.")
class TrainingRecordFilter:
    employee_id: strawberry.ID | None = None
    user_id: strawberry.ID | None = None
    partner_id: strawberry.ID | None = None
    certification: str | None = None
    current: bool | None = strawberry.field(
        default=None, description="True: not expired now; false: expired."
    )
