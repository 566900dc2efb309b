"""`leaderboard`, `partnerScorecardTrend`, `employeeScorecardTrend` and `teamScorecard`:
the managers' views over the scorecard snapshots. Each parses its arguments, calls one
`prm.metrics` function (which owns the SQL and the visibility rules) and shapes the
answer; domain errors become GraphQL errors with their own code and field."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar

import strawberry

from prm.auth.principal import Role
from prm.errors import DomainError, NotFound
from prm.graphql.context import Info
from prm.graphql.errors import QueryUserError
from prm.graphql.performance.types import (
    EmployeeScorecardTrendPoint,
    LeaderboardEntry,
    LeaderboardKindEnum,
    PartnerScorecardTrendPoint,
    PeriodKindEnum,
    TeamScorecard,
)
from prm.graphql.permissions import require_principal, require_roles
from prm.graphql.relay import pk_of
from prm.graphql.scorecards.employee_types import EmployeeScorecardType
from prm.graphql.scorecards.ordering import ASCENDING_BY_DEFAULT, ScorecardField
from prm.graphql.scorecards.types import PartnerScorecardType
from prm.metrics import leaderboard as boards
from prm.metrics import team_rollup, trends
from prm.metrics.leaderboard import LeaderboardKind
from prm.metrics.periods import parse_period
from prm.metrics.trends import PeriodKind

T = TypeVar("T")


async def _answer(call: Callable[[], Awaitable[T]]) -> T:
    """`call()`, with a domain error reported as a GraphQL error carrying its code."""
    try:
        return await call()
    except DomainError as error:
        raise QueryUserError(error) from error


def _subject(value: str, type_name: str, field: str) -> uuid.UUID:
    pk = pk_of(value, type_name)
    if pk is None:
        raise QueryUserError(NotFound(f"no such {type_name.lower()}", field=field))
    return pk


@strawberry.type
class Query:
    @strawberry.field(
        description="The best `first` (1 to 100) partners or employees of a period by one "
        "figure: RANK and MEDIAN_HOURS_TO_ACCEPT ascend, every other descends; ties share a "
        "position, nulls come last. Positions are over the whole tenant, but the entries are "
        "only those the caller may read (a partner user its own, a manager its team and "
        "itself, an employee itself). A figure the kind lacks, or `first` out of range, is "
        "INVALID; employee leaderboards are FORBIDDEN to partner users."
    )
    async def leaderboard(
        self,
        info: Info,
        kind: LeaderboardKindEnum,  # type: ignore[valid-type]
        metric: ScorecardField,
        period: str,
        first: int | None = 10,
    ) -> list[LeaderboardEntry]:
        principal = require_principal(info)
        board = LeaderboardKind(kind)

        async def read() -> list[LeaderboardEntry]:
            entries = await boards.leaderboard(
                info.context.session,
                principal,
                board,
                parse_period(period),
                metric=metric.value.lower(),
                descending=metric not in ASCENDING_BY_DEFAULT,
                first=10 if first is None else first,
            )
            if board is LeaderboardKind.PARTNER:
                return [
                    LeaderboardEntry(
                        position=entry.position,
                        value=entry.value,
                        partner_scorecard=PartnerScorecardType.from_row(entry.row),
                    )
                    for entry in entries
                ]
            return [
                LeaderboardEntry(
                    position=entry.position,
                    value=entry.value,
                    employee_scorecard=EmployeeScorecardType.from_row(entry.row),
                )
                for entry in entries
            ]

        return await _answer(read)

    @strawberry.field(
        description="One partner's scorecards over the `last` (1 to 24) periods of a kind, "
        "oldest first, ending at `until` (a period of that kind; default: the current one). "
        "A period never computed has a null scorecard. A partner the caller may not read "
        "is NOT_FOUND."
    )
    async def partner_scorecard_trend(
        self,
        info: Info,
        partner_id: strawberry.ID,
        period_kind: PeriodKindEnum | None = PeriodKind.MONTH,  # type: ignore[valid-type]
        last: int | None = 6,
        until: str | None = None,
    ) -> list[PartnerScorecardTrendPoint]:
        principal = require_principal(info)
        pk = _subject(partner_id, "Partner", "partnerId")

        async def read() -> list[PartnerScorecardTrendPoint]:
            periods = trends.trend_periods(
                PeriodKind(period_kind or PeriodKind.MONTH),
                6 if last is None else last,
                until,
                now=datetime.now(UTC),
            )
            points = await trends.partner_trend(info.context.session, principal, pk, periods)
            return [
                PartnerScorecardTrendPoint(
                    period=point.period.key,
                    scorecard=PartnerScorecardType.from_row(point.row) if point.row else None,
                )
                for point in points
            ]

        return await _answer(read)

    @strawberry.field(
        description="One employee's scorecards over the `last` (1 to 24) periods of a kind, "
        "oldest first, ending at `until` (default: the current period). An employee the "
        "caller may not read (an admin all, a manager its reports and itself, an employee "
        "itself) is NOT_FOUND; partner users are FORBIDDEN."
    )
    async def employee_scorecard_trend(
        self,
        info: Info,
        employee_id: strawberry.ID,
        period_kind: PeriodKindEnum | None = PeriodKind.MONTH,  # type: ignore[valid-type]
        last: int | None = 6,
        until: str | None = None,
    ) -> list[EmployeeScorecardTrendPoint]:
        principal = require_principal(info)
        pk = _subject(employee_id, "Employee", "employeeId")

        async def read() -> list[EmployeeScorecardTrendPoint]:
            periods = trends.trend_periods(
                PeriodKind(period_kind or PeriodKind.MONTH),
                6 if last is None else last,
                until,
                now=datetime.now(UTC),
            )
            points = await trends.employee_trend(info.context.session, principal, pk, periods)
            return [
                EmployeeScorecardTrendPoint(
                    period=point.period.key,
                    scorecard=EmployeeScorecardType.from_row(point.row) if point.row else None,
                )
                for point in points
            ]

        return await _answer(read)

    @strawberry.field(
        description="A manager's team summed for a period: its reports' employee scorecards "
        "(everyone below it, or only direct reports with `includeIndirect: false`), not its "
        "own. Admins ask about anyone, a manager about itself or a manager below it (else "
        "NOT_FOUND); other roles are FORBIDDEN."
    )
    async def team_scorecard(
        self,
        info: Info,
        manager_id: strawberry.ID,
        period: str,
        include_indirect: bool | None = True,
    ) -> TeamScorecard:
        principal = require_roles(info, Role.ADMIN, Role.MANAGER)
        pk = _subject(manager_id, "Employee", "managerId")

        async def read() -> TeamScorecard:
            rollup = await team_rollup.team_rollup(
                info.context.session,
                principal,
                pk,
                parse_period(period),
                include_indirect=include_indirect is not False,
            )
            return TeamScorecard.from_rollup(rollup)

        return await _answer(read)
