"""Products as the API shows them. `ProductType` and `load_product` are what other
domains (pricing, quotes, stock) use to resolve a product reference, visibility
included."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

import strawberry

from prm.catalog.models import Product
from prm.catalog.visibility import is_staff, own_partner
from prm.graphql.context import Context
from prm.graphql.relay import Node, register_node


@strawberry.type(name="Product", description="Something partners sell: a product or a bundle.")
class ProductType(Node):
    sku: str
    name: str
    family: str | None
    description: str | None
    active: bool
    is_bundle: bool
    bundle_discount_percent: Decimal | None
    retired_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_model(cls, row: Product) -> ProductType:
        return cls.from_row(row)


async def load_product(context: Context, pk: uuid.UUID) -> ProductType | None:
    """The product if the caller may see it (staff: any; partner users: active ones)."""
    principal = context.principal
    if principal is None:
        return None
    row = await context.loaders.by_id(Product).load(pk)
    if row is None:
        return None
    if not is_staff(principal) and (own_partner(principal) is None or not row.active):
        return None
    return ProductType.from_model(row)


register_node(ProductType)(load_product)
