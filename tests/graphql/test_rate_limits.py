"""Rate limits per bearer token and per client address: over either, `/graphql` answers 429
`RATE_LIMITED` with `Retry-After`, and so does `POST /oauth/token` (per address). Apps
here have tiny limits; each test speaks from its own made-up address, so counters (kept
per process, shared by every app in it) never cross tests."""

from __future__ import annotations

import secrets
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from prm.app import create_app
from prm.auth.principal import Role
from prm.db.engine import Database
from prm.settings import Settings
from tests.factories import bearer, make_tenant, make_user
from tests.graphql.support import error_codes

PER_TOKEN = 3
PER_ADDRESS = 5
LIMITS = {"rate_limit_per_token": PER_TOKEN, "rate_limit_per_address": PER_ADDRESS}
QUERY = {"query": "{ me { roles } }"}

ClientAt = Callable[[str], AbstractAsyncContextManager[httpx.AsyncClient]]


def new_address() -> str:
    return f"10.{secrets.randbelow(256)}.{secrets.randbelow(256)}.{secrets.randbelow(254) + 1}"


def clients_of(app: FastAPI) -> ClientAt:
    @asynccontextmanager
    async def client_at(address: str) -> AsyncIterator[httpx.AsyncClient]:
        transport = httpx.ASGITransport(app=app, client=(address, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http

    return client_at


@pytest.fixture(scope="module")
def limited_app(settings: Settings, database: Database) -> FastAPI:
    return create_app(settings.model_copy(update=LIMITS), database=database)


@pytest.fixture
def client_at(limited_app: FastAPI) -> ClientAt:
    return clients_of(limited_app)


@pytest_asyncio.fixture
async def tokens(limited_app: FastAPI, database: Database) -> list[dict[str, str]]:
    """Bearer headers of two users of one tenant."""
    tenant = await make_tenant(database)
    other = await make_user(database, tenant.id, roles=(Role.MANAGER,))
    return [bearer(limited_app.state.issuer, user) for user in (tenant.admin, other)]


def assert_rate_limited(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert error_codes(response.json()) == ["RATE_LIMITED"]
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= 60


async def send(http: httpx.AsyncClient, headers: dict[str, str], count: int) -> list[int]:
    return [
        (await http.post("/graphql", json=QUERY, headers=headers)).status_code for _ in range(count)
    ]


@pytest.mark.asyncio
async def test_a_token_over_its_limit_is_rate_limited(
    client_at: ClientAt, tokens: list[dict[str, str]]
) -> None:
    first, second = tokens
    async with client_at(new_address()) as http:
        assert await send(http, first, PER_TOKEN) == [200] * PER_TOKEN
        assert_rate_limited(await http.post("/graphql", json=QUERY, headers=first))
        # Another token from the same address still has its own allowance.
        assert await send(http, second, 1) == [200]


@pytest.mark.asyncio
async def test_the_token_limit_follows_the_token_across_addresses(
    client_at: ClientAt, tokens: list[dict[str, str]]
) -> None:
    first, _ = tokens
    for _ in range(PER_TOKEN):
        async with client_at(new_address()) as http:
            assert await send(http, first, 1) == [200]
    async with client_at(new_address()) as http:
        assert_rate_limited(await http.post("/graphql", json=QUERY, headers=first))


@pytest.mark.asyncio
async def test_an_address_over_its_limit_is_rate_limited_whatever_the_token(
    client_at: ClientAt, tokens: list[dict[str, str]]
) -> None:
    """Anonymous and made-up tokens count against the address too (before the token is
    checked: a flood of guesses gets 429, not 401s)."""
    address = new_address()
    async with client_at(address) as http:
        assert await send(http, {}, 2) == [200, 200]
        assert await send(http, {"Authorization": "Bearer nonsense"}, 2) == [401, 401]
        assert await send(http, tokens[0], 1) == [200]
        assert_rate_limited(await http.post("/graphql", json=QUERY, headers=tokens[1]))
        assert_rate_limited(await http.post("/graphql", json=QUERY))
    async with client_at(new_address()) as http:
        assert await send(http, tokens[1], 1) == [200]


@pytest.mark.asyncio
async def test_refusals_speak_graphql_response_json_when_asked(
    client_at: ClientAt, tokens: list[dict[str, str]]
) -> None:
    headers = {**tokens[0], "Accept": "application/graphql-response+json"}
    async with client_at(new_address()) as http:
        await send(http, headers, PER_TOKEN)
        response = await http.post("/graphql", json=QUERY, headers=headers)
    assert_rate_limited(response)
    assert response.headers["content-type"].startswith("application/graphql-response+json")


@pytest.mark.asyncio
async def test_zero_disables_the_limits(
    settings: Settings, database: Database, tokens: list[dict[str, str]]
) -> None:
    app = create_app(
        settings.model_copy(update={"rate_limit_per_token": 0, "rate_limit_per_address": 0}),
        database=database,
    )
    async with clients_of(app)(new_address()) as http:
        assert await send(http, tokens[0], PER_ADDRESS + 2) == [200] * (PER_ADDRESS + 2)


async def token_request(http: httpx.AsyncClient) -> httpx.Response:
    """A failing sign-in, for a new account each time (so the per-account login throttle
    stays out of the way)."""
    username = f"nobody-{secrets.token_hex(4)}@example.com"
    form = {"grant_type": "password", "username": username, "password": "x"}
    return await http.post("/oauth/token", data={**form, "tenant": "no-such-tenant"})


@pytest.mark.asyncio
async def test_the_token_endpoint_limits_each_address(client_at: ClientAt) -> None:
    address = new_address()
    async with client_at(address) as http:
        for _ in range(PER_ADDRESS):  # the login throttle allows 5 failures per address
            assert (await token_request(http)).status_code == 400
        response = await token_request(http)
    assert response.status_code == 429
    assert response.json()["error"] == "temporarily_unavailable"
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    async with client_at(new_address()) as http:
        assert (await token_request(http)).status_code == 400


def redis_url() -> str | None:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return "redis://127.0.0.1:6379/0"
    except OSError:
        return None


@pytest.mark.asyncio
async def test_redis_storage_shares_counters_between_processes(
    settings: Settings, database: Database, tokens: list[dict[str, str]]
) -> None:
    """Two apps (as two processes would) on one Redis: their counts add up."""
    url = redis_url()
    if url is None:
        pytest.skip("no Redis on 127.0.0.1:6379")
    update: dict[str, Any] = {**LIMITS, "rate_limit_storage_url": url}
    apps = [create_app(settings.model_copy(update=update), database=database) for _ in range(2)]
    token = tokens[0]
    for index in range(PER_TOKEN):
        async with clients_of(apps[index % 2])(new_address()) as http:
            assert await send(http, token, 1) == [200]
    async with clients_of(apps[1])(new_address()) as http:
        assert_rate_limited(await http.post("/graphql", json=QUERY, headers=token))


@pytest.mark.asyncio
async def test_an_unreachable_store_does_not_fail_requests(
    settings: Settings, database: Database, tokens: list[dict[str, str]]
) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    update: dict[str, Any] = {**LIMITS, "rate_limit_storage_url": f"redis://127.0.0.1:{port}/0"}
    app = create_app(settings.model_copy(update=update), database=database)
    async with clients_of(app)(new_address()) as http:
        assert await send(http, tokens[0], PER_TOKEN + 1) == [200] * (PER_TOKEN + 1)
