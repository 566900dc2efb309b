"""The database out of reach (down, restarting, or the pool exhausted for longer than
its timeout): 503 with `Retry-After`, never a bare 500 or a dropped connection.

Clients and load balancers treat 503 as "try again shortly"; the process itself recovers
without a restart, because the pool re-connects (`pool_pre_ping`) once the database is
back. The body follows the endpoint's error shape: OAuth's `temporarily_unavailable`
(RFC 6749 §5.2) under `/oauth`, a GraphQL `errors` list with `SERVICE_UNAVAILABLE`
elsewhere.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 2
MESSAGE = "the database is unavailable; retry shortly"
UNAVAILABLE: tuple[type[Exception], ...] = (
    OperationalError,
    InterfaceError,
    PoolTimeoutError,
    ConnectionError,
    FileNotFoundError,  # asyncpg, when a local server's unix socket is gone (it stopped)
)


async def database_unavailable(request: Request, error: Exception) -> JSONResponse:
    log.warning("database unavailable at %s: %s", request.url.path, type(error).__name__)
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    if request.url.path.startswith("/oauth"):
        body: dict[str, object] = {
            "error": "temporarily_unavailable",
            "error_description": MESSAGE,
        }
    else:
        body = {"errors": [{"message": MESSAGE, "extensions": {"code": "SERVICE_UNAVAILABLE"}}]}
    return JSONResponse(body, status_code=503, headers=headers)


def install(app: FastAPI) -> None:
    for kind in UNAVAILABLE:
        app.add_exception_handler(kind, database_unavailable)
