"""The platform operator's tenant API."""

from __future__ import annotations

import httpx
import pytest
from pydantic import SecretStr

from prm.app import create_app
from prm.db.engine import Database
from prm.settings import Settings
from tests.factories import DEFAULT_PASSWORD, unique

KEY = "platform-key-for-tests-0123456789"


@pytest.fixture
def platform_client(settings: Settings, database: Database) -> httpx.AsyncClient:
    configured = settings.model_copy(update={"platform_api_key": SecretStr(KEY)})
    app = create_app(configured, database=database)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


def body(slug: str) -> dict[str, str]:
    return {
        "slug": slug,
        "name": "Platform Co",
        "adminEmail": "root@platform.example",
        "adminPassword": DEFAULT_PASSWORD,
    }


@pytest.mark.asyncio
async def test_the_platform_creates_and_lists_tenants(platform_client: httpx.AsyncClient) -> None:
    slug = unique("plat")
    auth = {"Authorization": f"Bearer {KEY}"}
    created = await platform_client.post("/platform/tenants", json=body(slug), headers=auth)
    assert created.status_code == 201, created.text
    assert created.json()["slug"] == slug
    listed = await platform_client.get("/platform/tenants", headers=auth)
    assert slug in [tenant["slug"] for tenant in listed.json()]
    again = await platform_client.post("/platform/tenants", json=body(slug), headers=auth)
    assert again.status_code == 409
    assert again.json()["error"] == "DUPLICATE"


@pytest.mark.asyncio
async def test_bad_input_is_a_clear_4xx(platform_client: httpx.AsyncClient) -> None:
    auth = {"Authorization": f"Bearer {KEY}"}
    bad_slug = await platform_client.post("/platform/tenants", json=body("Bad Slug"), headers=auth)
    assert bad_slug.status_code == 400
    assert bad_slug.json()["field"] == "slug"
    missing = await platform_client.post("/platform/tenants", json={"slug": "x"}, headers=auth)
    assert missing.status_code == 422
    garbage = await platform_client.post(
        "/platform/tenants",
        content=b"{not json",
        headers={**auth, "Content-Type": "application/json"},
    )
    assert garbage.status_code == 422


@pytest.mark.asyncio
async def test_a_wrong_key_is_401_and_no_key_configured_is_404(
    platform_client: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    wrong = await platform_client.post(
        "/platform/tenants", json=body(unique("p")), headers={"Authorization": "Bearer nope"}
    )
    assert wrong.status_code == 401
    assert (await platform_client.get("/platform/tenants")).status_code == 401
    disabled = await client.get("/platform/tenants", headers={"Authorization": f"Bearer {KEY}"})
    assert disabled.status_code == 404
