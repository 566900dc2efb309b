"""`PRM_BROKER_URL` picks the broker: unset → PostgreSQL (same database), `redis://` →
Redis, `amqp://` → RabbitMQ; each one carries a message from an actor to a worker."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator

import dramatiq
import pytest
from dramatiq import Worker
from dramatiq.broker import Broker
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.redis import RedisBroker
from dramatiq.common import dq_name, xq_name
from dramatiq_postgres import PostgresBroker

from prm.db.engine import Database
from prm.settings import Settings
from prm.workers.broker import build_broker, configure_broker

REDIS_URL = "redis://127.0.0.1:6379/0"
AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"


def round_trip(broker: Broker) -> None:
    """Send one message on a queue of its own and see a real worker run it."""
    queue = f"roundtrip_{secrets.token_hex(4)}"
    received = threading.Event()
    payload = secrets.token_hex(4)

    def receive(value: str) -> None:
        if value == payload:
            received.set()

    actor = dramatiq.Actor(
        receive, broker=broker, actor_name=queue, queue_name=queue, priority=0, options={}
    )
    worker = Worker(broker, queues={queue}, worker_threads=1, worker_timeout=100)
    worker.start()
    try:
        actor.send(payload)
        assert received.wait(15), "the worker never received the message"
    finally:
        worker.stop(timeout=5_000)


@pytest.fixture
def restore_global_broker() -> Iterator[None]:
    previous = dramatiq.broker.global_broker
    yield
    dramatiq.broker.global_broker = previous


@pytest.mark.usefixtures("restore_global_broker")
def test_without_a_broker_url_jobs_go_through_postgres_and_every_kind_is_an_actor(
    settings: Settings, database: Database
) -> None:
    broker = configure_broker(settings, database)
    try:
        assert isinstance(broker, PostgresBroker)
        assert dramatiq.get_broker() is broker
        assert "maintenance.purge" in broker.actors
        round_trip(broker)
    finally:
        broker.close()


def test_a_redis_url_selects_redis(settings: Settings, database: Database) -> None:
    redis_settings = settings.model_copy(update={"broker_url": REDIS_URL})
    broker = build_broker(redis_settings, database, namespace=f"prm-test-{secrets.token_hex(4)}")
    try:
        assert isinstance(broker, RedisBroker)
        round_trip(broker)
    finally:
        broker.close()


def test_an_amqp_url_selects_rabbitmq(settings: Settings, database: Database) -> None:
    amqp_settings = settings.model_copy(update={"broker_url": AMQP_URL})
    broker = build_broker(amqp_settings, database)
    try:
        assert isinstance(broker, RabbitmqBroker)
        round_trip(broker)
    finally:
        for queue in list(broker.queues):
            for name in (queue, dq_name(queue), xq_name(queue)):
                broker.channel.queue_delete(name)
        broker.close()


def test_an_unknown_scheme_is_a_configuration_error(settings: Settings, database: Database) -> None:
    with pytest.raises(ValueError, match="unsupported scheme"):
        build_broker(settings.model_copy(update={"broker_url": "kafka://x"}), database)
