"""Per-campaign metrics, live (computed on read), for any number of campaigns in ONE
statement: each campaign LEFT JOINed to GROUP BYs of its members, leads, opportunities and
cost entries, each restricted to the tenant and the campaigns asked for (every one of
those tables has a `(tenant_id, campaign_id)` index).

Definitions (money in the tenant's default currency; amounts in another currency are left
out of sums, as everywhere in prm's metrics):

- `reach`: the campaign's members.
- `responses`: members with any response recorded (an UNSUBSCRIBED reply is a response
  too: the member reacted); `unsubscribes`: members whose response is UNSUBSCRIBED.
- `response_rate`: responses / reach (None with no reach).
- `leads`: leads whose `campaign_id` is the campaign (captured with `campaignId`).
- `opportunities`: opportunities attributed to it (`campaign_id`, copied from the lead on
  conversion); `won_deals`: those CLOSED_WON; `won_revenue`: Σ of their amounts.
- `cost`: Σ of the cost entries recorded with the campaign (`recordCost` with
  `campaignId`); the budget is a plan and never a cost.
- `cost_per_lead`: cost / leads (None with no leads); `cost_per_sale`: cost / won deals
  (None with none).
- `success_rate`: won deals / reach, the share of the audience that ended in a sale
  (None with no reach). It may exceed 1 when attributed deals came from leads captured
  outside the member list.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from prm.auth.principal import Principal
from prm.crm.marketing_models import Campaign, CampaignMember, MemberResponse
from prm.crm.models import Opportunity, OpportunityStage
from prm.crm.segments import require_marketing_reader
from prm.leads.models import Lead
from prm.metrics.models import CostEntry
from prm.money import Money, round_money
from prm.tenants.models import Tenant


@dataclass(frozen=True)
class CampaignMetrics:
    reach: int
    responses: int
    unsubscribes: int
    leads: int
    opportunities: int
    won_deals: int
    won_revenue: Money
    cost: Money

    @property
    def response_rate(self) -> float | None:
        return self.responses / self.reach if self.reach else None

    @property
    def success_rate(self) -> float | None:
        return self.won_deals / self.reach if self.reach else None

    @property
    def cost_per_lead(self) -> Money | None:
        return self._per(self.leads)

    @property
    def cost_per_sale(self) -> Money | None:
        return self._per(self.won_deals)

    def _per(self, count: int) -> Money | None:
        if not count:
            return None
        currency = self.cost.currency
        return Money(round_money(self.cost.amount / count, currency), currency)


async def campaign_metrics(
    session: AsyncSession, principal: Principal, campaign_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, CampaignMetrics]:
    """Metrics of each of the tenant's `campaign_ids` (others are absent): one statement."""
    require_marketing_reader(principal)
    ids = set(campaign_ids)
    if not ids:
        return {}
    tenant_id = principal.tenant_id
    currency = select(Tenant.default_currency).where(Tenant.id == tenant_id).scalar_subquery()
    members = (
        select(
            CampaignMember.campaign_id,
            func.count().label("reach"),
            func.count(CampaignMember.response).label("responses"),
            func.count()
            .filter(CampaignMember.response == MemberResponse.UNSUBSCRIBED)
            .label("unsubscribes"),
        )
        .where(CampaignMember.tenant_id == tenant_id, CampaignMember.campaign_id.in_(ids))
        .group_by(CampaignMember.campaign_id)
        .subquery("m")
    )
    leads = (
        select(Lead.campaign_id, func.count().label("leads"))
        .where(Lead.tenant_id == tenant_id, Lead.campaign_id.in_(ids))
        .group_by(Lead.campaign_id)
        .subquery("l")
    )
    won = Opportunity.stage == OpportunityStage.CLOSED_WON
    deals = (
        select(
            Opportunity.campaign_id,
            func.count().label("opportunities"),
            func.count().filter(won).label("won_deals"),
            func.sum(Opportunity.amount)
            .filter(won, Opportunity.currency == currency)
            .label("won_revenue"),
        )
        .where(Opportunity.tenant_id == tenant_id, Opportunity.campaign_id.in_(ids))
        .group_by(Opportunity.campaign_id)
        .subquery("o")
    )
    costs = (
        select(
            CostEntry.campaign_id,
            func.sum(CostEntry.amount).filter(CostEntry.currency == currency).label("cost"),
        )
        .where(CostEntry.tenant_id == tenant_id, CostEntry.campaign_id.in_(ids))
        .group_by(CostEntry.campaign_id)
        .subquery("k")
    )
    statement = (
        select(
            Campaign.id,
            currency.label("currency"),
            func.coalesce(members.c.reach, 0),
            func.coalesce(members.c.responses, 0),
            func.coalesce(members.c.unsubscribes, 0),
            func.coalesce(leads.c.leads, 0),
            func.coalesce(deals.c.opportunities, 0),
            func.coalesce(deals.c.won_deals, 0),
            func.coalesce(deals.c.won_revenue, 0),
            func.coalesce(costs.c.cost, 0),
        )
        .outerjoin(members, members.c.campaign_id == Campaign.id)
        .outerjoin(leads, leads.c.campaign_id == Campaign.id)
        .outerjoin(deals, deals.c.campaign_id == Campaign.id)
        .outerjoin(costs, costs.c.campaign_id == Campaign.id)
        .where(Campaign.tenant_id == tenant_id, Campaign.id.in_(ids))
    )
    result: dict[uuid.UUID, CampaignMetrics] = {}
    for row in await session.execute(statement):
        (pk, code, reach, responses, unsubscribes, lead_count, opportunities, won_deals,
         revenue, cost) = row  # fmt: skip
        result[pk] = CampaignMetrics(
            reach=int(reach),
            responses=int(responses),
            unsubscribes=int(unsubscribes),
            leads=int(lead_count),
            opportunities=int(opportunities),
            won_deals=int(won_deals),
            won_revenue=Money(round_money(Decimal(revenue), code), code),
            cost=Money(round_money(Decimal(cost), code), code),
        )
    return result
