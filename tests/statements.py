"""Counting the SQL statements a piece of work sends: how tests prove there is no N+1
(the count must not grow with the page or the number of lines)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event

from prm.db.engine import Database


@contextmanager
def counting_statements(database: Database) -> Iterator[list[str]]:
    """Collects every statement the API's (async) engine sends while the block runs."""
    statements: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    engine = database.async_engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)
