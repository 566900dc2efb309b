"""Realised lifetime value of accounts: what each has brought in so far.

`Account.lifetimeValue` is the sum of the account's CLOSED_WON opportunity amounts in the
tenant's default currency (won deals in other currencies are left out: there is no FX
conversion), null for an account without such a deal. It is realised value, looking back;
the predicted average customer lifetime value is `CustomerMetrics.averageLifetimeValue`.

A partner user counts only the opportunities it may see (`crm.visibility`), like
`Account.wonRevenue`. One GROUP BY for any number of accounts, joined to the tenant row
for its currency, so a page of accounts costs one statement.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from prm.auth.principal import Principal
from prm.crm.models import Opportunity, OpportunityStage
from prm.crm.visibility import opportunity_visible
from prm.money import Money, round_money
from prm.tenants.models import Tenant


async def realised_lifetime_values(
    session: AsyncSession, principal: Principal, account_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Money]:
    """Won revenue to date per account, in the tenant's currency; accounts without any
    are absent from the result."""
    if not account_ids:
        return {}
    rows = await session.execute(
        select(Opportunity.account_id, Tenant.default_currency, func.sum(Opportunity.amount))
        .join(
            Tenant,
            and_(
                Tenant.id == Opportunity.tenant_id,
                Tenant.default_currency == Opportunity.currency,
            ),
        )
        .where(
            Opportunity.tenant_id == principal.tenant_id,
            Opportunity.account_id.in_(set(account_ids)),
            Opportunity.stage == OpportunityStage.CLOSED_WON,
            Opportunity.amount.is_not(None),
            opportunity_visible(principal),
        )
        .group_by(Opportunity.account_id, Tenant.default_currency)
    )
    return {
        account_id: Money(round_money(amount, currency), currency)
        for account_id, currency, amount in rows
        if amount is not None
    }
