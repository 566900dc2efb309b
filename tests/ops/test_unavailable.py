"""With the database out of reach, the API answers 503 with `Retry-After` in the shape of
the endpoint's errors (OAuth's `temporarily_unavailable`, GraphQL's `SERVICE_UNAVAILABLE`),
never a bare 500."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest

from prm.app import create_app
from prm.auth.principal import Principal, Role
from prm.settings import Settings

NOWHERE = "postgresql://postgres@127.0.0.1:1/prm"
"""Port 1: nothing listens, so every connection attempt is refused at once."""


@pytest.mark.asyncio
async def test_oauth_and_graphql_answer_503_when_the_database_is_unreachable(
    tmp_path: Path,
) -> None:
    app = create_app(Settings(database_url=NOWHERE, data_dir=tmp_path, log_json=False))
    user = Principal(
        tenant_id=uuid.uuid4(),
        kind="user",
        subject_id=uuid.uuid4(),
        roles=frozenset({Role.ADMIN}),
    )
    token = app.state.issuer.issue(user)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        oauth = await client.post(
            "/oauth/token",
            data={
                "grant_type": "password",
                "username": "a@example.com",
                "password": "x",
                "tenant": "acme",
            },
        )
        graphql = await client.post(
            "/graphql",
            json={"query": "{ me { id } }"},
            headers={"Authorization": f"Bearer {token}"},
        )

    assert (oauth.status_code, oauth.headers["retry-after"]) == (503, "2")
    assert oauth.json()["error"] == "temporarily_unavailable"
    assert (graphql.status_code, graphql.headers["retry-after"]) == (503, "2")
    assert graphql.json()["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
