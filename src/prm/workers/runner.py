"""Run modes: `prm worker`, `prm scheduler`, and both inside `prm serve` (embedded).

Production runs workers and schedulers as their own processes, any number of each;
`prm serve` on the embedded database runs one of each in threads, so a newcomer's jobs
finish with no second command.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from dramatiq import Worker
from dramatiq.broker import Broker

from prm.db.engine import Database
from prm.settings import Settings
from prm.workers.broker import configure_broker
from prm.workers.outbox import OutboxRelay
from prm.workers.process import STOP_TIMEOUT_MS, wait_for_signal
from prm.workers.scheduler import Scheduler

log = logging.getLogger(__name__)


def run_worker(settings: Settings, database: Database, *, threads: int | None = None) -> None:
    """`prm worker`: consume every job queue until SIGINT/SIGTERM, then finish or hand
    back (interrupted jobs are rolled back and redelivered) the jobs in progress."""
    broker = configure_broker(settings, database)
    worker = Worker(broker, worker_threads=threads or settings.worker_threads)
    worker.start()
    log.info("worker started with %d threads", worker.worker_threads)
    try:
        wait_for_signal()
    finally:
        worker.stop(timeout=STOP_TIMEOUT_MS)
        broker.close()


@dataclass
class EmbeddedWorkers:
    """A worker and a scheduler running in threads of this process."""

    broker: Broker
    worker: Worker
    scheduler: Scheduler
    thread: threading.Thread
    _stopped: bool = field(default=False, repr=False)

    def stop(self) -> None:
        """Stop the scheduler, then the worker (in-flight jobs finish or are handed back)."""
        if self._stopped:
            return
        self._stopped = True
        self.scheduler.stop()
        self.thread.join(STOP_TIMEOUT_MS / 1000)
        self.worker.stop(timeout=STOP_TIMEOUT_MS)
        self.broker.close()


def start_embedded_workers(
    settings: Settings, database: Database, *, threads: int | None = None
) -> EmbeddedWorkers:
    """Start a worker and the scheduler in this process (`prm serve` on the embedded
    database); the scheduler's outbox sweep is woken by every commit that enqueues."""
    broker = configure_broker(settings, database)
    worker = Worker(broker, worker_threads=threads or settings.worker_threads)
    worker.start()
    scheduler = Scheduler(settings, database, broker)
    thread = threading.Thread(target=scheduler.run, name="prm-scheduler", daemon=True)
    thread.start()
    return EmbeddedWorkers(broker=broker, worker=worker, scheduler=scheduler, thread=thread)


@dataclass
class ApiRelay:
    """The outbox relay an API process runs, so a job asked for in a request reaches the
    broker right after its commit instead of at the scheduler's next sweep."""

    broker: Broker
    relay: OutboxRelay

    def stop(self) -> None:
        self.relay.stop()
        self.broker.close()


def start_api_relay(settings: Settings, database: Database) -> ApiRelay:
    broker = configure_broker(settings, database)
    relay = OutboxRelay(database, broker, poll_seconds=settings.outbox_poll_seconds)
    relay.start()
    return ApiRelay(broker=broker, relay=relay)
