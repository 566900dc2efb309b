"""Names that must be unique within a tenant (campaigns, segments): one check, so each
reports the clash the same way, with the existing record's key."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from prm.errors import Duplicate


async def refuse_taken_name(
    session: AsyncSession,
    model: Any,
    tenant_id: uuid.UUID,
    name: str,
    *,
    what: str,
    exclude: uuid.UUID | None = None,
) -> None:
    """`Duplicate` on field `name` if another `model` row of the tenant (not `exclude`)
    has `name`; `what` names the kind of record in the message ("a campaign")."""
    statement = select(model.id).where(model.tenant_id == tenant_id, model.name == name)
    if exclude is not None:
        statement = statement.where(model.id != exclude)
    existing = await session.scalar(statement)
    if existing is not None:
        raise Duplicate(
            f"{what} with this name exists",
            field="name",
            existing_key=f"{model.__name__}:{existing}",
        )
