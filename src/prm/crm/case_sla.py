"""SLA timers of cases: minutes from opening to the first response and to resolution,
per priority. A tenant sets its own with `setCaseSlaPolicy`; a priority it has not set
uses `DEFAULT_SLA`:

| priority | first response | resolution |
| --- | --- | --- |
| URGENT | 30 min | 4 h |
| HIGH | 2 h | 1 day |
| NORMAL | 8 h | 3 days |
| LOW | 1 day | 5 days |

Times are wall-clock minutes (no business hours or holidays)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from prm.crm.case_models import CasePriority, CaseSlaPolicy
from prm.errors import InvalidInput

MAX_MINUTES = 60 * 24 * 365
"""A timer longer than a year is a typo, not a policy."""


@dataclass(frozen=True)
class SlaTimes:
    priority: CasePriority
    first_response_minutes: int
    resolution_minutes: int
    is_default: bool = False

    def first_response_due(self, start: datetime) -> datetime:
        return start + timedelta(minutes=self.first_response_minutes)

    def resolution_due(self, start: datetime) -> datetime:
        return start + timedelta(minutes=self.resolution_minutes)


DEFAULT_SLA: dict[CasePriority, SlaTimes] = {
    CasePriority.URGENT: SlaTimes(CasePriority.URGENT, 30, 4 * 60, True),
    CasePriority.HIGH: SlaTimes(CasePriority.HIGH, 2 * 60, 24 * 60, True),
    CasePriority.NORMAL: SlaTimes(CasePriority.NORMAL, 8 * 60, 3 * 24 * 60, True),
    CasePriority.LOW: SlaTimes(CasePriority.LOW, 24 * 60, 5 * 24 * 60, True),
}

PRIORITY_ORDER = (CasePriority.LOW, CasePriority.NORMAL, CasePriority.HIGH, CasePriority.URGENT)


def raised(priority: CasePriority) -> CasePriority:
    """One step up (URGENT stays URGENT): what an escalation does to a case's priority."""
    index = PRIORITY_ORDER.index(priority)
    return PRIORITY_ORDER[min(index + 1, len(PRIORITY_ORDER) - 1)]


async def sla_policies(session: AsyncSession, tenant_id: uuid.UUID) -> dict[CasePriority, SlaTimes]:
    """The tenant's timers for every priority, defaults filling the gaps."""
    rows = await session.scalars(select(CaseSlaPolicy).where(CaseSlaPolicy.tenant_id == tenant_id))
    policies = dict(DEFAULT_SLA)
    for row in rows:
        policies[row.priority] = SlaTimes(
            row.priority, row.first_response_minutes, row.resolution_minutes
        )
    return policies


async def sla_for(session: AsyncSession, tenant_id: uuid.UUID, priority: CasePriority) -> SlaTimes:
    row = await session.scalar(
        select(CaseSlaPolicy).where(
            CaseSlaPolicy.tenant_id == tenant_id, CaseSlaPolicy.priority == priority
        )
    )
    if row is None:
        return DEFAULT_SLA[priority]
    return SlaTimes(priority, row.first_response_minutes, row.resolution_minutes)


async def set_sla_policy(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    *,
    priority: CasePriority,
    first_response_minutes: int,
    resolution_minutes: int,
) -> SlaTimes:
    """Create or replace the tenant's timers for `priority` (cases already open keep theirs)."""
    for field, value in (
        ("firstResponseMinutes", first_response_minutes),
        ("resolutionMinutes", resolution_minutes),
    ):
        if not 0 < value <= MAX_MINUTES:
            raise InvalidInput(f"must be between 1 and {MAX_MINUTES} minutes", field=field)
    if resolution_minutes < first_response_minutes:
        raise InvalidInput(
            "resolution cannot be due before the first response", field="resolutionMinutes"
        )
    row = await session.scalar(
        select(CaseSlaPolicy)
        .where(CaseSlaPolicy.tenant_id == tenant_id, CaseSlaPolicy.priority == priority)
        .with_for_update()
    )
    if row is None:
        row = CaseSlaPolicy(tenant_id=tenant_id, priority=priority)
        session.add(row)
    row.first_response_minutes = first_response_minutes
    row.resolution_minutes = resolution_minutes
    await session.flush()
    return SlaTimes(priority, first_response_minutes, resolution_minutes)
