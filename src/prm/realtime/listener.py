"""`Listener`: one task per API process LISTENing on `prm_events`, feeding the `Hub`.

It holds a dedicated psycopg connection (autocommit, outside the request pool, as the
app role), so a busy pool never delays events and events never hold a pool slot. Every
`HEALTH_SECONDS` without a notification it pings the connection; a dropped connection
(server restart, network) is re-opened with backoff. Notifications sent while it was
down are lost: subscriptions are a live feed, not a log (webhooks are the durable path).

`hub_for(database)` is this process's hub for a database: created, with its listener,
lazily by the first subscription on the running event loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import psycopg

from prm.db.engine import Database
from prm.db.urls import libpq_dsn
from prm.events.bus import CHANNEL
from prm.realtime.audience import pool_audiences
from prm.realtime.hub import Hub

log = logging.getLogger(__name__)

HEALTH_SECONDS = 5.0
"""A quiet connection is pinged this often, so a dead one is noticed and replaced."""
READY_TIMEOUT = 10.0
"""How long the first subscription waits for the listener to connect."""
FIRST_BACKOFF = 0.5
MAX_BACKOFF = 10.0
"""Reconnection waits double from the first to this, and start again after a success."""
APPLICATION_NAME = "prm-realtime"


class Listener:
    def __init__(self, dsn: str, deliver: Callable[[str], Awaitable[None]]) -> None:
        self.dsn = dsn
        self.deliver = deliver
        self.listening = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self.run(), name="prm-realtime-listener")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def run(self) -> None:
        """Listen until cancelled, reconnecting after any failure."""
        delay = FIRST_BACKOFF
        while True:
            try:
                await self._listen()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning("realtime listener lost its connection (%s); retrying", error)
            finally:
                if self.listening.is_set():  # it had connected: the next loss starts afresh
                    delay = FIRST_BACKOFF
                self.listening.clear()
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_BACKOFF)

    async def _listen(self) -> None:
        conn = await psycopg.AsyncConnection.connect(
            self.dsn, autocommit=True, application_name=APPLICATION_NAME, connect_timeout=10
        )
        async with conn:
            await conn.execute(f"LISTEN {CHANNEL}")
            self.listening.set()
            while True:
                async for notify in conn.notifies(timeout=HEALTH_SECONDS):
                    try:
                        await self.deliver(notify.payload)
                    except Exception:
                        log.exception("delivering a realtime event failed")
                await conn.execute("SELECT 1")  # raises if the connection died quietly


_hubs: dict[int, tuple[asyncio.AbstractEventLoop, Hub, Database]] = {}


def hub_for(database: Database) -> Hub:
    """This process's hub for `database` on the running loop (a new loop, e.g. a new test,
    gets a new hub)."""
    loop = asyncio.get_running_loop()
    found = _hubs.get(id(database))
    if found is not None and found[0] is loop and found[2] is database:
        return found[1]
    listener_box: list[Listener] = []

    async def start(hub: Hub) -> None:
        if not listener_box:
            listener_box.append(Listener(libpq_dsn(database.app_url), hub.receive))
        listener = listener_box[0]
        listener.start()
        await asyncio.wait_for(listener.listening.wait(), READY_TIMEOUT)

    hub = Hub(audiences=pool_audiences(database), start=start)
    _hubs[id(database)] = (loop, hub, database)
    return hub
