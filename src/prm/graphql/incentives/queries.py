"""Queries of incentives: `incentiveRules`, `earnedIncentives` and `incentiveStatement`,
each scoped by the domain's readable statement (partner users: their own partner's)."""

from __future__ import annotations

import strawberry
from sqlalchemy import false, or_

from prm.errors import DomainError
from prm.graphql.context import Info
from prm.graphql.errors import QueryUserError
from prm.graphql.incentives.inputs import EarnedIncentiveFilter, IncentiveRuleFilter
from prm.graphql.incentives.types import (
    EarnedIncentiveType,
    IncentiveRuleType,
    IncentiveStatement,
)
from prm.graphql.pagination import Connection, paginate
from prm.graphql.permissions import require_principal
from prm.graphql.relay import pk_of
from prm.incentives.lifecycle import readable_incentives
from prm.incentives.models import EarnedIncentive, IncentiveRule, IncentiveStatus
from prm.incentives.rules import readable_rules
from prm.incentives.statements import in_period, incentive_statement
from prm.metrics.periods import parse_period


@strawberry.type
class Query:
    @strawberry.field(description="Incentive rules: staff see all, partner users their programs'.")
    async def incentive_rules(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: IncentiveRuleFilter | None = None,
    ) -> Connection[IncentiveRuleType]:
        statement = readable_rules(require_principal(info))
        if filter is not None:
            if filter.program_id is not None:
                pk = pk_of(filter.program_id, "ChannelProgram")
                statement = statement.where(IncentiveRule.program_id == pk if pk else false())
            if filter.level_id is not None:
                pk = pk_of(filter.level_id, "ProgramLevel")
                statement = statement.where(IncentiveRule.level_id == pk if pk else false())
            if filter.active_at is not None:
                at = filter.active_at
                statement = statement.where(
                    or_(IncentiveRule.starts_at.is_(None), IncentiveRule.starts_at <= at),
                    or_(IncentiveRule.ends_at.is_(None), IncentiveRule.ends_at > at),
                )
        return await paginate(
            info.context, statement, to_node=IncentiveRuleType.from_model, first=first, after=after
        )

    @strawberry.field(
        description="Earned incentives: admins and managers see the tenant's, partner users "
        "their partner's."
    )
    async def earned_incentives(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: EarnedIncentiveFilter | None = None,
    ) -> Connection[EarnedIncentiveType]:
        statement = readable_incentives(require_principal(info))
        if filter is not None:
            if filter.partner_id is not None:
                pk = pk_of(filter.partner_id, "Partner")
                statement = statement.where(EarnedIncentive.partner_id == pk if pk else false())
            if filter.status is not None:
                statement = statement.where(
                    EarnedIncentive.status == IncentiveStatus(filter.status)
                )
            if filter.period is not None:
                try:
                    period = parse_period(filter.period)
                except DomainError as error:
                    raise QueryUserError(error) from error
                statement = statement.where(in_period(period))
        return await paginate(
            info.context,
            statement,
            to_node=EarnedIncentiveType.from_model,
            first=first,
            after=after,
        )

    @strawberry.field(
        description="A partner's incentives of a period with totals per status and currency; "
        "partner users only their own (another partner is NOT_FOUND)."
    )
    async def incentive_statement(
        self, info: Info, partner_id: strawberry.ID, period: str
    ) -> IncentiveStatement:
        principal = require_principal(info)
        try:
            pk = pk_of(partner_id, "Partner")
            if pk is None:
                from prm.errors import NotFound

                raise NotFound("no such partner", field="partnerId")
            statement = await incentive_statement(
                info.context.session, principal, partner_id=pk, period=period
            )
        except DomainError as error:
            raise QueryUserError(error) from error
        return IncentiveStatement.of(statement)
