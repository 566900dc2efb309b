"""Clocks drift: a token checked by a server a little ahead of (or behind) the one that
issued it is still good within `CLOCK_SKEW_SECONDS`, and refused beyond it."""

from __future__ import annotations

import time

import httpx
import pytest
from fastapi import FastAPI

from prm.auth.tokens import CLOCK_SKEW_SECONDS, TokenIssuer
from prm.db.engine import Database
from tests.factories import make_tenant, principal_of
from tests.graphql.support import error_codes, post

MARGIN = 10
"""Seconds kept away from the leeway's edge, so a slow test run does not cross it."""


async def me_with_token_issued_at(
    client: httpx.AsyncClient, app: FastAPI, database: Database, issued_at: float
) -> httpx.Response:
    """Ask for `me` with a token whose clock read `issued_at` (iat = nbf = issued_at)."""
    tenant = await make_tenant(database)
    issuer: TokenIssuer = app.state.issuer
    token = issuer.issue(principal_of(tenant.admin), now=issued_at)
    return await post(client, "{ me { roles } }", headers={"Authorization": f"Bearer {token}"})


def expired_ago(app: FastAPI, seconds: float) -> float:
    """The issue time of a token whose `exp` was `seconds` ago."""
    issuer: TokenIssuer = app.state.issuer
    return time.time() - issuer.ttl_seconds - seconds


@pytest.mark.asyncio
async def test_a_token_just_past_its_expiry_is_accepted_within_the_leeway(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    response = await me_with_token_issued_at(
        client, app, database, expired_ago(app, CLOCK_SKEW_SECONDS - MARGIN)
    )
    assert response.status_code == 200
    body = response.json()
    assert "errors" not in body
    assert body["data"]["me"]["roles"]


@pytest.mark.asyncio
async def test_a_token_expired_beyond_the_leeway_is_unauthenticated(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    response = await me_with_token_issued_at(
        client, app, database, expired_ago(app, CLOCK_SKEW_SECONDS + MARGIN)
    )
    assert response.status_code == 401
    assert error_codes(response.json()) == ["UNAUTHENTICATED"]


@pytest.mark.asyncio
async def test_a_token_issued_slightly_in_the_future_is_accepted_within_the_leeway(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    """The issuer's clock runs ahead: `iat` and `nbf` are a little in our future."""
    response = await me_with_token_issued_at(
        client, app, database, time.time() + CLOCK_SKEW_SECONDS - MARGIN
    )
    assert response.status_code == 200
    assert response.json()["data"]["me"]["roles"]


@pytest.mark.asyncio
async def test_a_token_not_valid_until_beyond_the_leeway_is_unauthenticated(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    response = await me_with_token_issued_at(
        client, app, database, time.time() + CLOCK_SKEW_SECONDS + MARGIN
    )
    assert response.status_code == 401
    assert error_codes(response.json()) == ["UNAUTHENTICATED"]
