"""Batched look-ups of the products API: a page of products with their option groups and
bundle items is one statement per relation, whatever the page size."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import cast

from strawberry.dataloader import DataLoader

from prm.catalog import products
from prm.catalog.models import BundleItem, Product
from prm.catalog.products import OptionGroupView
from prm.graphql.context import Context

OPTION_GROUPS = "products.option_groups"
BUNDLE_ITEMS = "products.bundle_items"


def option_groups(context: Context) -> DataLoader[uuid.UUID, list[OptionGroupView]]:
    """Product id → its option groups with their choices, in position order."""

    def factory() -> DataLoader[uuid.UUID, list[OptionGroupView]]:
        async def load(ids: Sequence[uuid.UUID]) -> list[list[OptionGroupView]]:
            if context.principal is None:
                return [[] for _ in ids]
            found = await products.option_groups_of(
                context.session, context.principal.tenant_id, ids
            )
            return [found.get(pk, []) for pk in ids]

        return DataLoader(load_fn=load)

    return cast(
        "DataLoader[uuid.UUID, list[OptionGroupView]]",
        context.loaders.custom(OPTION_GROUPS, factory),
    )


def bundle_items(context: Context) -> DataLoader[uuid.UUID, list[BundleItem]]:
    """Bundle id → its items in the order they were given."""

    def factory() -> DataLoader[uuid.UUID, list[BundleItem]]:
        async def load(ids: Sequence[uuid.UUID]) -> list[list[BundleItem]]:
            if context.principal is None:
                return [[] for _ in ids]
            found = await products.bundle_items_of(
                context.session, context.principal.tenant_id, ids
            )
            return [found.get(pk, []) for pk in ids]

        return DataLoader(load_fn=load)

    return cast(
        "DataLoader[uuid.UUID, list[BundleItem]]", context.loaders.custom(BUNDLE_ITEMS, factory)
    )


def forget_product(context: Context, row: Product) -> None:
    """Refresh what this request cached about a product a mutation just changed, so a
    later mutation's payload in the same request does not read it stale."""
    context.loaders.by_id(Product).prime(row.id, row, force=True)
    for loader in (option_groups(context), bundle_items(context)):
        if loader.cache_map.get(row.id) is not None:
            loader.clear(row.id)
