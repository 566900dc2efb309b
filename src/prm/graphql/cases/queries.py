"""Queries of customer service: `cases` (what the caller may see, most urgent first),
`caseQueues` and `caseSlaPolicies`."""

from __future__ import annotations

from datetime import UTC, datetime

import strawberry
from sqlalchemy import select

from prm.auth.principal import is_staff
from prm.crm.case_filters import filter_cases
from prm.crm.case_models import Case, CaseQueue
from prm.crm.case_sla import PRIORITY_ORDER, sla_policies
from prm.crm.case_visibility import readable_cases
from prm.graphql.cases.inputs import CaseFilter, case_criteria
from prm.graphql.cases.types import CaseQueueType, CaseSlaPolicyType, CaseType
from prm.graphql.context import Info
from prm.graphql.errors import Forbidden
from prm.graphql.pagination import Connection, Ordering, paginate
from prm.graphql.permissions import require_principal

BY_DUE = Ordering.by(Case.resolution_due_at)
"""Cases: the resolution due time first (the most urgent on top), then id."""


@strawberry.type
class Query:
    @strawberry.field(
        description="Cases the caller may see, by resolution due time: admins and managers "
        "all; agents those assigned to them and those of the queues their skills cover; "
        "partner users their partner's."
    )
    async def cases(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: CaseFilter | None = None,
    ) -> Connection[CaseType]:
        principal = require_principal(info)
        statement = readable_cases(principal)
        if (criteria := case_criteria(filter)) is not None:
            statement = filter_cases(statement, criteria, principal, datetime.now(UTC))
        return await paginate(
            info.context,
            statement,
            to_node=CaseType.from_model,
            first=first,
            after=after,
            order=BY_DUE,
        )

    @strawberry.field(description="The tenant's case queues, by name.")
    async def case_queues(self, info: Info) -> list[CaseQueueType]:
        principal = require_principal(info)
        rows = await info.context.session.scalars(
            select(CaseQueue)
            .where(CaseQueue.tenant_id == principal.tenant_id)
            .order_by(CaseQueue.name, CaseQueue.id)
        )
        return [CaseQueueType.from_model(row) for row in rows]

    @strawberry.field(
        description="SLA timers for every priority (LOW to URGENT), the defaults where the "
        "tenant set none (tenant staff)."
    )
    async def case_sla_policies(self, info: Info) -> list[CaseSlaPolicyType]:
        principal = require_principal(info)
        if not is_staff(principal):
            raise Forbidden("only tenant staff may read SLA policies")
        policies = await sla_policies(info.context.session, principal.tenant_id)
        return [CaseSlaPolicyType.of(policies[priority]) for priority in PRIORITY_ORDER]
