"""Stock as the API shows them: `StockLevel`, `StockAllocation` (staff only) and
`StockAvailability`, what a product's `availability` field lists for the caller.

`ProductType` is referenced lazily: the products domain imports `product_availability`
from here, so importing it back at module level would be circular.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from sqlalchemy import func, select
from strawberry.dataloader import DataLoader

from prm.catalog import stock
from prm.catalog.models import StockAllocation, StockLevel
from prm.catalog.visibility import is_staff, own_partner
from prm.graphql.context import Context, Info
from prm.graphql.partners.types import PartnerType, load_partner
from prm.graphql.relay import Node, register_node

if TYPE_CHECKING:
    from prm.graphql.products.types import ProductType

LazyProduct = Annotated["ProductType", strawberry.lazy("prm.graphql.products.types")]


@strawberry.type(
    name="StockAvailability",
    description="A product's stock at one location as the caller may count on it.",
)
class StockAvailabilityType:
    location: str
    on_hand: int = strawberry.field(description="Units physically at the location.")
    allocated: int = strawberry.field(description="Units set aside for partners there.")
    available: int = strawberry.field(
        description="Units the caller can count on: on hand less what is allocated to other "
        "partners (a partner user's own allocation counts for it; staff: less every "
        "allocation), never below 0."
    )
    updated_at: datetime = strawberry.field(description="When on hand was last set.")

    @classmethod
    def of(cls, row: stock.Availability) -> StockAvailabilityType:
        return cls(
            location=row.location,
            on_hand=row.on_hand,
            allocated=row.allocated,
            available=row.available,
            updated_at=row.updated_at,
        )


AvailabilityKey = tuple[uuid.UUID, str | None]


async def product_availability(
    context: Context, product_pk: uuid.UUID, location: str | None
) -> list[StockAvailabilityType]:
    """The product's stock levels (at `location`, or everywhere) by location name, with
    what the caller can count on. Batched: a page of products is one statement. The
    caller has already checked that the product is visible."""
    principal = context.principal
    if principal is None:
        return []
    partner_id = own_partner(principal)

    def factory() -> DataLoader[AvailabilityKey, list[StockAvailabilityType]]:
        async def load(keys: Sequence[AvailabilityKey]) -> list[list[StockAvailabilityType]]:
            wanted = {key[1] for key in keys}
            locations = None if None in wanted else {str(name) for name in wanted}
            rows = await stock.stock_availability(
                context.session,
                principal.tenant_id,
                {key[0] for key in keys},
                partner_id=partner_id,
                locations=locations,
            )
            by_product: dict[uuid.UUID, list[stock.Availability]] = defaultdict(list)
            for row in rows:
                by_product[row.product_id].append(row)
            return [
                [
                    StockAvailabilityType.of(row)
                    for row in by_product.get(product, [])
                    if name is None or row.location == name
                ]
                for product, name in keys
            ]

        return DataLoader(load_fn=load)

    loader = context.loaders.custom("stock.availability", factory)
    key = (product_pk, location.strip() if location is not None else None)
    result: list[StockAvailabilityType] = await loader.load(key)
    return result


async def _allocated_totals(context: Context, key: tuple[uuid.UUID, str]) -> int:
    """Units allocated at one (product, location), batched per request."""
    principal = context.principal
    if principal is None:
        return 0

    def factory() -> DataLoader[tuple[uuid.UUID, str], int]:
        async def load(keys: Sequence[tuple[uuid.UUID, str]]) -> list[int]:
            rows = await context.session.execute(
                select(
                    StockAllocation.product_id,
                    StockAllocation.location,
                    func.sum(StockAllocation.quantity),
                )
                .where(
                    StockAllocation.tenant_id == principal.tenant_id,
                    StockAllocation.product_id.in_({product for product, _ in keys}),
                    StockAllocation.location.in_({location for _, location in keys}),
                )
                .group_by(StockAllocation.product_id, StockAllocation.location)
            )
            totals = {(product, location): int(total) for product, location, total in rows}
            return [totals.get(key, 0) for key in keys]

        return DataLoader(load_fn=load)

    total: int = await context.loaders.custom("stock.allocated", factory).load(key)
    return total


async def _product(info: Info, pk: uuid.UUID) -> ProductType | None:
    from prm.graphql.products.types import load_product

    return await load_product(info.context, pk)


@strawberry.type(name="StockLevel", description="Units of a product on hand at a location.")
class StockLevelType(Node):
    location: str
    on_hand: int
    updated_at: datetime
    product_pk: strawberry.Private[uuid.UUID]

    @strawberry.field
    async def product(self, info: Info) -> LazyProduct | None:
        return await _product(info, self.product_pk)

    @strawberry.field(description="Units set aside for partners at this location.")
    async def allocated(self, info: Info) -> int:
        return await _allocated_totals(info.context, (self.product_pk, self.location))

    @strawberry.field(description="Who the allocated units are set aside for, largest first.")
    async def allocations(self, info: Info) -> list[StockAllocationType]:
        return await level_allocations(info.context, self.product_pk, self.location)

    @classmethod
    def from_model(cls, row: StockLevel) -> StockLevelType:
        return cls.from_row(row, product_pk=row.product_id)


@strawberry.type(
    name="StockAllocation",
    description="Units of a product at a location set aside for one partner.",
)
class StockAllocationType(Node):
    location: str
    quantity: int
    updated_at: datetime
    product_pk: strawberry.Private[uuid.UUID]
    partner_pk: strawberry.Private[uuid.UUID]

    @strawberry.field
    async def product(self, info: Info) -> LazyProduct | None:
        return await _product(info, self.product_pk)

    @strawberry.field
    async def partner(self, info: Info) -> PartnerType | None:
        return await load_partner(info.context, self.partner_pk)

    @classmethod
    def from_model(cls, row: StockAllocation) -> StockAllocationType:
        return cls.from_row(row, product_pk=row.product_id, partner_pk=row.partner_id)


@register_node(StockLevelType)
async def load_stock_level(context: Context, pk: uuid.UUID) -> StockLevelType | None:
    """A stock level, for tenant staff only."""
    if context.principal is None or not is_staff(context.principal):
        return None
    row = await context.loaders.by_id(StockLevel).load(pk)
    return StockLevelType.from_model(row) if row else None


@register_node(StockAllocationType)
async def load_stock_allocation(context: Context, pk: uuid.UUID) -> StockAllocationType | None:
    """An allocation, for tenant staff only (partners see its effect in availability)."""
    if context.principal is None or not is_staff(context.principal):
        return None
    row = await context.loaders.by_id(StockAllocation).load(pk)
    return StockAllocationType.from_model(row) if row else None


async def level_allocations(
    context: Context, product_pk: uuid.UUID, location: str
) -> list[StockAllocationType]:
    """The allocations at one (product, location), largest first; batched per request."""
    principal = context.principal
    if principal is None:
        return []

    def factory() -> DataLoader[tuple[uuid.UUID, str], list[StockAllocationType]]:
        async def load(keys: Sequence[tuple[uuid.UUID, str]]) -> list[list[StockAllocationType]]:
            rows = await context.session.scalars(
                select(StockAllocation)
                .where(
                    StockAllocation.tenant_id == principal.tenant_id,
                    StockAllocation.product_id.in_({product for product, _ in keys}),
                    StockAllocation.location.in_({location for _, location in keys}),
                )
                .order_by(StockAllocation.quantity.desc(), StockAllocation.id)
            )
            found: dict[tuple[uuid.UUID, str], list[StockAllocationType]] = defaultdict(list)
            for row in rows:
                found[(row.product_id, row.location)].append(StockAllocationType.from_model(row))
            return [found.get(key, []) for key in keys]

        return DataLoader(load_fn=load)

    result: list[StockAllocationType] = await context.loaders.custom(
        "stock.level_allocations", factory
    ).load((product_pk, location))
    return result
