"""Stock: units on hand per product and location, and units set aside for partners.

Availability is what a buyer can count on. At one location it is `on_hand` less what is
allocated to *other* partners (a partner's own allocation is its to use), never below 0;
staff quoting direct (no partner) count on `on_hand` less every allocation. A product
with no stock row at all does not track stock: it is always available.

Writes keep one invariant: at every (product, location) the allocations never add up to
more than `on_hand`. Both sides serialise on the stock level's row lock: an allocation
takes it (`FOR UPDATE`) before summing; a new `on_hand` is written first (the upsert
holds the row lock until commit) and the allocations summed after, in a fresh snapshot,
so a concurrent allocation either committed before (and is counted) or waits.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    String,
    Uuid,
    any_,
    bindparam,
    case,
    delete,
    func,
    literal,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession

from prm.auth.principal import Principal
from prm.catalog.models import MAX_LOCATION, Product, StockAllocation, StockLevel
from prm.catalog.visibility import require_catalog_manager
from prm.db.ids import new_id
from prm.errors import DomainError, ErrorCode, InvalidInput, NotFound
from prm.partners.models import Partner

MAX_QUANTITY = 2_147_483_647
"""The largest `on_hand` or allocation an INTEGER column holds."""


def uuid_array(name: str, values: Collection[uuid.UUID]) -> Any:
    """A `uuid[]` bind parameter (for `= ANY(...)` and `unnest(...)`)."""
    return bindparam(name, list(values), type_=ARRAY(Uuid))


def _allocated_here(partner_id: uuid.UUID | None = None) -> Any:
    """Units allocated at the outer stock level's (product, location): to `partner_id`
    alone if given, else to every partner. A correlated sum over `uq_stock_allocations`."""
    whose = StockAllocation.partner_id == partner_id if partner_id is not None else literal(True)
    return (
        select(func.coalesce(func.sum(StockAllocation.quantity), 0))
        .where(
            StockAllocation.tenant_id == StockLevel.tenant_id,
            StockAllocation.product_id == StockLevel.product_id,
            StockAllocation.location == StockLevel.location,
            whose,
        )
        .correlate(StockLevel)
        .scalar_subquery()
    )


def _others_allocated(partner_id: uuid.UUID | None) -> Any:
    """Units at the outer stock level allocated to partners other than `partner_id`
    (to every partner when None)."""
    if partner_id is None:
        return _allocated_here()
    return (
        select(func.coalesce(func.sum(StockAllocation.quantity), 0))
        .where(
            StockAllocation.tenant_id == StockLevel.tenant_id,
            StockAllocation.product_id == StockLevel.product_id,
            StockAllocation.location == StockLevel.location,
            StockAllocation.partner_id != partner_id,
        )
        .correlate(StockLevel)
        .scalar_subquery()
    )


async def available_quantities(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    product_ids: Collection[uuid.UUID],
    *,
    partner_id: uuid.UUID | None,
    location: str | None,
) -> dict[uuid.UUID, int]:
    """Units of each product that `partner_id` (None: staff quoting direct) can count on,
    at `location` or summed over every location, in one statement.

    Only products that track stock appear: a product with a stock row somewhere but none
    at `location` maps to 0; a product with no stock row at all is absent."""
    if not product_ids:
        return {}
    per_location: ColumnElement[Any] = func.greatest(
        StockLevel.on_hand - _others_allocated(partner_id), 0
    )
    if location is not None:
        per_location = case((StockLevel.location == location.strip(), per_location), else_=0)
    statement = (
        select(StockLevel.product_id, func.sum(per_location))
        .where(
            StockLevel.tenant_id == tenant_id,
            StockLevel.product_id == any_(uuid_array("product_ids", set(product_ids))),
        )
        .group_by(StockLevel.product_id)
    )
    rows = await session.execute(statement)
    return {product_id: int(total) for product_id, total in rows}


@dataclass(frozen=True)
class Availability:
    """One stock level as a buyer sees it: `allocated` is everything set aside for
    partners there, `available` what this buyer can count on."""

    product_id: uuid.UUID
    location: str
    on_hand: int
    allocated: int
    available: int
    updated_at: datetime


async def stock_availability(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    product_ids: Collection[uuid.UUID],
    *,
    partner_id: uuid.UUID | None,
    locations: Collection[str] | None,
) -> list[Availability]:
    """Every stock level of the products (at one of `locations`, or all when None) with
    what `partner_id` (None: staff) can count on, by product and location name: one
    statement for any number of products."""
    if not product_ids:
        return []
    conditions = [
        StockLevel.tenant_id == tenant_id,
        StockLevel.product_id == any_(uuid_array("product_ids", set(product_ids))),
    ]
    if locations is not None:
        wanted = sorted({location.strip() for location in locations})
        conditions.append(
            StockLevel.location == any_(bindparam("locations", wanted, type_=ARRAY(String)))
        )
    own = _allocated_here(partner_id) if partner_id is not None else literal(0, Integer)
    statement = (
        select(
            StockLevel.product_id,
            StockLevel.location,
            StockLevel.on_hand,
            StockLevel.updated_at,
            _allocated_here().label("allocated"),
            own.label("own"),
        )
        .where(*conditions)
        .order_by(StockLevel.product_id, StockLevel.location)
    )
    return [
        Availability(
            product_id=row.product_id,
            location=row.location,
            on_hand=row.on_hand,
            allocated=int(row.allocated),
            available=max(row.on_hand - (int(row.allocated) - int(row.own)), 0),
            updated_at=row.updated_at,
        )
        for row in await session.execute(statement)
    ]


# Validation --------------------------------------------------------------------------


def clean_location(value: str, *, field: str = "location") -> str:
    """A location code, trimmed: 1 to `MAX_LOCATION` characters."""
    location = value.strip()
    if not location:
        raise InvalidInput("the location must not be blank", field=field)
    if len(location) > MAX_LOCATION:
        raise InvalidInput(f"the location is at most {MAX_LOCATION} characters", field=field)
    return location


def check_quantity(value: int, *, field: str, what: str) -> int:
    if value < 0:
        raise InvalidInput(f"{what} must not be negative", field=field)
    if value > MAX_QUANTITY:
        raise InvalidInput(f"{what} is at most {MAX_QUANTITY}", field=field)
    return value


async def _require_product(session: AsyncSession, tenant_id: uuid.UUID, pk: uuid.UUID) -> None:
    found = await session.scalar(
        select(Product.id).where(Product.tenant_id == tenant_id, Product.id == pk)
    )
    if found is None:
        raise NotFound("no such product", field="productId")


# Stock levels ------------------------------------------------------------------------


async def allocated_at(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    pairs: Sequence[tuple[uuid.UUID, str]],
) -> dict[tuple[uuid.UUID, str], int]:
    """Units allocated to partners at each (product, location) that has any: one
    statement joining the pairs as arrays (`unnest`), however many there are."""
    unique = list(dict.fromkeys(pairs))
    if not unique:
        return {}
    rows = await session.execute(
        text(
            "SELECT a.product_id, a.location, sum(a.quantity) "
            "FROM unnest(:product_ids, :locations) AS u(product_id, location) "
            "JOIN stock_allocations a ON a.tenant_id = :tenant_id "
            "AND a.product_id = u.product_id AND a.location = u.location "
            "GROUP BY a.product_id, a.location"
        ).bindparams(
            bindparam("tenant_id", tenant_id),
            uuid_array("product_ids", [product for product, _ in unique]),
            bindparam("locations", [location for _, location in unique], type_=ARRAY(String)),
        )
    )
    return {(product, location): int(total) for product, location, total in rows}


async def set_stock_level(
    session: AsyncSession,
    principal: Principal,
    *,
    product_id: uuid.UUID,
    location: str,
    on_hand: int,
) -> StockLevel:
    """Set the units on hand of a product at a location (created on first use). Refused
    (`INVALID`) if it would leave fewer units than are allocated to partners there."""
    require_catalog_manager(principal)
    location = clean_location(location)
    check_quantity(on_hand, field="onHand", what="on hand")
    await _require_product(session, principal.tenant_id, product_id)
    upsert = insert(StockLevel).values(
        tenant_id=principal.tenant_id,
        id=new_id(),
        product_id=product_id,
        location=location,
        on_hand=on_hand,
    )
    returning = upsert.on_conflict_do_update(
        index_elements=[StockLevel.tenant_id, StockLevel.product_id, StockLevel.location],
        set_={"on_hand": upsert.excluded.on_hand, "updated_at": func.now()},
    ).returning(StockLevel)
    row = (await session.scalars(returning, execution_options={"populate_existing": True})).one()
    # The upsert holds the row's lock: this sum sees every allocation that can exist.
    allocated = (await allocated_at(session, principal.tenant_id, [(product_id, location)])).get(
        (product_id, location), 0
    )
    if on_hand < allocated:
        raise InvalidInput(
            f"{allocated} units are allocated to partners at {location}: on hand cannot "
            "go below that (reduce the allocations first)",
            field="onHand",
        )
    return row


# Allocations -------------------------------------------------------------------------


async def set_stock_allocation(
    session: AsyncSession,
    principal: Principal,
    *,
    product_id: uuid.UUID,
    partner_id: uuid.UUID,
    location: str,
    quantity: int,
) -> StockAllocation | None:
    """Set aside `quantity` units at a location for a partner (0 removes the allocation;
    then None). The allocations there may not add up to more than is on hand
    (`LIMIT_EXCEEDED`); concurrent allocations queue on the stock level's row lock."""
    require_catalog_manager(principal)
    location = clean_location(location)
    check_quantity(quantity, field="quantity", what="the quantity")
    tenant_id = principal.tenant_id
    await _require_product(session, tenant_id, product_id)
    partner = await session.scalar(
        select(Partner.id).where(Partner.tenant_id == tenant_id, Partner.id == partner_id)
    )
    if partner is None:
        raise NotFound("no such partner", field="partnerId")
    on_hand = await session.scalar(
        select(StockLevel.on_hand)
        .where(
            StockLevel.tenant_id == tenant_id,
            StockLevel.product_id == product_id,
            StockLevel.location == location,
        )
        .with_for_update()
    )
    if on_hand is None:
        raise InvalidInput(
            f"the product has no stock level at {location}: set one first", field="location"
        )
    others = await session.scalar(
        select(func.coalesce(func.sum(StockAllocation.quantity), 0)).where(
            StockAllocation.tenant_id == tenant_id,
            StockAllocation.product_id == product_id,
            StockAllocation.location == location,
            StockAllocation.partner_id != partner_id,
        )
    )
    free = on_hand - int(others or 0)
    if quantity > free:
        raise DomainError(
            f"only {max(free, 0)} of the {on_hand} units at {location} are not allocated "
            "to other partners",
            field="quantity",
            code=ErrorCode.LIMIT_EXCEEDED,
        )
    key = (
        StockAllocation.tenant_id == tenant_id,
        StockAllocation.product_id == product_id,
        StockAllocation.location == location,
        StockAllocation.partner_id == partner_id,
    )
    if quantity == 0:
        await session.execute(delete(StockAllocation).where(*key))
        return None
    upsert = insert(StockAllocation).values(
        tenant_id=tenant_id,
        id=new_id(),
        product_id=product_id,
        location=location,
        partner_id=partner_id,
        quantity=quantity,
    )
    returning = upsert.on_conflict_do_update(
        index_elements=[
            StockAllocation.tenant_id,
            StockAllocation.product_id,
            StockAllocation.location,
            StockAllocation.partner_id,
        ],
        set_={"quantity": upsert.excluded.quantity, "updated_at": func.now()},
    ).returning(StockAllocation)
    return (await session.scalars(returning, execution_options={"populate_existing": True})).one()
