"""What a case knows of its customer: the account's value and a loyalty score, frozen on
the case at opening (and on reopening) so assignment can rank by them.

- **Value**: the account's realised lifetime value (`prm.metrics.lifetime_value`): won
  revenue in the tenant's default currency, 0 without any. Counted over every deal of
  the account, whoever opens the case (a partner user's case still ranks by the whole
  relationship).
- **Loyalty score** (0..100), from the account's CLOSED_WON opportunities (any currency;
  a deal's date is its `closed_at`, else its `created_at`):
  - tenure, up to 40: `40 x min(years since the first won deal, 5) / 5`;
  - repeat business, up to 30: `30 x min(won deals - 1, 5) / 5`;
  - recency, up to 30: `30 x max(0, 1 - days since the last won deal / 365)`;
  rounded to one decimal; 0 for an account that never bought. One aggregate statement.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from prm.auth.principal import Principal
from prm.crm.models import Opportunity, OpportunityStage
from prm.metrics.lifetime_value import realised_lifetime_values

TENURE_POINTS = 40.0
TENURE_YEARS = 5.0
REPEAT_POINTS = 30.0
REPEAT_DEALS = 5.0
RECENCY_POINTS = 30.0
RECENCY_DAYS = 365.0
DAYS_PER_YEAR = 365.25


@dataclass(frozen=True)
class CustomerStanding:
    value: Decimal
    loyalty: float


def loyalty_score(
    first_won: datetime | None, last_won: datetime | None, won: int, now: datetime
) -> float:
    """The documented formula, for one account's aggregates."""
    if won <= 0 or first_won is None or last_won is None:
        return 0.0
    years = max((now - first_won).total_seconds(), 0.0) / 86400 / DAYS_PER_YEAR
    tenure = TENURE_POINTS * min(years, TENURE_YEARS) / TENURE_YEARS
    repeat = REPEAT_POINTS * min(won - 1, REPEAT_DEALS) / REPEAT_DEALS
    days = max((now - last_won).total_seconds(), 0.0) / 86400
    recency = RECENCY_POINTS * max(0.0, 1 - days / RECENCY_DAYS)
    return round(min(tenure + repeat + recency, 100.0), 1)


async def customer_standing(
    session: AsyncSession, tenant_id: uuid.UUID, account_id: uuid.UUID, now: datetime
) -> CustomerStanding:
    """The account's value and loyalty score as of `now`."""
    values = await realised_lifetime_values(session, Principal.system(tenant_id), [account_id])
    money = values.get(account_id)
    won_at = func.coalesce(Opportunity.closed_at, Opportunity.created_at)
    first_won, last_won, won = (
        await session.execute(
            select(func.min(won_at), func.max(won_at), func.count()).where(
                Opportunity.tenant_id == tenant_id,
                Opportunity.account_id == account_id,
                Opportunity.stage == OpportunityStage.CLOSED_WON,
            )
        )
    ).one()
    return CustomerStanding(
        value=money.amount if money is not None else Decimal("0"),
        loyalty=loyalty_score(first_won, last_won, int(won or 0), now),
    )
