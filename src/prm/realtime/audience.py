"""Who may hear of a claim-pool change: the partners eligible to claim the lead.

`eligible_partners` answers for every partner subscribed in this process with ONE query
(the pool's own predicate, `eligibility.partner_may_claim`, evaluated per candidate row),
however many of them are connected.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping
from typing import Any, cast

from sqlalchemy import Select, select
from sqlalchemy.orm import aliased

from prm.db.engine import Database
from prm.leads.eligibility import partner_may_claim
from prm.leads.models import Lead
from prm.partners.models import Partner
from prm.realtime.hub import Audience
from prm.realtime.notices import Notice

POOL_EVENTS = ("lead.pooled", "lead.claimed")


def eligible_statement(
    tenant_id: uuid.UUID, lead_id: uuid.UUID, partner_ids: Collection[uuid.UUID]
) -> Select[uuid.UUID]:
    """The ids among `partner_ids` eligible to claim the lead under its rule."""
    candidate = aliased(Partner, name="candidate")
    eligible = partner_may_claim(cast(Any, candidate.id))
    return select(candidate.id).where(
        candidate.tenant_id == tenant_id,
        candidate.id.in_(list(partner_ids)),
        Lead.tenant_id == tenant_id,
        Lead.id == lead_id,
        eligible.correlate(candidate),
    )


async def eligible_partners(
    database: Database, tenant_id: uuid.UUID, lead_id: uuid.UUID, partner_ids: Collection[uuid.UUID]
) -> frozenset[uuid.UUID]:
    if not partner_ids:
        return frozenset()
    async with database.session(tenant_id) as session:
        rows = await session.scalars(eligible_statement(tenant_id, lead_id, partner_ids))
        return frozenset(rows)


def pool_audiences(database: Database) -> Mapping[str, Audience]:
    """The hub's audiences for the claim pool's events."""

    async def audience(notice: Notice, partners: frozenset[uuid.UUID]) -> frozenset[uuid.UUID]:
        lead_id = notice.pk("leadId")
        if lead_id is None:
            return frozenset()
        return await eligible_partners(database, notice.tenant_id, lead_id, partners)

    return {name: audience for name in POOL_EVENTS}
