"""Metrics tests ask for recomputes across every tenant in the test database (the
scheduler's tasks scan them all); the outbox rows they leave are dropped after each test,
so no later test's worker has hundreds of other tenants' jobs to get through first."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import delete

from prm.db.engine import Database
from prm.workers.models import OutboxMessage


@pytest.fixture(autouse=True)
def _drop_unsent_jobs(database: Database) -> Iterator[None]:
    yield
    with database.sync_session() as session:
        session.execute(delete(OutboxMessage))
