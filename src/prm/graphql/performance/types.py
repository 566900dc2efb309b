"""Managers' views over the scorecard snapshots: `LeaderboardEntry`, the trend points and
`TeamScorecard`. Scorecards inside them are the scorecards package's own types, so a
leaderboard row reads exactly like a `partnerScorecards` node (and resolves its partner or
employee through the same per-request loaders)."""

from __future__ import annotations

import uuid
from decimal import Decimal

import strawberry

from prm.graphql.context import Info
from prm.graphql.employees.types import EmployeeType, load_employee
from prm.graphql.errors import Forbidden
from prm.graphql.scalars import MoneyType
from prm.graphql.scorecards.employee_types import EmployeeScorecardType
from prm.graphql.scorecards.types import PartnerScorecardType
from prm.metrics.leaderboard import LeaderboardKind
from prm.metrics.team_rollup import TeamRollup
from prm.metrics.trends import PeriodKind
from prm.money import Money

LeaderboardKindEnum = strawberry.enum(
    LeaderboardKind, name="LeaderboardKind", description="Whose scorecards a leaderboard ranks."
)
PeriodKindEnum = strawberry.enum(
    PeriodKind, name="PeriodKind", description="The length of a trend's periods."
)


@strawberry.type(
    description="A place on a leaderboard. `position` is the rank among ALL of the tenant's "
    "scorecards of the period (ties share it, nulls come last), even when the caller sees "
    "only some of them. Exactly one of the two scorecards is set, by the leaderboard's kind."
)
class LeaderboardEntry:
    position: int
    value: float | None = strawberry.field(description="The ranked figure (money as a number).")
    partner_scorecard: PartnerScorecardType | None = None
    employee_scorecard: EmployeeScorecardType | None = None


@strawberry.type(description="A partner's scorecard in one period of a trend.")
class PartnerScorecardTrendPoint:
    period: str
    scorecard: PartnerScorecardType | None = strawberry.field(
        description="Null when that period's scorecards were never computed."
    )


@strawberry.type(description="An employee's scorecard in one period of a trend.")
class EmployeeScorecardTrendPoint:
    period: str
    scorecard: EmployeeScorecardType | None = strawberry.field(
        description="Null when that period's scorecards were never computed."
    )


@strawberry.type(
    description="A manager's team for a period: the employee scorecards of its reports "
    "(direct, or everyone below it), summed. The manager's own scorecard is not included. "
    "Money in the tenant's default currency."
)
class TeamScorecard:
    period: str
    members: int = strawberry.field(description="Reports with a scorecard for the period.")
    revenue_won: MoneyType
    deals_won: int
    deals_lost: int
    win_rate: float | None = strawberry.field(
        description="Σ won / (Σ won + Σ lost); null when the team closed nothing."
    )
    activities: int
    pipeline_value: MoneyType
    quota_target: MoneyType | None = strawberry.field(
        description="Σ of the members' REVENUE_WON objective targets; null when none has one."
    )
    quota_attainment: float | None = strawberry.field(
        description="Σ revenue won / quotaTarget; null without a (non-zero) target."
    )
    commission_earned: MoneyType
    manager_pk: strawberry.Private[uuid.UUID]

    @strawberry.field(description="Whose team this is.")
    async def manager(self, info: Info) -> EmployeeType:
        employee = await load_employee(info.context, self.manager_pk)
        if employee is None:  # the roll-up is only ever built for staff who may read it
            raise Forbidden("only tenant staff may read employees")
        return employee

    @classmethod
    def from_rollup(cls, rollup: TeamRollup) -> TeamScorecard:
        def money(amount: Decimal) -> MoneyType:
            return MoneyType.of(Money(amount, rollup.currency))

        return cls(
            period=rollup.period,
            members=rollup.members,
            revenue_won=money(rollup.revenue_won),
            deals_won=rollup.deals_won,
            deals_lost=rollup.deals_lost,
            win_rate=rollup.win_rate,
            activities=rollup.activities,
            pipeline_value=money(rollup.pipeline_value),
            quota_target=(money(rollup.quota_target) if rollup.quota_target is not None else None),
            quota_attainment=rollup.quota_attainment,
            commission_earned=money(rollup.commission_earned),
            manager_pk=rollup.manager_id,
        )
