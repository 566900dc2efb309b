"""`offer.expiring`: a pending offer's deadline is `WARNING` (15 minutes) away.

A scheduler task (`ExpiringOfferWarnings`, every `INTERVAL`). Each tick warns of the
pending offers whose deadline falls in `[horizon, now + WARNING)`, where `horizon` is the
previous tick's `now + WARNING`: consecutive windows meet exactly, so each offer is warned
once without storing "warned" anywhere (no column, no migration). A new leader (or a
restarted scheduler) starts with the window `[now + WARNING - INTERVAL, now + WARNING)`;
a late tick widens its window instead of skipping offers; deadlines already past are
never warned of.

Like offer expiry, it reads the platform table `lead_offer_deadlines` (the scheduler has
no tenant) with one indexed range query, then emits in one transaction per tenant.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from prm.db.engine import Database
from prm.events.bus import emit_sync, event
from prm.leads.models import LeadOffer, OfferDeadline, OfferStatus

log = logging.getLogger(__name__)

WARNING = timedelta(minutes=15)
INTERVAL = timedelta(seconds=30)


def warn_expiring_offers(database: Database, start: datetime, end: datetime) -> int:
    """Emit `offer.expiring` for the pending offers due in `[start, end)`; returns how many.
    One tenant's failure is logged and does not stop the others."""
    with database.sync_session() as session:
        due = session.execute(
            select(OfferDeadline.tenant_id, OfferDeadline.offer_id).where(
                OfferDeadline.expires_at >= start, OfferDeadline.expires_at < end
            )
        ).all()
    by_tenant: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    for tenant_id, offer_id in due:
        by_tenant[tenant_id].append(offer_id)
    warned = 0
    for tenant_id, offer_ids in by_tenant.items():
        try:
            with database.sync_session(tenant_id) as session:
                offers = session.scalars(
                    select(LeadOffer).where(
                        LeadOffer.tenant_id == tenant_id,
                        LeadOffer.id.in_(offer_ids),
                        LeadOffer.status == OfferStatus.PENDING,
                    )
                ).all()
                for offer in offers:
                    emit_sync(
                        session,
                        event(
                            "offer.expiring",
                            tenant_id,
                            {
                                "offerId": offer.id,
                                "leadId": offer.lead_id,
                                "partnerId": offer.partner_id,
                                "expiresAt": offer.expires_at,
                            },
                            partner_ids=[offer.partner_id],
                        ),
                    )
                warned += len(offers)
        except Exception:
            log.exception("warning of expiring offers of tenant %s failed", tenant_id)
    return warned


class ExpiringOfferWarnings:
    """The scheduler's periodic task; remembers the end of the last window it covered."""

    def __init__(
        self, database: Database, *, warning: timedelta = WARNING, interval: timedelta = INTERVAL
    ) -> None:
        self.database = database
        self.warning = warning
        self.interval = interval
        self.horizon: datetime | None = None

    def __call__(self, now: datetime | None = None) -> int:
        now = now or datetime.now(UTC)
        end = now + self.warning
        start = max(self.horizon or end - self.interval, now)
        if end <= start:
            return 0
        warned = warn_expiring_offers(self.database, start, end)
        self.horizon = end
        return warned
