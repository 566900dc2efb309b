"""`setStockLevel`, `setStockAllocation` and `importStockLevels` (a CSV upload, the
GraphQL multipart request `importLeads` uses): admins and managers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import strawberry
from strawberry.file_uploads import Upload

from prm.catalog import stock, stock_import
from prm.catalog.visibility import CATALOG_MANAGERS
from prm.errors import InvalidInput
from prm.graphql.context import Info
from prm.graphql.errors import UserError, UserErrorCode
from prm.graphql.mutations import Payload, mutation
from prm.graphql.permissions import require_principal
from prm.graphql.relay import require_pk
from prm.graphql.stock.inputs import SetStockAllocationInput, SetStockLevelInput
from prm.graphql.stock.types import StockAllocationType, StockLevelType

CHUNK_BYTES = 1024 * 1024


@strawberry.type
class StockLevelPayload(Payload):
    stock_level: StockLevelType | None = None


@strawberry.type
class StockAllocationPayload(Payload):
    stock_allocation: StockAllocationType | None = strawberry.field(
        default=None, description="Null once a quantity of 0 removed the allocation."
    )


@strawberry.type(name="StockImportRowError", description="A row of a stock file that is wrong.")
class StockImportRowErrorType:
    row_number: int = strawberry.field(description="The CSV record; the header is row 1.")
    code: UserErrorCode  # type: ignore[valid-type]
    column: str | None = strawberry.field(description="sku, location or on_hand, if one is.")
    message: str

    @classmethod
    def of(cls, error: stock_import.RowError) -> StockImportRowErrorType:
        return cls(
            row_number=error.row, code=error.code, column=error.column, message=error.message
        )


@strawberry.type
class StockImportPayload(Payload):
    updated: int = strawberry.field(default=0, description="Stock levels written (0 on error).")
    row_errors: list[StockImportRowErrorType] = strawberry.field(
        default_factory=list, description="Every bad row, by row number; nothing was written."
    )


async def _pieces(upload: Any) -> AsyncIterator[bytes]:
    while piece := await upload.read(CHUNK_BYTES):
        yield piece


@strawberry.type
class Mutation:
    @mutation(
        StockLevelPayload,
        roles=CATALOG_MANAGERS,
        description="Set the units on hand of a product at a location (INVALID below what "
        "is allocated to partners there).",
    )
    async def set_stock_level(self, info: Info, input: SetStockLevelInput) -> StockLevelPayload:
        row = await stock.set_stock_level(
            info.context.session,
            require_principal(info),
            product_id=require_pk(input.product_id, "Product", field="productId"),
            location=input.location,
            on_hand=input.on_hand,
        )
        return StockLevelPayload(stock_level=StockLevelType.from_model(row))

    @mutation(
        StockAllocationPayload,
        roles=CATALOG_MANAGERS,
        description="Set aside units at a location for a partner (0 removes it); "
        "LIMIT_EXCEEDED if the allocations there would exceed on hand.",
    )
    async def set_stock_allocation(
        self, info: Info, input: SetStockAllocationInput
    ) -> StockAllocationPayload:
        row = await stock.set_stock_allocation(
            info.context.session,
            require_principal(info),
            product_id=require_pk(input.product_id, "Product", field="productId"),
            partner_id=require_pk(input.partner_id, "Partner", field="partnerId"),
            location=input.location,
            quantity=input.quantity,
        )
        return StockAllocationPayload(
            stock_allocation=StockAllocationType.from_model(row) if row else None
        )

    @mutation(
        StockImportPayload,
        roles=CATALOG_MANAGERS,
        description="Set stock levels from a CSV file (header `sku,location,on_hand`, "
        "UTF-8, at most 100,000 rows and 10 MB), all or nothing: every bad row is "
        "reported in `rowErrors` and then nothing is written.",
    )
    async def import_stock_levels(self, info: Info, file: Upload) -> StockImportPayload:
        if not hasattr(file, "read"):
            raise InvalidInput("send the file as a multipart upload", field="file")
        data = await stock_import.read_upload(_pieces(file))
        result = await stock_import.import_stock_levels(
            info.context.session, require_principal(info), data
        )
        if result.errors:
            return StockImportPayload(
                errors=[
                    UserError(
                        code=error.code,
                        field="file",
                        message=f"row {error.row}"
                        + (f", {error.column}" if error.column else "")
                        + f": {error.message}",
                    )
                    for error in result.errors
                ],
                row_errors=[StockImportRowErrorType.of(error) for error in result.errors],
            )
        return StockImportPayload(updated=result.updated)
