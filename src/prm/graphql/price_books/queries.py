"""`priceBooks`: staff see every book; a partner user the default books, its tier's and
its own. By name."""

from __future__ import annotations

import strawberry

from prm.catalog.models import PriceBook
from prm.catalog.price_books import filter_price_books
from prm.catalog.visibility import readable_price_books
from prm.graphql.context import Info
from prm.graphql.pagination import Connection, Ordering, paginate
from prm.graphql.permissions import require_principal
from prm.graphql.price_books.inputs import PriceBookFilter
from prm.graphql.price_books.types import PriceBookType

BY_NAME = Ordering.by(PriceBook.name)


@strawberry.type
class Query:
    @strawberry.field(
        description="Price books by name: staff all; a partner user the default books, its "
        "tier's and its own."
    )
    async def price_books(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: PriceBookFilter | None = None,
    ) -> Connection[PriceBookType]:
        statement = readable_price_books(require_principal(info))
        if filter is not None:
            statement = filter_price_books(statement, filter.criteria())
        return await paginate(
            info.context,
            statement,
            to_node=PriceBookType.from_model,
            first=first,
            after=after,
            order=BY_NAME,
        )
