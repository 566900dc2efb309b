"""The audit log: one append-only row per successful mutation, written in the mutation's
own transaction (so a rolled-back mutation leaves no entry). The app role has no UPDATE or
DELETE on the table."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from prm.auth.principal import Principal, Role
from prm.errors import Forbidden
from prm.tenants.models import AuditEntry

MAX_OBJECT_IDS = 100


async def record_audit(
    session: AsyncSession,
    principal: Principal,
    *,
    operation: str,
    object_ids: Sequence[str] = (),
    request_id: str | None = None,
) -> AuditEntry:
    """Add the entry to the session (flushed with the mutation's commit)."""
    unique_ids = list(dict.fromkeys(object_ids))[:MAX_OBJECT_IDS]
    entry = AuditEntry(
        tenant_id=principal.tenant_id,
        principal_kind=principal.kind,
        principal_id=principal.subject_id,
        operation=operation[:100],
        object_ids=unique_ids,
        request_id=request_id[:64] if request_id else None,
        details={},
    )
    session.add(entry)
    return entry


def readable_audit_log(principal: Principal) -> Select[AuditEntry]:
    """The tenant's audit log; admins only."""
    if not principal.has_any(Role.ADMIN):
        raise Forbidden("only an admin may read the audit log")
    return select(AuditEntry).where(AuditEntry.tenant_id == principal.tenant_id)
