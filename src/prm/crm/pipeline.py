"""Money rolled up per account: the open pipeline and the revenue won, per currency.

One GROUP BY over the opportunities of any number of accounts (the 360-degree view asks
for a whole page of accounts at once), counting only opportunities the caller may see.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from prm.auth.principal import Principal
from prm.crm.models import Opportunity, OpportunityStage
from prm.crm.opportunities import CLOSED_STAGES
from prm.crm.visibility import opportunity_visible
from prm.money import Money, round_money


@dataclass
class AccountTotals:
    open_pipeline: list[Money] = field(default_factory=list)
    """Sum of open opportunities' amounts, one per currency, by currency code."""
    won_revenue: list[Money] = field(default_factory=list)
    """Sum of won opportunities' amounts, one per currency, by currency code."""


async def account_totals(
    session: AsyncSession, principal: Principal, account_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, AccountTotals]:
    """Totals for each of `account_ids` (accounts without opportunities get empty lists)."""
    totals = {account_id: AccountTotals() for account_id in account_ids}
    if not account_ids:
        return totals
    won = Opportunity.stage == OpportunityStage.CLOSED_WON
    bucket = case((won, "won"), else_="open").label("bucket")
    rows = await session.execute(
        select(Opportunity.account_id, bucket, Opportunity.currency, func.sum(Opportunity.amount))
        .where(
            Opportunity.tenant_id == principal.tenant_id,
            Opportunity.account_id.in_(set(account_ids)),
            Opportunity.amount.is_not(None),
            won | Opportunity.stage.not_in(CLOSED_STAGES),
            opportunity_visible(principal),
        )
        .group_by(Opportunity.account_id, bucket, Opportunity.currency)
        .order_by(Opportunity.account_id, Opportunity.currency)
    )
    for account_id, kind, currency, amount in rows:
        money = Money(round_money(amount, currency), currency)
        target = totals[account_id]
        (target.won_revenue if kind == "won" else target.open_pipeline).append(money)
    return totals
