"""Queries of ERM: `objectives`, `compensationPlans`, `performanceReviews` and
`trainingRecords`, each scoped by the domain's readable statement (see
`prm.employees.hierarchy` for who sees whose records)."""

from __future__ import annotations

import strawberry
from sqlalchemy import false

from prm.auth.principal import Role
from prm.employees import compensation, objectives, reviews, training
from prm.employees.erm_models import Objective, PerformanceReview, TrainingRecord
from prm.errors import DomainError
from prm.graphql.context import Info
from prm.graphql.erm.inputs import PerformanceReviewFilter, TrainingRecordFilter
from prm.graphql.erm.types import (
    CompensationPlanType,
    ObjectiveType,
    PerformanceReviewType,
    TrainingRecordType,
)
from prm.graphql.errors import QueryUserError
from prm.graphql.pagination import NEWEST_FIRST, Connection, OrderDirection, Ordering, paginate
from prm.graphql.permissions import require_principal, require_roles
from prm.graphql.relay import pk_of
from prm.metrics.periods import parse_period

NEWEST_COMPLETED = Ordering.by(TrainingRecord.completed_at, OrderDirection.DESC)


def period_key(period: str) -> str:
    """The period's key, or a BAD_USER_INPUT error naming the field (queries have no payload)."""
    try:
        return parse_period(period).key
    except DomainError as error:
        raise QueryUserError(error) from error


@strawberry.type
class Query:
    @strawberry.field(
        description="Objectives for a period: a manager's reports' (transitively) and its "
        "own; an admin's, everyone's. Employees read theirs on `Employee.objectives`."
    )
    async def objectives(
        self, info: Info, period: str, first: int | None = None, after: str | None = None
    ) -> Connection[ObjectiveType]:
        principal = require_roles(info, Role.ADMIN, Role.MANAGER)
        statement = objectives.readable_objectives(principal).where(
            Objective.period == period_key(period)
        )
        return await paginate(
            info.context, statement, to_node=ObjectiveType.from_model, first=first, after=after
        )

    @strawberry.field(description="The tenant's compensation plans (admins and managers).")
    async def compensation_plans(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[CompensationPlanType]:
        require_roles(info, Role.ADMIN, Role.MANAGER)
        statement = compensation.readable_plans(require_principal(info))
        return await paginate(
            info.context,
            statement,
            to_node=CompensationPlanType.from_model,
            first=first,
            after=after,
        )

    @strawberry.field(
        description="Performance reviews, newest first: an employee's own, a manager's "
        "reports' (transitively), an admin's all."
    )
    async def performance_reviews(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: PerformanceReviewFilter | None = None,
    ) -> Connection[PerformanceReviewType]:
        principal = require_roles(info, Role.ADMIN, Role.MANAGER, Role.EMPLOYEE)
        statement = reviews.readable_reviews(principal)
        if filter is not None:
            if filter.employee_id is not None:
                employee_id = pk_of(filter.employee_id, "Employee")
                statement = (
                    statement.where(PerformanceReview.employee_id == employee_id)
                    if employee_id is not None
                    else statement.where(false())
                )
            if filter.period is not None:
                statement = statement.where(PerformanceReview.period == period_key(filter.period))
        return await paginate(
            info.context,
            statement,
            to_node=PerformanceReviewType.from_model,
            first=first,
            after=after,
            order=NEWEST_FIRST,
        )

    @strawberry.field(
        description="Training records, latest completion first: staff admins and managers "
        "see all, an employee its own, partner users their partner's."
    )
    async def training_records(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: TrainingRecordFilter | None = None,
    ) -> Connection[TrainingRecordType]:
        statement = training.readable_training(require_principal(info))
        if filter is not None:
            employee_id = pk_of(filter.employee_id, "Employee")
            user_id = pk_of(filter.user_id, "User")
            partner_id = pk_of(filter.partner_id, "Partner")
            given = (filter.employee_id, filter.user_id, filter.partner_id)
            if any(
                value is not None and pk is None
                for value, pk in zip(given, (employee_id, user_id, partner_id), strict=True)
            ):
                statement = statement.where(false())  # an id of nothing: nothing matches
            statement = training.filter_training(
                statement,
                employee_id=employee_id,
                user_id=user_id,
                partner_id=partner_id,
                certification=filter.certification,
                current=filter.current,
            )
        return await paginate(
            info.context,
            statement,
            to_node=TrainingRecordType.from_model,
            first=first,
            after=after,
            order=NEWEST_COMPLETED,
        )
