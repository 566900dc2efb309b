"""Batched look-ups behind `Lead.offers`, `Lead.history` and `Lead.opportunity`: one query
per field for every lead on a page, whatever its size."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import or_, select
from strawberry.dataloader import DataLoader

from prm.crm.models import Opportunity
from prm.crm.visibility import readable_opportunities
from prm.graphql.context import Context
from prm.leads.models import LeadEvent, LeadOffer
from prm.leads.visibility import own_partner, readable_offers


def offers_of_leads(context: Context) -> DataLoader[uuid.UUID, list[LeadOffer]]:
    """The offers of each lead the caller may see (a partner: its own), oldest first."""

    def factory() -> DataLoader[uuid.UUID, list[LeadOffer]]:
        async def load(keys: Sequence[uuid.UUID]) -> list[list[LeadOffer]]:
            found: dict[uuid.UUID, list[LeadOffer]] = defaultdict(list)
            if context.principal is not None:
                rows = await context.session.scalars(
                    readable_offers(context.principal)
                    .where(LeadOffer.lead_id.in_(set(keys)))
                    .order_by(LeadOffer.lead_id, LeadOffer.offered_at, LeadOffer.id)
                )
                for row in rows:
                    found[row.lead_id].append(row)
            return [found[key] for key in keys]

        return DataLoader(load_fn=load)

    return context.loaders.custom("leads.offers", factory)


def events_of_leads(context: Context) -> DataLoader[uuid.UUID, list[LeadEvent]]:
    """Each lead's history in order (callers hold leads they may see); a partner user sees
    the events that concern no partner or its own."""

    def factory() -> DataLoader[uuid.UUID, list[LeadEvent]]:
        async def load(keys: Sequence[uuid.UUID]) -> list[list[LeadEvent]]:
            found: dict[uuid.UUID, list[LeadEvent]] = defaultdict(list)
            if context.principal is not None:
                statement = select(LeadEvent).where(
                    LeadEvent.tenant_id == context.principal.tenant_id,
                    LeadEvent.lead_id.in_(set(keys)),
                )
                partner = own_partner(context.principal)
                if partner is not None:
                    # Other partners' offers, rejections and reasons are not theirs to read.
                    statement = statement.where(
                        or_(LeadEvent.partner_id.is_(None), LeadEvent.partner_id == partner)
                    )
                rows = await context.session.scalars(
                    statement.order_by(LeadEvent.lead_id, LeadEvent.at, LeadEvent.id)
                )
                for row in rows:
                    found[row.lead_id].append(row)
            return [found[key] for key in keys]

        return DataLoader(load_fn=load)

    return context.loaders.custom("leads.events", factory)


def opportunities_of_leads(context: Context) -> DataLoader[uuid.UUID, Opportunity | None]:
    """The opportunity each lead was converted into, if the caller may see it."""

    def factory() -> DataLoader[uuid.UUID, Opportunity | None]:
        async def load(keys: Sequence[uuid.UUID]) -> list[Opportunity | None]:
            found: dict[uuid.UUID, Opportunity] = {}
            if context.principal is not None:
                rows = await context.session.scalars(
                    readable_opportunities(context.principal)
                    .where(Opportunity.source_lead_id.in_(set(keys)))
                    .order_by(Opportunity.id)
                )
                for row in rows:
                    if row.source_lead_id is not None:
                        found.setdefault(row.source_lead_id, row)
            return [found.get(key) for key in keys]

        return DataLoader(load_fn=load)

    return context.loaders.custom("leads.opportunity", factory)
