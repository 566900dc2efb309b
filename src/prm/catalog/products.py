"""Products: creating, changing, retiring and listing them, with their option groups and
bundle items.

Admins and managers maintain the catalog (`visibility.require_catalog_manager`). Every
input is checked before anything is written, and each failure names the camelCase input
field at fault (`optionGroups.1.choices.0.priceDeltas.2.currency`).

- A SKU is unique per tenant ignoring case: checked first, and the unique index on
  `lower(sku)` stops a concurrent duplicate, reported the same way.
- A product created with bundle items is a bundle for good (a bundle's list price is the
  sum of its items', so it cannot turn into a plain product or back): it needs a
  `bundle_discount_percent` and at least one item; a plain product may have neither.
  Bundles do not nest, and retired products are not put into new item lists.
- Option groups and bundle items are replaced as a whole when an update gives them; old
  option ids then stop existing (quotes froze the names and amounts they used).
- Retiring clears `active` and stamps `retired_at`: the product stays on old quotes and
  in bundles that hold it, but is no longer sold or shown to partners.
"""

from __future__ import annotations

import re
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import TypedDict

from sqlalchemy import Select, and_, delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from prm.auth.principal import Principal
from prm.catalog.models import (
    MAX_SKU,
    BundleItem,
    Product,
    ProductOptionChoice,
    ProductOptionGroup,
)
from prm.catalog.price_context import MAX_QUANTITY
from prm.catalog.visibility import readable_products, require_catalog_manager
from prm.db.ids import new_id
from prm.errors import Duplicate, ErrorCode, InvalidInput, NotFound
from prm.money import Money, round_money

MAX_NAME = 200
MAX_FAMILY = 100
MAX_DESCRIPTION = 10_000
MAX_BUNDLE_ITEMS = 100
MAX_OPTION_GROUPS = 50
MAX_CHOICES = 100
MAX_SKUS_FILTER = 500
SKU_PATTERN = re.compile(r"^[A-Za-z0-9._/-]+$")
UNIQUE_VIOLATION = "23505"


@dataclass(frozen=True)
class ChoiceSpec:
    """A choice as given: `price_deltas` are (amount, currency) pairs, unchecked."""

    name: str
    price_deltas: Sequence[tuple[Decimal | str, str]] = ()


@dataclass(frozen=True)
class OptionGroupSpec:
    """A group as given; omitted bounds take defaults (see `_option_groups`)."""

    name: str
    choices: Sequence[ChoiceSpec]
    required: bool | None = None
    min_choices: int | None = None
    max_choices: int | None = None


@dataclass(frozen=True)
class BundleItemSpec:
    product_id: uuid.UUID
    quantity: int


class ProductChanges(TypedDict, total=False):
    """What an update sets; absent keys stay. None clears `family` and `description`,
    removes every option group (`option_groups`) and is refused for the rest."""

    sku: str | None
    name: str | None
    family: str | None
    description: str | None
    bundle_discount_percent: Decimal | None
    option_groups: Sequence[OptionGroupSpec] | None
    bundle_items: Sequence[BundleItemSpec] | None


@dataclass(frozen=True)
class ProductCriteria:
    """What `products` may be narrowed by; every field optional, all combine."""

    family: str | None = None
    active: bool | None = None
    is_bundle: bool | None = None
    search: str | None = None
    skus: Sequence[str] | None = None


@dataclass
class OptionGroupView:
    """A group with its choices in position order, as read for display."""

    group: ProductOptionGroup
    choices: list[ProductOptionChoice] = field(default_factory=list)


# Validation ----------------------------------------------------------------------------


def _text(value: str | None, *, field: str, limit: int) -> str:
    if value is None:
        raise InvalidInput("must not be null", field=field)
    value = value.strip()
    if not value:
        raise InvalidInput("must not be blank", field=field)
    if len(value) > limit:
        raise InvalidInput(f"must be at most {limit} characters", field=field)
    return value


def _optional_text(value: str | None, *, field: str, limit: int) -> str | None:
    if value is None or not value.strip():
        return None
    return _text(value, field=field, limit=limit)


def normalise_sku(value: str | None) -> str:
    """A trimmed SKU of 1 to 64 letters, digits and `.-_/` (case kept, compared without)."""
    sku = _text(value, field="sku", limit=MAX_SKU)
    if not SKU_PATTERN.match(sku):
        raise InvalidInput("may contain only letters, digits and . - _ /", field="sku")
    return sku


def _bundle_discount(value: Decimal | None) -> Decimal:
    field = "bundleDiscountPercent"
    if value is None:
        raise InvalidInput("a bundle needs its saving in percent", field=field)
    if not value.is_finite() or not Decimal(0) < value < Decimal(100):
        raise InvalidInput("must be greater than 0 and less than 100", field=field)
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2:
        raise InvalidInput("must have at most 2 decimal places", field=field)
    return value.quantize(Decimal("0.01"))


def _price_deltas(deltas: Sequence[tuple[Decimal | str, str]], *, field: str) -> dict[str, str]:
    """`{"USD": "120.00"}`: each currency once, amounts not negative, at the currency's
    minor unit."""
    found: dict[str, str] = {}
    for index, (amount, currency) in enumerate(deltas):
        money = Money.parse(amount, currency, field=f"{field}.{index}")
        if money.currency in found:
            raise InvalidInput(
                f"{money.currency} is given twice", field=f"{field}.{index}.currency"
            )
        found[money.currency] = str(round_money(money.amount, money.currency))
    return found


def _option_groups(
    tenant_id: uuid.UUID, product_id: uuid.UUID, specs: Sequence[OptionGroupSpec]
) -> list[tuple[ProductOptionGroup, list[ProductOptionChoice]]]:
    """The rows of `specs`, validated. A group's `min_choices` defaults to 1 if it is
    required and 0 otherwise, `max_choices` to the larger of 1 and the minimum;
    `required` follows the minimum, and contradicting it is refused."""
    if len(specs) > MAX_OPTION_GROUPS:
        raise InvalidInput(
            f"must have at most {MAX_OPTION_GROUPS} option groups", field="optionGroups"
        )
    rows: list[tuple[ProductOptionGroup, list[ProductOptionChoice]]] = []
    group_names: set[str] = set()
    for g, spec in enumerate(specs):
        at = f"optionGroups.{g}"
        name = _text(spec.name, field=f"{at}.name", limit=MAX_NAME)
        if name.casefold() in group_names:
            raise InvalidInput(f"another option group is named {name!r}", field=f"{at}.name")
        group_names.add(name.casefold())
        if not spec.choices:
            raise InvalidInput("must have at least one choice", field=f"{at}.choices")
        if len(spec.choices) > MAX_CHOICES:
            raise InvalidInput(f"must have at most {MAX_CHOICES} choices", field=f"{at}.choices")
        minimum = spec.min_choices
        if minimum is None:
            minimum = 1 if spec.required else 0
        if minimum < 0:
            raise InvalidInput("must not be negative", field=f"{at}.minChoices")
        if spec.required and minimum < 1:
            raise InvalidInput("a required group needs at least 1", field=f"{at}.minChoices")
        if spec.required is False and minimum >= 1:
            raise InvalidInput(
                "a group with a minimum of 1 or more is required", field=f"{at}.required"
            )
        maximum = spec.max_choices if spec.max_choices is not None else max(1, minimum)
        if maximum < 1:
            raise InvalidInput("must be at least 1", field=f"{at}.maxChoices")
        if minimum > maximum:
            raise InvalidInput("must not exceed maxChoices", field=f"{at}.minChoices")
        if maximum > len(spec.choices):
            raise InvalidInput(
                f"must not exceed the number of choices ({len(spec.choices)})",
                field=f"{at}.maxChoices",
            )
        group = ProductOptionGroup(
            tenant_id=tenant_id,
            id=new_id(),
            product_id=product_id,
            position=g,
            name=name,
            required=minimum >= 1,
            min_choices=minimum,
            max_choices=maximum,
        )
        choices: list[ProductOptionChoice] = []
        choice_names: set[str] = set()
        for c, choice in enumerate(spec.choices):
            where = f"{at}.choices.{c}"
            choice_name = _text(choice.name, field=f"{where}.name", limit=MAX_NAME)
            if choice_name.casefold() in choice_names:
                raise InvalidInput(
                    f"another choice of the group is named {choice_name!r}", field=f"{where}.name"
                )
            choice_names.add(choice_name.casefold())
            choices.append(
                ProductOptionChoice(
                    tenant_id=tenant_id,
                    id=new_id(),
                    group_id=group.id,
                    product_id=product_id,
                    position=c,
                    name=choice_name,
                    price_deltas=_price_deltas(choice.price_deltas, field=f"{where}.priceDeltas"),
                )
            )
        rows.append((group, choices))
    return rows


async def _bundle_items(
    session: AsyncSession,
    principal: Principal,
    bundle_id: uuid.UUID,
    specs: Sequence[BundleItemSpec],
) -> list[BundleItem]:
    """The item rows of a bundle, validated: at least one and at most 100 items, each a
    distinct, visible, active, plain product other than the bundle, at least 1 of each."""
    if not specs:
        raise InvalidInput("a bundle needs at least one item", field="bundleItems")
    if len(specs) > MAX_BUNDLE_ITEMS:
        raise InvalidInput(f"must have at most {MAX_BUNDLE_ITEMS} items", field="bundleItems")
    wanted = {spec.product_id for spec in specs}
    found = {
        row.id: row
        for row in await session.scalars(readable_products(principal).where(Product.id.in_(wanted)))
    }
    seen: set[uuid.UUID] = set()
    rows: list[BundleItem] = []
    for index, spec in enumerate(specs):
        at = f"bundleItems.{index}"
        if spec.product_id == bundle_id:
            raise InvalidInput("a bundle cannot contain itself", field=f"{at}.productId")
        item = found.get(spec.product_id)
        if item is None:
            raise NotFound("no such product", field=f"{at}.productId")
        if item.is_bundle:
            raise InvalidInput(
                f"{item.sku} is a bundle: bundles do not nest", field=f"{at}.productId"
            )
        if not item.active:
            raise InvalidInput(f"{item.sku} is retired", field=f"{at}.productId")
        if item.id in seen:
            raise InvalidInput(f"{item.sku} is listed twice", field=f"{at}.productId")
        seen.add(item.id)
        if not 1 <= spec.quantity <= MAX_QUANTITY:
            raise InvalidInput(f"must be between 1 and {MAX_QUANTITY}", field=f"{at}.quantity")
        rows.append(
            BundleItem(
                tenant_id=principal.tenant_id,
                bundle_id=bundle_id,
                item_id=item.id,
                quantity=spec.quantity,
            )
        )
    return rows


async def _sku_free(
    session: AsyncSession, principal: Principal, sku: str, *, own_id: uuid.UUID | None
) -> None:
    statement = select(Product.id).where(
        Product.tenant_id == principal.tenant_id, func.lower(Product.sku) == sku.lower()
    )
    if own_id is not None:
        statement = statement.where(Product.id != own_id)
    existing = await session.scalar(statement)
    if existing is not None:
        raise Duplicate(
            f"another product has the SKU {sku}", field="sku", existing_key=f"Product:{existing}"
        )


async def _flush_product(session: AsyncSession, sku: str) -> None:
    """Flush the product's row alone: a unique violation there can only be its SKU, taken
    by a concurrent transaction since `_sku_free` looked."""
    try:
        await session.flush()
    except IntegrityError as error:
        code = getattr(error.orig, "sqlstate", None) or getattr(error.orig, "pgcode", None)
        if code == UNIQUE_VIOLATION:
            raise Duplicate(f"another product has the SKU {sku}", field="sku") from error
        raise


async def _replace_option_groups(
    session: AsyncSession,
    product: Product,
    rows: list[tuple[ProductOptionGroup, list[ProductOptionChoice]]],
) -> None:
    await session.execute(
        delete(ProductOptionGroup).where(
            ProductOptionGroup.tenant_id == product.tenant_id,
            ProductOptionGroup.product_id == product.id,
        )
    )  # their choices go with them (ON DELETE CASCADE)
    await _add_option_groups(session, rows)


async def _add_option_groups(
    session: AsyncSession, rows: list[tuple[ProductOptionGroup, list[ProductOptionChoice]]]
) -> None:
    if rows:
        session.add_all([group for group, _ in rows])
        await session.flush()  # the groups before the choices that reference them
        session.add_all([choice for _, choices in rows for choice in choices])
        await session.flush()


async def _replace_bundle_items(
    session: AsyncSession, product: Product, items: Sequence[BundleItem]
) -> None:
    await session.execute(
        delete(BundleItem).where(
            BundleItem.tenant_id == product.tenant_id, BundleItem.bundle_id == product.id
        )
    )
    session.add_all(items)
    await session.flush()


# Reading -------------------------------------------------------------------------------


async def get_product(
    session: AsyncSession,
    principal: Principal,
    product_id: uuid.UUID,
    *,
    field: str = "id",
    for_update: bool = False,
) -> Product:
    """A product the principal may see, or `NOT_FOUND` on `field`."""
    statement = readable_products(principal).where(Product.id == product_id)
    if for_update:
        statement = statement.with_for_update()
    product = await session.scalar(statement)
    if product is None:
        raise NotFound("no such product", field=field)
    return product


def like_pattern(search: str) -> str:
    """`%search%` with LIKE's wildcards escaped (use with `escape="\\\\"`)."""
    escaped = search.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def filter_products(statement: Select[Product], criteria: ProductCriteria) -> Select[Product]:
    """Narrow a `readable_products` statement. `family` is exact (the family index's
    equality), `search` a case-insensitive substring of the name or SKU (trigram
    indexes), `skus` exact SKUs ignoring case (the unique `lower(sku)` index)."""
    if criteria.family is not None and criteria.family.strip():
        statement = statement.where(Product.family == criteria.family.strip())
    if criteria.active is not None:
        statement = statement.where(Product.active.is_(criteria.active))
    if criteria.is_bundle is not None:
        statement = statement.where(Product.is_bundle.is_(criteria.is_bundle))
    if criteria.search is not None and criteria.search.strip():
        pattern = like_pattern(criteria.search)
        statement = statement.where(
            or_(
                Product.name.ilike(pattern, escape="\\"),
                Product.sku.ilike(pattern, escape="\\"),
            )
        )
    if criteria.skus is not None:
        if len(criteria.skus) > MAX_SKUS_FILTER:
            raise InvalidInput(f"at most {MAX_SKUS_FILTER} SKUs at once", field="skus")
        lowered = sorted({sku.strip().lower() for sku in criteria.skus})
        statement = statement.where(func.lower(Product.sku).in_(lowered))
    return statement


async def option_groups_of(
    session: AsyncSession, tenant_id: uuid.UUID, product_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[OptionGroupView]]:
    """The option groups of many products with their choices, in position order: one
    statement whatever the number of products."""
    rows = await session.execute(
        select(ProductOptionGroup, ProductOptionChoice)
        .outerjoin(
            ProductOptionChoice,
            and_(
                ProductOptionChoice.tenant_id == ProductOptionGroup.tenant_id,
                ProductOptionChoice.group_id == ProductOptionGroup.id,
            ),
        )
        .where(
            ProductOptionGroup.tenant_id == tenant_id,
            ProductOptionGroup.product_id.in_(set(product_ids)),
        )
        .order_by(
            ProductOptionGroup.product_id,
            ProductOptionGroup.position,
            ProductOptionChoice.position,
        )
    )
    views: dict[uuid.UUID, OptionGroupView] = {}
    found: dict[uuid.UUID, list[OptionGroupView]] = defaultdict(list)
    for group, choice in rows:
        view = views.get(group.id)
        if view is None:
            view = views[group.id] = OptionGroupView(group)
            found[group.product_id].append(view)
        if choice is not None:
            view.choices.append(choice)
    return found


async def bundle_items_of(
    session: AsyncSession, tenant_id: uuid.UUID, bundle_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[BundleItem]]:
    """The items of many bundles in the order they were given: one statement."""
    rows = await session.scalars(
        select(BundleItem)
        .where(BundleItem.tenant_id == tenant_id, BundleItem.bundle_id.in_(set(bundle_ids)))
        .order_by(BundleItem.bundle_id, BundleItem.id)
    )
    found: dict[uuid.UUID, list[BundleItem]] = defaultdict(list)
    for row in rows:
        found[row.bundle_id].append(row)
    return found


# Writing -------------------------------------------------------------------------------


async def create_product(
    session: AsyncSession,
    principal: Principal,
    *,
    sku: str,
    name: str,
    family: str | None = None,
    description: str | None = None,
    bundle_discount_percent: Decimal | None = None,
    option_groups: Sequence[OptionGroupSpec] = (),
    bundle_items: Sequence[BundleItemSpec] | None = None,
) -> Product:
    """A product, or a bundle of `bundle_items` saving `bundle_discount_percent`, with
    its option groups."""
    require_catalog_manager(principal)
    is_bundle = bundle_items is not None
    product = Product(
        tenant_id=principal.tenant_id,
        id=new_id(),
        sku=normalise_sku(sku),
        name=_text(name, field="name", limit=MAX_NAME),
        family=_optional_text(family, field="family", limit=MAX_FAMILY),
        description=_optional_text(description, field="description", limit=MAX_DESCRIPTION),
        active=True,
        is_bundle=is_bundle,
        bundle_discount_percent=_bundle_discount(bundle_discount_percent) if is_bundle else None,
    )
    if not is_bundle and bundle_discount_percent is not None:
        raise InvalidInput("only a bundle has a bundle saving", field="bundleDiscountPercent")
    groups = _option_groups(principal.tenant_id, product.id, option_groups)
    items = (
        await _bundle_items(session, principal, product.id, bundle_items)
        if bundle_items is not None
        else []
    )
    await _sku_free(session, principal, product.sku, own_id=None)
    session.add(product)
    await _flush_product(session, product.sku)
    await _add_option_groups(session, groups)
    if items:
        session.add_all(items)
        await session.flush()
    return product


async def update_product(
    session: AsyncSession, principal: Principal, product_id: uuid.UUID, changes: ProductChanges
) -> Product:
    """Apply `changes` after validating them all. Bundle items are for bundles only (a
    plain product stays plain); option groups and items given replace the old ones."""
    require_catalog_manager(principal)
    product = await get_product(session, principal, product_id, for_update=True)
    values: dict[str, object] = {}
    if "sku" in changes:
        values["sku"] = normalise_sku(changes["sku"])
    if "name" in changes:
        values["name"] = _text(changes["name"], field="name", limit=MAX_NAME)
    if "family" in changes:
        values["family"] = _optional_text(changes["family"], field="family", limit=MAX_FAMILY)
    if "description" in changes:
        values["description"] = _optional_text(
            changes["description"], field="description", limit=MAX_DESCRIPTION
        )
    if "bundle_discount_percent" in changes:
        percent = changes["bundle_discount_percent"]
        if product.is_bundle:
            values["bundle_discount_percent"] = _bundle_discount(percent)
        elif percent is not None:
            raise InvalidInput(
                "only a bundle has a bundle saving; this product is not one",
                field="bundleDiscountPercent",
            )
    groups = None
    if "option_groups" in changes:
        groups = _option_groups(product.tenant_id, product.id, changes["option_groups"] or ())
    items = None
    if "bundle_items" in changes:
        specs = changes["bundle_items"]
        if product.is_bundle:
            items = await _bundle_items(session, principal, product.id, specs or ())
        elif specs:
            raise InvalidInput(
                "only a bundle has items; this product is not one", field="bundleItems"
            )
    if "sku" in values:
        await _sku_free(session, principal, str(values["sku"]), own_id=product.id)

    for name, value in values.items():
        setattr(product, name, value)
    product.updated_at = func.now()  # a change of options or items changes the product too
    await _flush_product(session, product.sku)
    if groups is not None:
        await _replace_option_groups(session, product, groups)
    if items is not None:
        await _replace_bundle_items(session, product, items)
    return product


async def retire_product(
    session: AsyncSession, principal: Principal, product_id: uuid.UUID
) -> Product:
    """Stop selling a product (INVALID_TRANSITION if it is already retired)."""
    require_catalog_manager(principal)
    product = await get_product(session, principal, product_id, for_update=True)
    if not product.active:
        raise InvalidInput(
            f"{product.sku} is already retired", field="id", code=ErrorCode.INVALID_TRANSITION
        )
    product.active = False
    product.retired_at = datetime.now(UTC)
    await session.flush()
    return product


async def reactivate_product(
    session: AsyncSession, principal: Principal, product_id: uuid.UUID
) -> Product:
    """Sell a retired product again (INVALID_TRANSITION if it is active)."""
    require_catalog_manager(principal)
    product = await get_product(session, principal, product_id, for_update=True)
    if product.active:
        raise InvalidInput(
            f"{product.sku} is not retired", field="id", code=ErrorCode.INVALID_TRANSITION
        )
    product.active = True
    product.retired_at = None
    await session.flush()
    return product
