"""`SubscriptionContext`: the context of one WebSocket connection.

The connection is authenticated once, on `connection_init` (`connect`), but it may live
for hours and carry several subscriptions at once, so it does not keep a database session
or loaders of its own. Each event gets a fresh `Context` (`event_scope`): the bearer token
is verified again and the subject re-checked on that context's own session (so a token
that expired, a deactivated user or a revoked client ends the subscription), and the
event's objects, nested fields included, are loaded through it. While an event is being
resolved its scope is the current one (a context variable, per operation task), and
`session`/`loaders` of the connection context answer from it.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar

from starlette.requests import HTTPConnection
from starlette.websockets import WebSocket

from prm.auth.bearer import Unauthenticated, authenticate
from prm.graphql.context import Context
from prm.graphql.loaders import Loaders
from prm.graphql.session import RequestSession

_EVENT: ContextVar[Context | None] = ContextVar("prm_subscription_event", default=None)

REVOKED = 4403
"""Close code when the token stops being valid mid-connection (as when refused at init)."""


class SubscriptionContext(Context):
    authorization: str | None = None

    @property
    def session(self) -> RequestSession:
        scope = _EVENT.get()
        return scope.session if scope is not None else super().session

    @property
    def loaders(self) -> Loaders:
        scope = _EVENT.get()
        return scope.loaders if scope is not None else super().loaders

    async def connect(self, authorization: object) -> bool:
        """`connection_init`: True if `authorization` ("Bearer <token>") names an active
        principal. The session used to check it is released at once."""
        if not isinstance(authorization, str) or not authorization.strip():
            return False
        try:
            await self.authenticate(authorization)
        finally:
            await self.close()
        if self.principal is None or self.auth_error is not None:
            self.principal = None
            return False
        self.authorization = authorization
        return True

    async def _fresh(self) -> Context | None:
        scope = Context(
            settings=self.settings,
            database=self.database,
            issuer=self.issuer,
            request_id=self.request_id,
        )
        try:
            scope.principal = await authenticate(
                self.authorization, issuer=self.issuer, session=scope.session
            )
        except Unauthenticated:
            scope.principal = None
        if (
            scope.principal is None
            or self.principal is None
            or (
                scope.principal.tenant_id,
                scope.principal.subject_id,
            )
            != (self.principal.tenant_id, self.principal.subject_id)
        ):
            await scope.close()
            return None
        return scope

    @asynccontextmanager
    async def event_scope(self) -> AsyncIterator[Context | None]:
        """A fresh, re-authenticated context for one event (None: no longer authorised),
        current until the block ends, then closed."""
        scope = await self._fresh()
        token = _EVENT.set(scope)
        try:
            yield scope
        finally:
            try:
                _EVENT.reset(token)
            except ValueError:  # closed from another context (task teardown)
                _EVENT.set(None)
            if scope is not None:
                await scope.close()

    async def still_authorised(self) -> bool:
        """The periodic re-check between events."""
        scope = await self._fresh()
        if scope is None:
            return False
        await scope.close()
        return True

    async def end(self, reason: str = "the access token is no longer valid") -> None:
        """Close the connection (all its subscriptions end)."""
        socket = self.request
        if isinstance(socket, WebSocket):
            with contextlib.suppress(RuntimeError):  # already closed
                await socket.close(code=REVOKED, reason=reason)


def subscription_context(connection: HTTPConnection) -> SubscriptionContext:
    """The context of a new WebSocket connection (authenticated later, on init)."""
    state = connection.app.state
    return SubscriptionContext(
        settings=state.settings,
        database=state.db,
        issuer=state.issuer,
        request_id=uuid.uuid4().hex,
    )
