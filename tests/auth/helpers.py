"""Token requests as the API documents them."""

from __future__ import annotations

import httpx

from tests.factories import DEFAULT_PASSWORD


async def sign_in(
    client: httpx.AsyncClient,
    *,
    tenant: str,
    email: str,
    password: str = DEFAULT_PASSWORD,
    **extra: str,
) -> httpx.Response:
    return await client.post(
        "/oauth/token",
        data={
            "grant_type": "password",
            "username": email,
            "password": password,
            "tenant": tenant,
            **extra,
        },
    )


async def refresh(client: httpx.AsyncClient, refresh_token: str, **extra: str) -> httpx.Response:
    return await client.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": refresh_token, **extra},
    )


async def client_credentials(
    client: httpx.AsyncClient, client_id: str, secret: str, *, basic: bool = True, **extra: str
) -> httpx.Response:
    data = {"grant_type": "client_credentials", **extra}
    if basic:
        return await client.post("/oauth/token", data=data, auth=(client_id, secret))
    data |= {"client_id": client_id, "client_secret": secret}
    return await client.post("/oauth/token", data=data)
