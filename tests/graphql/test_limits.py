"""Query depth, aliases and tokens are bounded (`QUERY_TOO_COMPLEX`); introspection and
GraphiQL can be switched off. Runs against an app with `STRICT` limits."""

from __future__ import annotations

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from prm.db.engine import Database
from tests.factories import bearer, make_tenant
from tests.graphql.support import GRAPHQL_RESPONSE_JSON, error_codes, gql, post


@pytest_asyncio.fixture
async def admin_headers(app: FastAPI, database: Database) -> dict[str, str]:
    tenant = await make_tenant(database)
    return bearer(app.state.issuer, tenant.admin)


@pytest.mark.asyncio
async def test_queries_within_the_limits_run(
    strict_client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    body = await gql(
        strict_client, "{ a: me { roles } b: me { user { email } } }", headers=admin_headers
    )
    assert "errors" not in body


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "query",
    [
        pytest.param("{ me { user { partner { tier { name } } } } }", id="too deep"),
        pytest.param("{ a: me { roles } b: me { roles } c: me { roles } }", id="too many aliases"),
        pytest.param(
            "fragment F on Query { a: me { roles } b: me { roles } } { ...F ...F }",
            id="aliases multiplied by fragments",
        ),
        pytest.param("{ me { " + "roles " * 250 + "} }", id="too many tokens"),
    ],
)
async def test_oversized_queries_are_too_complex(
    strict_client: httpx.AsyncClient, admin_headers: dict[str, str], query: str
) -> None:
    body = await gql(strict_client, query, headers=admin_headers)
    assert "data" not in body
    assert "QUERY_TOO_COMPLEX" in error_codes(body)

    strict = await post(
        strict_client, query, headers={**admin_headers, "Accept": GRAPHQL_RESPONSE_JSON}
    )
    assert strict.status_code == 400


@pytest.mark.asyncio
async def test_limits_do_not_leak_between_requests(
    strict_client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    """Extensions are built per request: a refused query leaves the next one unaffected."""
    await gql(
        strict_client, "{ a: me { roles } b: me { roles } c: me { roles } }", headers=admin_headers
    )
    body = await gql(strict_client, "{ me { roles } }", headers=admin_headers)
    assert body == {"data": {"me": {"roles": ["ADMIN"]}}}


@pytest.mark.asyncio
async def test_introspection_can_be_disabled(
    strict_client: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    query = "{ __schema { queryType { name } } }"
    assert (await gql(client, query))["data"]["__schema"]["queryType"]["name"] == "Query"
    refused = await gql(strict_client, query)
    assert "data" not in refused
    assert set(error_codes(refused)) == {"BAD_USER_INPUT"}


@pytest.mark.asyncio
async def test_graphiql_can_be_disabled(strict_client: httpx.AsyncClient) -> None:
    response = await strict_client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 404
