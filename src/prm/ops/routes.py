"""`/healthz` (the process answers), `/readyz` (database reachable, schema at head),
`/metrics` (Prometheus)."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import text

from prm.db.engine import Database
from prm.db.migrate import head_revisions
from prm.ops.metrics import render

log = logging.getLogger(__name__)
router = APIRouter()


@router.get("/healthz", include_in_schema=False)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", include_in_schema=False)
async def readyz(request: Request) -> JSONResponse:
    db: Database = request.app.state.db
    expected: set[str] = request.app.state.schema_heads
    try:
        async with db.async_engine.connect() as conn:
            rows = await conn.execute(text("SELECT version_num FROM alembic_version"))
            current = {row[0] for row in rows}
    except Exception as error:  # any failure to reach the database means "not ready"
        log.warning("readiness check failed: %s", error.__class__.__name__)
        return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
    if current != expected:
        return JSONResponse(
            {"status": "unavailable", "database": "ok", "migrations": "pending"}, status_code=503
        )
    return JSONResponse({"status": "ok", "database": "ok", "migrations": "current"})


@router.get("/metrics", include_in_schema=False)
async def metrics() -> Response:
    body, content_type = render()
    return Response(body, media_type=content_type)


def expected_heads() -> set[str]:
    return head_revisions()
