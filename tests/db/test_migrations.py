"""The schema is built by migrations and ends at head."""

from __future__ import annotations

from prm.db.engine import Database
from prm.db.migrate import is_at_head


def test_database_is_at_head_after_upgrade(database: Database) -> None:
    with database.sync_engine.connect() as conn:
        assert is_at_head(conn)
