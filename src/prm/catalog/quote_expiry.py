"""Overdue quotes: a DRAFT or SENT quote whose `valid_until` day has passed is EXPIRED by
the daily per-tenant maintenance job, so lists and filters show what still stands. (Until
then `sendQuote` and `acceptQuote` already refuse it with `EXPIRED`.)"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from prm.catalog.models import Quote, QuoteStatus

OPEN = (QuoteStatus.DRAFT, QuoteStatus.SENT)


def expire_overdue_quotes(session: Session, tenant_id: uuid.UUID, now: datetime) -> int:
    """One set-based UPDATE; idempotent (a second run finds nothing). Returns the count."""
    result = session.execute(
        update(Quote)
        .where(
            Quote.tenant_id == tenant_id,
            Quote.status.in_(OPEN),
            Quote.valid_until < now.date(),
        )
        .values(status=QuoteStatus.EXPIRED, expired_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
