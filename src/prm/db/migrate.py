"""Alembic, driven from code: `prm migrate`, start-up of `prm serve`, tests, `/readyz`."""

from __future__ import annotations

import os
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

from prm.settings import Settings, get_settings


def _alembic_dir() -> Path:
    """`alembic/` at the repository root (a checkout), else the copy inside the wheel."""
    package = Path(__file__).resolve().parents[1]
    for candidate in (package.parents[1] / "alembic", package / "_alembic"):
        if (candidate / "env.py").exists():
            return candidate
    raise RuntimeError("prm's alembic migrations were not found")


def alembic_config(owner_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_alembic_dir()))
    config.attributes["url"] = owner_url
    return config


def upgrade(owner_url: str, settings: Settings | None = None) -> None:
    """Bring the database to head, as the owner. Idempotent and safe to run concurrently."""
    settings = settings or get_settings()
    # Migrations read the app role's name and password from the environment.
    os.environ.setdefault("PRM_APP_DB_ROLE", settings.app_db_role)
    if settings.app_db_password:
        os.environ.setdefault("PRM_APP_DB_PASSWORD", settings.app_db_password.get_secret_value())
    command.upgrade(alembic_config(owner_url), "head")


def head_revisions() -> set[str]:
    script = ScriptDirectory.from_config(alembic_config(""))
    return set(script.get_heads())


def is_at_head(connection: Connection) -> bool:
    current = set(MigrationContext.configure(connection).get_current_heads())
    return current == head_revisions()
