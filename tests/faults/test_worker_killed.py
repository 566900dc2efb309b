"""A `prm worker` SIGKILLed in the middle of a job: the job still completes, once.

The job's work and its SUCCEEDED mark commit in one transaction (`run_job`), so the
killed attempt leaves nothing; the PostgreSQL broker's reaper hands the dead worker's
message to another worker (`POSTGRES_BROKER_TIMINGS`), which runs the job again.
The job kind here adds a partner (an effect a second application would show as a second
row) and then waits on an advisory lock the test holds, so the test can kill the worker
while its transaction is open. Takes about 25 s: the broker's dead-worker timeout.
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from prm.auth.principal import Principal
from prm.db.engine import Database
from prm.db.urls import libpq_dsn
from prm.partners.models import Partner, PartnerStatus
from prm.settings import Settings
from prm.workers.actors import declare_actors
from prm.workers.broker import POSTGRES_BROKER_TIMINGS, build_broker
from prm.workers.jobs import enqueue_job_sync
from prm.workers.kinds import JOBS
from prm.workers.models import Job, JobStatus
from prm.workers.outbox import drain_outbox
from prm.workers.registry import JobKind
from tests.factories import make_tenant
from tests.faults.support import child, prm_env

KIND = "faults.add_partner"

# A real `prm worker` that also knows the test's job kind (same code as below).
WORKER = f"""
import sys
from sqlalchemy import text
from prm.partners.models import Partner, PartnerStatus
from prm.workers.kinds import JOBS
from prm.workers.registry import JobKind

def add_partner(session, principal, *, name, lock):
    session.add(Partner(tenant_id=principal.tenant_id, name=name,
                        status=PartnerStatus.ACTIVE, postal_prefixes=[], capabilities=[]))
    session.flush()
    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {{"key": lock}})
    return {{"name": name}}

JOBS.register(JobKind({KIND!r}, add_partner, max_retries=0))
from prm.cli import main
sys.argv = ["prm", "worker", "--threads", "1"]
main()
"""


def add_partner(session: Session, principal: Principal, *, name: str, lock: int) -> dict[str, Any]:
    """The job as the worker runs it: add a partner, then wait for the test's lock."""
    session.add(
        Partner(
            tenant_id=principal.tenant_id,
            name=name,
            status=PartnerStatus.ACTIVE,
            postal_prefixes=[],
            capabilities=[],
        )
    )
    session.flush()
    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock})
    return {"name": name}


@pytest.fixture(scope="module", autouse=True)
def fault_kind() -> Iterator[None]:
    """The kind must be known here too, to enqueue the job and send its message."""
    JOBS.register(JobKind(KIND, add_partner, max_retries=0))
    yield
    JOBS.unregister(KIND)


WAITING_ON_LOCK = """
SELECT pid FROM pg_locks
WHERE locktype = 'advisory' AND NOT granted AND classid = 0 AND objid = %s
"""


def wait_for(condition: Any, *, within: float, what: str) -> Any:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def job_of(database: Database, tenant_id: uuid.UUID, job_id: uuid.UUID) -> Job:
    with database.sync_session(tenant_id) as session:
        job = session.get(Job, (tenant_id, job_id))
        assert job is not None
        session.expunge(job)
        return job


def partners_named(database: Database, tenant_id: uuid.UUID, name: str) -> int:
    with database.sync_session(tenant_id) as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(Partner)
                .where(Partner.tenant_id == tenant_id, Partner.name == name)
            )
            or 0
        )


def messages_for(owner: psycopg.Connection, job_id: uuid.UUID) -> int:
    row = owner.execute(
        "SELECT count(*) FROM dramatiq.queue WHERE message->'args'->>1 = %s", (str(job_id),)
    ).fetchone()
    assert row is not None
    return int(row[0])


@pytest.mark.asyncio
async def test_a_worker_killed_mid_job_leaves_nothing_and_another_worker_completes_it_once(
    database: Database, settings: Settings, owner_url: str
) -> None:
    tenant = await make_tenant(database)
    name = f"killed-{secrets.token_hex(4)}"
    lock = secrets.randbelow(2**31 - 1) + 1
    env = prm_env(owner_url, settings.data_dir)
    with psycopg.connect(libpq_dsn(owner_url), autocommit=True) as owner:
        holder = psycopg.connect(libpq_dsn(owner_url), autocommit=True)
        try:
            holder.execute("SELECT pg_advisory_lock(%s)", (lock,))
            with database.sync_session(tenant.id) as session:
                job_id = enqueue_job_sync(
                    session, Principal.system(tenant.id), KIND, {"name": name, "lock": lock}
                ).id
            broker = build_broker(settings, database)
            try:
                declare_actors(broker, database)
                drain_outbox(database, broker=broker)
            finally:
                broker.close()
            assert messages_for(owner, job_id) == 1

            with child(["-c", WORKER], env) as first:
                wait_for(
                    lambda: owner.execute(WAITING_ON_LOCK, (lock,)).fetchone(),
                    within=30,
                    what="the first worker to reach the middle of the job",
                )
                running = job_of(database, tenant.id, job_id)
                assert (running.status, running.attempts) == (JobStatus.RUNNING, 1)
                first.kill()
                first.wait(timeout=10)
            killed_at = time.monotonic()
            # The dead worker's backend gets the lock, finds its client gone, rolls back.
            holder.execute("SELECT pg_advisory_unlock(%s)", (lock,))
            wait_for(
                lambda: not owner.execute(WAITING_ON_LOCK, (lock,)).fetchone(),
                within=10,
                what="the orphaned backend to let go",
            )
        finally:
            holder.close()

        assert partners_named(database, tenant.id, name) == 0
        with child(["-c", WORKER], env):
            bound = (
                POSTGRES_BROKER_TIMINGS["heartbeat_ttl"]
                + 3 * POSTGRES_BROKER_TIMINGS["maintenance_interval"]
            )
            wait_for(
                lambda: job_of(database, tenant.id, job_id).status is JobStatus.SUCCEEDED,
                within=bound + 15,
                what="another worker to complete the job",
            )
            redelivered_after = time.monotonic() - killed_at
            done = job_of(database, tenant.id, job_id)
            assert (done.attempts, done.result, done.error) == (2, {"name": name}, None)
            assert partners_named(database, tenant.id, name) == 1
            wait_for(lambda: messages_for(owner, job_id) == 0, within=5, what="the ack")
    assert redelivered_after < bound + 15
