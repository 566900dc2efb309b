"""A client that goes away mid-request is not a server error.

Starlette raises `ClientDisconnect` when the body cannot be read because the client left;
without this guard it surfaces as "Exception in ASGI application" with a traceback, and as
a 500 in the metrics. Nobody is left to answer, so it is counted and logged at info level.
Work already committed stays committed; a transaction still open is rolled back by its
session's context manager as the exception unwinds.
"""

from __future__ import annotations

import logging

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Receive, Scope, Send

from prm.ops.metrics import CLIENT_DISCONNECTS

log = logging.getLogger(__name__)


class ClientDisconnectGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        except ClientDisconnect:
            CLIENT_DISCONNECTS.inc()
            log.info("client disconnected before the request was read: %s", scope.get("path"))
