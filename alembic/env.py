"""Alembic environment: runs as the database owner, online only.

The URL comes from `config.attributes["url"]` (set by `prm.db.migrate`) or, when run by
the `alembic` command, from the `PRM_DATABASE_URL` / embedded server resolution.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from prm.db.models import Base
from prm.db.urls import owner_url, sync_url
from prm.settings import get_settings

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    url = config.attributes.get("url") or owner_url(get_settings())
    connectable = config.attributes.get("connection")
    if connectable is not None:
        _run(connectable)
        return
    engine = create_engine(sync_url(url), poolclass=pool.NullPool)
    with engine.connect() as connection:
        _run(connection)
    engine.dispose()


def _run(connection: object) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, compare_type=True)
    with context.begin_transaction():
        # One migration at a time, even when several processes start together.
        context.execute("SELECT pg_advisory_xact_lock(7301120001)")
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("prm migrations run online only (they create roles and policies)")
run_migrations_online()
