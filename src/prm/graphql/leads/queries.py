"""Queries of the leads domain: `leads`, `leadPool`, `leadOffers`, `distributionRules`,
`leadScoringRules`. Each starts from the domain's readable statement for the caller."""

from __future__ import annotations

import strawberry

from prm.graphql.context import Info
from prm.graphql.leads.inputs import LeadFilter, LeadOfferFilter, LeadOrder, lead_ordering
from prm.graphql.leads.types import (
    DistributionRuleType,
    LeadOfferType,
    LeadScoringRuleType,
    LeadType,
)
from prm.graphql.pagination import NEWEST_FIRST, Connection, Ordering, paginate
from prm.graphql.permissions import require_principal
from prm.leads.models import DistributionRule
from prm.leads.rules import readable_rules
from prm.leads.scoring import scoring_rules
from prm.leads.visibility import pool_statement, readable_leads, readable_offers


@strawberry.type
class Query:
    @strawberry.field(
        description="Leads the caller may see: staff all (UNROUTABLE is the managers' "
        "queue), a partner user those its partner holds, was offered, or may claim."
    )
    async def leads(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: LeadFilter | None = None,
        order_by: LeadOrder | None = None,
    ) -> Connection[LeadType]:
        statement = readable_leads(require_principal(info))
        if filter is not None:
            statement = filter.apply(statement)
        return await paginate(
            info.context,
            statement,
            to_node=LeadType.from_model,
            first=first,
            after=after,
            order=lead_ordering(order_by),
        )

    @strawberry.field(description="Open leads the caller's partner may claim (staff: all).")
    async def lead_pool(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[LeadType]:
        return await paginate(
            info.context,
            pool_statement(require_principal(info)),
            to_node=LeadType.from_model,
            first=first,
            after=after,
        )

    @strawberry.field(description="Offers: a partner user its partner's, staff all; newest first.")
    async def lead_offers(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: LeadOfferFilter | None = None,
    ) -> Connection[LeadOfferType]:
        statement = readable_offers(require_principal(info))
        if filter is not None:
            statement = filter.apply(statement)
        return await paginate(
            info.context,
            statement,
            to_node=LeadOfferType.from_model,
            first=first,
            after=after,
            order=NEWEST_FIRST,
        )

    @strawberry.field(description="The tenant's rules by priority (admins and managers).")
    async def distribution_rules(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[DistributionRuleType]:
        return await paginate(
            info.context,
            readable_rules(require_principal(info)),
            to_node=DistributionRuleType.from_model,
            first=first,
            after=after,
            order=Ordering.by(DistributionRule.priority),
        )

    @strawberry.field(description="How leads are scored (admins and managers).")
    async def lead_scoring_rules(self, info: Info) -> list[LeadScoringRuleType]:
        principal = require_principal(info)
        rows = await info.context.session.run_sync(scoring_rules, principal)
        return [LeadScoringRuleType.from_model(row) for row in rows]
