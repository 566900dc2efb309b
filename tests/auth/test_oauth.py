"""`POST /oauth/token`: the password, client_credentials and refresh_token grants."""

from __future__ import annotations

import asyncio
import base64
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update

from prm.auth.models import RefreshToken
from prm.auth.principal import Role
from prm.auth.refresh_tokens import parse_refresh_token
from prm.auth.tokens import TokenIssuer
from prm.db.engine import Database
from prm.tenants.models import ApiClient, Tenant, User
from tests.auth.helpers import client_credentials, refresh, sign_in
from tests.factories import (
    make_api_client,
    make_partner,
    make_tenant,
    make_user,
    unique,
)


def issuer_of(app: FastAPI) -> TokenIssuer:
    issuer: TokenIssuer = app.state.issuer
    return issuer


def assert_token_response(response: httpx.Response) -> dict[str, object]:
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, object] = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    return body


def assert_oauth_error(response: httpx.Response, status: int, error: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["cache-control"] == "no-store"
    body: dict[str, object] = response.json()
    assert body["error"] == error
    return body


async def deactivate(database: Database, user: User) -> None:
    async with database.session(user.tenant_id) as session:
        await session.execute(
            update(User)
            .where(User.tenant_id == user.tenant_id, User.id == user.id)
            .values(active=False)
        )


# password


@pytest.mark.asyncio
async def test_password_grant_issues_an_access_and_a_refresh_token(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    made = await make_tenant(database)
    manager = await make_user(database, made.id, roles=(Role.MANAGER, Role.EMPLOYEE))

    body = assert_token_response(
        await sign_in(client, tenant=made.tenant.slug, email=manager.email)
    )

    assert "scope" not in body
    assert parse_refresh_token(str(body["refresh_token"])) is not None
    principal = issuer_of(app).verify(str(body["access_token"]))
    assert principal.kind == "user"
    assert principal.tenant_id == made.id
    assert principal.subject_id == manager.id
    assert principal.roles == {Role.MANAGER, Role.EMPLOYEE}
    assert principal.partner_id is None
    async with database.session(made.id) as session:
        last_login = await session.scalar(select(User.last_login_at).where(User.id == manager.id))
    assert last_login is not None
    assert datetime.now(UTC) - last_login < timedelta(minutes=1)


@pytest.mark.asyncio
async def test_a_partner_users_token_names_its_partner(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    made = await make_tenant(database)
    partner = await make_partner(database, made.id)
    rep = await make_user(database, made.id, roles=(Role.PARTNER_REP,), partner_id=partner.id)

    body = assert_token_response(await sign_in(client, tenant=made.tenant.slug, email=rep.email))

    principal = issuer_of(app).verify(str(body["access_token"]))
    assert principal.partner_id == partner.id
    assert principal.roles == {Role.PARTNER_REP}


@pytest.mark.asyncio
async def test_email_and_slug_are_matched_case_insensitively(
    client: httpx.AsyncClient, database: Database
) -> None:
    made = await make_tenant(database)
    response = await sign_in(
        client, tenant=made.tenant.slug.upper(), email=f"  {made.admin.email.upper()} "
    )
    assert_token_response(response)


@pytest.mark.asyncio
async def test_every_bad_sign_in_gets_the_same_invalid_grant(
    client: httpx.AsyncClient, database: Database
) -> None:
    made = await make_tenant(database)
    gone = await make_user(database, made.id)
    await deactivate(database, gone)
    closed = await make_tenant(database)
    async with database.session(closed.id) as session:
        await session.execute(update(Tenant).where(Tenant.id == closed.id).values(active=False))

    attempts = [
        sign_in(client, tenant=unique("nosuch"), email=made.admin.email),  # unknown tenant
        sign_in(client, tenant=made.tenant.slug, email="nobody@example.com"),  # unknown user
        sign_in(client, tenant=made.tenant.slug, email=made.admin.email, password="wrong pass"),
        sign_in(client, tenant=made.tenant.slug, email=gone.email),  # deactivated, right password
        sign_in(client, tenant=closed.tenant.slug, email=closed.admin.email),  # inactive tenant
    ]
    bodies = [assert_oauth_error(await attempt, 400, "invalid_grant") for attempt in attempts]

    assert all(body == bodies[0] for body in bodies)


@pytest.mark.asyncio
async def test_a_user_of_another_tenant_cannot_sign_in_through_this_one(
    client: httpx.AsyncClient, database: Database
) -> None:
    mine = await make_tenant(database)
    theirs = await make_tenant(database)
    response = await sign_in(client, tenant=mine.tenant.slug, email=theirs.admin.email)
    assert_oauth_error(response, 400, "invalid_grant")


@pytest.mark.asyncio
@pytest.mark.parametrize("missing", ["tenant", "username", "password"])
async def test_password_grant_without_a_required_field_is_an_invalid_request(
    client: httpx.AsyncClient, database: Database, missing: str
) -> None:
    made = await make_tenant(database)
    data = {
        "grant_type": "password",
        "username": made.admin.email,
        "password": "correct horse battery staple",
        "tenant": made.tenant.slug,
    }
    del data[missing]
    response = await client.post("/oauth/token", data=data)
    assert_oauth_error(response, 400, "invalid_request")


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("tenant", "username"), [("t" * 64, "a@example.com"), ("acme", "a" * 310 + "@example.com")]
)
async def test_a_tenant_or_username_too_long_to_exist_is_an_invalid_request(
    client: httpx.AsyncClient, tenant: str, username: str
) -> None:
    response = await sign_in(client, tenant=tenant, email=username)
    assert_oauth_error(response, 400, "invalid_request")


@pytest.mark.asyncio
async def test_user_tokens_take_no_scope(client: httpx.AsyncClient, database: Database) -> None:
    made = await make_tenant(database)
    response = await sign_in(client, tenant=made.tenant.slug, email=made.admin.email, scope="admin")
    assert_oauth_error(response, 400, "invalid_scope")


# client_credentials


@pytest.mark.asyncio
@pytest.mark.parametrize("basic", [True, False], ids=["basic", "form"])
async def test_client_credentials_issue_an_access_token_only(
    client: httpx.AsyncClient, app: FastAPI, database: Database, basic: bool
) -> None:
    made = await make_tenant(database)
    api_client, secret = await make_api_client(database, made.id, scopes=("read", "manager"))

    body = assert_token_response(
        await client_credentials(client, api_client.client_id, secret, basic=basic)
    )

    assert "refresh_token" not in body
    assert body["scope"] == "manager read"
    principal = issuer_of(app).verify(str(body["access_token"]))
    assert principal.kind == "api_client"
    assert principal.tenant_id == made.id
    assert principal.subject_id == api_client.id
    assert principal.scopes == {"manager", "read"}
    assert principal.roles == {Role.MANAGER, Role.EMPLOYEE}
    async with database.session(made.id) as session:
        last_used = await session.scalar(
            select(ApiClient.last_used_at).where(ApiClient.id == api_client.id)
        )
    assert last_used is not None


@pytest.mark.asyncio
async def test_a_client_may_ask_for_fewer_scopes_but_not_more(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    made = await make_tenant(database)
    api_client, secret = await make_api_client(database, made.id, scopes=("admin", "read"))

    narrowed = assert_token_response(
        await client_credentials(client, api_client.client_id, secret, scope="read")
    )
    assert narrowed["scope"] == "read"
    assert issuer_of(app).verify(str(narrowed["access_token"])).roles == {Role.EMPLOYEE}

    widened = await client_credentials(client, api_client.client_id, secret, scope="read manager")
    assert_oauth_error(widened, 400, "invalid_scope")


async def _bad_client_cases(database: Database) -> list[tuple[str, str]]:
    made = await make_tenant(database)
    good, _ = await make_api_client(database, made.id)
    revoked, revoked_secret = await make_api_client(database, made.id, revoked=True)
    other = await make_tenant(database)
    foreign, foreign_secret = await make_api_client(database, other.id)
    closed = await make_tenant(database)
    closed_client, closed_secret = await make_api_client(database, closed.id)
    async with database.session(closed.id) as session:
        await session.execute(update(Tenant).where(Tenant.id == closed.id).values(active=False))
    forged_id = foreign.client_id.replace(other.id.hex, made.id.hex)  # right shape, wrong tenant
    return [
        (good.client_id, "not-the-secret"),
        (revoked.client_id, revoked_secret),
        (forged_id, foreign_secret),
        (f"prm_{uuid.uuid4().hex}_{uuid.uuid4().hex}", "x"),
        ("not-a-client-id", "x"),
        (closed_client.client_id, closed_secret),
    ]


@pytest.mark.asyncio
@pytest.mark.parametrize("basic", [True, False], ids=["basic", "form"])
async def test_every_bad_client_gets_the_same_invalid_client(
    client: httpx.AsyncClient, database: Database, basic: bool
) -> None:
    bodies = []
    for client_id, secret in await _bad_client_cases(database):
        response = await client_credentials(client, client_id, secret, basic=basic)
        bodies.append(assert_oauth_error(response, 401, "invalid_client"))
        assert response.headers["www-authenticate"].startswith("Basic ")
    assert all(body == bodies[0] for body in bodies)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Basic",
        "Basic !!!not-base64!!!",
        "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode(),
        "Basic " + base64.b64encode(b"only-an-id").decode(),
        "Bearer abc",
    ],
)
async def test_missing_or_malformed_client_credentials_are_an_invalid_client(
    client: httpx.AsyncClient, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = await client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, headers=headers
    )
    assert_oauth_error(response, 401, "invalid_client")


@pytest.mark.asyncio
async def test_two_client_authentication_methods_at_once_are_refused(
    client: httpx.AsyncClient, database: Database
) -> None:
    made = await make_tenant(database)
    api_client, secret = await make_api_client(database, made.id)
    response = await client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_secret": secret},
        auth=(api_client.client_id, secret),
    )
    assert_oauth_error(response, 400, "invalid_request")


# refresh_token


@pytest.mark.asyncio
async def test_a_refresh_rotates_both_tokens(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    made = await make_tenant(database)
    first = assert_token_response(
        await sign_in(client, tenant=made.tenant.slug, email=made.admin.email)
    )

    second = assert_token_response(await refresh(client, str(first["refresh_token"])))

    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    principal = issuer_of(app).verify(str(second["access_token"]))
    assert principal.subject_id == made.admin.id
    assert principal.roles == {Role.ADMIN}
    third = assert_token_response(await refresh(client, str(second["refresh_token"])))
    assert third["refresh_token"] not in (first["refresh_token"], second["refresh_token"])


@pytest.mark.asyncio
async def test_a_refresh_reads_the_users_current_roles(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    made = await make_tenant(database)
    user = await make_user(database, made.id, roles=(Role.EMPLOYEE,))
    first = assert_token_response(await sign_in(client, tenant=made.tenant.slug, email=user.email))
    async with database.session(made.id) as session:
        await session.execute(update(User).where(User.id == user.id).values(roles=["MANAGER"]))

    second = assert_token_response(await refresh(client, str(first["refresh_token"])))

    assert issuer_of(app).verify(str(second["access_token"])).roles == {Role.MANAGER}


@pytest.mark.asyncio
async def test_reusing_a_rotated_refresh_token_revokes_its_whole_family(
    client: httpx.AsyncClient, database: Database
) -> None:
    made = await make_tenant(database)
    login = {"tenant": made.tenant.slug, "email": made.admin.email}
    stolen = str(assert_token_response(await sign_in(client, **login))["refresh_token"])
    other_device = str(assert_token_response(await sign_in(client, **login))["refresh_token"])
    rotated = str(assert_token_response(await refresh(client, stolen))["refresh_token"])

    assert_oauth_error(await refresh(client, stolen), 400, "invalid_grant")  # the reuse
    assert_oauth_error(await refresh(client, rotated), 400, "invalid_grant")  # family revoked

    assert_token_response(await refresh(client, other_device))  # another family lives on
    parts = parse_refresh_token(rotated)
    assert parts is not None
    async with database.session(made.id) as session:
        family = (
            await session.scalars(
                select(RefreshToken).where(
                    RefreshToken.family_id
                    == select(RefreshToken.family_id)
                    .where(RefreshToken.id == parts.token_id)
                    .scalar_subquery()
                )
            )
        ).all()
    assert len(family) == 2
    assert all(row.revoked_at is not None for row in family)
    assert all(len(row.token_hash) == 64 and parts.secret not in row.token_hash for row in family)


@pytest.mark.asyncio
async def test_two_concurrent_uses_of_one_refresh_token_never_both_win(
    client: httpx.AsyncClient, database: Database
) -> None:
    made = await make_tenant(database)
    token = str(
        assert_token_response(
            await sign_in(client, tenant=made.tenant.slug, email=made.admin.email)
        )["refresh_token"]
    )

    responses = await asyncio.gather(refresh(client, token), refresh(client, token))

    assert sorted(r.status_code for r in responses) == [200, 400]
    winner = next(r for r in responses if r.status_code == 200)
    # The loser's attempt was a reuse: the winner's new token went down with its family.
    assert_oauth_error(await refresh(client, winner.json()["refresh_token"]), 400, "invalid_grant")


@pytest.mark.asyncio
async def test_an_expired_refresh_token_is_an_invalid_grant(
    client: httpx.AsyncClient, database: Database
) -> None:
    made = await make_tenant(database)
    token = str(
        assert_token_response(
            await sign_in(client, tenant=made.tenant.slug, email=made.admin.email)
        )["refresh_token"]
    )
    parts = parse_refresh_token(token)
    assert parts is not None
    async with database.session(made.id) as session:
        await session.execute(
            update(RefreshToken)
            .where(RefreshToken.id == parts.token_id)
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )

    assert_oauth_error(await refresh(client, token), 400, "invalid_grant")


@pytest.mark.asyncio
async def test_a_deactivated_user_cannot_refresh(
    client: httpx.AsyncClient, database: Database
) -> None:
    made = await make_tenant(database)
    user = await make_user(database, made.id)
    token = str(
        assert_token_response(await sign_in(client, tenant=made.tenant.slug, email=user.email))[
            "refresh_token"
        ]
    )
    await deactivate(database, user)

    assert_oauth_error(await refresh(client, token), 400, "invalid_grant")


@pytest.mark.asyncio
async def test_forged_refresh_tokens_are_invalid_grants(
    client: httpx.AsyncClient, database: Database
) -> None:
    made = await make_tenant(database)
    token = str(
        assert_token_response(
            await sign_in(client, tenant=made.tenant.slug, email=made.admin.email)
        )["refresh_token"]
    )
    parts = parse_refresh_token(token)
    assert parts is not None
    other = await make_tenant(database)
    forgeries = [
        "garbage",
        token[:-1] + ("A" if token[-1] != "A" else "B"),  # wrong secret
        token.replace(made.id.hex, other.id.hex),  # another tenant's id, same row id
        token.replace(parts.token_id.hex, uuid.uuid4().hex),  # no such row
        "prt_" + "0" * 200,
    ]
    for forged in forgeries:
        assert_oauth_error(await refresh(client, forged), 400, "invalid_grant")
    assert_token_response(await refresh(client, token))  # the real one was not disturbed


@pytest.mark.asyncio
async def test_a_refresh_takes_no_wider_scope(
    client: httpx.AsyncClient, database: Database
) -> None:
    made = await make_tenant(database)
    token = str(
        assert_token_response(
            await sign_in(client, tenant=made.tenant.slug, email=made.admin.email)
        )["refresh_token"]
    )
    assert_oauth_error(await refresh(client, token, scope="admin"), 400, "invalid_scope")


# the transport


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("content", "content_type", "error"),
    [
        (b"grant_type=magic", "application/x-www-form-urlencoded", "unsupported_grant_type"),
        (b"username=a", "application/x-www-form-urlencoded", "invalid_request"),
        (b"", "application/x-www-form-urlencoded", "invalid_request"),
        (b'{"grant_type": "password"}', "application/json", "invalid_request"),
        (b"grant_type=password", "text/plain", "invalid_request"),
        (b"grant_type=\xff\xfe", "application/x-www-form-urlencoded", "invalid_request"),
        (
            b"grant_type=password&grant_type=password",
            "application/x-www-form-urlencoded",
            "invalid_request",
        ),
        (
            b"grant_type=password&username=" + b"a" * 5000,
            "application/x-www-form-urlencoded",
            "invalid_request",
        ),
        (
            b"grant_type=password&x=" + b"a" * 20_000,
            "application/x-www-form-urlencoded",
            "invalid_request",
        ),
        (
            b"&".join(b"f%d=1" % i for i in range(100)),
            "application/x-www-form-urlencoded",
            "invalid_request",
        ),
        (b"grant_type=%", "application/x-www-form-urlencoded", "unsupported_grant_type"),
    ],
)
async def test_malformed_requests_get_a_400_never_a_500(
    client: httpx.AsyncClient, content: bytes, content_type: str, error: str
) -> None:
    response = await client.post(
        "/oauth/token", content=content, headers={"Content-Type": content_type}
    )
    assert_oauth_error(response, 400, error)


@pytest.mark.asyncio
async def test_the_token_endpoint_takes_only_post(client: httpx.AsyncClient) -> None:
    assert (await client.get("/oauth/token")).status_code == 405
