"""The scheduler sweeps the outbox in every process, runs periodic tasks in one leader
only, and `start_embedded_workers` runs committed jobs with no second command."""

from __future__ import annotations

import asyncio
import secrets
import threading
from collections.abc import Iterator
from datetime import timedelta

import dramatiq
import pytest
from dramatiq import Message
from dramatiq.brokers.stub import StubBroker

from prm.auth.principal import Principal
from prm.db.engine import Database
from prm.settings import Settings
from prm.workers.actors import declare_actors
from prm.workers.jobs import enqueue_job
from prm.workers.models import JobStatus
from prm.workers.runner import start_embedded_workers
from prm.workers.scheduler import Periodic, Scheduler
from tests.factories import make_tenant
from tests.workers.conftest import CALLS, wait_for_status, wait_until


@pytest.fixture
def restore_global_broker() -> Iterator[None]:
    previous = dramatiq.broker.global_broker
    yield
    dramatiq.broker.global_broker = previous


def scheduler_with(settings: Settings, database: Database, runs: list[str], name: str) -> Scheduler:
    broker = StubBroker()
    declare_actors(broker, database)
    task = Periodic("daily", timedelta(days=1), lambda: runs.append(name))
    return Scheduler(settings, database, broker, tasks=[task])


def test_only_one_scheduler_leads_and_another_takes_over_when_it_stops(
    settings: Settings, database: Database
) -> None:
    runs: list[str] = []
    first = scheduler_with(settings, database, runs, "first")
    second = scheduler_with(settings, database, runs, "second")
    try:
        first.tick()
        second.tick()
        first.tick()  # within the interval: nothing runs twice
        assert runs == ["first"]
        assert first.is_leader
        assert not second.is_leader

        first.stop()
        first.run()  # returns at once, resigning leadership
        second.tick()
        assert runs == ["first", "second"]
        assert second.is_leader
    finally:
        for scheduler in (first, second):
            scheduler.stop()
            scheduler.run()


@pytest.mark.asyncio
@pytest.mark.usefixtures("restore_global_broker")
async def test_embedded_workers_run_jobs_committed_before_and_after_they_started(
    settings: Settings, database: Database
) -> None:
    tenant = await make_tenant(database)
    system = Principal.system(tenant.id)
    before = secrets.token_hex(6)
    async with database.session(tenant.id) as session:
        # Committed while nothing runs (as if the process died right after the commit).
        early = await enqueue_job(session, system, "testing.record", {"token": before})

    handle = start_embedded_workers(settings, database, threads=2)
    try:
        await wait_for_status(database, tenant.id, early.id, JobStatus.SUCCEEDED)
        after = secrets.token_hex(6)
        async with database.session(tenant.id) as session:
            late = await enqueue_job(session, system, "testing.record", {"token": after})
        await wait_for_status(database, tenant.id, late.id, JobStatus.SUCCEEDED)
        await wait_until(lambda: handle.scheduler.is_leader)
    finally:
        handle.stop()
    assert CALLS.count(before) == 1
    assert CALLS.count(after) == 1


@pytest.mark.asyncio
async def test_a_commit_that_enqueues_wakes_the_relay_long_before_its_next_poll(
    settings: Settings, database: Database
) -> None:
    tenant = await make_tenant(database)
    slow = settings.model_copy(update={"outbox_poll_seconds": 60.0})
    broker = StubBroker()
    declare_actors(broker, database)
    scheduler = Scheduler(slow, database, broker, tasks=[])
    thread = threading.Thread(target=scheduler.run, daemon=True)
    thread.start()
    try:
        await asyncio.sleep(0.5)  # past its first sweep; the next poll is a minute away
        async with database.session(tenant.id) as session:
            job = await enqueue_job(
                session, Principal.system(tenant.id), "testing.record", {"token": "wake"}
            )

        def sent() -> bool:
            queued = [Message.decode(raw) for raw in list(broker.queues["default"].queue)]
            return any(message.args[1] == str(job.id) for message in queued)

        await wait_until(sent, within=5)
    finally:
        scheduler.stop()
        thread.join(5)
