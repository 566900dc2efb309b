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

POSTGRES_BROKER_TIMINGS: dict[str, float] = {
    "heartbeat_interval": 5.0,
    "heartbeat_ttl": 15.0,
    "maintenance_interval": 5.0,
}
"""How fast the PostgreSQL broker hands a dead worker's messages to a live one: each worker
beats every 5 s, one silent for 15 s is dead, and some live worker looks for the dead every
2.5-7.5 s, so a killed worker's job runs again within about 25 s (the library's 15/60/30 s
took up to two minutes). A live worker wrongly declared dead costs a duplicate delivery,
which `run_job` turns into a no-op."""


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
            **{**POSTGRES_BROKER_TIMINGS, **options},
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
