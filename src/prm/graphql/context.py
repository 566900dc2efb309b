"""The request context every resolver receives as `info.context`.

Built once per HTTP request by `get_context` (a FastAPI dependency of the GraphQL router):

- `principal`: from the bearer token, via `prm.auth.bearer.authenticate`; `None` for an
  anonymous request. A bad token is recorded in `auth_error` and the router answers 401
  before executing anything.
- `session`: ONE `AsyncSession` per request (`RequestSession`), scoped to the principal's
  tenant; opened lazily, closed by the router when the response is done. Queries read in
  its transaction; each mutation commits or rolls back its own (`mutations.mutation`).
- `loaders`: per-request DataLoaders (`loaders.Loaders`).
- `request_id`, `settings`, `database`.
- `after_commit(callback)`: run `callback` once the current mutation's transaction has
  committed (never if it rolls back), e.g. to wake a job relay.
"""

from __future__ import annotations

import inspect
import logging
import uuid
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from strawberry.fastapi import BaseContext
from strawberry.types import Info as StrawberryInfo

from prm.auth.bearer import Unauthenticated, authenticate
from prm.auth.principal import Principal
from prm.auth.tokens import TokenIssuer
from prm.db.engine import Database
from prm.graphql.loaders import Loaders
from prm.graphql.session import RequestSession, open_request_session
from prm.ops.logging import current_request_id
from prm.settings import Settings

log = logging.getLogger(__name__)

AfterCommit = Callable[[], Awaitable[None] | None]


class Context(BaseContext):
    def __init__(
        self,
        *,
        settings: Settings,
        database: Database,
        issuer: TokenIssuer,
        request_id: str,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.database = database
        self.issuer = issuer
        self.request_id = request_id
        self.principal: Principal | None = None
        self.auth_error: str | None = None
        self.audit_object_ids: list[str] = []
        """Extra `Type:uuid` keys the current mutation touched, beyond its payload's nodes."""
        self._session: RequestSession | None = None
        self._loaders: Loaders | None = None
        self._after_commit: list[AfterCommit] = []

    @property
    def session(self) -> RequestSession:
        if self._session is None:
            self._session = open_request_session(self.database)
        return self._session

    @property
    def loaders(self) -> Loaders:
        if self._loaders is None:
            tenant_id = self.principal.tenant_id if self.principal else None
            self._loaders = Loaders(lambda: self.session, tenant_id)
        return self._loaders

    async def authenticate(self, authorization: str | None) -> None:
        """Resolve the principal; binds the session to its tenant. Never raises for a
        bad token: the router reports `auth_error` as a 401."""
        if not authorization:
            return
        try:
            self.principal = await authenticate(
                authorization, issuer=self.issuer, session=self.session
            )
        except Unauthenticated as error:
            self.auth_error = str(error)

    def after_commit(self, callback: AfterCommit) -> None:
        self._after_commit.append(callback)

    async def commit(self) -> None:
        """Commit the current transaction, then run the after-commit callbacks. A failing
        callback is logged, not raised: the transaction is already durable."""
        await self.session.commit()
        callbacks, self._after_commit = self._after_commit, []
        self.audit_object_ids = []
        for callback in callbacks:
            try:
                outcome = callback()
                if inspect.isawaitable(outcome):
                    await outcome
            except Exception:
                log.exception("after-commit callback failed (request %s)", self.request_id)

    async def rollback(self) -> None:
        """Undo the current transaction and forget what it queued or cached."""
        self._after_commit = []
        self.audit_object_ids = []
        if self._session is not None:
            await self._session.rollback()
        if self._loaders is not None:
            self._loaders.clear()

    async def close(self) -> None:
        """End the request: an uncommitted transaction (a query's) is rolled back."""
        self._after_commit = []
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()


Info = StrawberryInfo[Context, None]


async def get_context(request: Request) -> Context:
    """FastAPI dependency building the context from the app's state."""
    state = request.app.state
    context = Context(
        settings=state.settings,
        database=state.db,
        issuer=state.issuer,
        request_id=current_request_id() or uuid.uuid4().hex,
    )
    try:
        await context.authenticate(request.headers.get("authorization"))
    except BaseException:
        await context.close()
        raise
    return context
