"""`stockLevels`: tenant staff only (partner users see availability on products), by
location then product, keyset-paginated on that pair (`ix_stock_levels_location`; with a
product filter, `uq_stock_levels_product_location`)."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from typing import Any

import strawberry
from sqlalchemy import false, func, select, tuple_

from prm.auth.principal import TENANT_ROLES
from prm.catalog.models import StockLevel
from prm.graphql.context import Info
from prm.graphql.errors import BadUserInput
from prm.graphql.pagination import Connection, Edge, PageInfo, page_size
from prm.graphql.permissions import require_roles
from prm.graphql.relay import pk_of
from prm.graphql.stock.inputs import StockLevelFilter
from prm.graphql.stock.types import StockLevelType

ORDER = "stockLevels:location,product"


def _cursor(row: StockLevel) -> str:
    key = [ORDER, row.location, str(row.product_id)]
    return base64.urlsafe_b64encode(json.dumps(key, separators=(",", ":")).encode()).decode()


def _after(cursor: str) -> tuple[str, uuid.UUID]:
    try:
        key: Any = json.loads(base64.urlsafe_b64decode(cursor.encode("ascii")))
        if not isinstance(key, list) or len(key) != 3 or key[0] != ORDER:
            raise ValueError("cursor of another connection")
        if not isinstance(key[1], str):
            raise ValueError("bad location")
        return key[1], uuid.UUID(str(key[2]))
    except (ValueError, TypeError, UnicodeError, binascii.Error) as error:
        raise BadUserInput("`after` is not a cursor of this connection") from error


@strawberry.type
class Query:
    @strawberry.field(
        description="Stock levels by location, then product (tenant staff; others FORBIDDEN)."
    )
    async def stock_levels(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: StockLevelFilter | None = None,
    ) -> Connection[StockLevelType]:
        principal = require_roles(info, *sorted(TENANT_ROLES))
        limit = page_size(info.context, first)
        statement = select(StockLevel).where(StockLevel.tenant_id == principal.tenant_id)
        if filter is not None and filter.product_id is not None:
            product = pk_of(filter.product_id, "Product")
            statement = statement.where(StockLevel.product_id == product if product else false())
        if filter is not None and filter.location is not None:
            statement = statement.where(StockLevel.location == filter.location.strip())
        page = statement
        if after is not None:
            location, product_id = _after(after)
            page = page.where(
                tuple_(StockLevel.location, StockLevel.product_id) > tuple_(location, product_id)
            )
        page = page.order_by(StockLevel.location, StockLevel.product_id).limit(limit + 1)
        rows = list((await info.context.session.scalars(page)).all())
        has_next = len(rows) > limit
        edges = [
            Edge(cursor=_cursor(row), node=StockLevelType.from_model(row)) for row in rows[:limit]
        ]

        async def count() -> int:
            total = await info.context.session.scalar(
                select(func.count()).select_from(statement.subquery())
            )
            return int(total or 0)

        return Connection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=has_next,
                has_previous_page=after is not None,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None,
            ),
            count=count,
        )
