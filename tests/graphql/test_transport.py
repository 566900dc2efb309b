"""GraphQL over HTTP: methods, media types, status codes, authentication, masking."""

from __future__ import annotations

import json
import logging
import time

import httpx
import pytest
from fastapi import FastAPI
from joserfc.jwk import ECKey

from prm.auth.keys import KeyRing
from prm.auth.tokens import TokenIssuer
from prm.db.engine import Database
from prm.tenants import service
from tests.factories import bearer, make_tenant, principal_of
from tests.graphql.support import GRAPHQL_RESPONSE_JSON, error_codes, gql, post

ACCEPT_GRAPHQL_RESPONSE = {"Accept": f"{GRAPHQL_RESPONSE_JSON}, application/json;q=0.9"}


@pytest.mark.asyncio
async def test_a_query_works_over_get(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    response = await client.get(
        "/graphql",
        params={"query": "{ me { user { email } } }"},
        headers=bearer(app.state.issuer, tenant.admin),
    )
    assert response.status_code == 200
    assert response.json()["data"]["me"]["user"]["email"] == tenant.admin.email


@pytest.mark.asyncio
async def test_a_mutation_over_get_is_refused_and_writes_nothing(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    headers = bearer(app.state.issuer, tenant.admin)
    mutation = 'mutation { updateTenantSettings(input: {name: "Renamed"}) { errors { code } } }'
    response = await client.get("/graphql", params={"query": mutation}, headers=headers)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert error_codes(response.json()) == ["BAD_USER_INPUT"]
    body = await gql(client, "{ me { tenant { name } } }", headers=headers)
    assert body["data"]["me"]["tenant"]["name"] == "Test Tenant"


@pytest.mark.asyncio
async def test_malformed_json_is_a_400(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/graphql", content=b'{"query": "{ me ', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert error_codes(response.json()) == ["BAD_USER_INPUT"]


@pytest.mark.asyncio
async def test_a_body_over_the_limit_is_a_413(client: httpx.AsyncClient, app: FastAPI) -> None:
    limit = app.state.settings.max_body_bytes
    padding = " " * (limit + 1)
    response = await client.post(
        "/graphql",
        content=json.dumps({"query": "{ me { roles } }" + padding}).encode(),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert error_codes(response.json()) == ["BAD_USER_INPUT"]


@pytest.mark.asyncio
async def test_a_streamed_body_over_the_limit_is_a_413(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    """No Content-Length to trust: the limit holds while reading."""
    limit = app.state.settings.max_body_bytes

    async def chunks():  # type: ignore[no-untyped-def]
        yield b'{"query": "{ me { roles } }", "pad": "'
        for _ in range(limit // 10_000 + 1):
            yield b"x" * 10_000
        yield b'"}'

    response = await client.post(
        "/graphql", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("query", "variables"),
    [
        pytest.param("{ me { roles }", None, id="parse error"),
        pytest.param("{ me { noSuchField } }", None, id="unknown field"),
        pytest.param('{ users(first: "ten") { totalCount } }', None, id="wrong literal type"),
        pytest.param(
            "query ($n: Int) { users(first: $n) { totalCount } }", {"n": "ten"}, id="bad variable"
        ),
        pytest.param("query ($n: Int!) { users(first: $n) { totalCount } }", {}, id="missing var"),
    ],
)
async def test_request_errors_are_4xx_under_graphql_response_json(
    client: httpx.AsyncClient,
    app: FastAPI,
    database: Database,
    query: str,
    variables: dict[str, object] | None,
) -> None:
    tenant = await make_tenant(database)
    headers = {**bearer(app.state.issuer, tenant.admin), **ACCEPT_GRAPHQL_RESPONSE}
    response = await post(client, query, variables, headers=headers)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE_JSON)
    body = response.json()
    assert "data" not in body
    assert error_codes(body) == ["BAD_USER_INPUT"] * len(body["errors"])

    legacy = await post(client, query, variables, headers=bearer(app.state.issuer, tenant.admin))
    assert legacy.status_code == 200
    assert legacy.headers["content-type"].startswith("application/json")
    assert "BAD_USER_INPUT" in error_codes(legacy.json())


@pytest.mark.asyncio
async def test_a_good_request_is_200_under_graphql_response_json(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    headers = {**bearer(app.state.issuer, tenant.admin), **ACCEPT_GRAPHQL_RESPONSE}
    response = await post(client, "{ me { roles } }", headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE_JSON)
    assert response.json() == {"data": {"me": {"roles": ["ADMIN"]}}}


@pytest.mark.asyncio
async def test_a_field_error_keeps_200_and_data_under_graphql_response_json(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    """Execution errors are not request errors: execution began, so 200 with `data`."""
    tenant = await make_tenant(database)
    headers = {**bearer(app.state.issuer, tenant.admin), **ACCEPT_GRAPHQL_RESPONSE}
    response = await post(
        client, "{ me { roles } users(first: -1) { totalCount } }", headers=headers
    )
    assert response.status_code == 200
    body = response.json()
    assert "data" in body
    assert body["data"] is None  # `users` is non-null, so its error nulls the result
    assert error_codes(body) == ["BAD_USER_INPUT"]


@pytest.mark.asyncio
async def test_without_a_token_protected_fields_are_unauthenticated(
    client: httpx.AsyncClient,
) -> None:
    body = await gql(client, "{ me { roles } }")
    assert body["data"] is None
    assert error_codes(body) == ["UNAUTHENTICATED"]


@pytest.mark.asyncio
async def test_a_forged_token_is_a_401(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    key = ECKey.generate_key("P-256", private=True)
    key.ensure_kid()
    forger = TokenIssuer(
        keys=KeyRing(signing=key, algorithm="ES256"),
        issuer=app.state.issuer.issuer,
        ttl_seconds=900,
    )
    token = forger.issue(principal_of(tenant.admin))
    response = await post(client, "{ me { roles } }", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert error_codes(response.json()) == ["UNAUTHENTICATED"]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "authorization", ["Bearer not-a-jwt", "Basic dXNlcjpwYXNz", "Bearer " + "a" * 9000]
)
async def test_garbage_credentials_are_a_401(client: httpx.AsyncClient, authorization: str) -> None:
    response = await post(client, "{ me { roles } }", headers={"Authorization": authorization})
    assert response.status_code == 401
    assert error_codes(response.json()) == ["UNAUTHENTICATED"]


@pytest.mark.asyncio
async def test_an_expired_token_is_a_401(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    token = app.state.issuer.issue(principal_of(tenant.admin), now=time.time() - 3600)
    response = await post(client, "{ me { roles } }", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert error_codes(response.json()) == ["UNAUTHENTICATED"]


@pytest.mark.asyncio
async def test_an_unexpected_error_is_masked_and_logged(
    client: httpx.AsyncClient,
    app: FastAPI,
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("connection string postgres://secret@db")

    monkeypatch.setattr(service, "readable_users", broken)
    tenant = await make_tenant(database)
    with caplog.at_level(logging.ERROR, logger="prm.graphql"):
        response = await post(
            client,
            "{ me { roles } users { totalCount } }",
            headers={**bearer(app.state.issuer, tenant.admin), "X-Request-ID": "req-masked-1"},
        )
    assert response.status_code == 200
    assert "secret" not in response.text
    assert "Traceback" not in response.text
    body = response.json()
    assert body["data"] is None  # `users` is non-null: the error nulls the whole result
    [error] = body["errors"]
    assert error["message"] == "Internal server error."
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR", "requestId": "req-masked-1"}
    assert error["path"] == ["users"]
    [record] = [r for r in caplog.records if r.name == "prm.graphql"]
    assert "req-masked-1" in record.getMessage()
    assert record.exc_info is not None
    assert "postgres://secret@db" in str(record.exc_info[1])


@pytest.mark.asyncio
async def test_graphiql_is_served_to_browsers(client: httpx.AsyncClient) -> None:
    response = await client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()
