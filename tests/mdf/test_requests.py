"""Fund requests through GraphQL: requesting within what remains of an allocation (also
under 20 concurrent requests), review with comments (rejection frees the amount),
cancellation, the audit history, notifications, visibility and bad input."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from prm.db.engine import Database
from prm.graphql.relay import pk_of
from prm.mdf.models import FundRequest
from prm.partners.models import PartnerNotification
from tests.factories import make_partner, make_tenant
from tests.graphql.support import error_codes
from tests.mdf.support import (
    ALLOCATIONS,
    CANCEL_REQUEST,
    REQUEST_FUNDS,
    REQUESTS,
    REVIEW_REQUEST,
    Api,
    Cast,
    allocation_row,
    counts,
    gid,
    make_cast,
    money,
    new_allocation,
    new_budget,
    new_request,
)
from tests.statements import counting_statements

pytestmark = pytest.mark.asyncio


async def _allocated(
    client: httpx.AsyncClient, app: FastAPI, cast: Cast, amount: str
) -> tuple[Api, str]:
    admin = Api(client, app, cast.tenant.admin)
    budget = await new_budget(admin, "100000")
    allocation = await new_allocation(admin, budget["id"], cast.partner_a, amount)
    return admin, allocation["id"]


def _request_input(allocation_id: str, value: str, **extra: object) -> dict[str, object]:
    return {
        "allocationId": allocation_id,
        "activity": "Webinar series",
        "amount": money(value),
        **extra,
    }


async def test_request_review_and_cancel_keep_the_remaining_amount_right(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    cast = await make_cast(database)
    admin, allocation_id = await _allocated(client, app, cast, "1000.00")
    rep = Api(client, app, cast.rep_a)

    first = await new_request(rep, allocation_id, "300.00")
    assert first["status"] == "SUBMITTED"
    assert first["partner"]["id"] == gid("Partner", cast.partner_a.id)
    second = await new_request(rep, allocation_id, "450.25")
    third = await new_request(rep, allocation_id, "100.00")

    async def remaining() -> Decimal:
        body = await rep(ALLOCATIONS)
        return Decimal(body["data"]["mdfAllocations"]["edges"][0]["node"]["remaining"]["amount"])

    assert await remaining() == Decimal("1000.00") - Decimal("300.00") - Decimal("450.25") - 100
    # More than remains (149.75) is refused.
    codes = await rep.codes(
        REQUEST_FUNDS, "requestFunds", input=_request_input(allocation_id, "149.76")
    )
    assert codes == ["LIMIT_EXCEEDED"]

    approved = await admin.ok(
        REVIEW_REQUEST, "reviewFundRequest", id=first["id"], approve=True, comment="Go ahead"
    )
    assert approved["fundRequest"]["status"] == "APPROVED"
    assert approved["fundRequest"]["reviewComment"] == "Go ahead"
    rejected = await admin.ok(
        REVIEW_REQUEST, "reviewFundRequest", id=second["id"], approve=False, comment="Too costly"
    )
    assert rejected["fundRequest"]["status"] == "REJECTED"
    # Rejection frees 450.25.
    assert await remaining() == Decimal("1000.00") - Decimal("300.00") - Decimal("100.00")

    cancelled = await rep.ok(CANCEL_REQUEST, "cancelFundRequest", id=third["id"])
    assert cancelled["fundRequest"]["status"] == "CANCELLED"
    assert await remaining() == Decimal("700.00")

    # Decided requests cannot change again.
    again = await admin.codes(REVIEW_REQUEST, "reviewFundRequest", id=second["id"], approve=True)
    assert again == ["INVALID_TRANSITION"]
    assert await rep.codes(CANCEL_REQUEST, "cancelFundRequest", id=third["id"]) == [
        "INVALID_TRANSITION"
    ]
    assert await remaining() == Decimal("700.00")

    history = cancelled["fundRequest"]["history"]
    assert [(h["fromStatus"], h["toStatus"]) for h in history] == [
        (None, "SUBMITTED"),
        ("SUBMITTED", "CANCELLED"),
    ]
    assert history[1]["actorId"] == str(cast.rep_a.id)
    assert [
        (h["fromStatus"], h["toStatus"], h["comment"]) for h in rejected["fundRequest"]["history"]
    ] == [
        (None, "SUBMITTED", None),
        ("SUBMITTED", "REJECTED", "Too costly"),
    ]

    async with database.session(cast.tenant.id) as session:
        notes = (
            await session.scalars(select(PartnerNotification).order_by(PartnerNotification.id))
        ).all()
    assert [(n.kind, n.partner_id, n.data["status"]) for n in notes] == [
        ("mdf.request_reviewed", cast.partner_a.id, "APPROVED"),
        ("mdf.request_reviewed", cast.partner_a.id, "REJECTED"),
    ]
    assert notes[1].data["requestId"] == str(pk_of(second["id"], "FundRequest"))


async def test_twenty_concurrent_requests_never_overspend_the_allocation(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    cast = await make_cast(database)
    _, allocation_id = await _allocated(client, app, cast, "1000.00")
    rep = Api(client, app, cast.rep_a)
    bodies = await asyncio.gather(
        *(rep(REQUEST_FUNDS, input=_request_input(allocation_id, "75.00")) for _ in range(20))
    )
    results = [body["data"]["requestFunds"] for body in bodies]
    won = [r for r in results if not r["errors"]]
    lost = [r for r in results if r["errors"]]
    winners = int(Decimal("1000.00") // Decimal("75.00"))  # 13
    assert len(won) == winners
    assert len(lost) == 20 - winners
    assert {r["errors"][0]["code"] for r in lost} == {"LIMIT_EXCEEDED"}
    async with database.session(cast.tenant.id) as session:
        amounts = (await session.scalars(select(FundRequest.amount))).all()
    total = sum(amounts, Decimal(0))
    assert total == Decimal("75.00") * winners <= Decimal("1000.00")
    row = await allocation_row(database, cast.tenant.id, pk_of(allocation_id, "MdfAllocation"))  # type: ignore[arg-type]
    assert row.requested == total


async def test_concurrent_reviews_and_cancellations_free_an_amount_once(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    cast = await make_cast(database)
    admin, allocation_id = await _allocated(client, app, cast, "500")
    rep = Api(client, app, cast.rep_a)
    request = await new_request(rep, allocation_id, "200")
    bodies = await asyncio.gather(
        admin(REVIEW_REQUEST, id=request["id"], approve=False),
        rep(CANCEL_REQUEST, id=request["id"]),
        admin(REVIEW_REQUEST, id=request["id"], approve=False),
    )
    field = ["reviewFundRequest", "cancelFundRequest", "reviewFundRequest"]
    successes = [b for b, f in zip(bodies, field, strict=True) if not b["data"][f]["errors"]]
    assert len(successes) == 1
    row = await allocation_row(database, cast.tenant.id, pk_of(allocation_id, "MdfAllocation"))  # type: ignore[arg-type]
    assert row.requested == Decimal(0)


async def test_visibility_and_who_may_act(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    cast = await make_cast(database)
    admin, allocation_id = await _allocated(client, app, cast, "1000")
    rep_a, rep_b = Api(client, app, cast.rep_a), Api(client, app, cast.rep_b)
    mine = await new_request(rep_a, allocation_id, "10")
    on_behalf = await new_request(admin, allocation_id, "20")
    assert on_behalf["partner"]["id"] == gid("Partner", cast.partner_a.id)

    # Partner B can neither see nor use partner A's allocation and requests.
    assert await rep_b.codes(
        REQUEST_FUNDS, "requestFunds", input=_request_input(allocation_id, "1")
    ) == ["NOT_FOUND"]
    assert await rep_b.codes(CANCEL_REQUEST, "cancelFundRequest", id=mine["id"]) == ["NOT_FOUND"]
    listed = await rep_b(REQUESTS)
    assert listed["data"]["fundRequests"]["totalCount"] == 0
    assert (await rep_b("query($id: ID!) { node(id: $id) { id } }", id=mine["id"]))["data"][
        "node"
    ] is None
    own = await rep_a(REQUESTS)
    assert own["data"]["fundRequests"]["totalCount"] == 2

    # Partner users cannot review; managers read but cannot request.
    assert error_codes(await rep_a(REVIEW_REQUEST, id=mine["id"], approve=True)) == ["FORBIDDEN"]
    manager = Api(client, app, cast.manager)
    assert error_codes(await manager(REQUEST_FUNDS, input=_request_input(allocation_id, "1"))) == [
        "FORBIDDEN"
    ]
    filtered = await manager(
        REQUESTS,
        filter={"status": "SUBMITTED", "partnerId": gid("Partner", cast.partner_a.id)},
    )
    assert filtered["data"]["fundRequests"]["totalCount"] == 2
    other = await manager(REQUESTS, filter={"partnerId": gid("Partner", cast.partner_b.id)})
    assert other["data"]["fundRequests"]["totalCount"] == 0

    # Another tenant's admin sees nothing and gets NOT_FOUND.
    stranger = await make_tenant(database)
    foreign = Api(client, app, stranger.admin)
    assert await foreign.codes(
        REVIEW_REQUEST, "reviewFundRequest", id=mine["id"], approve=True
    ) == ["NOT_FOUND"]
    assert (await foreign(REQUESTS))["data"]["fundRequests"]["totalCount"] == 0


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"activity": "  "}, "activity"),
        ({"activity": "x" * 501}, "activity"),
        ({"campaign": "x" * 201}, "campaign"),
        ({"amount": money("0")}, "amount.amount"),
        ({"amount": money("5", "EUR")}, "amount.currency"),
        ({"allocationId": "bogus"}, "allocationId"),
    ],
)
async def test_bad_requests_write_nothing(
    client: httpx.AsyncClient,
    app: FastAPI,
    database: Database,
    extra: dict[str, object],
    field: str,
) -> None:
    cast = await make_cast(database)
    _, allocation_id = await _allocated(client, app, cast, "1000")
    rep = Api(client, app, cast.rep_a)
    before = await counts(database, cast.tenant.id)
    body = await rep(REQUEST_FUNDS, input=_request_input(allocation_id, "10", **extra))
    errors = body["data"]["requestFunds"]["errors"]
    assert [e["field"] for e in errors] == [field]
    assert await counts(database, cast.tenant.id) == before
    row = await allocation_row(database, cast.tenant.id, pk_of(allocation_id, "MdfAllocation"))  # type: ignore[arg-type]
    assert row.requested == Decimal(0)


async def test_listing_requests_costs_the_same_statements_for_any_page(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    cast = await make_cast(database)
    admin, allocation_id = await _allocated(client, app, cast, "10000")
    for _ in range(6):
        await new_request(admin, allocation_id, "10")
    await make_partner(database, cast.tenant.id)
    counted: dict[int, int] = {}
    for first in (2, 6):
        with counting_statements(database) as statements:
            body = await admin(REQUESTS, first=first)
        assert len(body["data"]["fundRequests"]["edges"]) == first
        counted[first] = len(statements)
    assert counted[2] == counted[6]


async def test_history_is_append_only_for_the_app_role(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    """The runtime role may insert and read `mdf_events`, never rewrite them."""
    cast = await make_cast(database)
    admin, allocation_id = await _allocated(client, app, cast, "100")
    await new_request(admin, allocation_id, "10")
    async with database.session(cast.tenant.id) as session:
        count = await session.scalar(text("SELECT count(*) FROM mdf_events"))
        assert count
        with pytest.raises(DBAPIError):
            await session.execute(text("UPDATE mdf_events SET comment = 'x'"))
        await session.rollback()
