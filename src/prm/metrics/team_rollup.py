"""Team roll-ups: a manager's reports' employee scorecards of a period, summed.

Who is in the team: the manager's direct reports, or (`include_indirect`) everyone below
it in the reporting line (`prm.employees.hierarchy.reports_below`). The manager's own
scorecard is NOT included: the roll-up answers "how is my team doing", and the manager's
own figures are on its own scorecard. Only reports with a scorecard for the period count
(`members`); inactive employees have none, so they drop out, as they do from the lists.

Figures (money in the tenant's default currency, as the snapshots are):

- `revenue_won`, `deals_won`, `deals_lost`, `activities`, `pipeline_value`,
  `commission_earned`: sums over the members' scorecards (0 with no member);
- `win_rate`: Σ won / (Σ won + Σ lost), null when the team closed nothing;
- `quota_target`: Σ of the members' REVENUE_WON objective targets for this very period
  key, null when none has one;
- `quota_attainment`: Σ revenue won (of every member) / `quota_target`; null without a
  target or when it is 0.

Who may ask: an admin about any employee; a manager about itself or anyone below it;
anyone else, or a manager id not in the tenant, is `NotFound` (existence does not leak).
The operation itself is the ERM routes' (`ADMIN`, `MANAGER`): the GraphQL layer answers
FORBIDDEN to other roles before calling here.

One statement: the manager row (the visibility and existence check), outer-joined to the
members' scorecards and their quotas, aggregated, with the tenant's currency.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from prm.auth.principal import Principal
from prm.employees.erm_models import Objective, ObjectiveMetric
from prm.employees.hierarchy import readable_by, reports_below
from prm.employees.models import Employee
from prm.errors import NotFound
from prm.metrics.models import EmployeeScorecardRow
from prm.metrics.periods import Period
from prm.tenants.models import Tenant


@dataclass(frozen=True)
class TeamRollup:
    manager_id: uuid.UUID
    period: str
    currency: str
    members: int
    revenue_won: Decimal
    deals_won: int
    deals_lost: int
    activities: int
    pipeline_value: Decimal
    commission_earned: Decimal
    quota_target: Decimal | None

    @property
    def win_rate(self) -> float | None:
        closed = self.deals_won + self.deals_lost
        return self.deals_won / closed if closed else None

    @property
    def quota_attainment(self) -> float | None:
        if not self.quota_target:
            return None
        return float(self.revenue_won / self.quota_target)


def _members(tenant_id: uuid.UUID, manager_id: uuid.UUID, include_indirect: bool) -> Select[Any]:
    if include_indirect:
        return reports_below(tenant_id, manager_id)
    report = aliased(Employee)
    return select(report.id).where(report.tenant_id == tenant_id, report.manager_id == manager_id)


def team_rollup_statement(
    principal: Principal, manager_id: uuid.UUID, period: Period, *, include_indirect: bool
) -> Select[*tuple[Any, ...]]:
    """One row (the roll-up) if `principal` may read `manager_id`'s team, else none."""
    tenant_id = principal.tenant_id
    manager = aliased(Employee)
    card = EmployeeScorecardRow
    quota = aliased(Objective)
    zero = Decimal(0)
    return (
        select(
            manager.id,
            Tenant.default_currency,
            func.count(card.employee_id),
            func.coalesce(func.sum(card.revenue_won), zero),
            func.coalesce(func.sum(card.deals_won), 0),
            func.coalesce(func.sum(card.deals_lost), 0),
            func.coalesce(func.sum(card.activities), 0),
            func.coalesce(func.sum(card.pipeline_value), zero),
            func.coalesce(func.sum(card.commission_earned), zero),
            func.sum(quota.target),
        )
        .join(Tenant, Tenant.id == manager.tenant_id)
        .outerjoin(
            card,
            and_(
                card.tenant_id == manager.tenant_id,
                card.period == period.key,
                card.employee_id.in_(_members(tenant_id, manager_id, include_indirect)),
            ),
        )
        .outerjoin(  # at most one per (employee, period, metric): a unique index
            quota,
            and_(
                quota.tenant_id == card.tenant_id,
                quota.employee_id == card.employee_id,
                quota.period == card.period,
                quota.metric == ObjectiveMetric.REVENUE_WON,
            ),
        )
        .where(
            manager.tenant_id == tenant_id,
            manager.id == manager_id,
            readable_by(principal, manager.id),
        )
        .group_by(manager.id, Tenant.default_currency)
    )


async def team_rollup(
    session: AsyncSession,
    principal: Principal,
    manager_id: uuid.UUID,
    period: Period,
    *,
    include_indirect: bool = True,
) -> TeamRollup:
    """The roll-up of `manager_id`'s team for `period`; `NotFound` when the caller may not
    read that employee (or there is none)."""
    statement = team_rollup_statement(
        principal, manager_id, period, include_indirect=include_indirect
    )
    found = (await session.execute(statement)).first()
    if found is None:
        raise NotFound("no such employee", field="managerId")
    (_, currency, members, revenue, won, lost, activities, pipeline, commission, target) = found
    return TeamRollup(
        manager_id=manager_id,
        period=period.key,
        currency=currency,
        members=int(members),
        revenue_won=Decimal(revenue),
        deals_won=int(won),
        deals_lost=int(lost),
        activities=int(activities),
        pipeline_value=Decimal(pipeline),
        commission_earned=Decimal(commission),
        quota_target=None if target is None else Decimal(target),
    )
