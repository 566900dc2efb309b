"""Query depth, aliases, tokens and cost are bounded (`QUERY_TOO_COMPLEX`), as are
fragment bombs, fragment cycles and batches; introspection and GraphiQL can be switched
off. Runs against apps with `STRICT` or `COST_LIMITS` limits."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from graphql import parse
from prm.app import create_app
from prm.db.engine import Database
from prm.graphql.extensions import Cost, operation_cost
from prm.graphql.schema import build_schema
from prm.settings import Settings
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


# Query cost, fragment bombs and cycles, deep nesting, batches ------------------------------

COST_LIMITS = {"default_page_size": 2, "max_page_size": 5, "max_query_cost": 30}
"""Tiny pages and budget: the nested query below costs exactly 30 at `first: 5`."""

NESTED = (
    "query Q($outer: Int, $inner: Int) { partners(first: $outer) { edges { node { "
    "leads(first: $inner) { edges { node { id } } } } } } }"
)


def nested_cost(outer: int, inner: int) -> int:
    """The node count written out for `NESTED`: `outer` partners, and `inner` leads for
    each of them."""
    return outer + outer * inner


@pytest_asyncio.fixture(scope="module")
async def cost_client(settings: Settings, database: Database) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings.model_copy(update=COST_LIMITS), database=database)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


def cost_of(query: str, variables: dict[str, Any] | None = None) -> int:
    return cost(query, variables).nodes


def cost(query: str, variables: dict[str, Any] | None = None) -> Cost:
    settings = Settings(**COST_LIMITS)  # type: ignore[arg-type]
    return operation_cost(
        build_schema(settings)._schema,
        parse(query),
        None,
        variables or {},
        default_page=settings.default_page_size,
        max_page=settings.max_page_size,
    )


def test_nested_pages_multiply() -> None:
    assert cost_of(NESTED, {"outer": 5, "inner": 5}) == nested_cost(5, 5) == 30
    assert cost_of(NESTED, {"outer": 3, "inner": 4}) == nested_cost(3, 4)
    # No `first`: the default page; a huge `first`: the cap, as the resolvers apply it.
    assert cost_of(NESTED) == nested_cost(2, 2)
    assert cost_of(NESTED, {"outer": 10**9, "inner": 10**9}) == nested_cost(5, 5)
    literal = NESTED.replace("first: $outer", "first: 4").replace("first: $inner", "first: 1")
    assert cost_of(literal) == nested_cost(4, 1)


def test_fragments_count_where_they_are_spread() -> None:
    query = (
        "fragment L on Partner { leads(first: 3) { edges { node { id } } } } "
        "{ partners(first: 2) { edges { node { ...L } } } }"
    )
    assert cost_of(query) == 2 + 2 * 3
    # Fields: partners edges node leads edges node id.
    assert cost(query).fields == 7


def test_fragment_bombs_are_measured_without_expanding_them() -> None:
    assert cost(fragment_bomb(60)).fields == 2**60  # spreads are not fields; leaves are


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("outer", "inner"),
    [
        pytest.param(5, 5, id="at the budget"),
        pytest.param(2, 2, id="small pages"),
        pytest.param(10**6, 10**6, id="huge firsts are capped"),
    ],
)
async def test_cost_at_or_under_the_budget_runs(
    cost_client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    outer: int,
    inner: int,
) -> None:
    body = await gql(cost_client, NESTED, {"outer": outer, "inner": inner}, headers=admin_headers)
    assert "errors" not in body, body
    assert body["data"]["partners"]["edges"] == []


@pytest_asyncio.fixture(scope="module")
async def tight_cost_client(
    settings: Settings, database: Database
) -> AsyncIterator[httpx.AsyncClient]:
    update = {**COST_LIMITS, "max_query_cost": nested_cost(5, 5) - 1}
    app = create_app(settings.model_copy(update=update), database=database)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@pytest.mark.asyncio
async def test_cost_over_the_budget_is_too_complex(
    tight_cost_client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    variables = {"outer": 5, "inner": 5}
    body = await gql(tight_cost_client, NESTED, variables, headers=admin_headers)
    assert "data" not in body
    assert error_codes(body) == ["QUERY_TOO_COMPLEX"]
    strict = await post(
        tight_cost_client,
        NESTED,
        variables,
        headers={**admin_headers, "Accept": GRAPHQL_RESPONSE_JSON},
    )
    assert strict.status_code == 400
    # One page smaller fits.
    smaller = await gql(tight_cost_client, NESTED, {"outer": 4, "inner": 5}, headers=admin_headers)
    assert "errors" not in smaller


def fragment_bomb(levels: int) -> str:
    """Each fragment spreads the next twice: 2**levels leaves once expanded."""
    chain = " ".join(f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(levels))
    return f"{chain} fragment F{levels} on Query {{ __typename }} {{ ...F0 }}"


@pytest.mark.asyncio
@pytest.mark.timeout(30)
async def test_fragment_bombs_are_refused_at_once(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    """Under the default limits: 60 levels fit the token limit, and expanding them (what
    Strawberry's depth and alias limiters do) would never finish."""
    started = time.monotonic()
    body = await gql(client, fragment_bomb(60), headers=admin_headers)
    assert time.monotonic() - started < 5
    assert "data" not in body
    assert error_codes(body) == ["QUERY_TOO_COMPLEX"]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "query",
    [
        pytest.param(
            "fragment A on Query { ...B } fragment B on Query { ...A } { ...A }", id="two"
        ),
        pytest.param(
            "fragment P on Partner { leads { edges { node { partner { ...P } } } } } "
            "{ partners { edges { node { ...P } } } }",
            id="through fields",
        ),
    ],
)
async def test_circular_fragments_are_too_complex(
    client: httpx.AsyncClient, admin_headers: dict[str, str], query: str
) -> None:
    body = await gql(client, query, headers=admin_headers)
    assert "data" not in body
    assert set(error_codes(body)) == {"QUERY_TOO_COMPLEX"}
    assert any("within itself" in error["message"] for error in body["errors"])


@pytest.mark.asyncio
async def test_nesting_past_the_parser_is_too_complex(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    query = "{ me " + "{ user " * 1200 + "{ id }" + " }" * 1201
    body = await gql(client, query, headers=admin_headers)
    assert "data" not in body
    assert error_codes(body) == ["QUERY_TOO_COMPLEX"]


@pytest.mark.asyncio
@pytest.mark.parametrize("size", [1, 2, 50])
async def test_batches_are_refused(
    client: httpx.AsyncClient, admin_headers: dict[str, str], size: int
) -> None:
    batch = [{"query": "{ me { roles } }"}] * size
    response = await client.post("/graphql", json=batch, headers=admin_headers)
    assert response.status_code == 400
    assert error_codes(response.json()) == ["QUERY_TOO_COMPLEX"]


@pytest.mark.asyncio
@pytest.mark.parametrize("body", ['"query"', "42", "null", "true"])
async def test_a_body_that_is_not_an_object_is_bad_input(
    client: httpx.AsyncClient, admin_headers: dict[str, str], body: str
) -> None:
    response = await client.post(
        "/graphql",
        content=body,
        headers={**admin_headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert error_codes(response.json()) == ["BAD_USER_INPUT"]
