"""The ASGI application: `/graphql`, `/oauth`, `/.well-known`, health and metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from prm.auth import routes as auth_routes
from prm.auth.keys import load_keyring
from prm.auth.tokens import TokenIssuer
from prm.db.engine import Database
from prm.graphql.router import graphql_router
from prm.leads import import_routes as lead_import_routes
from prm.ops import routes as ops_routes
from prm.ops import unavailable
from prm.ops.disconnects import ClientDisconnectGuard
from prm.ops.logging import RequestIdMiddleware, configure_logging
from prm.ops.metrics import HttpMetricsMiddleware
from prm.settings import Settings, get_settings
from prm.tenants import platform_api
from prm.workers.runner import start_api_relay


def create_app(settings: Settings | None = None, *, database: Database | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level, json=settings.log_json)
    db = database or Database.from_settings(settings)
    owns_database = database is None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        relay = start_api_relay(settings, db) if settings.relay_outbox_in_api else None
        try:
            yield
        finally:
            if relay is not None:
                relay.stop()
            if owns_database:
                await db.dispose()

    app = FastAPI(title="prm", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.settings = settings
    app.state.db = db
    app.state.issuer = TokenIssuer(
        keys=load_keyring(settings),
        issuer=settings.jwt_issuer,
        ttl_seconds=settings.access_token_ttl_seconds,
    )
    app.state.schema_heads = ops_routes.expected_heads()
    # The last added is outermost: the request id exists before anything logs or measures.
    app.add_middleware(ClientDisconnectGuard)
    app.add_middleware(HttpMetricsMiddleware)
    app.add_middleware(RequestIdMiddleware)
    # Routers: each domain contributes its own (auth, graphql, ops).
    app.include_router(ops_routes.router)
    app.include_router(platform_api.router)
    app.include_router(auth_routes.router)
    app.include_router(lead_import_routes.router)
    app.include_router(graphql_router(settings))
    unavailable.install(app)
    return app
