"""Claims with proof of performance: submitted against an APPROVED request with at least
one file, reviewed by an admin, then marked paid.

Files and transactions: every check (request state, amount, count, size, content type,
magic bytes) runs before anything is written; the claim and its file rows are then
flushed (so constraint violations surface) and only then are the bytes stored. Storage is
content-addressed (`mdf/<tenant>/<sha256>`): the same bytes are stored once and a key
never names different content. If the transaction still fails after the bytes were
written (the commit itself), the file is left as an orphan: harmless, because nothing
references it and no other claim's file can be mistaken for it, and it is deliberately
not deleted, because another committed claim may hold the same content. A sweep can
remove keys no `mdf_claim_files` row names.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from prm.auth.principal import Principal
from prm.errors import Forbidden, InvalidInput, NotFound
from prm.mdf.events import record
from prm.mdf.models import ClaimFile, ClaimStatus, FundClaim, MdfEntity, RequestStatus
from prm.mdf.service import (
    MAX_COMMENT,
    clean_text,
    invalid_transition,
    limit_exceeded,
    locked_request,
    may_act_for,
    positive,
    readable,
)
from prm.money import Money
from prm.partners.notifications import notify
from prm.storage import Storage

MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_FILES = 10
ALLOWED_TYPES: dict[str, tuple[bytes, ...]] = {
    "application/pdf": (b"%PDF-",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "text/csv": (),
    "text/plain": (),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": (b"PK\x03\x04",),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": (b"PK\x03\x04",),
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": (b"PK\x03\x04",),
}
"""Proof-of-performance content types, each with the leading bytes its files must have
(none checked for text), so a declared type cannot smuggle another kind of file."""


@dataclass(frozen=True)
class IncomingFile:
    """An uploaded file, read (at most `MAX_FILE_BYTES + 1` bytes) by the API layer."""

    filename: str
    content_type: str
    data: bytes


def check_files(files: list[IncomingFile]) -> None:
    if not files:
        raise InvalidInput("a claim needs at least one proof-of-performance file", field="files")
    if len(files) > MAX_FILES:
        raise InvalidInput(f"at most {MAX_FILES} files per claim", field="files")
    for index, file in enumerate(files):
        field = f"files.{index}"
        kind = (file.content_type or "").split(";")[0].strip().lower()
        if kind not in ALLOWED_TYPES:
            allowed = ", ".join(sorted(ALLOWED_TYPES))
            raise InvalidInput(
                f"content type {kind or 'none'} is not one of {allowed}", field=field
            )
        if not file.data:
            raise InvalidInput("the file is empty", field=field)
        if len(file.data) > MAX_FILE_BYTES:
            raise InvalidInput(f"a file may have at most {MAX_FILE_BYTES} bytes", field=field)
        magic = ALLOWED_TYPES[kind]
        if magic and not any(file.data.startswith(prefix) for prefix in magic):
            raise InvalidInput(f"the content is not {kind}", field=field)
        if kind.startswith("text/"):
            try:
                file.data.decode("utf-8")
            except UnicodeDecodeError as error:
                raise InvalidInput("a text file must be UTF-8", field=field) from error


def _filename(name: str) -> str:
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
    return (base or "file")[:255]


def readable_claims(principal: Principal) -> Select[FundClaim]:
    return readable(FundClaim, principal)


async def submit_claim(
    session: AsyncSession,
    principal: Principal,
    storage: Storage,
    *,
    request_id: uuid.UUID,
    amount: Money,
    files: list[IncomingFile],
) -> FundClaim:
    """Claim up to the approved amount of a request, with proof; the request becomes
    CLAIMED. Nothing is written (no file either) unless every check passes."""
    request = await locked_request(session, principal, request_id, field="requestId")
    if not may_act_for(principal, request.partner_id):
        raise Forbidden("only the partner's users or an admin may claim funds")
    if request.status != RequestStatus.APPROVED:
        raise invalid_transition(f"the request is {request.status}, not APPROVED")
    value = positive(amount, request.currency)
    if value > request.amount:
        raise limit_exceeded("the claim is more than the approved request")
    check_files(files)
    claim = FundClaim(
        tenant_id=principal.tenant_id,
        request_id=request.id,
        partner_id=request.partner_id,
        amount=value,
        currency=request.currency,
        status=ClaimStatus.SUBMITTED,
        submitted_by=principal.subject_id,
    )
    session.add(claim)
    await session.flush()
    stored: list[tuple[str, bytes]] = []
    for file in files:
        digest = hashlib.sha256(file.data).hexdigest()
        key = f"mdf/{principal.tenant_id}/{digest}"
        stored.append((key, file.data))
        session.add(
            ClaimFile(
                tenant_id=principal.tenant_id,
                claim_id=claim.id,
                filename=_filename(file.filename),
                content_type=file.content_type.split(";")[0].strip().lower(),
                size_bytes=len(file.data),
                sha256=digest,
                storage_key=key,
            )
        )
    request.status = RequestStatus.CLAIMED
    record(
        session,
        principal,
        MdfEntity.REQUEST,
        request.id,
        RequestStatus.APPROVED,
        RequestStatus.CLAIMED,
    )
    record(session, principal, MdfEntity.CLAIM, claim.id, None, ClaimStatus.SUBMITTED)
    await session.flush()
    for key, data in stored:
        if not await asyncio.to_thread(storage.exists, key):
            await asyncio.to_thread(storage.put, key, data)
    return claim


async def _locked_claim(
    session: AsyncSession, principal: Principal, claim_id: uuid.UUID
) -> FundClaim:
    claim = await session.scalar(
        readable_claims(principal)
        .where(FundClaim.id == claim_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if claim is None:
        raise NotFound("no such fund claim", field="id")
    return claim


async def review_claim(
    session: AsyncSession,
    principal: Principal,
    *,
    claim_id: uuid.UUID,
    approve: bool,
    comment: str | None,
) -> FundClaim:
    """An admin approves or rejects a SUBMITTED claim. A rejected claim puts its request
    back to APPROVED, so the partner may claim again with better proof. The partner is
    notified (`mdf.claim_reviewed`)."""
    note = clean_text(comment, "comment", MAX_COMMENT)
    claim = await _locked_claim(session, principal, claim_id)
    if claim.status != ClaimStatus.SUBMITTED:
        raise invalid_transition(f"the claim is {claim.status}, not SUBMITTED")
    status = ClaimStatus.APPROVED if approve else ClaimStatus.REJECTED
    claim.status = status
    claim.reviewed_by = principal.subject_id
    claim.reviewed_at = datetime.now(UTC)
    claim.review_comment = note
    record(session, principal, MdfEntity.CLAIM, claim.id, ClaimStatus.SUBMITTED, status, note)
    if not approve:
        request = await locked_request(session, principal, claim.request_id)
        request.status = RequestStatus.APPROVED
        record(
            session,
            principal,
            MdfEntity.REQUEST,
            request.id,
            RequestStatus.CLAIMED,
            RequestStatus.APPROVED,
            "claim rejected",
        )
    await notify(
        session,
        principal.tenant_id,
        claim.partner_id,
        "mdf.claim_reviewed",
        f"Your fund claim of {claim.amount} {claim.currency} was {status.lower()}.",
        {"claimId": claim.id, "status": status.value, "comment": note},
    )
    await session.flush()
    return claim


async def mark_claim_paid(
    session: AsyncSession, principal: Principal, *, claim_id: uuid.UUID, reference: str
) -> FundClaim:
    """An admin records the payment of an APPROVED claim; the partner is notified
    (`mdf.claim_paid`)."""
    ref = clean_text(reference, "reference", 200, required=True)
    claim = await _locked_claim(session, principal, claim_id)
    if claim.status != ClaimStatus.APPROVED:
        raise invalid_transition(f"the claim is {claim.status}, not APPROVED")
    claim.status = ClaimStatus.PAID
    claim.paid_at = datetime.now(UTC)
    claim.payment_reference = ref
    record(session, principal, MdfEntity.CLAIM, claim.id, ClaimStatus.APPROVED, ClaimStatus.PAID)
    await notify(
        session,
        principal.tenant_id,
        claim.partner_id,
        "mdf.claim_paid",
        f"Your fund claim of {claim.amount} {claim.currency} was paid (reference {ref}).",
        {"claimId": claim.id, "reference": ref},
    )
    await session.flush()
    return claim


async def files_of(
    session: AsyncSession, tenant_id: uuid.UUID, claim_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[ClaimFile]]:
    """The files of many claims at once (one query for a page of claims)."""
    found: dict[uuid.UUID, list[ClaimFile]] = {key: [] for key in claim_ids}
    if not claim_ids:
        return found
    rows = await session.scalars(
        select(ClaimFile)
        .where(ClaimFile.tenant_id == tenant_id, ClaimFile.claim_id.in_(set(claim_ids)))
        .order_by(ClaimFile.claim_id, ClaimFile.id)
    )
    for row in rows:
        found[row.claim_id].append(row)
    return found
