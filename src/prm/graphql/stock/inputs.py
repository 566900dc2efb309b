"""Inputs and the filter of the stock API."""

from __future__ import annotations

import strawberry


@strawberry.input(description="Units on hand of a product at a location (created on first use).")
class SetStockLevelInput:
    product_id: strawberry.ID
    location: str = strawberry.field(description="A warehouse or site code, 1-100 characters.")
    on_hand: int = strawberry.field(
        description="At least 0, and not below what is allocated to partners there."
    )


@strawberry.input(description="Units at a location set aside for one partner.")
class SetStockAllocationInput:
    product_id: strawberry.ID
    partner_id: strawberry.ID
    location: str = strawberry.field(description="A location with a stock level.")
    quantity: int = strawberry.field(
        description="0 removes the allocation; all partners' together may not exceed on hand."
    )


@strawberry.input(description="Narrow `stockLevels`; both together are one level at most.")
class StockLevelFilter:
    product_id: strawberry.ID | None = None
    location: str | None = strawberry.field(default=None, description="Exact location code.")
