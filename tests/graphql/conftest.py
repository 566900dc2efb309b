"""A second app with tight limits, so limit tests need neither huge queries nor 500 rows."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest_asyncio

from prm.app import create_app
from prm.db.engine import Database
from prm.settings import Settings

STRICT = {
    "max_query_depth": 3,
    "max_aliases": 2,
    "max_tokens": 200,
    "default_page_size": 2,
    "max_page_size": 5,
    "introspection": False,
    "graphiql": False,
}


@pytest_asyncio.fixture(scope="session")
async def strict_client(settings: Settings, database: Database) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings.model_copy(update=STRICT), database=database)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http
