"""Incentive statements: what a partner earned in a period, line by line, with totals per
status and currency.

A period holds the per-deal incentives of deals closed in it and the rebates of periods
inside it (a quarterly rebate is on the quarter's and the year's statements, not on a
month's). VOID lines (deals reopened) are left out: nothing is owed for them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from prm.auth.principal import Principal, Role, own_partner
from prm.errors import NotFound
from prm.incentives.lifecycle import readable_incentives
from prm.incentives.models import EarnedIncentive, IncentiveStatus
from prm.metrics.periods import Period, parse_period
from prm.money import round_money
from prm.partners.models import Partner

MAX_LINES = 1000


def in_period(period: Period) -> Any:
    """Rows belonging to `period` (see the module docstring)."""
    return or_(
        and_(
            EarnedIncentive.rebate_period.is_(None),
            EarnedIncentive.earned_at >= period.start,
            EarnedIncentive.earned_at < period.end,
        ),
        and_(
            EarnedIncentive.rebate_period.is_not(None),
            EarnedIncentive.period_start >= period.start,
            EarnedIncentive.period_end <= period.end,
        ),
    )


@dataclass(frozen=True)
class Total:
    status: IncentiveStatus
    currency: str
    amount: Decimal
    count: int


@dataclass(frozen=True)
class Statement:
    partner_id: uuid.UUID
    period: str
    lines: list[EarnedIncentive]
    totals: list[Total]
    truncated: bool


def statement_rows(
    principal: Principal, partner_id: uuid.UUID, period: Period
) -> Select[EarnedIncentive]:
    return readable_incentives(principal).where(
        EarnedIncentive.partner_id == partner_id,
        EarnedIncentive.status != IncentiveStatus.VOID,
        in_period(period),
    )


async def incentive_statement(
    session: AsyncSession, principal: Principal, *, partner_id: uuid.UUID, period: str
) -> Statement:
    """The partner's statement of `period`: two queries (lines, totals). A partner the
    caller may not see is NOT_FOUND; partner users see only their own."""
    parsed = parse_period(period)
    may_read = principal.has_any(Role.ADMIN, Role.MANAGER) or own_partner(principal) == partner_id
    partner = await session.scalar(
        select(Partner.id).where(Partner.tenant_id == principal.tenant_id, Partner.id == partner_id)
    )
    if partner is None or not may_read:
        raise NotFound("no such partner", field="partnerId")
    rows = statement_rows(principal, partner_id, parsed)
    lines = list(
        await session.scalars(
            rows.order_by(EarnedIncentive.earned_at, EarnedIncentive.id).limit(MAX_LINES + 1)
        )
    )
    base = rows.subquery()
    totals = [
        Total(IncentiveStatus(status), currency, round_money(amount, currency), int(count))
        for status, currency, amount, count in await session.execute(
            select(base.c.status, base.c.currency, func.sum(base.c.amount), func.count())
            .group_by(base.c.status, base.c.currency)
            .order_by(base.c.status, base.c.currency)
        )
    ]
    return Statement(
        partner_id=partner_id,
        period=parsed.key,
        lines=lines[:MAX_LINES],
        totals=totals,
        truncated=len(lines) > MAX_LINES,
    )
