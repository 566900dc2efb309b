"""Jobs are enqueued only by a committed transaction, always run once it committed, and
run their work exactly once however often their message is delivered."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable

import pytest
from dramatiq import Worker
from dramatiq.broker import Broker
from dramatiq.brokers.stub import StubBroker
from sqlalchemy import select, update

from prm.auth.principal import Principal
from prm.db.engine import Database
from prm.errors import InvalidInput
from prm.settings import Settings
from prm.workers.actors import declare_actors, run_job
from prm.workers.broker import build_broker
from prm.workers.jobs import enqueue_job
from prm.workers.models import Job, JobStatus, OutboxMessage
from prm.workers.outbox import drain_outbox, relay_outbox
from tests.factories import make_tenant
from tests.workers.conftest import (
    CALLS,
    RELEASED,
    STARTED,
    event,
    job_state,
    wait_for_status,
    wait_until,
)


async def enqueue(database: Database, tenant_id: uuid.UUID, kind: str) -> tuple[Job, str]:
    token = secrets.token_hex(6)
    async with database.session(tenant_id) as session:
        job = await enqueue_job(session, Principal.system(tenant_id), kind, {"token": token})
    return job, token


def outbox_rows(database: Database, job_id: uuid.UUID) -> list[OutboxMessage]:
    with database.sync_session() as session:
        return list(session.scalars(select(OutboxMessage).where(OutboxMessage.job_id == job_id)))


@pytest.mark.asyncio
async def test_a_job_enqueued_in_a_rolled_back_transaction_never_runs(
    database: Database, postgres_broker: Broker, start_worker: Callable[[Broker], Worker]
) -> None:
    tenant = await make_tenant(database)
    token = secrets.token_hex(6)

    jobs: list[Job] = []

    async def mutation_that_fails() -> None:
        async with database.session(tenant.id) as session:
            principal = Principal.system(tenant.id)
            jobs.append(await enqueue_job(session, principal, "testing.record", {"token": token}))
            raise RuntimeError("abort the mutation")

    with pytest.raises(RuntimeError, match="abort"):
        await mutation_that_fails()
    [job] = jobs

    assert outbox_rows(database, job.id) == []
    assert job_state(database, tenant.id, job.id) is None
    worker = start_worker(postgres_broker)
    drain_outbox(database, broker=postgres_broker)
    worker.join()
    assert token not in CALLS
    assert job_state(database, tenant.id, job.id) is None


@pytest.mark.asyncio
async def test_a_committed_job_is_relayed_and_run_by_a_worker_on_the_postgres_broker(
    database: Database, postgres_broker: Broker, start_worker: Callable[[Broker], Worker]
) -> None:
    tenant = await make_tenant(database)
    job, token = await enqueue(database, tenant.id, "testing.record")
    assert [row.actor for row in outbox_rows(database, job.id)] == ["testing.record"]
    assert job_state(database, tenant.id, job.id).status is JobStatus.QUEUED  # type: ignore[union-attr]

    start_worker(postgres_broker)
    assert drain_outbox(database, broker=postgres_broker) >= 1

    done = await wait_for_status(database, tenant.id, job.id, JobStatus.SUCCEEDED)
    assert outbox_rows(database, job.id) == []
    assert done.result == {"token": token, "tenant": str(tenant.id)}
    assert done.attempts == 1
    assert done.started_at is not None
    assert done.finished_at is not None
    assert CALLS.count(token) == 1


@pytest.mark.asyncio
async def test_the_same_message_delivered_twice_runs_the_work_once(database: Database) -> None:
    tenant = await make_tenant(database)
    job, token = await enqueue(database, tenant.id, "testing.record")
    broker = StubBroker()
    broker.emit_after("process_boot")
    actor = declare_actors(broker, database)["testing.record"]

    # The relay crashed after sending but before committing, and sends it again.
    relay_outbox(database, broker=broker)
    with database.sync_session() as session:
        session.add(OutboxMessage(tenant_id=tenant.id, job_id=job.id, actor=actor.actor_name))
    relay_outbox(database, broker=broker)
    assert broker.queues["default"].qsize() >= 2

    worker = Worker(broker, worker_threads=2, worker_timeout=100)
    worker.start()
    try:
        broker.join("default")
        worker.join()
    finally:
        worker.stop()

    assert CALLS.count(token) == 1
    assert job_state(database, tenant.id, job.id).status is JobStatus.SUCCEEDED  # type: ignore[union-attr]


@pytest.mark.asyncio
async def test_running_a_succeeded_job_again_changes_nothing(database: Database) -> None:
    tenant = await make_tenant(database)
    job, token = await enqueue(database, tenant.id, "testing.record")

    assert run_job(database, "testing.record", tenant.id, job.id) is JobStatus.SUCCEEDED
    first = job_state(database, tenant.id, job.id)
    assert run_job(database, "testing.record", tenant.id, job.id) is JobStatus.SUCCEEDED

    again = job_state(database, tenant.id, job.id)
    assert CALLS.count(token) == 1
    assert first is not None
    assert again is not None
    assert (again.attempts, again.finished_at) == (first.attempts, first.finished_at)


@pytest.mark.asyncio
async def test_a_domain_error_fails_the_job_at_once_with_its_message(
    database: Database, postgres_broker: Broker, start_worker: Callable[[Broker], Worker]
) -> None:
    tenant = await make_tenant(database)
    job, token = await enqueue(database, tenant.id, "testing.refuse")

    start_worker(postgres_broker)
    drain_outbox(database, broker=postgres_broker)

    failed = await wait_for_status(database, tenant.id, job.id, JobStatus.FAILED)
    assert failed.error == f"refused {token}"
    assert failed.finished_at is not None
    assert failed.attempts == 1
    assert CALLS.count(token) == 1


@pytest.mark.asyncio
async def test_an_unexpected_error_is_retried_then_stays_failed_without_leaking_details(
    database: Database, postgres_broker: Broker, start_worker: Callable[[Broker], Worker]
) -> None:
    tenant = await make_tenant(database)
    job, token = await enqueue(database, tenant.id, "testing.crash")

    start_worker(postgres_broker)
    drain_outbox(database, broker=postgres_broker)

    def attempts() -> int:
        state = job_state(database, tenant.id, job.id)
        return state.attempts if state else 0

    await wait_until(lambda: attempts() >= 2)
    failed = await wait_for_status(database, tenant.id, job.id, JobStatus.FAILED)
    assert failed.attempts == 2  # the first run and its one retry
    assert failed.error == "internal error (RuntimeError)"
    assert CALLS.count(token) == 2


@pytest.mark.asyncio
async def test_a_job_interrupted_by_a_worker_shutdown_completes_on_the_next_worker(
    database: Database,
    new_broker: Callable[..., Broker],
    start_worker: Callable[[Broker], Worker],
) -> None:
    tenant = await make_tenant(database)
    job, token = await enqueue(database, tenant.id, "testing.block")
    first_broker = new_broker()
    first = start_worker(first_broker)
    drain_outbox(database, broker=first_broker)
    assert event(STARTED, token).wait(15)

    first.stop(timeout=5_000)  # interrupts the job: its work rolls back, it is handed back
    assert job_state(database, tenant.id, job.id).status is JobStatus.QUEUED  # type: ignore[union-attr]

    event(RELEASED, token).set()
    start_worker(new_broker())
    done = await wait_for_status(database, tenant.id, job.id, JobStatus.SUCCEEDED)
    assert done.attempts == 2
    assert CALLS.count(token) == 2


@pytest.mark.asyncio
async def test_a_job_whose_worker_died_is_redelivered_to_a_new_worker(
    settings: Settings,
    database: Database,
    new_broker: Callable[..., Broker],
    start_worker: Callable[[Broker], Worker],
) -> None:
    tenant = await make_tenant(database)
    job, token = await enqueue(database, tenant.id, "testing.record")

    # A worker process claims the message, starts the job, and dies: no ack, no commit.
    dead = build_broker(settings, database)
    declare_actors(dead, database)
    drain_outbox(database, broker=dead)
    consumer = dead.consume("default", prefetch=1, timeout=100)
    claimed = None
    for _ in range(50):
        claimed = next(consumer)
        if claimed is not None and claimed.args[1] == str(job.id):
            break
    assert claimed is not None
    assert claimed.args[1] == str(job.id)
    with database.sync_session(tenant.id) as session:
        session.execute(
            update(Job).where(Job.id == job.id).values(status=JobStatus.RUNNING, attempts=1)
        )
    dead.close()

    # A new worker process notices the dead one's silence and takes the message over.
    start_worker(new_broker(heartbeat_ttl=1.0, maintenance_interval=0.2))
    done = await wait_for_status(database, tenant.id, job.id, JobStatus.SUCCEEDED, within=20)
    assert done.attempts == 2
    assert CALLS.count(token) == 1


@pytest.mark.asyncio
async def test_an_unknown_job_kind_is_refused_in_the_requesting_transaction(
    database: Database,
) -> None:
    tenant = await make_tenant(database)
    with pytest.raises(InvalidInput, match="unknown job kind"):
        async with database.session(tenant.id) as session:
            await enqueue_job(session, Principal.system(tenant.id), "nothing.here", {})


@pytest.mark.asyncio
async def test_a_message_the_broker_refuses_backs_off_without_blocking_the_rest(
    database: Database,
) -> None:
    tenant = await make_tenant(database)
    stuck, _ = await enqueue(database, tenant.id, "testing.record")
    with database.sync_session() as session:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.job_id == stuck.id)
            .values(actor="retired.kind")  # a kind a newer release no longer has
        )
    job, _ = await enqueue(database, tenant.id, "testing.record")
    broker = StubBroker()
    declare_actors(broker, database)

    drain_outbox(database, broker=broker)  # stops at the refused row, which backs off
    drain_outbox(database, broker=broker)  # the next pass sends the rest

    assert outbox_rows(database, job.id) == []
    [refused] = outbox_rows(database, stuck.id)
    assert refused.attempts == 1
    assert refused.available_at > refused.created_at
    with database.sync_session() as session:
        session.delete(session.merge(refused))
