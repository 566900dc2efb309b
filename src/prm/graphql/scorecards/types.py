"""`PartnerScorecard` and the `partnerScorecards` connection and `Partner.scorecard`
resolvers, read from the snapshots `prm.metrics.partner_scorecards` writes (`ScorecardOrder`
is `prm.graphql.scorecards.ordering`'s, re-exported here for the queries).

Who sees which rows is the domain's rule (`readable_partner_scorecards`): tenant staff
every partner's, a partner user only its own organisation's. Pages are the keyset pages
of `prm.graphql.scorecards.ordering`, over (sort key, partner id).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

import strawberry
from strawberry.dataloader import DataLoader

from prm.graphql.context import Context, Info
from prm.graphql.errors import Forbidden
from prm.graphql.pagination import Connection
from prm.graphql.partners.types import PartnerType, load_partner
from prm.graphql.permissions import require_principal
from prm.graphql.scalars import MoneyType
from prm.graphql.scorecards import ordering
from prm.graphql.scorecards.ordering import ScorecardOrder
from prm.metrics.models import PartnerScorecardRow as Row
from prm.metrics.partner_scorecards import readable_partner_scorecards
from prm.metrics.periods import parse_period
from prm.money import Money

__all__ = ["PartnerScorecardType", "ScorecardOrder"]


@strawberry.type(
    name="PartnerScorecard",
    description="A partner's figures for a period (money in the tenant's default currency; "
    "see `prm.metrics.partner_scorecards` for every definition).",
)
class PartnerScorecardType:
    period: str
    leads_offered: int
    leads_accepted: int = strawberry.field(description="Offers accepted plus pool claims.")
    leads_rejected: int
    leads_expired: int
    acceptance_rate: float | None = strawberry.field(
        description="Accepted / (accepted + rejected + expired) offers; null when none ended."
    )
    median_hours_to_accept: float | None
    leads_converted: int
    conversion_rate: float | None = strawberry.field(description="Converted / accepted.")
    deals_won: int
    deals_lost: int
    win_rate: float | None = strawberry.field(description="Won / (won + lost).")
    revenue_won: MoneyType
    average_deal_size: MoneyType | None
    pipeline_value: MoneyType = strawberry.field(
        description="Open opportunities' amounts when the snapshot was computed."
    )
    sla_compliance: float | None = strawberry.field(
        description="Offers answered by their deadline / offers that ended."
    )
    score: float = strawberry.field(
        description="0 to 100: 20 % acceptance, 15 % speed, 20 % conversion, 20 % win rate, "
        "15 % revenue relative to the tenant's best, 10 % SLA. The current quarter's score "
        "is the partner's `performanceScore`."
    )
    rank: int | None = strawberry.field(description="1 is best; ties share a rank.")
    computed_at: datetime
    partner_pk: strawberry.Private[uuid.UUID]

    @strawberry.field(description="Whose scorecard this is.")
    async def partner(self, info: Info) -> PartnerType:
        partner = await load_partner(info.context, self.partner_pk)
        if partner is None:  # rows are filtered to partners the caller may read
            raise Forbidden("the caller may not read this partner")
        return partner

    @classmethod
    def from_row(cls, row: Row) -> PartnerScorecardType:
        def money(amount: Decimal) -> MoneyType:
            return MoneyType.of(Money(amount, row.currency))

        return cls(
            period=row.period,
            leads_offered=row.leads_offered,
            leads_accepted=row.leads_accepted,
            leads_rejected=row.leads_rejected,
            leads_expired=row.leads_expired,
            acceptance_rate=row.acceptance_rate,
            median_hours_to_accept=row.median_hours_to_accept,
            leads_converted=row.leads_converted,
            conversion_rate=row.conversion_rate,
            deals_won=row.deals_won,
            deals_lost=row.deals_lost,
            win_rate=row.win_rate,
            revenue_won=money(row.revenue_won),
            average_deal_size=(
                money(row.average_deal_size) if row.average_deal_size is not None else None
            ),
            pipeline_value=money(row.pipeline_value),
            sla_compliance=row.sla_compliance,
            score=row.score,
            rank=row.rank,
            computed_at=row.computed_at,
            partner_pk=row.partner_id,
        )


PAGES = ordering.ScorecardPages("partner scorecards", Row.partner_id, PartnerScorecardType.from_row)
"""Sorts by any `ScorecardField` the row has a column for."""


async def partner_scorecards_connection(
    info: Info,
    period: str,
    first: int | None,
    after: str | None,
    order_by: ScorecardOrder | None,
) -> Connection[PartnerScorecardType]:
    """One page of the scorecards of `period` the caller may read (by rank by default);
    a period never computed is an empty connection."""
    principal = require_principal(info)
    statement = readable_partner_scorecards(principal, ordering.parse_period_argument(period))
    return await PAGES.page(info, statement, order_by, first, after)


ScorecardKey = tuple[uuid.UUID, str]
"""(partner id, period key)."""


def _scorecard_loader(context: Context) -> DataLoader[ScorecardKey, Row | None]:
    """Scorecards of many partners (a page of `partners`) in one query per period."""

    async def load(keys: Sequence[ScorecardKey]) -> list[Row | None]:
        principal = context.principal
        if principal is None:
            return [None] * len(keys)
        found: dict[ScorecardKey, Row] = {}
        for period in {key for _, key in keys}:
            partner_ids = {pk for pk, key in keys if key == period}
            statement = readable_partner_scorecards(principal, parse_period(period))
            rows = await context.session.scalars(statement.where(Row.partner_id.in_(partner_ids)))
            found.update({(row.partner_id, row.period): row for row in rows})
        return [found.get(key) for key in keys]

    return context.loaders.custom("scorecards.partner", lambda: DataLoader(load_fn=load))


async def partner_scorecard(
    info: Info, partner_pk: uuid.UUID, period: str
) -> PartnerScorecardType | None:
    """`Partner.scorecard(period)`: the snapshot if the caller may read it, else null
    (never computed, or another organisation's)."""
    require_principal(info)
    key = ordering.parse_period_argument(period).key
    row = await _scorecard_loader(info.context).load((partner_pk, key))
    return PartnerScorecardType.from_row(row) if row is not None else None
