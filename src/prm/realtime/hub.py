"""`Hub`: this process's subscribers, and the fan-out of each notification to them.

A subscriber names its tenant, the event types it wants and its partner (None for tenant
staff, who may see every event of their tenant). A notification reaches:

- nobody outside its tenant, nor anyone who did not ask for its type;
- for types with an *audience* (the claim pool: which partners may claim a lead is a
  question for the database, not the notification), the partner subscribers the audience
  function allows: ONE call per notification for all of this process's subscribers;
- otherwise the partner subscribers whose partner the event names (`partner_ids`).

An optional `match` predicate narrows further (e.g. cases assigned to one employee).
Queues are bounded: a subscriber that falls `QUEUE_SIZE` notices behind is dropped with
an error (`SubscriberOverflow`) instead of slowing the listener or the others.
What a subscriber is finally shown is still loaded through the visibility-checked
loaders; the hub only decides who is worth waking.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from prm.realtime.notices import Notice, parse_notice

log = logging.getLogger(__name__)

QUEUE_SIZE = 256
"""Notices a subscriber may fall behind before it is dropped."""

Audience = Callable[[Notice, frozenset[uuid.UUID]], Awaitable[frozenset[uuid.UUID]]]
"""Given a notice and the partners subscribed to it here, the partners it may reach."""


class SubscriberOverflow(Exception):
    """The subscriber could not keep up and was dropped."""


@dataclass(eq=False)
class Subscriber:
    tenant_id: uuid.UUID
    partner_id: uuid.UUID | None
    types: frozenset[str]
    match: Callable[[Notice], bool] | None = None
    queue: asyncio.Queue[Notice] = field(default_factory=lambda: asyncio.Queue(maxsize=QUEUE_SIZE))
    overflowed: bool = False

    def offer(self, notice: Notice) -> None:
        if self.overflowed or (self.match is not None and not self.match(notice)):
            return
        try:
            self.queue.put_nowait(notice)
        except asyncio.QueueFull:
            self.overflowed = True
            log.warning("a subscriber of tenant %s fell behind and was dropped", self.tenant_id)

    async def next(self, wait: float) -> Notice | None:
        """The next notice, or None after `wait` seconds without one."""
        if self.overflowed:
            raise SubscriberOverflow("too many undelivered events: subscription dropped")
        try:
            return await asyncio.wait_for(self.queue.get(), wait)
        except TimeoutError:
            return None


class Hub:
    def __init__(
        self,
        *,
        audiences: Mapping[str, Audience] | None = None,
        start: Callable[[Hub], Awaitable[None]] | None = None,
    ) -> None:
        self.audiences = dict(audiences or {})
        self._by_tenant: dict[uuid.UUID, set[Subscriber]] = defaultdict(set)
        self._start = start
        self._started: asyncio.Task[None] | None = None

    @property
    def subscriber_count(self) -> int:
        return sum(len(group) for group in self._by_tenant.values())

    async def ensure_started(self) -> None:
        """Start the listener once (lazily, with the first subscription) and wait until it
        listens, so an event committed after a subscription began is not missed."""
        if self._start is None:
            return
        started = self._started
        if started is None or (started.done() and (started.cancelled() or started.exception())):
            started = self._started = asyncio.ensure_future(self._start(self))
        await asyncio.shield(started)

    @contextlib.asynccontextmanager
    async def subscription(
        self,
        tenant_id: uuid.UUID,
        partner_id: uuid.UUID | None,
        types: frozenset[str],
        *,
        match: Callable[[Notice], bool] | None = None,
    ) -> AsyncIterator[Subscriber]:
        await self.ensure_started()
        subscriber = Subscriber(tenant_id, partner_id, types, match)
        self._by_tenant[tenant_id].add(subscriber)
        try:
            yield subscriber
        finally:
            group = self._by_tenant.get(tenant_id)
            if group is not None:
                group.discard(subscriber)
                if not group:
                    del self._by_tenant[tenant_id]

    async def receive(self, payload: str) -> None:
        """The listener's callback: one raw notification."""
        notice = parse_notice(payload)
        if notice is not None:
            await self.dispatch(notice)

    async def dispatch(self, notice: Notice) -> None:
        subscribers = [
            s for s in self._by_tenant.get(notice.tenant_id, ()) if notice.type in s.types
        ]
        if not subscribers:
            return
        audience = self.audiences.get(notice.type)
        allowed = notice.partner_ids
        if audience is not None:
            partners = frozenset(s.partner_id for s in subscribers if s.partner_id is not None)
            try:
                allowed = await audience(notice, partners) if partners else frozenset()
            except Exception:  # fail closed: no partner learns of it, staff still do
                log.exception("audience of %s %s failed", notice.type, notice.id)
                allowed = frozenset()
        for subscriber in subscribers:
            if subscriber.partner_id is None or subscriber.partner_id in allowed:
                subscriber.offer(notice)
