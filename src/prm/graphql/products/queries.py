"""`products`: the catalog by name. Partner users see the active products only."""

from __future__ import annotations

import strawberry

from prm.catalog.models import Product
from prm.catalog.products import filter_products
from prm.catalog.visibility import readable_products
from prm.errors import DomainError
from prm.graphql.context import Info
from prm.graphql.errors import BadUserInput
from prm.graphql.pagination import Connection, Ordering, paginate
from prm.graphql.permissions import require_principal
from prm.graphql.products.inputs import ProductFilter
from prm.graphql.products.types import ProductType

BY_NAME = Ordering.by(Product.name)
"""Name then id: the `(tenant_id, name, id)` index, or `(tenant_id, active | family, name,
id)` when those are filtered on."""


@strawberry.type
class Query:
    @strawberry.field(
        description="Products and bundles by name: staff see all, partner users the active ones."
    )
    async def products(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: ProductFilter | None = None,
    ) -> Connection[ProductType]:
        statement = readable_products(require_principal(info))
        if filter is not None:
            try:
                statement = filter_products(statement, filter.criteria())
            except DomainError as error:
                raise BadUserInput(f"filter.{error.field}: {error.message}") from error
        return await paginate(
            info.context,
            statement,
            to_node=ProductType.from_model,
            first=first,
            after=after,
            order=BY_NAME,
        )
