"""Bulk lead import from CSV: an upload, checked as it streams in, then a job.

Upload (`start_import`, behind `POST /api/v1/leads/import` and `importLeads`): the file
is read in 1 MiB pieces, never whole. Each piece is checked (UTF-8, a BOM allowed; no NUL
bytes; the size cap), hashed and stored in `lead_import_chunks`, so a worker on any
machine can read it. The first line must be a header naming known columns (those of
`CreateLeadInput`, in camelCase or snake_case, any case; `currency` goes with
`estimatedValue`; `productInterest` holds `;`-separated values). An empty file, a file
with no rows, a bad header or a bad encoding is refused before anything is written; the
import row, its chunks and its job commit together.

The job (`import_job.run_import`, kind `leads.import`), in one transaction:

1. stage: the chunks are decoded and parsed as a stream; each record is judged by the
   same rules as `createLead` (`fields.normalise_lead`) and `COPY`-ed, in batches, into
   a temporary staging table with its normalised fields or its error;
2. de-duplicate in SQL: within the file (same natural key, email, or company name and
   email domain as an earlier row) and against what exists (the rules of
   `capture.find_duplicate`, set-wise, plus the natural keys of earlier imports, so a
   re-run of the same file creates nothing);
3. insert the good rows, their `CREATED` history events and natural keys set-wise, and
   the error report (row number, column, message) of the others; score the new leads in
   one statement;
4. route them by the tenant's rules (`routing.route_leads`, in batches).

Bad rows never block good ones. Imports of one tenant run one at a time (an advisory
lock), so two runs of a file cannot both insert a row. Progress is written from a side
connection (short transactions of its own) as the job goes, so `leadImport(id)` shows it
moving. Memory stays flat: the file, the staged rows and the routing batches are all
streamed.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import re
from collections.abc import AsyncIterator

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from prm.auth.principal import Principal
from prm.db.ids import new_id
from prm.errors import DomainError, ErrorCode, Forbidden, InvalidInput
from prm.leads.import_job import CHUNK_BYTES, IMPORT_KIND
from prm.leads.import_models import LeadImport, LeadImportChunk
from prm.leads.visibility import is_lead_manager
from prm.workers.jobs import enqueue_job

MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_HEADER_CHARS = 64 * 1024

COLUMNS: tuple[str, ...] = (
    "companyName",
    "contactName",
    "email",
    "phone",
    "country",
    "region",
    "postalCode",
    "industry",
    "productInterest",
    "estimatedValue",
    "currency",
    "source",
)
"""The columns a file may have (`CreateLeadInput`'s fields; `currency` is the currency of
`estimatedValue`). Only `companyName` is required."""

_ALIASES = {re.sub(r"[\s_-]", "", name).lower(): name for name in COLUMNS} | {
    "estimatedvaluecurrency": "currency"
}


class FileTooLarge(DomainError):
    """The upload exceeds the cap (HTTP 413)."""

    code = ErrorCode.LIMIT_EXCEEDED


# Upload ------------------------------------------------------------------------------


def parse_header(line: str) -> list[str]:
    """The canonical column names of a header line, or `InvalidInput` saying what is wrong."""
    if line.count('"') % 2:
        raise InvalidInput("the header row has an unterminated quote", field="file")
    try:
        names = next(csv.reader([line], strict=True), [])
    except csv.Error as error:
        raise InvalidInput(f"the header row is not valid CSV: {error}", field="file") from error
    if not names or not any(name.strip() for name in names):
        raise InvalidInput("the first line must be a header row naming the columns", field="file")
    columns: list[str] = []
    unknown: list[str] = []
    for name in names:
        canonical = _ALIASES.get(re.sub(r"[\s_-]", "", name).lower())
        if canonical is None:
            unknown.append(name.strip() or "(blank)")
        elif canonical in columns:
            raise InvalidInput(f"column {canonical!r} appears twice in the header", field="file")
        else:
            columns.append(canonical)
    if unknown:
        shown = ", ".join(repr(name[:40]) for name in unknown[:5])
        raise InvalidInput(
            f"unknown columns in the header row: {shown}; known columns: {', '.join(COLUMNS)}",
            field="file",
        )
    if "companyName" not in columns:
        raise InvalidInput("the header has no companyName column (it is required)", field="file")
    return columns


class UploadCheck:
    """Checks an upload piece by piece: size, UTF-8, NUL bytes, the header, some data."""

    def __init__(self, max_bytes: int = MAX_FILE_BYTES) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self.sha256 = hashlib.sha256()
        self.columns: list[str] | None = None
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
        self._head = ""
        self._has_rows = False
        self._started = False

    def feed(self, piece: bytes) -> None:
        offset = self.size
        self.size += len(piece)
        if self.size > self.max_bytes:
            raise FileTooLarge(
                f"the file exceeds the {self.max_bytes // (1024 * 1024)} MB limit", field="file"
            )
        self.sha256.update(piece)
        self._text(self._decode(piece, offset))

    def _decode(self, piece: bytes, offset: int, *, final: bool = False) -> str:
        try:
            decoded = self._decoder.decode(piece, final=final)
        except UnicodeDecodeError as error:
            raise InvalidInput(
                f"the file is not UTF-8 text (invalid byte at offset {offset + error.start}); "
                "save it as CSV UTF-8",
                field="file",
            ) from error
        if "\x00" in decoded:
            raise InvalidInput(
                "the file contains NUL bytes: it is not a CSV text file", field="file"
            )
        return decoded

    def _text(self, decoded: str) -> None:
        if not self._started and decoded:
            self._started = True
            decoded = decoded.removeprefix("\ufeff")
        if self.columns is None:
            self._head += decoded
            end = self._head.find("\n")
            if end < 0:
                if len(self._head) > MAX_HEADER_CHARS:
                    raise InvalidInput("the header row is too long", field="file")
                return
            self.columns = parse_header(self._head[:end].rstrip("\r"))
            decoded, self._head = self._head[end + 1 :], ""
        if not self._has_rows and decoded.strip():
            self._has_rows = True

    def finish(self) -> list[str]:
        """The header's columns once the whole file passed; `InvalidInput` otherwise."""
        self._text(self._decode(b"", self.size, final=True))
        if self.columns is None:
            if not self._head.strip():
                raise InvalidInput("the file is empty", field="file")
            self.columns = parse_header(self._head.rstrip("\r"))
        if not self._has_rows:
            raise InvalidInput("the file has a header row but no data rows", field="file")
        return self.columns


async def start_import(
    session: AsyncSession,
    principal: Principal,
    pieces: AsyncIterator[bytes],
    *,
    filename: str | None,
    max_bytes: int = MAX_FILE_BYTES,
) -> LeadImport:
    """Store an uploaded CSV (read piece by piece from `pieces`) and ask for its import
    job, in the caller's transaction. Admins and managers only. Raises `InvalidInput` or
    `FileTooLarge` (and the caller rolls back) if the file is refused."""
    if not is_lead_manager(principal):
        raise Forbidden("only an admin or a manager may import leads")
    import_id = new_id()
    job = await enqueue_job(session, principal, IMPORT_KIND, {"import_id": str(import_id)})
    record = LeadImport(
        tenant_id=principal.tenant_id,
        id=import_id,
        job_id=job.id,
        requested_by=principal.user_id,
        filename=(filename or "")[:255] or None,
        file_sha256="",
        size_bytes=0,
        columns=[],
        phase="UPLOADING",
    )
    session.add(record)
    await session.flush()
    check = UploadCheck(max_bytes)
    seq = 0
    buffer = bytearray()
    async for piece in pieces:
        check.feed(piece)
        buffer += piece
        while len(buffer) >= CHUNK_BYTES:
            await _store_chunk(session, record, seq, bytes(buffer[:CHUNK_BYTES]))
            del buffer[:CHUNK_BYTES]
            seq += 1
    columns = check.finish()
    if buffer:
        await _store_chunk(session, record, seq, bytes(buffer))
    record.file_sha256 = check.sha256.hexdigest()
    record.size_bytes = check.size
    record.columns = columns
    record.phase = "QUEUED"
    await session.flush()
    return record


async def _store_chunk(session: AsyncSession, record: LeadImport, seq: int, data: bytes) -> None:
    # A Core insert: the session keeps no reference to the chunk, so memory stays flat.
    await session.execute(
        insert(LeadImportChunk).values(
            tenant_id=record.tenant_id, id=new_id(), import_id=record.id, seq=seq, data=data
        )
    )
