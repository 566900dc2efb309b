"""`authenticate`: from an `Authorization` header to a `Principal`, or `Unauthenticated`."""

from __future__ import annotations

import time
from dataclasses import replace

import httpx
import pytest
from fastapi import FastAPI
from joserfc.jwk import ECKey
from sqlalchemy import func, select, update

from prm.auth.bearer import Unauthenticated, authenticate
from prm.auth.keys import KeyRing
from prm.auth.principal import Principal, Role
from prm.auth.tokens import CLOCK_SKEW_SECONDS, TokenIssuer
from prm.db.engine import Database
from prm.tenants.models import ApiClient, Tenant, User
from tests.auth.helpers import client_credentials, sign_in
from tests.factories import make_api_client, make_tenant, make_user, principal_of


def issuer_of(app: FastAPI) -> TokenIssuer:
    issuer: TokenIssuer = app.state.issuer
    return issuer


async def authenticate_header(
    database: Database, issuer: TokenIssuer, authorization: str | None
) -> Principal | None:
    async with database.session() as session:
        return await authenticate(authorization, issuer=issuer, session=session)


@pytest.mark.asyncio
async def test_a_valid_token_gives_its_principal(app: FastAPI, database: Database) -> None:
    made = await make_tenant(database)
    issuer = issuer_of(app)
    token = issuer.issue(principal_of(made.admin))

    principal = await authenticate_header(database, issuer, f"Bearer {token}")

    assert principal == principal_of(made.admin)


@pytest.mark.asyncio
async def test_no_header_is_no_principal(app: FastAPI, database: Database) -> None:
    assert await authenticate_header(database, issuer_of(app), None) is None
    assert await authenticate_header(database, issuer_of(app), "") is None


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer",
        "Bearer    ",
        "Basic dXNlcjpwYXNz",
        "Token abc",
        "Bearer not-a-jwt",
        "Bearer a.b.c",
        "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",  # alg none
        "Bearer " + "A" * 10_000,
        "bearer \x00\x01",
    ],
)
async def test_a_garbage_header_is_unauthenticated(
    app: FastAPI, database: Database, authorization: str
) -> None:
    with pytest.raises(Unauthenticated):
        await authenticate_header(database, issuer_of(app), authorization)


@pytest.mark.asyncio
async def test_a_token_signed_with_another_key_is_unauthenticated(
    app: FastAPI, database: Database
) -> None:
    made = await make_tenant(database)
    issuer = issuer_of(app)
    key = ECKey.generate_key("P-256", private=True)
    key.ensure_kid()
    forger = replace(issuer, keys=KeyRing(signing=key, algorithm="ES256"))
    forged = forger.issue(principal_of(made.admin))

    with pytest.raises(Unauthenticated):
        await authenticate_header(database, issuer, f"Bearer {forged}")


@pytest.mark.asyncio
async def test_a_token_of_another_issuer_is_unauthenticated(
    app: FastAPI, database: Database
) -> None:
    made = await make_tenant(database)
    issuer = issuer_of(app)
    other = replace(issuer, issuer="someone-else").issue(principal_of(made.admin))

    with pytest.raises(Unauthenticated):
        await authenticate_header(database, issuer, f"Bearer {other}")


@pytest.mark.asyncio
async def test_an_expired_token_is_accepted_only_within_the_clock_skew(
    app: FastAPI, database: Database
) -> None:
    made = await make_tenant(database)
    issuer = issuer_of(app)
    expired_at = time.time() - issuer.ttl_seconds  # issued so that `exp` is about now

    just_inside = issuer.issue(principal_of(made.admin), now=expired_at - CLOCK_SKEW_SECONDS + 3)
    just_outside = issuer.issue(principal_of(made.admin), now=expired_at - CLOCK_SKEW_SECONDS - 3)

    assert await authenticate_header(database, issuer, f"Bearer {just_inside}") is not None
    with pytest.raises(Unauthenticated):
        await authenticate_header(database, issuer, f"Bearer {just_outside}")


@pytest.mark.asyncio
async def test_a_deactivated_users_token_stops_working_at_once(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    made = await make_tenant(database)
    user = await make_user(database, made.id, roles=(Role.MANAGER,))
    issued = await sign_in(client, tenant=made.tenant.slug, email=user.email)
    header = f"Bearer {issued.json()['access_token']}"
    assert await authenticate_header(database, issuer_of(app), header) is not None

    async with database.session(made.id) as session:
        await session.execute(update(User).where(User.id == user.id).values(active=False))

    with pytest.raises(Unauthenticated):
        await authenticate_header(database, issuer_of(app), header)


@pytest.mark.asyncio
async def test_a_revoked_clients_token_stops_working_at_once(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    made = await make_tenant(database)
    api_client, secret = await make_api_client(database, made.id, scopes=("admin",))
    issued = await client_credentials(client, api_client.client_id, secret)
    header = f"Bearer {issued.json()['access_token']}"
    principal = await authenticate_header(database, issuer_of(app), header)
    assert principal is not None
    assert principal.kind == "api_client"
    assert principal.roles == {Role.ADMIN}

    async with database.session(made.id) as session:
        await session.execute(
            update(ApiClient)
            .where(ApiClient.id == api_client.id)
            .values(revoked_at=ApiClient.created_at)
        )

    with pytest.raises(Unauthenticated):
        await authenticate_header(database, issuer_of(app), header)


@pytest.mark.asyncio
async def test_a_deactivated_tenants_tokens_stop_working(app: FastAPI, database: Database) -> None:
    made = await make_tenant(database)
    header = f"Bearer {issuer_of(app).issue(principal_of(made.admin))}"

    async with database.session(made.id) as session:
        await session.execute(update(Tenant).where(Tenant.id == made.id).values(active=False))

    with pytest.raises(Unauthenticated):
        await authenticate_header(database, issuer_of(app), header)


@pytest.mark.asyncio
async def test_a_token_binds_the_session_to_its_tenant(app: FastAPI, database: Database) -> None:
    made = await make_tenant(database)
    header = f"Bearer {issuer_of(app).issue(principal_of(made.admin))}"
    async with database.session() as session:
        await authenticate(header, issuer=issuer_of(app), session=session)
        users = await session.scalar(select(func.count()).select_from(User))
    assert users == 1  # RLS now scopes the session to the token's tenant: its one admin
