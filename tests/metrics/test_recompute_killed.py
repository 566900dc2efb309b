"""A worker process killed in the middle of `metrics.recompute` (after it replaced the
partner scorecards, before it committed) leaves the previous snapshot readable, and the
job run again writes the right one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from prm.crm.models import OpportunityStage
from prm.db.engine import Database
from prm.db.urls import libpq_dsn
from prm.metrics.recompute import RECOMPUTE
from prm.settings import Settings
from prm.workers.actors import run_job
from prm.workers.models import Job, JobStatus
from tests.metrics.test_partner_scorecards import at, builder, make_october, stored
from tests.metrics.test_recompute import enqueue

WORKER = """
import sys, uuid
from pathlib import Path
from prm.db.engine import Database
from prm.settings import Settings
from prm.workers.actors import run_job

url, data_dir, tenant_id, job_id = sys.argv[1:5]
database = Database.from_settings(Settings(database_url=url, data_dir=Path(data_dir)))
run_job(database, "metrics.recompute", uuid.UUID(tenant_id), uuid.UUID(job_id))
"""

WAITING_ON_EMPLOYEE_SCORECARDS = """
SELECT l.pid FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
WHERE c.relname = 'employee_scorecards' AND NOT l.granted
"""


def wait_for_blocked_backend(owner: psycopg.Connection, timeout: float = 30.0) -> int:
    """The pid of the worker's backend once it waits on the employee scorecards, i.e.
    after it has deleted and rewritten the partner scorecards in its transaction."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = owner.execute(WAITING_ON_EMPLOYEE_SCORECARDS).fetchone()
        if row is not None:
            return int(row[0])
        time.sleep(0.05)
    raise AssertionError("the worker never reached the employee scorecards step")


def kill_mid_recompute(
    database: Database,
    settings: Settings,
    owner_url: str,
    tenant_id: uuid.UUID,
    job_id: uuid.UUID,
    before: dict[uuid.UUID, Any],
) -> None:
    """Run the job in a worker process, stop it between the partner and the employee
    scorecards (its partner rows rewritten, uncommitted), check readers still see
    `before`, and SIGKILL it."""
    with psycopg.connect(libpq_dsn(owner_url)) as blocker:
        # Hold the employee scorecards so the worker stops between its two steps.
        blocker.execute("LOCK TABLE employee_scorecards IN ACCESS EXCLUSIVE MODE")
        worker = subprocess.Popen(  # noqa: S603 - our own interpreter and script
            [sys.executable, "-c", WORKER, owner_url, str(settings.data_dir), str(tenant_id),
             str(job_id)],
            env={**os.environ},
        )  # fmt: skip
        try:
            with psycopg.connect(libpq_dsn(owner_url), autocommit=True) as watcher:
                backend = wait_for_blocked_backend(watcher)
                during = stored(database, tenant_id, "2026-10")
                assert {pk: row.revenue_won for pk, row in during.items()} == {
                    pk: row.revenue_won for pk, row in before.items()
                }
                worker.send_signal(signal.SIGKILL)
                worker.wait(timeout=10)
                # The server drops a dead client's session when it next writes to it; do
                # it now rather than wait for the lock.
                watcher.execute("SELECT pg_terminate_backend(%s)", (backend,))
        finally:
            if worker.poll() is None:
                worker.kill()
        blocker.rollback()


@pytest.mark.asyncio
async def test_a_killed_worker_leaves_the_old_snapshot_and_the_rerun_writes_the_new_one(
    database: Database, settings: Settings, owner_url: str
) -> None:
    october = await make_october(database)
    tenant_id = october.tenant.id
    assert run_job(database, RECOMPUTE, tenant_id, enqueue(database, tenant_id, "2026-10")) is (
        JobStatus.SUCCEEDED
    )
    before = stored(database, tenant_id, "2026-10")
    assert before[october.a.id].revenue_won == Decimal("1500.00")
    build = await builder(database, october.tenant)
    build.deal(october.a.id, OpportunityStage.CLOSED_WON, "4500.00", closed=at(30))
    job_id = enqueue(database, tenant_id, "2026-10")

    kill_mid_recompute(database, settings, owner_url, tenant_id, job_id, before)

    after_kill = stored(database, tenant_id, "2026-10")
    assert {pk: (row.revenue_won, row.computed_at) for pk, row in after_kill.items()} == {
        pk: (row.revenue_won, row.computed_at) for pk, row in before.items()
    }
    with database.sync_session(tenant_id) as session:
        interrupted = session.get(Job, (tenant_id, job_id))
        assert interrupted is not None
        assert (interrupted.status, interrupted.attempts) == (JobStatus.RUNNING, 1)

    assert run_job(database, RECOMPUTE, tenant_id, job_id) is JobStatus.SUCCEEDED
    after = stored(database, tenant_id, "2026-10")
    a = after[october.a.id]
    assert (a.revenue_won, a.deals_won, a.rank) == (Decimal("6000.00"), 4, 1)
    assert set(after) == set(before)
