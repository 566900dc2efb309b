"""`quotes`: staff see every quote of the tenant, partner users their partner's; newest
first (each filter is served by an index of `quotes`)."""

from __future__ import annotations

import strawberry

from prm.catalog.models import Quote
from prm.catalog.visibility import readable_quotes
from prm.graphql.context import Info
from prm.graphql.pagination import Connection, OrderDirection, Ordering, paginate
from prm.graphql.permissions import require_principal
from prm.graphql.quotes.inputs import QuoteFilter
from prm.graphql.quotes.types import QuoteType

NEWEST_QUOTES = Ordering.by(Quote.created_at, OrderDirection.DESC)


@strawberry.type
class Query:
    @strawberry.field(description="Quotes: a partner user its partner's, staff all; newest first.")
    async def quotes(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: QuoteFilter | None = None,
    ) -> Connection[QuoteType]:
        statement = readable_quotes(require_principal(info))
        if filter is not None:
            statement = filter.apply(statement)
        return await paginate(
            info.context,
            statement,
            to_node=QuoteType.from_model,
            first=first,
            after=after,
            order=NEWEST_QUOTES,
        )
