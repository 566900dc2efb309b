"""The transactional outbox: from committed `job_outbox` rows to broker messages.

`relay_outbox` claims a batch with `FOR UPDATE SKIP LOCKED` (so any number of relays can
run side by side), sends each message, and deletes the sent rows in the same transaction,
committed only after the sends. A row the broker refuses stays, with a growing back-off, so
one bad row never blocks the rows behind it. A crash between send and commit re-sends the
batch later; actors are idempotent, so that costs a no-op run, never a double effect.

Relays are woken right after a transaction that enqueued a job commits (a session
`after_commit` hook sets an event, off the request's critical path), and also poll every
`outbox_poll_seconds`, so a row committed just before a crash is still sent.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import dramatiq
from dramatiq.broker import Broker
from sqlalchemy import delete, event, select, update
from sqlalchemy.orm import Session

from prm.db.engine import Database
from prm.db.tenancy import TenantSession
from prm.workers.models import OutboxMessage

log = logging.getLogger(__name__)

_PENDING = "prm.outbox_pending"
_MAX_BACKOFF = timedelta(minutes=5)

_wake_listeners: set[Callable[[], None]] = set()
_listeners_lock = threading.Lock()


def mark_outbox_pending(session: Session) -> None:
    """Note that this transaction wrote outbox rows, so its commit wakes the relays."""
    session.info[_PENDING] = True


def add_wake_listener(listener: Callable[[], None]) -> None:
    with _listeners_lock:
        _wake_listeners.add(listener)


def remove_wake_listener(listener: Callable[[], None]) -> None:
    with _listeners_lock:
        _wake_listeners.discard(listener)


def wake_relays() -> None:
    """Signal every relay of this process; cheap and non-blocking."""
    with _listeners_lock:
        listeners = list(_wake_listeners)
    for listener in listeners:
        listener()


@event.listens_for(TenantSession, "after_commit")
def _after_commit(session: Session) -> None:
    if session.info.pop(_PENDING, False):
        wake_relays()


@event.listens_for(TenantSession, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)


def relay_outbox(database: Database, limit: int = 100, *, broker: Broker | None = None) -> int:
    """Send up to `limit` due outbox messages to `broker` (default: the global broker set
    by `configure_broker`); returns how many were sent."""
    broker = broker or dramatiq.get_broker()
    sent: list[int] = []
    with database.sync_session() as session:
        rows = session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.available_at <= datetime.now(UTC))
            .order_by(OutboxMessage.id)
            .with_for_update(skip_locked=True)
            .limit(limit)
        ).all()
        failed: OutboxMessage | None = None
        for row in rows:
            try:
                actor = broker.get_actor(row.actor)
                message = actor.message(str(row.tenant_id), str(row.job_id))
                broker.enqueue(message.copy(queue_name=row.queue))
            except Exception:
                log.exception("outbox: could not send message %d (%s)", row.id, row.actor)
                failed = row
                break
            sent.append(row.id)
        if sent:
            session.execute(delete(OutboxMessage).where(OutboxMessage.id.in_(sent)))
        if failed is not None:
            backoff = min(timedelta(seconds=2 ** min(failed.attempts, 16)), _MAX_BACKOFF)
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == failed.id)
                .values(
                    attempts=OutboxMessage.attempts + 1,
                    available_at=datetime.now(UTC) + backoff,
                )
            )
    return len(sent)


def drain_outbox(database: Database, *, broker: Broker | None = None, batch: int = 100) -> int:
    """Relay batches until the outbox has no more due rows (or a send fails)."""
    total = 0
    while True:
        sent = relay_outbox(database, batch, broker=broker)
        total += sent
        if sent < batch:
            return total


class OutboxRelay:
    """A thread that drains the outbox when woken by a commit, and every `poll_seconds`."""

    def __init__(
        self, database: Database, broker: Broker, *, poll_seconds: float, batch: int = 100
    ) -> None:
        self.database = database
        self.broker = broker
        self.poll_seconds = poll_seconds
        self.batch = batch
        self._wakeup = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="prm-outbox-relay", daemon=True)

    def wake(self) -> None:
        self._wakeup.set()

    def start(self) -> None:
        add_wake_listener(self.wake)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        remove_wake_listener(self.wake)
        self._stopping.set()
        self._wakeup.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wakeup.wait(self.poll_seconds)
            self._wakeup.clear()
            if self._stopping.is_set():
                break
            try:
                drain_outbox(self.database, broker=self.broker, batch=self.batch)
            except Exception:
                log.exception("outbox relay failed; retrying in %.1fs", self.poll_seconds)
