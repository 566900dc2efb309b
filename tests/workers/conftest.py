"""Job kinds that exist only in tests, and helpers to run real workers against them."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from dramatiq import Worker
from dramatiq.broker import Broker
from sqlalchemy.orm import Session

from prm.auth.principal import Principal
from prm.db.engine import Database
from prm.errors import InvalidInput
from prm.settings import Settings
from prm.workers.actors import declare_actors
from prm.workers.broker import build_broker
from prm.workers.kinds import JOBS
from prm.workers.models import Job, JobStatus
from prm.workers.registry import JobKind

CALLS: list[str] = []
"""Tokens of every `testing.*` run whose work committed or was attempted."""
STARTED: dict[str, threading.Event] = {}
RELEASED: dict[str, threading.Event] = {}


def record(session: Session, principal: Principal, *, token: str) -> dict[str, Any]:
    CALLS.append(token)
    return {"token": token, "tenant": str(principal.tenant_id)}


def refuse(session: Session, principal: Principal, *, token: str) -> None:
    CALLS.append(token)
    raise InvalidInput(f"refused {token}")


def crash(session: Session, principal: Principal, *, token: str) -> None:
    CALLS.append(token)
    raise RuntimeError("secret internals")


def block(session: Session, principal: Principal, *, token: str) -> dict[str, Any]:
    """Signal that it started, then wait (in short steps, so a shutdown can interrupt it)
    until the test releases it."""
    CALLS.append(token)
    event(STARTED, token).set()
    released = event(RELEASED, token)
    deadline = time.monotonic() + 30
    while not released.wait(0.05):
        if time.monotonic() > deadline:
            raise TimeoutError("never released")
    return {"token": token}


TEST_KINDS = (
    JobKind("testing.record", record, min_backoff_ms=10, max_backoff_ms=50),
    JobKind("testing.refuse", refuse, min_backoff_ms=10, max_backoff_ms=50),
    JobKind("testing.crash", crash, max_retries=1, min_backoff_ms=10, max_backoff_ms=50),
    JobKind("testing.block", block, min_backoff_ms=10, max_backoff_ms=50),
)


@pytest.fixture(scope="session", autouse=True)
def testing_kinds() -> Iterator[None]:
    for kind in TEST_KINDS:
        JOBS.register(kind)
    yield
    for kind in TEST_KINDS:
        JOBS.unregister(kind.name)


@pytest.fixture
def new_broker(settings: Settings, database: Database) -> Iterator[Callable[..., Broker]]:
    """Build Postgres brokers with every job actor, as separate worker processes would;
    each is closed at the end (after the workers using it stopped)."""
    built: list[Broker] = []

    def build(**options: Any) -> Broker:
        broker = build_broker(settings, database, **options)
        declare_actors(broker, database)
        built.append(broker)
        return broker

    yield build
    for broker in built:
        broker.close()


@pytest.fixture
def postgres_broker(new_broker: Callable[..., Broker]) -> Broker:
    return new_broker()


@pytest.fixture
def start_worker(new_broker: Callable[..., Broker]) -> Iterator[Callable[[Broker], Worker]]:
    """Start real Dramatiq workers; whatever is still running is stopped at the end."""
    running: list[Worker] = []

    def start(broker: Broker) -> Worker:
        worker = Worker(broker, worker_threads=2, worker_timeout=100)
        worker.start()
        running.append(worker)
        return worker

    yield start
    for worker in running:
        worker.stop(timeout=5_000)


def event(events: dict[str, threading.Event], token: str) -> threading.Event:
    return events.setdefault(token, threading.Event())


def job_state(database: Database, tenant_id: uuid.UUID, job_id: uuid.UUID) -> Job | None:
    with database.sync_session(tenant_id) as session:
        return session.get(Job, (tenant_id, job_id))


async def wait_until(condition: Callable[[], bool], *, within: float = 15.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


async def wait_for_status(
    database: Database,
    tenant_id: uuid.UUID,
    job_id: uuid.UUID,
    status: JobStatus,
    *,
    within: float = 15.0,
) -> Job:
    def reached() -> bool:
        job = job_state(database, tenant_id, job_id)
        return job is not None and job.status is status

    await wait_until(reached, within=within)
    job = job_state(database, tenant_id, job_id)
    assert job is not None
    return job
