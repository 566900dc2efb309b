"""Notifications to partner organisations: written in the transaction of the change they
announce (so a rolled-back change announces nothing), read by the partner's users.

Domains call `notify` (async sessions) or `notify_sync` (workers); neither commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime

from sqlalchemy import Select, false, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from prm.auth.principal import Principal, is_staff
from prm.partners.models import PartnerNotification

MAX_MESSAGE = 1000


def _notification(
    tenant_id: uuid.UUID,
    partner_id: uuid.UUID,
    kind: str,
    message: str,
    data: Mapping[str, object] | None,
) -> PartnerNotification:
    return PartnerNotification(
        tenant_id=tenant_id,
        partner_id=partner_id,
        kind=kind,
        message=message[:MAX_MESSAGE],
        data={key: str(value) if isinstance(value, uuid.UUID) else value
              for key, value in (data or {}).items()},
    )  # fmt: skip


async def notify(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    partner_id: uuid.UUID,
    kind: str,
    message: str,
    data: Mapping[str, object] | None = None,
) -> PartnerNotification:
    """Tell the partner's users about `kind` (a dotted event name, e.g.
    `program.level_changed`); ids in `data` are stored as strings."""
    notification = _notification(tenant_id, partner_id, kind, message, data)
    session.add(notification)
    await session.flush()
    return notification


def notify_sync(
    session: Session,
    tenant_id: uuid.UUID,
    partner_id: uuid.UUID,
    kind: str,
    message: str,
    data: Mapping[str, object] | None = None,
) -> PartnerNotification:
    """`notify` for the workers' sync sessions."""
    notification = _notification(tenant_id, partner_id, kind, message, data)
    session.add(notification)
    session.flush()
    return notification


def readable_notifications(principal: Principal) -> Select[PartnerNotification]:
    """A partner user reads its organisation's notifications; tenant staff read every
    partner's (to see what was sent); anyone else none."""
    statement = select(PartnerNotification).where(
        PartnerNotification.tenant_id == principal.tenant_id
    )
    if principal.partner_id is not None:
        return statement.where(PartnerNotification.partner_id == principal.partner_id)
    if is_staff(principal):
        return statement
    return statement.where(false())


async def mark_read(
    session: AsyncSession, principal: Principal, notification_ids: list[uuid.UUID]
) -> int:
    """Mark the caller's partner's notifications read (others' ids are ignored, so none
    leaks); returns how many changed."""
    if principal.partner_id is None or not notification_ids:
        return 0
    result = await session.execute(
        update(PartnerNotification)
        .where(
            PartnerNotification.tenant_id == principal.tenant_id,
            PartnerNotification.partner_id == principal.partner_id,
            PartnerNotification.id.in_(notification_ids),
            PartnerNotification.read_at.is_(None),
        )
        .values(read_at=datetime.now(UTC))
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
