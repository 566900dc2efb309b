"""Bulk stock levels from a CSV file: all or nothing.

The file has a header row naming `sku`, `location` and `on_hand` (any order and case;
`on hand` and `onHand` also do), is UTF-8 with or without a BOM, at most `MAX_FILE_BYTES`
and `MAX_ROWS` data rows. Every row is judged and every bad one reported (row number,
header = row 1, the column, why); if any is bad nothing is written. A row is bad when a
value is missing or malformed, its SKU is unknown in the tenant, it repeats an earlier
row's (sku, location), or its `on_hand` is below what is allocated to partners there.

Set-based: the SKUs are resolved in one statement, the allocations read in one, and the
levels upserted in one (`INSERT … SELECT … FROM unnest(…) ON CONFLICT … DO UPDATE`),
whatever the row count. The allocation check runs again after the upsert, which holds
every written row's lock, so an allocation made concurrently cannot slip under it (see
`prm.catalog.stock`).
"""

from __future__ import annotations

import csv
import io
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from sqlalchemy import Integer, String, any_, bindparam, func, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from prm.auth.principal import Principal
from prm.catalog.models import MAX_LOCATION, MAX_SKU, Product
from prm.catalog.stock import MAX_QUANTITY, allocated_at, uuid_array
from prm.catalog.visibility import require_catalog_manager
from prm.db.ids import new_id
from prm.errors import DomainError, ErrorCode, InvalidInput

MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_ROWS = 100_000
COLUMNS = ("sku", "location", "on_hand")
_ALIASES = {"sku": "sku", "location": "location", "onhand": "on_hand"}


class ImportLimitExceeded(DomainError):
    code = ErrorCode.LIMIT_EXCEEDED


@dataclass(frozen=True)
class RowError:
    """Why one data row was refused. `row` counts records from the header (row 1)."""

    row: int
    column: str | None
    code: ErrorCode
    message: str


@dataclass
class ImportResult:
    """`updated` levels written, or the `errors` of every bad row (then nothing was)."""

    updated: int = 0
    errors: list[RowError] = field(default_factory=list)


@dataclass(frozen=True)
class _Row:
    row: int
    sku: str
    location: str
    on_hand: int


async def read_upload(pieces: AsyncIterator[bytes], *, max_bytes: int = MAX_FILE_BYTES) -> bytes:
    """The whole upload, refused (`LIMIT_EXCEEDED`) as soon as it passes `max_bytes`."""
    data = bytearray()
    async for piece in pieces:
        data += piece
        if len(data) > max_bytes:
            raise ImportLimitExceeded(
                f"the file exceeds the {max_bytes // (1024 * 1024)} MB limit", field="file"
            )
    return bytes(data)


def _decode(data: bytes) -> str:
    try:
        content = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InvalidInput(
            f"the file is not UTF-8 text (invalid byte at offset {error.start}); "
            "save it as CSV UTF-8",
            field="file",
        ) from error
    if "\x00" in content:
        raise InvalidInput("the file contains NUL bytes: it is not a CSV text file", field="file")
    return content


def _header(names: list[str]) -> list[str]:
    """The canonical column of each header cell; `InvalidInput` if any is unknown,
    repeated or missing."""
    columns: list[str] = []
    for name in names:
        canonical = _ALIASES.get(re.sub(r"[\s_-]", "", name).lower())
        if canonical is None:
            raise InvalidInput(
                f"unknown column {name.strip()[:40]!r} in the header row; the columns are "
                + ", ".join(COLUMNS),
                field="file",
            )
        if canonical in columns:
            raise InvalidInput(f"column {canonical!r} appears twice in the header", field="file")
        columns.append(canonical)
    missing = [name for name in COLUMNS if name not in columns]
    if missing:
        raise InvalidInput(
            "the first line must be a header row naming sku, location and on_hand "
            f"(missing: {', '.join(missing)})",
            field="file",
        )
    return columns


def _parse_row(number: int, values: dict[str, str], errors: list[RowError]) -> _Row | None:
    """The row's values, or None after adding its errors (one per bad column)."""
    before = len(errors)

    def bad(column: str, message: str) -> None:
        errors.append(RowError(number, column, ErrorCode.INVALID, message))

    sku = values["sku"].strip()
    if not sku:
        bad("sku", "the SKU is missing")
    elif len(sku) > MAX_SKU:
        bad("sku", f"the SKU is at most {MAX_SKU} characters")
    location = values["location"].strip()
    if not location:
        bad("location", "the location is missing")
    elif len(location) > MAX_LOCATION:
        bad("location", f"the location is at most {MAX_LOCATION} characters")
    raw = values["on_hand"].strip()
    on_hand = -1
    if not raw:
        bad("on_hand", "on_hand is missing")
    elif not re.fullmatch(r"[+-]?\d+", raw):
        bad("on_hand", f"on_hand must be a whole number, not {raw[:20]!r}")
    else:
        on_hand = int(raw)
        if on_hand < 0:
            bad("on_hand", "on_hand must not be negative")
        elif on_hand > MAX_QUANTITY:
            bad("on_hand", f"on_hand is at most {MAX_QUANTITY}")
    if len(errors) > before:
        return None
    return _Row(number, sku, location, on_hand)


def parse_stock_csv(data: bytes, *, max_rows: int = MAX_ROWS) -> tuple[list[_Row], list[RowError]]:
    """The file's good rows and the errors of its bad ones (value errors only: SKUs and
    allocations are judged against the database later). File-level problems raise.
    Rows are numbered by CSV record, the header being row 1; blank rows are skipped
    (but counted, so numbers match the lines of a plain file)."""
    reader = csv.reader(io.StringIO(_decode(data), newline=""), strict=True)
    rows: list[_Row] = []
    errors: list[RowError] = []
    count = 0
    try:
        records = enumerate(reader, start=1)
        header = next(records, None)
        if header is None:
            raise InvalidInput("the file is empty", field="file")
        columns = _header(header[1])
        for number, record in records:
            if not any(cell.strip() for cell in record):
                continue
            count += 1
            if count > max_rows:
                raise ImportLimitExceeded(
                    f"the file has more than {max_rows} rows; split it", field="file"
                )
            if len(record) != len(columns):
                errors.append(
                    RowError(
                        number,
                        None,
                        ErrorCode.INVALID,
                        f"expected {len(columns)} fields, found {len(record)}",
                    )
                )
                continue
            row = _parse_row(number, dict(zip(columns, record, strict=True)), errors)
            if row is not None:
                rows.append(row)
    except csv.Error as error:
        raise InvalidInput(
            f"the file is not valid CSV (line {reader.line_num}): {error}", field="file"
        ) from error
    if count == 0:
        raise InvalidInput("the file has a header row but no data rows", field="file")
    return rows, errors


async def import_stock_levels(
    session: AsyncSession, principal: Principal, data: bytes
) -> ImportResult:
    """Set the stock levels a CSV file lists, all or nothing (see the module doc). With
    errors in the result the caller must roll back: the upsert may already have run."""
    require_catalog_manager(principal)
    tenant_id = principal.tenant_id
    rows, errors = parse_stock_csv(data)

    wanted = sorted({row.sku.lower() for row in rows})
    found = await session.execute(
        select(func.lower(Product.sku), Product.id).where(
            Product.tenant_id == tenant_id,
            func.lower(Product.sku) == any_(bindparam("skus", wanted, type_=ARRAY(String))),
        )
    )
    products = {sku: pk for sku, pk in found}

    resolved: list[tuple[_Row, uuid.UUID]] = []
    first_seen: dict[tuple[str, str], int] = {}
    for row in rows:
        key = (row.sku.lower(), row.location)
        product_id = products.get(key[0])
        if product_id is None:
            errors.append(
                RowError(row.row, "sku", ErrorCode.NOT_FOUND, f"no product has SKU {row.sku!r}")
            )
        elif key in first_seen:
            errors.append(
                RowError(
                    row.row,
                    None,
                    ErrorCode.DUPLICATE,
                    f"the same sku and location as row {first_seen[key]}",
                )
            )
        else:
            first_seen[key] = row.row
            resolved.append((row, product_id))

    if errors:
        errors.extend(await _below_allocations(session, tenant_id, resolved))
        return ImportResult(errors=sorted(errors, key=lambda error: error.row))

    await session.execute(
        text(
            "INSERT INTO stock_levels (tenant_id, id, product_id, location, on_hand) "
            "SELECT :tenant_id, u.id, u.product_id, u.location, u.on_hand "
            "FROM unnest(:ids, :product_ids, :locations, :on_hands) "
            "AS u(id, product_id, location, on_hand) "
            "ON CONFLICT (tenant_id, product_id, location) "
            "DO UPDATE SET on_hand = excluded.on_hand, updated_at = now()"
        ).bindparams(
            bindparam("tenant_id", tenant_id),
            uuid_array("ids", [new_id() for _ in resolved]),
            uuid_array("product_ids", [product_id for _, product_id in resolved]),
            bindparam("locations", [row.location for row, _ in resolved], type_=ARRAY(String)),
            bindparam("on_hands", [row.on_hand for row, _ in resolved], type_=ARRAY(Integer)),
        )
    )
    # After the upsert (which holds the rows' locks): the check no allocation can dodge.
    errors = await _below_allocations(session, tenant_id, resolved)
    return ImportResult(updated=0 if errors else len(resolved), errors=errors)


async def _below_allocations(
    session: AsyncSession, tenant_id: uuid.UUID, resolved: list[tuple[_Row, uuid.UUID]]
) -> list[RowError]:
    allocated = await allocated_at(
        session, tenant_id, [(product_id, row.location) for row, product_id in resolved]
    )
    errors: list[RowError] = []
    for row, product_id in resolved:
        held = allocated.get((product_id, row.location), 0)
        if row.on_hand < held:
            errors.append(
                RowError(
                    row.row,
                    "on_hand",
                    ErrorCode.INVALID,
                    f"{held} units are allocated to partners at {row.location}: on_hand "
                    "cannot go below that",
                )
            )
    return errors
