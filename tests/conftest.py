"""Database fixtures: one fresh database per test run, built by `alembic upgrade head`.

The server is `PRM_TEST_DATABASE_URL` when set (any database on it; the suite creates its
own `prm_test_<random>` beside it and drops it afterwards), else the embedded PostgreSQL,
so the suite passes on a machine with no services.

Isolation between tests comes from tenancy itself: every test builds its own tenant(s)
through factories, and RLS plus app scoping keep tenants apart. That lets requests commit
for real (the token endpoint, workers and concurrent claims use their own connections,
which an outer rolled-back transaction could not serve).
"""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy.engine import make_url

from prm.app import create_app
from prm.db.engine import Database
from prm.db.migrate import upgrade
from prm.db.urls import app_url, libpq_dsn
from prm.settings import Settings


def _server_url() -> str:
    url = os.environ.get("PRM_TEST_DATABASE_URL")
    if url:
        return url
    from prm.db.embedded import start_embedded

    data_dir = Path(os.environ.get("PRM_TEST_DATA_DIR", Path(tempfile.gettempdir()) / "prm-test"))
    return start_embedded(data_dir, database="postgres")


@pytest.fixture(scope="session")
def owner_url() -> Iterator[str]:
    server = _server_url()
    name = f"prm_test_{secrets.token_hex(4)}"
    admin_dsn = libpq_dsn(server)
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url, Settings(database_url=url))
        yield url
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def settings(owner_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        database_url=owner_url,
        data_dir=tmp_path_factory.mktemp("prm-data"),
        log_json=False,
        outbox_poll_seconds=0.1,
        # Every in-process test comes from one address; rate limits have their own tests.
        rate_limit_per_token=0,
        rate_limit_per_address=0,
    )


@pytest.fixture(scope="session")
def app_db_url(settings: Settings, owner_url: str) -> str:
    """The least-privilege role's URL: what the API and workers connect as."""
    return app_url(settings, owner_url)


@pytest_asyncio.fixture(scope="session")
async def database(settings: Settings) -> AsyncIterator[Database]:
    db = Database.from_settings(settings)
    yield db
    await db.dispose()


@pytest.fixture(scope="session")
def app(settings: Settings, database: Database) -> FastAPI:
    return create_app(settings, database=database)


@pytest_asyncio.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http
