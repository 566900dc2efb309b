"""Promotion usage caps, counted atomically.

A quote uses each promotion that discounts any of its lines once. Counting is one
conditional UPDATE per quote: it adds a use to every promotion still under its cap and
returns the ones it counted, so two quotes racing for a promotion's last use cannot both
get it (the second one's UPDATE waits for the first's row lock, then re-reads the count
and skips the row). Rows are locked in id order, so quotes sharing several promotions
queue instead of deadlocking.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from typing import Any

from sqlalchemy import ColumnElement, Uuid, any_, bindparam, or_, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from prm.catalog.models import Promotion
from prm.errors import DomainError, ErrorCode


class UsageLimitReached(DomainError):
    code = ErrorCode.LIMIT_EXCEEDED


async def consume_uses(
    session: AsyncSession, tenant_id: uuid.UUID, ids: Collection[uuid.UUID]
) -> None:
    """Count one use of each promotion in `ids`, or raise `LIMIT_EXCEEDED` (on
    `promotionCode`) if any has reached its cap; the caller's transaction then rolls back,
    so no use is counted."""
    wanted = set(ids)
    if not wanted:
        return
    counted = await _bump(
        session,
        tenant_id,
        wanted,
        delta=1,
        condition=or_(Promotion.usage_cap.is_(None), Promotion.usage_count < Promotion.usage_cap),
    )
    if counted != wanted:
        raise UsageLimitReached(
            "a promotion on this quote has reached its usage limit", field="promotionCode"
        )


async def release_uses(
    session: AsyncSession, tenant_id: uuid.UUID, ids: Collection[uuid.UUID]
) -> None:
    """Give back the uses a quote counted (before it is priced again)."""
    if ids:
        await _bump(session, tenant_id, set(ids), delta=-1, condition=Promotion.usage_count > 0)


async def _bump(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    ids: set[uuid.UUID],
    *,
    delta: int,
    condition: ColumnElement[bool],
) -> set[uuid.UUID]:
    """Add `delta` to the usage count of the promotions in `ids` that meet `condition`,
    in one statement; the ids it changed. Promotion rows the session already holds are
    synchronised ("fetch"), so pricing later in the same session sees the new counts."""
    locked = (
        select(Promotion.id)
        .where(
            Promotion.tenant_id == tenant_id,
            Promotion.id == any_(bindparam("promotion_ids", sorted(ids), type_=ARRAY(Uuid))),
        )
        .order_by(Promotion.id)
        .with_for_update()
        .cte("locked")
    )
    statement: Any = (
        update(Promotion)
        .where(
            Promotion.tenant_id == tenant_id,
            Promotion.id.in_(select(locked.c.id)),
            condition,
        )
        .values(usage_count=Promotion.usage_count + delta)
        .returning(Promotion.id)
        .execution_options(synchronize_session="fetch")
    )
    return set((await session.scalars(statement)).all())
