"""The Dramatiq broker, chosen by `PRM_BROKER_URL`.

Unset: `dramatiq-postgres` in the application's own database, connected as the app role
(its `dramatiq` schema is created by the migrations, so nothing is initialised here): one
service to run. `redis://` / `rediss://`: Redis. `amqp://` / `amqps://`: RabbitMQ.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import dramatiq
from dramatiq.broker import Broker

from prm.db.engine import Database
from prm.db.urls import libpq_dsn
from prm.settings import Settings
from prm.workers.actors import declare_actors


def broker_kind(settings: Settings) -> str:
    """`postgres`, `redis` or `rabbitmq`; anything else is a configuration error."""
    if not settings.broker_url:
        return "postgres"
    scheme = urlsplit(settings.broker_url).scheme.lower()
    if scheme in ("redis", "rediss", "unix"):
        return "redis"
    if scheme in ("amqp", "amqps"):
        return "rabbitmq"
    raise ValueError(f"PRM_BROKER_URL: unsupported scheme {scheme!r} (use redis:// or amqp://)")


def build_broker(settings: Settings, database: Database, **options: Any) -> Broker:
    """A new broker for `settings` (extra `options` go to the broker's constructor)."""
    kind = broker_kind(settings)
    if kind == "postgres":
        from dramatiq_postgres import PostgresBroker

        # Job outcomes live in the `jobs` table, so Dramatiq's result backend is off.
        return PostgresBroker(
            url=libpq_dsn(database.app_url),
            results=False,
            **options,
        )
    assert settings.broker_url is not None
    if kind == "redis":
        from dramatiq.brokers.redis import RedisBroker

        return RedisBroker(url=settings.broker_url, **options)
    from dramatiq.brokers.rabbitmq import RabbitmqBroker

    return RabbitmqBroker(url=settings.broker_url, **options)


def configure_broker(settings: Settings, database: Database, **options: Any) -> Broker:
    """Build the broker, declare every job kind's actor on it, and make it the global
    broker (what `relay_outbox` sends through by default)."""
    broker = build_broker(settings, database, **options)
    declare_actors(broker, database)
    dramatiq.set_broker(broker)
    return broker
