"""The tenant of a session, set in PostgreSQL at the start of every transaction.

`session.info["tenant_id"]` is the one source: an `after_begin` hook copies it into
`prm.tenant_id` (transaction-local) before the first query of each transaction, so a
session that commits and goes on is still scoped, and a session with no tenant sets the
empty string: tenant-owned tables then show no rows and accept no writes (RLS).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

_SET_TENANT = text("SELECT set_config('prm.tenant_id', :tenant_id, true)")


class TenantSession(Session):
    """A `Session` that scopes each transaction to `self.info["tenant_id"]`."""


@event.listens_for(TenantSession, "after_begin")
def _scope_transaction(session: Session, transaction: SessionTransaction, conn: Connection) -> None:
    tenant_id: Any = session.info.get("tenant_id")
    conn.execute(_SET_TENANT, {"tenant_id": _setting(tenant_id)})


def bind_tenant(session: Session, tenant_id: uuid.UUID | None) -> None:
    """Scope a sync session to a tenant, from the open transaction (if any) on."""
    session.info["tenant_id"] = tenant_id
    if session.in_transaction():
        session.connection().execute(_SET_TENANT, {"tenant_id": _setting(tenant_id)})


async def abind_tenant(session: AsyncSession, tenant_id: uuid.UUID | None) -> None:
    """Scope an async session to a tenant, from the open transaction (if any) on."""
    session.sync_session.info["tenant_id"] = tenant_id
    if session.in_transaction():
        await session.execute(_SET_TENANT, {"tenant_id": _setting(tenant_id)})


def _setting(tenant_id: uuid.UUID | None) -> str:
    return str(tenant_id) if tenant_id else ""


def current_tenant(session: Session | AsyncSession) -> uuid.UUID | None:
    sync = session.sync_session if isinstance(session, AsyncSession) else session
    tenant_id: uuid.UUID | None = sync.info.get("tenant_id")
    return tenant_id
