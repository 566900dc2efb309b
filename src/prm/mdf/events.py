"""The MDF audit trail: every state change of a budget, allocation, request or claim
appends one `mdf_events` row in the transaction of the change (so a rolled-back change
leaves no trace). The app role can only read and append it."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from prm.auth.principal import Principal
from prm.mdf.models import MdfEntity, MdfEvent


def event(
    principal: Principal,
    entity: MdfEntity,
    entity_id: uuid.UUID,
    from_status: str | None,
    to_status: str,
    comment: str | None = None,
) -> MdfEvent:
    return MdfEvent(
        tenant_id=principal.tenant_id,
        entity=entity,
        entity_id=entity_id,
        from_status=from_status,
        to_status=to_status,
        actor_id=principal.subject_id,
        comment=comment,
    )


def record(
    session: AsyncSession,
    principal: Principal,
    entity: MdfEntity,
    entity_id: uuid.UUID,
    from_status: str | None,
    to_status: str,
    comment: str | None = None,
) -> None:
    """Append the change (flushed with the change itself)."""
    session.add(event(principal, entity, entity_id, from_status, to_status, comment))


async def history_of(
    session: AsyncSession, tenant_id: uuid.UUID, entity_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[MdfEvent]]:
    """The events of many objects at once, oldest first (one query for a whole page)."""
    found: dict[uuid.UUID, list[MdfEvent]] = {key: [] for key in entity_ids}
    if not entity_ids:
        return found
    rows = await session.scalars(
        select(MdfEvent)
        .where(MdfEvent.tenant_id == tenant_id, MdfEvent.entity_id.in_(set(entity_ids)))
        .order_by(MdfEvent.entity_id, MdfEvent.created_at, MdfEvent.id)
    )
    for row in rows:
        found[row.entity_id].append(row)
    return found
