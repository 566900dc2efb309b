"""Queries of onboarding: a partner's checklist, the items awaiting review, a program's
checklist definition."""

from __future__ import annotations

import strawberry
from sqlalchemy import false

from prm.auth.principal import Role
from prm.errors import InvalidInput
from prm.graphql.context import Info
from prm.graphql.errors import QueryUserError
from prm.graphql.onboarding.types import (
    PROGRAM_TYPE,
    OnboardingChecklistType,
    OnboardingItemType,
    OnboardingTaskType,
)
from prm.graphql.pagination import Connection, Ordering, paginate
from prm.graphql.permissions import require_principal, require_roles
from prm.graphql.relay import pk_of
from prm.partners import onboarding
from prm.partners.program_models import OnboardingTask, PartnerOnboardingTask

OLDEST_SUBMITTED = Ordering.by(PartnerOnboardingTask.submitted_at)
BY_POSITION = Ordering.by(OnboardingTask.position)


@strawberry.type
class Query:
    @strawberry.field(
        description="A partner's onboarding checklist: partner users their own (partnerId "
        "optional), staff any partner's (partnerId required). Null for a partner the "
        "caller may not see."
    )
    async def onboarding_checklist(
        self, info: Info, partner_id: strawberry.ID | None = None
    ) -> OnboardingChecklistType | None:
        principal = require_principal(info)
        if partner_id is None:
            if principal.partner_id is None:
                raise QueryUserError(InvalidInput("give a partnerId", field="partnerId"))
            pk = principal.partner_id
        else:
            found = pk_of(partner_id, "Partner")
            if found is None:
                return None
            pk = found
        checklists = await onboarding.checklists(info.context.session, principal, [pk])
        checklist = checklists.get(pk)
        return OnboardingChecklistType.from_checklist(checklist) if checklist else None

    @strawberry.field(
        description="Items awaiting review (SUBMITTED), oldest submission first (admins "
        "and managers)."
    )
    async def onboarding_reviews(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[OnboardingItemType]:
        principal = require_roles(info, Role.ADMIN, Role.MANAGER)
        return await paginate(
            info.context,
            onboarding.awaiting_review(principal),
            to_node=lambda record: OnboardingItemType.from_record(record),
            first=first,
            after=after,
            order=OLDEST_SUBMITTED,
        )

    @strawberry.field(
        description="A program's onboarding tasks by position: staff any program's, "
        "partner users those of programs they are enrolled in."
    )
    async def onboarding_tasks(
        self,
        info: Info,
        program_id: strawberry.ID,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[OnboardingTaskType]:
        principal = require_principal(info)
        pk = pk_of(program_id, PROGRAM_TYPE)
        statement = onboarding.readable_tasks(principal)
        statement = (
            statement.where(OnboardingTask.program_id == pk)
            if pk is not None
            else statement.where(false())
        )
        return await paginate(
            info.context,
            statement,
            to_node=OnboardingTaskType.from_model,
            first=first,
            after=after,
            order=BY_POSITION,
        )
