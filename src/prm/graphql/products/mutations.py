"""`createProduct`, `updateProduct`, `retireProduct`, `reactivateProduct`: admins and
managers maintain the catalog."""

from __future__ import annotations

import strawberry

from prm.catalog import products as service
from prm.catalog.models import Product
from prm.catalog.visibility import CATALOG_MANAGERS
from prm.graphql.context import Info
from prm.graphql.mutations import Payload, mutation
from prm.graphql.permissions import require_principal
from prm.graphql.products.inputs import CreateProductInput, UpdateProductInput
from prm.graphql.products.loaders import forget_product
from prm.graphql.products.types import ProductType
from prm.graphql.relay import require_pk


@strawberry.type
class ProductPayload(Payload):
    product: ProductType | None = None


def _answer(info: Info, row: Product) -> ProductPayload:
    forget_product(info.context, row)
    return ProductPayload(product=ProductType.from_model(row))


@strawberry.type
class Mutation:
    @mutation(
        ProductPayload,
        roles=CATALOG_MANAGERS,
        description="Add a product, or a bundle of other products (with `bundleItems`).",
    )
    async def create_product(self, info: Info, input: CreateProductInput) -> ProductPayload:
        row = await service.create_product(
            info.context.session,
            require_principal(info),
            sku=input.sku,
            name=input.name,
            family=input.family,
            description=input.description,
            bundle_discount_percent=input.bundle_discount_percent,
            option_groups=input.option_group_specs(),
            bundle_items=input.bundle_item_specs(),
        )
        return _answer(info, row)

    @mutation(
        ProductPayload,
        roles=CATALOG_MANAGERS,
        description="Change a product; option groups and bundle items given replace the old ones.",
    )
    async def update_product(
        self, info: Info, id: strawberry.ID, input: UpdateProductInput
    ) -> ProductPayload:
        product_id = require_pk(id, "Product", field="id")
        changes = input.changes()
        row = await service.update_product(
            info.context.session, require_principal(info), product_id, changes
        )
        return _answer(info, row)

    @mutation(
        ProductPayload,
        roles=CATALOG_MANAGERS,
        description="Stop selling a product: it stays on quotes and in bundles but partners "
        "no longer see it (INVALID_TRANSITION if already retired).",
    )
    async def retire_product(self, info: Info, id: strawberry.ID) -> ProductPayload:
        row = await service.retire_product(
            info.context.session, require_principal(info), require_pk(id, "Product", field="id")
        )
        return _answer(info, row)

    @mutation(
        ProductPayload,
        roles=CATALOG_MANAGERS,
        description="Sell a retired product again (INVALID_TRANSITION if it is active).",
    )
    async def reactivate_product(self, info: Info, id: strawberry.ID) -> ProductPayload:
        row = await service.reactivate_product(
            info.context.session, require_principal(info), require_pk(id, "Product", field="id")
        )
        return _answer(info, row)
