"""Fund claims through GraphQL (multipart uploads): proof of performance stored through
the storage interface, review and payment with their history and notifications, the
partner seeing only its own claims and files, and bad claims writing nothing, no file
either."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from prm.db.engine import Database
from prm.partners.models import PartnerNotification
from prm.storage import get_storage
from tests.graphql.support import error_codes
from tests.mdf.support import (
    CLAIMS,
    MARK_PAID,
    PDF,
    PNG,
    REQUESTS,
    REVIEW_CLAIM,
    REVIEW_REQUEST,
    Api,
    Cast,
    counts,
    make_cast,
    money,
    new_allocation,
    new_budget,
    new_request,
)

pytestmark = pytest.mark.asyncio


async def _approved(
    client: httpx.AsyncClient, app: FastAPI, cast: Cast, amount: str = "500.00"
) -> tuple[Api, Api, dict[str, Any]]:
    admin = Api(client, app, cast.tenant.admin)
    rep = Api(client, app, cast.rep_a)
    budget = await new_budget(admin, "10000")
    allocation = await new_allocation(admin, budget["id"], cast.partner_a, "1000")
    request = await new_request(rep, allocation["id"], amount)
    await admin.ok(REVIEW_REQUEST, "reviewFundRequest", id=request["id"], approve=True)
    return admin, rep, request


def _stored_files(app: FastAPI, tenant_id: uuid.UUID) -> list[Path]:
    root: Path = app.state.settings.data_dir / "files" / "mdf" / str(tenant_id)
    return sorted(root.iterdir()) if root.exists() else []


async def test_claim_review_and_payment_with_proof(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    cast = await make_cast(database)
    admin, rep, request = await _approved(client, app, cast)
    photo = PNG + uuid.uuid4().bytes
    payload = await rep.upload(
        request["id"],
        money("480.00"),
        [("invoice.pdf", PDF, "application/pdf"), ("booth.png", photo, "image/png")],
    )
    assert payload["errors"] == []
    claim = payload["fundClaim"]
    assert claim["status"] == "SUBMITTED"
    assert claim["amount"] == money("480.00")
    assert claim["request"]["status"] == "CLAIMED"
    files = {f["filename"]: f for f in claim["files"]}
    assert files["invoice.pdf"]["sha256"] == hashlib.sha256(PDF).hexdigest()
    assert files["booth.png"]["sizeBytes"] == len(photo)
    assert files["booth.png"]["contentType"] == "image/png"
    storage = get_storage(app.state.settings)
    with storage.open(f"mdf/{cast.tenant.id}/{hashlib.sha256(photo).hexdigest()}") as stored:
        assert stored.read() == photo

    rejected = await admin.ok(
        REVIEW_CLAIM, "reviewFundClaim", id=claim["id"], approve=False, comment="Blurry photo"
    )
    assert rejected["fundClaim"]["status"] == "REJECTED"
    assert rejected["fundClaim"]["request"]["status"] == "APPROVED"
    # A rejected claim may be replaced with better proof.
    second = await rep.upload(
        request["id"], money("480.00"), [("invoice.pdf", PDF, "application/pdf")]
    )
    assert second["errors"] == []
    claim_id = second["fundClaim"]["id"]
    approved = await admin.ok(REVIEW_CLAIM, "reviewFundClaim", id=claim_id, approve=True)
    assert approved["fundClaim"]["status"] == "APPROVED"
    # Paying needs a reference, and only once.
    assert await admin.codes(MARK_PAID, "markFundClaimPaid", id=claim_id, reference=" ") == [
        "INVALID"
    ]
    paid = await admin.ok(MARK_PAID, "markFundClaimPaid", id=claim_id, reference="WIRE-42")
    assert paid["fundClaim"]["status"] == "PAID"
    assert paid["fundClaim"]["paymentReference"] == "WIRE-42"
    assert paid["fundClaim"]["paidAt"] is not None
    assert await admin.codes(MARK_PAID, "markFundClaimPaid", id=claim_id, reference="x") == [
        "INVALID_TRANSITION"
    ]
    assert [(h["fromStatus"], h["toStatus"]) for h in paid["fundClaim"]["history"]] == [
        (None, "SUBMITTED"),
        ("SUBMITTED", "APPROVED"),
        ("APPROVED", "PAID"),
    ]
    requests = await rep(REQUESTS)
    node = requests["data"]["fundRequests"]["edges"][0]["node"]
    assert [(h["fromStatus"], h["toStatus"]) for h in node["history"]] == [
        (None, "SUBMITTED"),
        ("SUBMITTED", "APPROVED"),
        ("APPROVED", "CLAIMED"),
        ("CLAIMED", "APPROVED"),
        ("APPROVED", "CLAIMED"),
    ]
    assert [c["status"] for c in node["claims"]] == ["REJECTED", "PAID"]

    async with database.session(cast.tenant.id) as session:
        kinds = (
            await session.scalars(select(PartnerNotification.kind).order_by(PartnerNotification.id))
        ).all()
    assert kinds == [
        "mdf.request_reviewed",
        "mdf.claim_reviewed",
        "mdf.claim_reviewed",
        "mdf.claim_paid",
    ]


@pytest.mark.parametrize(
    ("amount", "files", "code", "field"),
    [
        ("100.00", [], "INVALID", "files"),
        ("500.01", [("a.pdf", PDF, "application/pdf")], "LIMIT_EXCEEDED", "amount"),
        ("0", [("a.pdf", PDF, "application/pdf")], "INVALID", "amount.amount"),
        ("10", [("a.exe", b"MZ\x90\x00", "application/x-msdownload")], "INVALID", "files.0"),
        ("10", [("a.pdf", b"not a pdf at all", "application/pdf")], "INVALID", "files.0"),
        ("10", [("a.pdf", PDF, "application/pdf"), ("e.csv", b"", "text/csv")], "INVALID",
         "files.1"),
        ("10", [("big.pdf", PDF + b"0" * (10 * 1024 * 1024), "application/pdf")], "INVALID",
         "files.0"),
    ],
)  # fmt: skip
async def test_bad_claims_write_nothing_and_store_no_file(
    client: httpx.AsyncClient,
    app: FastAPI,
    database: Database,
    amount: str,
    files: list[tuple[str, bytes, str]],
    code: str,
    field: str,
) -> None:
    cast = await make_cast(database)
    _, rep, request = await _approved(client, app, cast)
    before = await counts(database, cast.tenant.id)
    payload = await rep.upload(request["id"], money(amount), files)
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [(code, field)]
    assert await counts(database, cast.tenant.id) == before
    assert _stored_files(app, cast.tenant.id) == []


async def test_claims_need_an_approved_request_and_one_live_claim(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    cast = await make_cast(database)
    admin = Api(client, app, cast.tenant.admin)
    rep = Api(client, app, cast.rep_a)
    budget = await new_budget(admin, "1000")
    allocation = await new_allocation(admin, budget["id"], cast.partner_a, "1000")
    pending = await new_request(rep, allocation["id"], "100")
    proof = [("a.pdf", PDF, "application/pdf")]
    submitted = await rep.upload(pending["id"], money("10"), proof)
    assert [e["code"] for e in submitted["errors"]] == ["INVALID_TRANSITION"]
    await admin.ok(REVIEW_REQUEST, "reviewFundRequest", id=pending["id"], approve=True)
    assert (await rep.upload(pending["id"], money("10"), proof))["errors"] == []
    twice = await rep.upload(pending["id"], money("10"), proof)
    assert [e["code"] for e in twice["errors"]] == ["INVALID_TRANSITION"]
    assert (await counts(database, cast.tenant.id))["mdf_fund_claims"] == 1


async def test_partners_see_and_claim_only_their_own(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    cast = await make_cast(database)
    admin, rep_a, request = await _approved(client, app, cast)
    rep_b = Api(client, app, cast.rep_b)
    proof = [("a.pdf", PDF, "application/pdf")]
    foreign = await rep_b.upload(request["id"], money("10"), proof)
    assert [e["code"] for e in foreign["errors"]] == ["NOT_FOUND"]
    assert _stored_files(app, cast.tenant.id) == []
    claim = (await rep_a.upload(request["id"], money("10"), proof))["fundClaim"]

    theirs = await rep_b(CLAIMS)
    assert theirs["data"]["fundClaims"]["totalCount"] == 0
    node = await rep_b("query($id: ID!) { node(id: $id) { id } }", id=claim["id"])
    assert node["data"]["node"] is None
    mine = await rep_a(CLAIMS, filter={"status": "SUBMITTED"})
    edges = mine["data"]["fundClaims"]["edges"]
    assert [edge["node"]["id"] for edge in edges] == [claim["id"]]
    assert edges[0]["node"]["files"][0]["filename"] == "a.pdf"
    # Partner users cannot review their own claims.
    forbidden = await rep_a(REVIEW_CLAIM, id=claim["id"], approve=True)
    assert error_codes(forbidden) == ["FORBIDDEN"]
    assert (await admin(CLAIMS, filter={"status": "PAID"}))["data"]["fundClaims"]["totalCount"] == 0
