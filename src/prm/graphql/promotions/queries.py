"""`promotions`: staff see every one; a partner user those aimed at it and running at
`activeAt` (default now). Newest start first."""

from __future__ import annotations

import strawberry

from prm.catalog.models import Promotion
from prm.catalog.promotions import PromotionCriteria, list_promotions
from prm.graphql.context import Info
from prm.graphql.pagination import Connection, OrderDirection, Ordering, paginate
from prm.graphql.permissions import require_principal
from prm.graphql.promotions.inputs import PromotionFilter
from prm.graphql.promotions.types import PromotionType

NEWEST_START_FIRST = Ordering.by(Promotion.starts_at, OrderDirection.DESC)


@strawberry.type
class Query:
    @strawberry.field(
        description="Promotions, newest start first: staff all (running at `activeAt` when "
        "given); a partner user those aimed at it and running at `activeAt` (default now)."
    )
    async def promotions(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: PromotionFilter | None = None,
    ) -> Connection[PromotionType]:
        criteria = filter.criteria() if filter is not None else PromotionCriteria()
        return await paginate(
            info.context,
            list_promotions(require_principal(info), criteria),
            to_node=PromotionType.from_model,
            first=first,
            after=after,
            order=NEWEST_START_FIRST,
        )
