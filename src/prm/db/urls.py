"""Which PostgreSQL to use, and as whom.

Two identities: the *owner* (runs migrations, owns every table) and the *app role*
(what the API and workers connect as: owns nothing, cannot bypass row-level security).
"""

from __future__ import annotations

from sqlalchemy.engine import URL, make_url

from prm.settings import Settings

_ASYNC_DRIVER = "postgresql+asyncpg"
_SYNC_DRIVER = "postgresql+psycopg"


def owner_url(settings: Settings) -> str:
    """`PRM_DATABASE_URL`, or the embedded server's (started on first call)."""
    if settings.database_url:
        return settings.database_url
    from prm.db.embedded import start_embedded

    return start_embedded(settings.data_dir)


def app_url(settings: Settings, owner: str) -> str:
    """`PRM_APP_DATABASE_URL`, else the owner's server and database as the app role."""
    if settings.app_database_url:
        return settings.app_database_url
    password = settings.app_db_password.get_secret_value() if settings.app_db_password else None
    url = make_url(owner).set(username=settings.app_db_role, password=password)
    return url.render_as_string(hide_password=False)


def with_driver(url: str, driver: str) -> URL:
    return make_url(url).set(drivername=driver)


def async_url(url: str) -> URL:
    return with_driver(url, _ASYNC_DRIVER)


def sync_url(url: str) -> URL:
    return with_driver(url, _SYNC_DRIVER)


def libpq_dsn(url: str) -> str:
    """A plain `postgresql://` DSN for psycopg and libpq tools (no SQLAlchemy driver)."""
    return with_driver(url, "postgresql").render_as_string(hide_password=False)
