"""Engines and session factories, one `Database` per process.

The API uses async sessions (asyncpg); workers and tools use sync sessions (psycopg 3).
Both connect as the app role and both scope every transaction to the session's tenant
(`prm.db.tenancy`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from typing import Any
from uuid import UUID

from psycopg.types.datetime import DateLoader
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session, sessionmaker

import prm.db.models  # noqa: F401 - every table, so foreign keys across domains resolve
from prm.db.tenancy import TenantSession
from prm.db.urls import app_url, async_url, owner_url, sync_url
from prm.settings import Settings


class _InfiniteDateLoader(DateLoader):
    """'infinity' / '-infinity' dates as `date.max` / `date.min`, as asyncpg reads them
    (psycopg refuses them by default): sort keys such as `close_date_key` use them."""

    def load(self, data: Any) -> date:
        if bytes(data) == b"infinity":
            return date.max
        if bytes(data) == b"-infinity":
            return date.min
        return super().load(data)


def _load_infinite_dates(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.adapters.register_loader("date", _InfiniteDateLoader)


@dataclass
class Database:
    owner_url: str
    app_url: str
    pool_size: int = 10
    max_overflow: int = 10
    statement_timeout_ms: int = 15_000
    _engines: list[Any] = field(default_factory=list, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        owner = owner_url(settings)
        return cls(
            owner_url=owner,
            app_url=app_url(settings, owner),
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            statement_timeout_ms=settings.db_statement_timeout_ms,
        )

    @cached_property
    def async_engine(self) -> AsyncEngine:
        engine = create_async_engine(
            async_url(self.app_url),
            pool_size=self.pool_size,
            max_overflow=self.max_overflow,
            pool_pre_ping=True,
            pool_recycle=1800,
            connect_args={
                "server_settings": {
                    "statement_timeout": str(self.statement_timeout_ms),
                    "application_name": "prm-api",
                },
                "timeout": 10,
            },
        )
        self._engines.append(engine)
        return engine

    @cached_property
    def sync_engine(self) -> Engine:
        engine = create_engine(
            sync_url(self.app_url),
            pool_size=self.pool_size,
            max_overflow=self.max_overflow,
            pool_pre_ping=True,
            pool_recycle=1800,
            connect_args={
                "options": f"-c statement_timeout={self.statement_timeout_ms}",
                "application_name": "prm-worker",
                "connect_timeout": 10,
            },
        )
        event.listen(engine, "connect", _load_infinite_dates)
        self._engines.append(engine)
        return engine

    @cached_property
    def owner_engine(self) -> Engine:
        """For migrations and platform operations (creating tenants); never for requests."""
        engine = create_engine(sync_url(self.owner_url), pool_pre_ping=True, pool_size=2)
        event.listen(engine, "connect", _load_infinite_dates)
        self._engines.append(engine)
        return engine

    @cached_property
    def async_sessions(self) -> async_sessionmaker[AsyncSession]:
        return async_sessionmaker(
            self.async_engine, expire_on_commit=False, sync_session_class=TenantSession
        )

    @cached_property
    def sync_sessions(self) -> sessionmaker[Session]:
        return sessionmaker(self.sync_engine, expire_on_commit=False, class_=TenantSession)

    @asynccontextmanager
    async def session(self, tenant_id: UUID | None = None) -> AsyncIterator[AsyncSession]:
        """One unit of work: commits on success, rolls back on any error."""
        async with self.async_sessions() as session:
            session.sync_session.info["tenant_id"] = tenant_id
            async with session.begin():
                yield session

    @contextmanager
    def sync_session(self, tenant_id: UUID | None = None) -> Iterator[Session]:
        """One unit of work on the sync engine: commits on success, rolls back on error."""
        with self.sync_sessions() as session:
            session.info["tenant_id"] = tenant_id
            with session.begin():
                yield session

    async def dispose(self) -> None:
        for engine in self._engines:
            if isinstance(engine, AsyncEngine):
                await engine.dispose()
            else:
                engine.dispose()
        self._engines.clear()
        for name in (
            "async_engine",
            "sync_engine",
            "owner_engine",
            "async_sessions",
            "sync_sessions",
        ):
            self.__dict__.pop(name, None)
