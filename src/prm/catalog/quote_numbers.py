"""Quote numbers: 1, 2, 3… per tenant, without gaps even under concurrency.

The number comes from an upsert of the tenant's `quote_counters` row inside the quote's
own transaction. The row lock it takes makes concurrent quotes queue (each waits until
the one before commits or rolls back), and a rolled-back quote rolls its increment back
with it, so the number is given again. Take the number last, after validation and
pricing, so the lock is held only for the final inserts.
"""

from __future__ import annotations

import uuid

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from prm.catalog.models import QuoteCounter


async def next_quote_number(session: AsyncSession, tenant_id: uuid.UUID) -> int:
    """The tenant's next quote number (1 for its first quote), in one statement."""
    statement = (
        insert(QuoteCounter)
        .values(tenant_id=tenant_id, last_number=1)
        .on_conflict_do_update(
            index_elements=[QuoteCounter.tenant_id],
            set_={"last_number": QuoteCounter.last_number + 1},
        )
        .returning(QuoteCounter.last_number)
    )
    number = (await session.execute(statement)).scalar_one()
    return int(number)
