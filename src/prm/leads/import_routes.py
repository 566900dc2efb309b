"""`POST /api/v1/leads/import`: upload a CSV of leads; answers 202 with the import and
its job (poll `leadImport(id)` or `job(id)` over GraphQL, or `GET` this path + `/{id}`).

The file comes as multipart form data (field `file`, spooled to a temporary file by the
form parser, never held whole) or as a raw `text/csv` body (read as a stream). Either
way it goes to `importing.start_import` piece by piece. Admins and managers only.

It is a transport layer like `/graphql`: ids are the Relay global ids (`prm.graphql.relay`).

Errors are JSON `{"error": CODE, "field", "message"}`: 401 without a valid token, 403
for other roles, 400 for a refused file (encoding, empty, header, columns), 413 over the
size cap (`MAX_FILE_BYTES`), 415 for another content type.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select
from starlette.datastructures import UploadFile
from starlette.types import Message

from prm.auth.bearer import Unauthenticated, authenticate
from prm.auth.principal import Principal
from prm.db.engine import Database
from prm.errors import DomainError, ErrorCode
from prm.graphql.relay import encode_global_id, pk_of
from prm.leads.import_job import CHUNK_BYTES
from prm.leads.import_models import LeadImport
from prm.leads.importing import MAX_FILE_BYTES, FileTooLarge, start_import
from prm.leads.visibility import is_lead_manager

router = APIRouter()

PATH = "/api/v1/leads/import"
FORM_OVERHEAD = 64 * 1024
"""Multipart framing allowed on top of the file itself."""


class BodyTooLarge(Exception):
    """The request body passed the cap while it was being read."""


def capped_request(request: Request, limit: int) -> Request:
    """`request` whose body stream raises `BodyTooLarge` once more than `limit` bytes came."""
    received = 0

    async def receive() -> Message:
        nonlocal received
        message = await request.receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise BodyTooLarge
        return message

    return Request(request.scope, receive)


def error_response(status: int, code: str, message: str, field: str | None = None) -> JSONResponse:
    return JSONResponse({"error": code, "field": field, "message": message}, status_code=status)


def _too_large() -> JSONResponse:
    return error_response(
        413,
        ErrorCode.LIMIT_EXCEEDED.value,
        f"the file exceeds the {MAX_FILE_BYTES // (1024 * 1024)} MB limit",
        "file",
    )


async def upload_pieces(upload: UploadFile) -> AsyncIterator[bytes]:
    while piece := await upload.read(CHUNK_BYTES):
        yield piece


def import_out(record: LeadImport) -> dict[str, object]:
    return {
        "id": encode_global_id("LeadImport", record.id),
        "jobId": encode_global_id("Job", record.job_id),
        "phase": record.phase,
        "filename": record.filename,
        "sizeBytes": record.size_bytes,
        "sha256": record.file_sha256,
        "columns": list(record.columns),
        "totalRows": record.total_rows,
        "importedRows": record.imported_rows,
        "duplicateRows": record.duplicate_rows,
        "errorRows": record.error_rows,
        "routedRows": record.routed_rows,
    }


async def _principal(request: Request, session: object) -> Principal | JSONResponse:
    try:
        principal = await authenticate(
            request.headers.get("authorization"),
            issuer=request.app.state.issuer,
            session=session,  # type: ignore[arg-type]
        )
    except Unauthenticated as error:
        return error_response(401, "UNAUTHENTICATED", str(error))
    if principal is None:
        return error_response(401, "UNAUTHENTICATED", "send 'Authorization: Bearer <access token>'")
    if not is_lead_manager(principal):
        return error_response(403, "FORBIDDEN", "only an admin or a manager may import leads")
    return principal


@router.post(PATH, status_code=202)
async def import_leads(request: Request) -> JSONResponse:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_FILE_BYTES + FORM_OVERHEAD:
        return _too_large()
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media not in ("multipart/form-data", "text/csv"):
        return error_response(
            415,
            ErrorCode.INVALID.value,
            "send the file as multipart/form-data (field 'file') or as a text/csv body",
        )
    db: Database = request.app.state.db
    async with db.async_sessions() as session:
        principal = await _principal(request, session)
        if isinstance(principal, JSONResponse):
            return principal
        body = capped_request(request, MAX_FILE_BYTES + FORM_OVERHEAD)
        try:
            if media == "text/csv":
                record = await start_import(
                    session, principal, body.stream(), filename=request.query_params.get("filename")
                )
            else:
                form = await body.form(max_files=1, max_fields=5)
                upload = form.get("file")
                if not isinstance(upload, UploadFile):
                    return error_response(
                        400, ErrorCode.INVALID.value, "no file in the form field 'file'", "file"
                    )
                record = await start_import(
                    session, principal, upload_pieces(upload), filename=upload.filename
                )
            await session.commit()
        except (BodyTooLarge, FileTooLarge):
            await session.rollback()
            return _too_large()
        except DomainError as error:
            await session.rollback()
            return error_response(400, error.code.value, error.message, error.field)
    return JSONResponse(import_out(record), status_code=202)


@router.get(PATH + "/{import_id}")
async def get_import(request: Request, import_id: str) -> JSONResponse:
    """An import's progress and counts (the id as POST returned it, or the bare uuid)."""
    pk = pk_of(import_id, "LeadImport")
    if pk is None:
        try:
            pk = uuid.UUID(import_id)
        except ValueError:
            return error_response(404, ErrorCode.NOT_FOUND.value, "no such import")
    db: Database = request.app.state.db
    async with db.async_sessions() as session:
        principal = await _principal(request, session)
        if isinstance(principal, JSONResponse):
            return principal
        record = await session.scalar(
            select(LeadImport).where(
                LeadImport.tenant_id == principal.tenant_id, LeadImport.id == pk
            )
        )
    if record is None:
        return error_response(404, ErrorCode.NOT_FOUND.value, "no such import")
    return JSONResponse(import_out(record))
