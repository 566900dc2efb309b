"""What to offer an account next: cross-sell and up-sell recommendations read from the
associations the `catalog.associations` job keeps (`recommendation_compute`).

For the products the account has bought (the lines of the last accepted quote of each
of its CLOSED_WON opportunities, as the job counts them), every association
`bought → related` whose related product the account has not bought and which is still
active. A product reached from several bought products (or as both kinds) appears once,
with its best association: highest confidence, then support, then lift (a null lift,
an up-sell's, last). The list is in that order too, then by product name and id.

It is one SQL statement: the account visibility check (the CRM's `readable_accounts`, so
a partner user reaches only its partner's accounts) is the statement's first CTE, outer
joined to the recommendations, so a visible account without recommendations yields one
row of nulls and an unknown, foreign or invisible one yields none (`NOT_FOUND`). The
products come back in the same statement, so the API needs no further query.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass

from sqlalchemy import and_, select, true
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from prm.auth.principal import Principal
from prm.catalog.models import Product, Quote, QuoteLine, QuoteStatus
from prm.catalog.recommendation_models import AssociationKind, ProductAssociation
from prm.crm.models import Account, Opportunity, OpportunityStage
from prm.crm.visibility import readable_accounts
from prm.errors import InvalidInput, NotFound

DEFAULT_FIRST = 10
MAX_FIRST = 50


class RecommendationKind(enum.StrEnum):
    CROSS_SELL = "CROSS_SELL"
    UP_SELL = "UP_SELL"


KIND_OF = {
    AssociationKind.BOUGHT_TOGETHER: RecommendationKind.CROSS_SELL,
    AssociationKind.UPGRADE: RecommendationKind.UP_SELL,
}


@dataclass(frozen=True)
class Recommendation:
    product: Product
    kind: RecommendationKind
    support: float
    confidence: float
    lift: float | None
    based_on: Product
    """The bought product that led to it."""


async def recommendations_for(
    session: AsyncSession,
    principal: Principal,
    account_id: uuid.UUID,
    *,
    first: int = DEFAULT_FIRST,
) -> list[Recommendation]:
    """The best `first` (1 to `MAX_FIRST`) recommendations for the account (see the module
    doc); `NOT_FOUND` on `accountId` when the principal may not see it."""
    if not 1 <= first <= MAX_FIRST:
        raise InvalidInput(f"first must be between 1 and {MAX_FIRST}", field="first")
    tenant_id = principal.tenant_id
    account = (
        readable_accounts(principal)
        .where(Account.id == account_id)
        .with_only_columns(Account.id)
        .cte("account")
    )
    won = (
        select(Quote.id.label("quote_id"))
        .join(
            Opportunity,
            and_(Opportunity.tenant_id == Quote.tenant_id, Opportunity.id == Quote.opportunity_id),
        )
        .where(
            Quote.tenant_id == tenant_id,
            Quote.status == QuoteStatus.ACCEPTED,
            Opportunity.tenant_id == tenant_id,
            Opportunity.account_id == account_id,
            Opportunity.stage == OpportunityStage.CLOSED_WON,
        )
        .ext(distinct_on(Quote.opportunity_id))
        .order_by(Quote.opportunity_id, Quote.accepted_at.desc().nulls_last(), Quote.id.desc())
        .cte("won")
    )
    bought = (
        select(QuoteLine.product_id)
        .join(won, QuoteLine.quote_id == won.c.quote_id)
        .where(QuoteLine.tenant_id == tenant_id)
        .distinct()
        .cte("bought")
    )
    association = ProductAssociation
    best = (
        select(
            association.related_product_id,
            association.product_id.label("based_on_id"),
            association.kind,
            association.support,
            association.confidence,
            association.lift,
        )
        .join(
            Product,
            and_(
                Product.tenant_id == association.tenant_id,
                Product.id == association.related_product_id,
            ),
        )
        .where(
            association.tenant_id == tenant_id,
            association.product_id.in_(select(bought.c.product_id)),
            association.related_product_id.not_in(select(bought.c.product_id)),
            Product.active,
        )
        .ext(distinct_on(association.related_product_id))
        .order_by(
            association.related_product_id,
            association.confidence.desc(),
            association.support.desc(),
            association.lift.desc().nulls_last(),
            association.kind,
            association.product_id,
        )
        .subquery("best")
    )
    related = aliased(Product, name="related")
    based_on = aliased(Product, name="based_on")
    statement = (
        select(account.c.id, related, based_on, best.c.kind, best.c.support)
        .add_columns(best.c.confidence, best.c.lift)
        .select_from(account)
        .outerjoin(best, true())
        .outerjoin(
            related, and_(related.tenant_id == tenant_id, related.id == best.c.related_product_id)
        )
        .outerjoin(
            based_on, and_(based_on.tenant_id == tenant_id, based_on.id == best.c.based_on_id)
        )
        .order_by(
            best.c.confidence.desc(),
            best.c.support.desc(),
            best.c.lift.desc().nulls_last(),
            related.name,
            related.id,
        )
        .limit(first)
    )
    rows = (await session.execute(statement)).all()
    if not rows:
        raise NotFound("no such account", field="accountId")
    return [
        Recommendation(
            product=row.related,
            kind=KIND_OF[AssociationKind(row.kind)],
            support=row.support,
            confidence=row.confidence,
            lift=row.lift,
            based_on=row.based_on,
        )
        for row in rows
        if row.related is not None
    ]
