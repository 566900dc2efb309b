"""Periodic ticks: the outbox sweep, lead offer and deal protection expiry, metrics
recomputes (scheduled and for stale periods), volume rebates, daily maintenance.

Every scheduler process sweeps the outbox (relays claim rows with `SKIP LOCKED`, so
sweeping side by side is safe) every `outbox_poll_seconds`, and sooner when a commit in
this process wakes it. Periodic platform tasks run in one process only: the leader, the
one holding a session-level PostgreSQL advisory lock on a dedicated connection. If the
leader dies its connection closes, the lock is released, and another scheduler takes over
within a poll interval. That needs no extra library or table: APScheduler et al. schedule
within one process but leave "only one of N processes runs this" to the application.
A new leader runs each periodic task at once, then at its interval; every task is
idempotent, so a leader change at worst runs one a little early.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from dramatiq.broker import Broker
from sqlalchemy import Connection, text

from prm.catalog.recommendation_schedule import enqueue_scheduled_associations
from prm.db.engine import Database
from prm.deals.service import expire_due_protections
from prm.incentives.schedule import enqueue_scheduled_rebates
from prm.leads.offers import expire_due_offers
from prm.metrics.recompute import enqueue_scheduled_recomputes
from prm.metrics.stale import enqueue_stale_recomputes
from prm.realtime.expiring import ExpiringOfferWarnings
from prm.settings import Settings
from prm.webhooks.delivery import DELIVERY_SCAN_INTERVAL, enqueue_due_deliveries
from prm.workers.broker import configure_broker
from prm.workers.maintenance import run_platform_maintenance
from prm.workers.outbox import add_wake_listener, drain_outbox, remove_wake_listener
from prm.workers.process import STOP_TIMEOUT_MS, wait_for_signal

log = logging.getLogger(__name__)

LEADER_LOCK_KEY = 0x70726D5F7363  # "prm_sc": one scheduler leader per database
LEAD_OFFER_EXPIRY = "lead_offer_expiry"
LEAD_OFFER_EXPIRY_INTERVAL = timedelta(seconds=30)
"""Offers past their deadline are expired and re-routed within this (well under a minute)."""
DEAL_PROTECTION_EXPIRY = "deal_protection_expiry"
DEAL_PROTECTION_EXPIRY_INTERVAL = timedelta(minutes=1)
"""Approved deal registrations whose protection ended become EXPIRED within this."""
METRICS_RECOMPUTE = "metrics_recompute"
METRICS_RECOMPUTE_INTERVAL = timedelta(minutes=15)
"""Every active tenant's current month and quarter are recomputed this often."""
STALE_METRICS = "stale_metrics"
STALE_METRICS_INTERVAL = timedelta(seconds=10)
"""Periods an event marked stale are recomputed within this (plus the quiet seconds)."""
INCENTIVE_REBATES = "incentive_rebates"
INCENTIVE_REBATES_INTERVAL = timedelta(days=1)
"""Volume rebates of the previous and current periods are recomputed this often."""
OFFER_EXPIRING = "offer_expiring"
OFFER_EXPIRING_INTERVAL = timedelta(seconds=30)
"""`offer.expiring` reaches subscribers and webhooks within this of an offer's 15-minute mark."""
PRODUCT_ASSOCIATIONS = "product_associations"
PRODUCT_ASSOCIATIONS_INTERVAL = timedelta(days=1)
"""Every tenant's cross-sell and up-sell associations are recomputed this often."""
WEBHOOK_DELIVERIES = "webhook_deliveries"
"""Due webhook deliveries become `webhooks.deliver` jobs (`DELIVERY_SCAN_INTERVAL`)."""


@dataclass
class Periodic:
    name: str
    interval: timedelta
    run: Callable[[], object]
    next_at: float = 0.0  # monotonic; 0 runs at once


class Scheduler:
    def __init__(
        self,
        settings: Settings,
        database: Database,
        broker: Broker,
        *,
        tasks: list[Periodic] | None = None,
    ) -> None:
        self.settings = settings
        self.database = database
        self.broker = broker
        self.tasks = (
            tasks
            if tasks is not None
            else [
                Periodic(
                    "maintenance",
                    timedelta(days=1),
                    lambda: run_platform_maintenance(settings, database),
                ),
                Periodic(
                    LEAD_OFFER_EXPIRY,
                    LEAD_OFFER_EXPIRY_INTERVAL,
                    lambda: expire_due_offers(database),
                ),
                Periodic(
                    DEAL_PROTECTION_EXPIRY,
                    DEAL_PROTECTION_EXPIRY_INTERVAL,
                    lambda: expire_due_protections(database),
                ),
                Periodic(
                    METRICS_RECOMPUTE,
                    METRICS_RECOMPUTE_INTERVAL,
                    lambda: enqueue_scheduled_recomputes(database),
                ),
                Periodic(
                    STALE_METRICS,
                    STALE_METRICS_INTERVAL,
                    lambda: enqueue_stale_recomputes(database),
                ),
                Periodic(
                    INCENTIVE_REBATES,
                    INCENTIVE_REBATES_INTERVAL,
                    lambda: enqueue_scheduled_rebates(database),
                ),
                Periodic(
                    OFFER_EXPIRING,
                    OFFER_EXPIRING_INTERVAL,
                    ExpiringOfferWarnings(database, interval=OFFER_EXPIRING_INTERVAL),
                ),
                Periodic(
                    WEBHOOK_DELIVERIES,
                    DELIVERY_SCAN_INTERVAL,
                    lambda: enqueue_due_deliveries(database),
                ),
                Periodic(
                    PRODUCT_ASSOCIATIONS,
                    PRODUCT_ASSOCIATIONS_INTERVAL,
                    lambda: enqueue_scheduled_associations(database),
                ),
            ]
        )
        self._wakeup = threading.Event()
        self._stopping = threading.Event()
        self._leader: Connection | None = None

    @property
    def is_leader(self) -> bool:
        return self._leader is not None

    def wake(self) -> None:
        self._wakeup.set()

    def stop(self) -> None:
        self._stopping.set()
        self._wakeup.set()

    def run(self) -> None:
        """Tick until `stop()`; never raises (each failure is logged and retried)."""
        add_wake_listener(self.wake)
        try:
            while not self._stopping.is_set():
                self.tick()
                self._wakeup.wait(self.settings.outbox_poll_seconds)
                self._wakeup.clear()
        finally:
            remove_wake_listener(self.wake)
            self._resign()

    def tick(self) -> None:
        try:
            drain_outbox(self.database, broker=self.broker)
        except Exception:
            log.exception("outbox sweep failed")
        if not self._lead():
            return
        now = time.monotonic()
        for task in self.tasks:
            if now < task.next_at:
                continue
            task.next_at = now + task.interval.total_seconds()
            try:
                task.run()
            except Exception:
                log.exception("periodic task %s failed", task.name)

    def _lead(self) -> bool:
        """Hold (or try to take) leadership; a dead connection loses it."""
        if self._leader is not None:
            try:
                self._leader.execute(text("SELECT 1"))
                return True
            except Exception:
                log.warning("scheduler lost its leader connection")
                self._resign()
        try:
            conn = self.database.sync_engine.connect().execution_options(
                isolation_level="AUTOCOMMIT"
            )
        except Exception:
            log.exception("scheduler cannot reach the database")
            return False
        try:
            won = conn.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": LEADER_LOCK_KEY})
        except Exception:
            conn.invalidate()
            conn.close()
            log.exception("scheduler cannot reach the database")
            return False
        if not won:
            conn.close()
            return False
        log.info("scheduler is the leader")
        self._leader = conn
        for task in self.tasks:
            task.next_at = 0.0
        return True

    def _resign(self) -> None:
        conn, self._leader = self._leader, None
        if conn is None:
            return
        try:
            conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": LEADER_LOCK_KEY})
            conn.close()
        except Exception:
            conn.invalidate()
            conn.close()


def run_scheduler(settings: Settings, database: Database) -> None:
    """`prm scheduler`: sweep the outbox and run periodic tasks until SIGINT/SIGTERM."""
    broker = configure_broker(settings, database)
    scheduler = Scheduler(settings, database, broker)
    thread = threading.Thread(target=scheduler.run, name="prm-scheduler", daemon=True)
    thread.start()
    log.info("scheduler started")
    try:
        wait_for_signal()
    finally:
        scheduler.stop()
        thread.join(STOP_TIMEOUT_MS / 1000)
        broker.close()
