"""Products as the API shows them. `ProductType` and `load_product` are what other
domains (pricing, quotes, stock) use to resolve a product reference, visibility
included.

Option groups, bundle items and stock are batched per request
(`prm.graphql.products.loaders`, the stock domain's loader), so a page of products with
them costs a fixed number of statements. `ProductOptionChoice` ids are what `optionIds`
take when pricing and quoting.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import strawberry

from prm.catalog.models import BundleItem, Product, ProductOptionChoice, ProductOptionGroup
from prm.catalog.products import OptionGroupView
from prm.catalog.visibility import is_staff, own_partner
from prm.graphql.context import Context, Info
from prm.graphql.products import loaders
from prm.graphql.relay import Node, register_node
from prm.graphql.scalars import MoneyType
from prm.money import Money

if TYPE_CHECKING:
    from prm.graphql.stock.types import StockAvailabilityType


@strawberry.type(
    name="ProductOptionChoice",
    description="One choice of an option group; its id goes into `optionIds` when pricing.",
)
class ProductOptionChoiceType(Node):
    name: str
    price_deltas: list[MoneyType] = strawberry.field(
        description="What the choice adds to the unit list price, per currency (by code). "
        "Empty: free in every currency; else pricing in a currency not listed is refused."
    )

    @classmethod
    def from_model(cls, row: ProductOptionChoice) -> ProductOptionChoiceType:
        deltas = sorted((row.price_deltas or {}).items())
        return cls(
            pk=row.id,
            name=row.name,
            price_deltas=[MoneyType.of(Money(Decimal(amount), code)) for code, amount in deltas],
        )


@strawberry.type(
    name="ProductOptionGroup",
    description="A configurable option of a product: pick between `minChoices` and "
    "`maxChoices` of its choices (`required`: at least one).",
)
class ProductOptionGroupType(Node):
    name: str
    required: bool
    min_choices: int
    max_choices: int
    choices: list[ProductOptionChoiceType]

    @classmethod
    def from_view(cls, view: OptionGroupView) -> ProductOptionGroupType:
        return cls.from_row(
            view.group,
            choices=[ProductOptionChoiceType.from_model(choice) for choice in view.choices],
        )


@strawberry.type(name="BundleItem", description="`quantity` units of a product in each bundle.")
class BundleItemType:
    quantity: int
    item_pk: strawberry.Private[uuid.UUID]

    @strawberry.field(
        description="The component. Shown to whoever sees the bundle, even once retired."
    )
    async def product(self, info: Info) -> ProductType:
        row = await info.context.loaders.by_id(Product).load(self.item_pk)
        if row is None:  # the foreign key forbids it: an item always exists
            raise LookupError(f"bundle item product {self.item_pk} is missing")
        return ProductType.from_model(row)

    @classmethod
    def from_model(cls, row: BundleItem) -> BundleItemType:
        return cls(quantity=row.quantity, item_pk=row.item_id)


@strawberry.type(name="Product", description="Something partners sell: a product or a bundle.")
class ProductType(Node):
    sku: str
    name: str
    family: str | None
    description: str | None
    active: bool = strawberry.field(description="False once retired: no longer sold.")
    is_bundle: bool
    bundle_discount_percent: Decimal | None = strawberry.field(
        description="A bundle's saving on the sum of its items' prices (the BUNDLE step)."
    )
    retired_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @strawberry.field(description="Its configurable options, in order.")
    async def option_groups(self, info: Info) -> list[ProductOptionGroupType]:
        views = await loaders.option_groups(info.context).load(self.pk)
        return [ProductOptionGroupType.from_view(view) for view in views]

    @strawberry.field(description="What a bundle is made of (empty for other products).")
    async def bundle_items(self, info: Info) -> list[BundleItemType]:
        if not self.is_bundle:
            return []
        rows = await loaders.bundle_items(info.context).load(self.pk)
        return [BundleItemType.from_model(row) for row in rows]

    @strawberry.field(
        description="Its stock by location (or at `location`), as the caller can count on it."
    )
    async def availability(
        self, info: Info, location: str | None = None
    ) -> list[Annotated[StockAvailabilityType, strawberry.lazy("prm.graphql.stock.types")]]:
        from prm.graphql.stock.types import product_availability  # it imports this module

        return await product_availability(info.context, self.pk, location)

    @classmethod
    def from_model(cls, row: Product) -> ProductType:
        return cls.from_row(row)


def _may_see(context: Context, row: Product) -> bool:
    """Staff see every product; partner users the active ones (`visibility.product_visible`
    for a row in hand)."""
    principal = context.principal
    if principal is None:
        return False
    return is_staff(principal) or (own_partner(principal) is not None and row.active)


async def load_product(context: Context, pk: uuid.UUID) -> ProductType | None:
    """The product if the caller may see it (staff: any; partner users: active ones)."""
    if context.principal is None:
        return None
    row = await context.loaders.by_id(Product).load(pk)
    if row is None or not _may_see(context, row):
        return None
    return ProductType.from_model(row)


register_node(ProductType)(load_product)


@register_node(ProductOptionGroupType)
async def _group_node(context: Context, pk: uuid.UUID) -> ProductOptionGroupType | None:
    """A group of a product the caller may see."""
    group = await context.loaders.by_id(ProductOptionGroup).load(pk)
    if group is None or await load_product(context, group.product_id) is None:
        return None
    views = await loaders.option_groups(context).load(group.product_id)
    view = next((view for view in views if view.group.id == pk), None)
    return ProductOptionGroupType.from_view(view) if view else None


@register_node(ProductOptionChoiceType)
async def _choice_node(context: Context, pk: uuid.UUID) -> ProductOptionChoiceType | None:
    """A choice of a product the caller may see."""
    choice = await context.loaders.by_id(ProductOptionChoice).load(pk)
    if choice is None or await load_product(context, choice.product_id) is None:
        return None
    return ProductOptionChoiceType.from_model(choice)
