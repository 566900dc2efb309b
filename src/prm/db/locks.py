"""Transaction-level advisory locks on text keys: how check-then-insert rules (no two
accounts with one name, no two partners protected for one company) stay true when two
requests race. The lock is held until the transaction ends; keys are taken in sorted
order so two transactions wanting the same keys cannot deadlock."""

from __future__ import annotations

import enum
from collections.abc import Iterable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

_LOCK = text("SELECT pg_advisory_xact_lock(hashtextextended(:key, :space))")


class LockSpace(enum.IntEnum):
    """Seeds of the key hash, one per rule, so equal keys of different rules never meet."""

    DEAL_COMPANY = 7301120002
    LEAD_IMPORT = 7301120003
    CRM_DUPLICATE = 7301120004
    PRICE_BOOK_WINDOW = 7301120005
    METRICS_RECOMPUTE = 7301120006
    CASES = 7301120007
    """A tenant's case numbering and agent capacity (`prm.crm.case_assignment`)."""
    PRODUCT_ASSOCIATIONS = 7301120008


def lock_keys_sync(session: Session, space: LockSpace, keys: Iterable[str]) -> None:
    for key in sorted(set(keys)):
        session.execute(_LOCK, {"key": key, "space": int(space)})


async def lock_keys(session: AsyncSession, space: LockSpace, keys: Iterable[str]) -> None:
    for key in sorted(set(keys)):
        await session.execute(_LOCK, {"key": key, "space": int(space)})
