"""`recommendations(accountId:, first:)` and `recomputeRecommendations` over HTTP: what the
account already bought and retired products are left out, each product once with its
best association, in order; staff see any account, partner users only their partner's;
unknown, foreign and invisible accounts are NOT_FOUND; `first` is bounded."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from prm.auth.principal import Role
from prm.catalog.recommendation_compute import ASSOCIATIONS
from prm.crm.models import OpportunityStage
from prm.db.engine import Database
from prm.graphql.relay import decode_global_id
from prm.tenants.models import User
from prm.workers.actors import run_job
from prm.workers.models import JobStatus
from tests.catalog.factories import make_price_book
from tests.catalog.test_recommendations import Shop, _drop_unsent_jobs, make_shop
from tests.crm.factories import gid, make_account
from tests.factories import bearer, make_partner, make_user
from tests.graphql.support import error_codes, gql

__all__ = ["_drop_unsent_jobs"]  # the autouse fixture, shared with the job tests

RECOMMENDATIONS = """query($id: ID!, $first: Int) {
  recommendations(accountId: $id, first: $first) {
    product { id name } kind support confidence lift basedOn { id } } }"""
RECOMPUTE = """mutation { recomputeRecommendations {
  job { id kind status } errors { code field message } } }"""


@dataclass(frozen=True)
class Expected:
    product: uuid.UUID
    kind: str
    support: float
    confidence: float
    lift: float | None
    based_on: uuid.UUID
    name: str


async def ask(
    client: httpx.AsyncClient, app: FastAPI, user: User, account_id: uuid.UUID, **variables: Any
) -> dict[str, Any]:
    return await gql(
        client,
        RECOMMENDATIONS,
        {"id": gid("Account", account_id), **variables},
        headers=bearer(app.state.issuer, user),
    )


def pk(global_id: str) -> uuid.UUID:
    decoded = decode_global_id(global_id)
    assert decoded is not None
    return decoded[1]


async def recompute(client: httpx.AsyncClient, app: FastAPI, shop: Shop) -> None:
    body = await gql(client, RECOMPUTE, headers=bearer(app.state.issuer, shop.tenant.admin))
    payload = body["data"]["recomputeRecommendations"]
    assert payload["errors"] == [], body
    assert payload["job"]["kind"] == ASSOCIATIONS
    job_id = pk(payload["job"]["id"])
    assert run_job(shop.database, ASSOCIATIONS, shop.tenant_id, job_id) is JobStatus.SUCCEEDED


@dataclass
class Scene:
    shop: Shop
    partner_id: uuid.UUID
    account_id: uuid.UUID
    """The partner's account: it bought X and Z."""
    other_account_id: uuid.UUID
    """Another partner's account."""
    expected: list[Expected]


async def make_scene(client: httpx.AsyncClient, app: FastAPI, database: Database) -> Scene:
    shop = await make_shop(database)
    partner = await make_partner(database, shop.tenant_id)
    other = await make_partner(database, shop.tenant_id)
    account = (await make_account(database, shop.tenant_id, partner_id=partner.id)).id
    other_account = (await make_account(database, shop.tenant_id, partner_id=other.id)).id
    for name in ("Y", "Z", "V", "U", "Q"):
        await shop.product(name)
    await shop.product("X", family="Core")
    await shop.product("X2", family="Core")  # pricier: an up-sell never bought yet
    await shop.product("X0", family="Core")  # cheaper: no up-sell
    await make_price_book(
        database,
        shop.tenant_id,
        [(shop.products[n], p) for n, p in (("X", "100"), ("X2", "200"), ("X0", "50"))],
    )
    deals = [
        ["X", "Y", "U"],
        ["X", "Y", "U"],
        ["X", "Z", "Y"],
        ["Z", "V"],
        ["Z", "V"],
        ["Q", "Z"],
    ]
    for products in deals:
        shop.deal(products, account_id=other_account)
    bought = ["X", "Z"]
    shop.deal(bought, account_id=account)
    # Not bought by the account: a lost deal's and an open deal's accepted quotes.
    shop.deal(["V"], account_id=account, stage=OpportunityStage.CLOSED_LOST)
    shop.deal(["Y"], account_id=account, stage=OpportunityStage.PROPOSAL)
    await recompute(client, app, shop)
    shop.retire("U")  # associated with X, but no longer sold

    # By hand: every rule bought → r (r not bought, active) and the best one per r.
    won = [set(d) for d in deals] + [set(bought)]
    total = len(won)
    holding = {p: sum(1 for d in won if p in d) for d in won for p in d}
    best: dict[str, tuple[Fraction, Fraction, Fraction, str]] = {}
    for b in bought:
        for r in holding:
            both = sum(1 for d in won if b in d and r in d)
            if r in bought or r == "U" or both < 2:
                continue
            confidence = Fraction(both, holding[b])
            figures = (
                confidence,
                Fraction(both, total),
                confidence / Fraction(holding[r], total),
                b,
            )
            if r not in best or figures[:3] > best[r][:3]:
                best[r] = figures
    expected = [
        Expected(
            shop.products[r].id,
            "CROSS_SELL",
            float(s),
            float(c),
            float(lift),
            shop.products[b].id,
            shop.products[r].name,
        )
        for r, (c, s, lift, b) in best.items()
    ]
    # X2 is a pricier Core product: confidence = won deals holding X2 (0) / won deals
    # holding a Core product (4); support 0; no lift.
    expected.append(Expected(shop.products["X2"].id, "UP_SELL", 0.0, 0.0, None,
                             shop.products["X"].id, shop.products["X2"].name))  # fmt: skip
    expected.sort(key=lambda e: (-e.confidence, -e.support, e.lift is None, -(e.lift or 0), e.name))
    assert {shop.products[n].id for n in ("Y", "V", "X2")} == {e.product for e in expected}
    return Scene(shop, partner.id, account, other_account, expected)


def check(found: list[dict[str, Any]], expected: list[Expected]) -> None:
    assert [pk(item["product"]["id"]) for item in found] == [e.product for e in expected]
    for item, want in zip(found, expected, strict=True):
        assert item["kind"] == want.kind
        assert item["support"] == pytest.approx(want.support)
        assert item["confidence"] == pytest.approx(want.confidence)
        assert item["lift"] == (None if want.lift is None else pytest.approx(want.lift))
        assert pk(item["basedOn"]["id"]) == want.based_on


@pytest.mark.asyncio
async def test_recommendations_leave_out_what_was_bought_and_rank_the_rest(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    scene = await make_scene(client, app, database)
    admin = scene.shop.tenant.admin

    body = await ask(client, app, admin, scene.account_id)
    assert "errors" not in body, body
    found = body["data"]["recommendations"]
    check(found, scene.expected)
    bought = {scene.shop.products[n].id for n in ("X", "Z")}
    assert not bought & {pk(item["product"]["id"]) for item in found}

    top = await ask(client, app, admin, scene.account_id, first=1)
    check(top["data"]["recommendations"], scene.expected[:1])

    # Recomputing changes nothing the account sees.
    await recompute(client, app, scene.shop)
    again = await ask(client, app, admin, scene.account_id)
    assert again["data"]["recommendations"] == found

    # An account that bought nothing gets nothing (and is not NOT_FOUND).
    quiet = (await make_account(database, scene.shop.tenant_id)).id
    empty = await ask(client, app, admin, quiet)
    assert empty == {"data": {"recommendations": []}}


@pytest.mark.asyncio
async def test_first_is_bounded(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    scene = await make_scene(client, app, database)
    for first in (0, 51, -1):
        body = await ask(client, app, scene.shop.tenant.admin, scene.account_id, first=first)
        assert error_codes(body) == ["INVALID"], body
    body = await ask(client, app, scene.shop.tenant.admin, scene.account_id, first=50)
    assert len(body["data"]["recommendations"]) == len(scene.expected)


@pytest.mark.asyncio
async def test_visibility_staff_partner_and_foreign_accounts(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    scene = await make_scene(client, app, database)
    tenant_id = scene.shop.tenant_id
    employee = await make_user(database, tenant_id, roles=(Role.EMPLOYEE,))
    partner_user = await make_user(
        database, tenant_id, roles=(Role.PARTNER_REP,), partner_id=scene.partner_id
    )

    staff = await ask(client, app, employee, scene.account_id)
    check(staff["data"]["recommendations"], scene.expected)
    own = await ask(client, app, partner_user, scene.account_id)
    check(own["data"]["recommendations"], scene.expected)

    foreign_shop = await make_shop(database)
    unknown = [
        (partner_user, scene.other_account_id),  # another partner's account
        (scene.shop.tenant.admin, foreign_shop.account_id),  # another tenant's
        (scene.shop.tenant.admin, uuid.uuid4()),
    ]
    for user, account_id in unknown:
        body = await ask(client, app, user, account_id)
        assert error_codes(body) == ["NOT_FOUND"], body
        assert body["data"] is None
    garbage = await gql(
        client,
        RECOMMENDATIONS,
        {"id": gid("Product", scene.shop.products["X"].id)},
        headers=bearer(app.state.issuer, scene.shop.tenant.admin),
    )
    assert error_codes(garbage) == ["NOT_FOUND"]

    # A retired bought product still leads to recommendations; partner users, who do not
    # see retired products, get no `basedOn` for it.
    scene.shop.retire("X")
    admin_view = (await ask(client, app, scene.shop.tenant.admin, scene.account_id))["data"]
    partner_view = (await ask(client, app, partner_user, scene.account_id))["data"]
    x = gid("Product", scene.shop.products["X"].id)
    from_x = [r for r in admin_view["recommendations"] if r["basedOn"]["id"] == x]
    assert from_x
    led = {r["product"]["id"] for r in from_x}
    assert all(
        r["basedOn"] is None for r in partner_view["recommendations"] if r["product"]["id"] in led
    )


@pytest.mark.asyncio
async def test_only_admins_recompute(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    shop = await make_shop(database)
    manager = await make_user(database, shop.tenant_id, roles=(Role.MANAGER,))
    partner = await make_partner(database, shop.tenant_id)
    partner_admin = await make_user(
        database, shop.tenant_id, roles=(Role.PARTNER_ADMIN,), partner_id=partner.id
    )
    for user in (manager, partner_admin):
        body = await gql(client, RECOMPUTE, headers=bearer(app.state.issuer, user))
        assert error_codes(body) == ["FORBIDDEN"], body
    body = await gql(client, RECOMPUTE, headers=bearer(app.state.issuer, shop.tenant.admin))
    assert body["data"]["recomputeRecommendations"]["job"]["status"] == "QUEUED"
