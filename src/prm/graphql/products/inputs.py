"""Inputs and the filter of the products API. Each input turns itself into the catalog
service's specs; references that are not Product ids are `NOT_FOUND` on their field."""

from __future__ import annotations

from decimal import Decimal

import strawberry

from prm.catalog.products import (
    BundleItemSpec,
    ChoiceSpec,
    OptionGroupSpec,
    ProductChanges,
    ProductCriteria,
)
from prm.graphql.relay import require_pk
from prm.graphql.scalars import MoneyInput


@strawberry.input(description="`quantity` units of a product in each unit of the bundle.")
class BundleItemInput:
    product_id: strawberry.ID = strawberry.field(description="A product that is not a bundle.")
    quantity: int = strawberry.field(description="At least 1.")


@strawberry.input
class OptionChoiceInput:
    name: str = strawberry.field(description="Unique within its group, ignoring case.")
    price_deltas: list[MoneyInput] | None = strawberry.field(
        default=None,
        description="What the choice adds to the unit list price, one amount per currency "
        "(not negative). None or empty: free in every currency.",
    )


@strawberry.input(
    description="A configurable option: pick between `minChoices` and `maxChoices` of "
    "`choices`. `minChoices` defaults to 1 when `required`, else 0; `maxChoices` to the "
    "larger of 1 and `minChoices`, and may not exceed the number of choices."
)
class OptionGroupInput:
    name: str = strawberry.field(description="Unique within the product, ignoring case.")
    required: bool | None = strawberry.field(
        default=None, description="At least one choice; follows `minChoices` when left out."
    )
    min_choices: int | None = None
    max_choices: int | None = None
    choices: list[OptionChoiceInput] = strawberry.field(description="1 to 100 choices.")


def _groups(groups: list[OptionGroupInput]) -> list[OptionGroupSpec]:
    return [
        OptionGroupSpec(
            name=group.name,
            required=group.required,
            min_choices=group.min_choices,
            max_choices=group.max_choices,
            choices=[
                ChoiceSpec(
                    name=choice.name,
                    price_deltas=[(m.amount, m.currency) for m in choice.price_deltas or ()],
                )
                for choice in group.choices
            ],
        )
        for group in groups
    ]


def _items(items: list[BundleItemInput]) -> list[BundleItemSpec]:
    return [
        BundleItemSpec(
            product_id=require_pk(item.product_id, "Product", field=f"bundleItems.{i}.productId"),
            quantity=item.quantity,
        )
        for i, item in enumerate(items)
    ]


@strawberry.input(
    description="A product, or with `bundleItems` a bundle (it then needs "
    "`bundleDiscountPercent`). A bundle stays a bundle; a product stays a product."
)
class CreateProductInput:
    sku: str = strawberry.field(
        description="1 to 64 letters, digits and . - _ /; unique ignoring case."
    )
    name: str
    family: str | None = None
    description: str | None = None
    bundle_discount_percent: Decimal | None = strawberry.field(
        default=None,
        description="A bundle's saving, greater than 0 and less than 100 (two decimals); "
        "required for a bundle, refused for anything else.",
    )
    option_groups: list[OptionGroupInput] | None = strawberry.field(
        default=None, description="Up to 50 groups."
    )
    bundle_items: list[BundleItemInput] | None = strawberry.field(
        default=None, description="Makes the product a bundle of 1 to 100 distinct products."
    )

    def option_group_specs(self) -> list[OptionGroupSpec]:
        return _groups(self.option_groups or [])

    def bundle_item_specs(self) -> list[BundleItemSpec] | None:
        return None if self.bundle_items is None else _items(self.bundle_items)


@strawberry.input(
    description="Only the fields given change; null clears `family` and `description` and "
    "removes every option group. `optionGroups` and `bundleItems` replace the old ones "
    "(choice ids change); only a bundle has items."
)
class UpdateProductInput:
    sku: str | None = strawberry.UNSET
    name: str | None = strawberry.UNSET
    family: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    bundle_discount_percent: Decimal | None = strawberry.UNSET
    option_groups: list[OptionGroupInput] | None = strawberry.UNSET
    bundle_items: list[BundleItemInput] | None = strawberry.UNSET

    def changes(self) -> ProductChanges:
        """The given fields by the service's names, ids and groups converted."""
        given = ProductChanges()
        if self.sku is not strawberry.UNSET:
            given["sku"] = self.sku
        if self.name is not strawberry.UNSET:
            given["name"] = self.name
        if self.family is not strawberry.UNSET:
            given["family"] = self.family
        if self.description is not strawberry.UNSET:
            given["description"] = self.description
        if self.bundle_discount_percent is not strawberry.UNSET:
            given["bundle_discount_percent"] = self.bundle_discount_percent
        if self.option_groups is not strawberry.UNSET:
            given["option_groups"] = _groups(self.option_groups or [])
        if self.bundle_items is not strawberry.UNSET:
            given["bundle_items"] = None if self.bundle_items is None else _items(self.bundle_items)
        return given


@strawberry.input(description="Narrows `products`; every field is optional and they combine.")
class ProductFilter:
    family: str | None = strawberry.field(default=None, description="Exactly this family.")
    active: bool | None = None
    is_bundle: bool | None = None
    search: str | None = strawberry.field(
        default=None, description="Case-insensitive substring of the name or SKU."
    )
    skus: list[str] | None = strawberry.field(
        default=None, description="These SKUs (ignoring case), up to 500."
    )

    def criteria(self) -> ProductCriteria:
        return ProductCriteria(
            family=self.family,
            active=self.active,
            is_bundle=self.is_bundle,
            search=self.search,
            skus=self.skus,
        )
