"""Health, readiness, metrics and request ids, over HTTP."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from prm.app import create_app
from prm.db.engine import Database
from prm.settings import Settings


@pytest.mark.asyncio
async def test_healthz_answers_while_the_process_is_up(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.asyncio
async def test_readyz_reports_the_database_reachable_and_migrations_current(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "migrations": "current"}


@pytest.mark.asyncio
async def test_readyz_is_503_when_migrations_are_pending(
    settings: Settings, database: Database
) -> None:
    app = create_app(settings, database=database)
    app.state.schema_heads = {"a-revision-not-applied"}
    async with _client(app) as http:
        response = await http.get("/readyz")
    assert response.status_code == 503
    assert response.json()["migrations"] == "pending"


@pytest.mark.asyncio
async def test_readyz_is_503_not_500_when_the_database_is_unreachable(settings: Settings) -> None:
    unreachable = Database(
        owner_url="postgresql://nobody@127.0.0.1:1/none",
        app_url="postgresql://nobody@127.0.0.1:1/none",
    )
    app = create_app(settings, database=unreachable)
    async with _client(app) as http:
        response = await http.get("/readyz")
    assert response.status_code == 503
    assert response.json()["database"] == "unreachable"
    await unreachable.dispose()


@pytest.mark.asyncio
async def test_metrics_expose_request_counts_by_route(client: httpx.AsyncClient) -> None:
    await client.get("/healthz")
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert 'prm_http_requests_total{method="GET",route="/healthz",status="200"}' in response.text
    assert "prm_http_request_duration_seconds_bucket" in response.text


@pytest.mark.asyncio
async def test_unknown_paths_share_one_metrics_label(client: httpx.AsyncClient) -> None:
    await client.get("/no/such/path/12345")
    body = (await client.get("/metrics")).text
    assert "/no/such/path" not in body
    assert 'route="other",status="404"' in body


@pytest.mark.asyncio
async def test_every_response_carries_a_request_id(client: httpx.AsyncClient) -> None:
    generated = await client.get("/healthz")
    assert len(generated.headers["x-request-id"]) == 32
    echoed = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert echoed.headers["x-request-id"] == "abc-123"
    hostile = await client.get("/healthz", headers={"X-Request-ID": "a b;drop=1"})
    assert hostile.headers["x-request-id"] != "a b;drop=1"


def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


def test_operation_labels_are_bounded_against_hostile_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from prm.ops import metrics

    monkeypatch.setattr(metrics, "_seen_operations", set())
    monkeypatch.setattr(metrics, "MAX_OPERATION_NAMES", 3)
    assert metrics.operation_label(None) == "anonymous"
    assert metrics.operation_label("drop table; --") == "other"
    assert [metrics.operation_label(f"Op{n}") for n in range(5)] == [
        "Op0",
        "Op1",
        "Op2",
        "other",
        "other",
    ]
    assert metrics.operation_label("Op1") == "Op1"


@pytest.mark.asyncio
async def test_graphql_operations_are_counted_by_name_and_outcome(
    client: httpx.AsyncClient,
) -> None:
    await client.post("/graphql", json={"query": "query HealthProbe { __typename }"})
    body = (await client.get("/metrics")).text
    assert 'prm_graphql_operations_total{operation="HealthProbe",outcome="ok",type="query"}' in body


@pytest.mark.asyncio
async def test_a_client_leaving_mid_request_is_not_a_server_error(app: FastAPI) -> None:
    """The body never arrives: the app must end quietly, not raise out of the ASGI call."""
    messages = iter([{"type": "http.disconnect"}])
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return next(messages, {"type": "http.disconnect"})

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "query_string": b"",
        "root_path": "",
        "scheme": "http",
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 1234),
        "headers": [(b"content-type", b"application/json"), (b"content-length", b"100")],
    }
    await app(scope, receive, send)  # raises ClientDisconnect without the guard
    assert not any(m.get("status") == 500 for m in sent)
