"""Fixtures of the auth tests.

`client` is overridden here so each test calls from its own client address: failed
password attempts are rate-limited per address, and tests sharing one address would lock
each other out. `sign_in` and friends keep the token requests readable.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import httpx
import pytest_asyncio
from fastapi import FastAPI


def random_address() -> str:
    return f"10.{secrets.randbelow(256)}.{secrets.randbelow(256)}.{secrets.randbelow(254) + 1}"


def client_at(app: FastAPI, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


@pytest_asyncio.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_at(app, random_address()) as http:
        yield http
