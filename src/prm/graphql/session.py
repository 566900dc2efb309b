"""The request's one `AsyncSession`, made safe for GraphQL's concurrent resolvers.

graphql-core resolves sibling fields concurrently (`{ me {…} users {…} }`, DataLoader
batches), but an `AsyncSession` and its connection serve one operation at a time. Rather
than one session (and connection, and transaction) per resolver, `RequestSession`
serialises its own I/O methods behind a lock the holding task may re-enter
(`AsyncSession.scalars` awaits `self.execute`). Callers see a plain `AsyncSession`.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from prm.db.engine import Database


class _TaskLock:
    """An `asyncio.Lock` that the task holding it may acquire again."""

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._owner: asyncio.Task[Any] | None = None

    @asynccontextmanager
    async def held(self) -> AsyncIterator[None]:
        task = asyncio.current_task()
        if task is not None and self._owner is task:
            yield
            return
        async with self._lock:
            self._owner = task
            try:
                yield
            finally:
                self._owner = None


class RequestSession(AsyncSession):
    """An `AsyncSession` whose I/O methods run one at a time (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._io_lock = _TaskLock()


def _serialised(method: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    @functools.wraps(method)
    async def run(self: RequestSession, *args: Any, **kwargs: Any) -> Any:
        async with self._io_lock.held():
            return await method(self, *args, **kwargs)

    return run


# Every AsyncSession coroutine that reaches the connection or the session's state.
for _name in (
    "close",
    "commit",
    "connection",
    "delete",
    "execute",
    "flush",
    "get",
    "get_one",
    "invalidate",
    "merge",
    "refresh",
    "reset",
    "rollback",
    "run_sync",
    "scalar",
    "scalars",
):
    setattr(RequestSession, _name, _serialised(getattr(AsyncSession, _name)))


def open_request_session(database: Database) -> RequestSession:
    """A new session configured exactly like `database.async_sessions` (tenant scoping,
    `expire_on_commit=False`); it connects on first use."""
    return RequestSession(**database.async_sessions.kw)
