"""Real-time delivery: `leadOffered` subscriptions and webhook throughput (issue 8).

1. Latency. Large: 50 partners with 10 PARTNER_REP users each, every user on its own
   `graphql-transport-ws` connection subscribed to `leadOffered` (500 open
   subscriptions); small: 5 partners, 50 subscriptions. An OFFER / ROUND_ROBIN rule with
   no criteria spreads the leads over all partners. Leads are created one at a time with
   `createLead` over HTTP (as the admin); for each, the time from sending the request to
   the event reaching each of the offered partner's 10 connections. Every received event
   is checked against `lead_offers`: an event at a connection of another partner is a
   misdelivery, an expected connection that never heard it a miss (both must be 0). Run
   against one uvicorn worker and again against two (the connections spread over both
   processes, so the event crosses processes through LISTEN/NOTIFY).
2. Throughput. 5 webhook endpoints (registered through the service, as
   `createWebhookEndpoint` does) on a threaded HTTP/1.1 receiver on loopback answering
   200 at once; K events (large 2,000, small 200) emitted with `emit_sync` in batches of
   100 per transaction while `prm worker` (default threads) and `prm scheduler` run.
   Deliveries/s from the first emit to the last delivery received, the failures and
   retries in the delivery log, and the receiver's count (must be K x 5, no duplicates).

The benchmark client shares the box with the server: on 2 cores its 500 sockets' reads
compete with the API for CPU, so the latencies include that.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import resource
import statistics
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import psycopg
from websockets.asyncio.client import ClientConnection, connect

from bench.harness import Figure, running_server
from bench.leads_support import bench_settings, issuer_for, make_tenant, seed_partners
from bench.metrics import jobs_running
from prm.auth.principal import Principal, Role
from prm.db.engine import Database
from prm.db.ids import new_id
from prm.db.urls import libpq_dsn
from prm.events.bus import emit_sync, event
from prm.graphql.relay import decode_global_id
from prm.leads.models import DistributionMode, DistributionRule, DistributionStrategy
from prm.realtime.listener import APPLICATION_NAME
from prm.settings import Settings
from prm.webhooks.service import create_endpoint

NAME = "realtime"
SIZES: dict[str, dict[str, int]] = {
    "large": {"partners": 50, "leads": 200, "events": 2_000},
    "small": {"partners": 5, "leads": 50, "events": 200},
}
USERS_PER_PARTNER = 10
WARMUP_LEADS = 5
"""Created first and checked for misdelivery, but left out of the latencies."""
ENDPOINTS = 5
EMIT_BATCH = 100
PROTOCOL = "graphql-transport-ws"
OFFERED = "subscription { leadOffered { id partner { id } lead { id } } }"
CREATE_LEAD = """mutation($input: CreateLeadInput!) {
  createLead(input: $input) { lead { id status } errors { code message } } }"""


def _pk(global_id: str) -> uuid.UUID:
    decoded = decode_global_id(global_id)
    if decoded is None:
        raise RuntimeError(f"not a global id: {global_id!r}")
    return decoded[1]


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def _raise_file_limit() -> None:
    """500 client sockets here and 500 in the server (a child: it inherits the limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 8192 if hard == resource.RLIM_INFINITY else min(hard, 8192)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


# --- seeding ------------------------------------------------------------------------


@dataclass(frozen=True)
class Seeded:
    tenant_id: uuid.UUID
    admin: Principal
    users: list[Principal]
    """`USERS_PER_PARTNER` PARTNER_REP users per partner."""


def seed(owner_url: str, settings: Settings, partners: int) -> Seeded:
    """The tenant, partners with no territory (each covers every lead), one catch-all
    OFFER / ROUND_ROBIN rule, and the partners' users (COPY)."""
    import random

    tenant, admin = make_tenant(settings)
    database = Database.from_settings(settings)
    try:
        partner_ids = seed_partners(
            database, tenant.id, partners, rng=random.Random(5), territories=False
        )
        with database.sync_session(tenant.id) as session:
            session.add(
                DistributionRule(
                    tenant_id=tenant.id,
                    id=new_id(),
                    name="Everyone, in turn",
                    priority=1,
                    mode=DistributionMode.OFFER,
                    strategy=DistributionStrategy.ROUND_ROBIN,
                    countries=[],
                    regions=[],
                    postal_prefixes=[],
                    capabilities=[],
                    min_lead_score=None,
                    active=True,
                )
            )
    finally:
        database.sync_engine.dispose()
    users = []
    with psycopg.connect(libpq_dsn(owner_url)) as conn, conn.cursor() as cursor:
        with cursor.copy(
            "COPY users (tenant_id, id, email, name, password_hash, roles, partner_id) FROM STDIN"
        ) as copy:
            for p, partner_id in enumerate(partner_ids):
                for u in range(USERS_PER_PARTNER):
                    user_id = new_id()
                    copy.write_row(
                        (tenant.id, user_id, f"rep{p}-{u}@bench.example", f"Rep {p}/{u}",
                         None, [Role.PARTNER_REP.value], partner_id)
                    )  # fmt: skip
                    users.append(
                        Principal(
                            tenant_id=tenant.id,
                            kind="user",
                            subject_id=user_id,
                            roles=frozenset({Role.PARTNER_REP}),
                            partner_id=partner_id,
                        )
                    )
        conn.commit()
    return Seeded(tenant.id, admin, users)


# --- 1. subscription latency -------------------------------------------------------


@dataclass
class Tally:
    """How many connections heard each lead so far; wakes the lead loop on each."""

    heard: dict[uuid.UUID, int] = field(default_factory=dict)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def count(self, lead: uuid.UUID) -> None:
        self.heard[lead] = self.heard.get(lead, 0) + 1
        self.changed.set()

    async def until(self, lead: uuid.UUID, count: int) -> None:
        """Until `count` connections heard `lead` (callers bound the wait)."""
        while self.heard.get(lead, 0) < count:
            self.changed.clear()
            await self.changed.wait()


@dataclass
class Client:
    """One subscribed connection; every `leadOffered` it hears goes to `heard`."""

    partner_id: uuid.UUID
    ws: ClientConnection
    heard: list[tuple[float, uuid.UUID, uuid.UUID]] = field(default_factory=list)
    """(perf_counter at arrival, lead, partner the event names)."""
    errors: list[str] = field(default_factory=list)
    tally: Tally | None = None

    async def read(self) -> None:
        with contextlib.suppress(Exception):
            async for raw in self.ws:
                at = time.perf_counter()
                message = json.loads(raw)
                kind = message.get("type")
                if kind == "ping":
                    await self.ws.send(json.dumps({"type": "pong"}))
                elif kind == "next" and "errors" not in message["payload"]:
                    offer = message["payload"]["data"]["leadOffered"]
                    lead, partner = _pk(offer["lead"]["id"]), _pk(offer["partner"]["id"])
                    self.heard.append((at, lead, partner))
                    if self.tally is not None:
                        self.tally.count(lead)
                elif kind in ("next", "error", "complete"):
                    self.errors.append(str(message)[:300])


async def _open(base: str, token: str, partner_id: uuid.UUID) -> Client:
    ws = await connect(
        base.replace("http://", "ws://") + "/graphql",
        subprotocols=[PROTOCOL],  # type: ignore[list-item]
        open_timeout=60,
        max_queue=None,
    )
    await ws.send(
        json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}})
    )
    ack = json.loads(await asyncio.wait_for(ws.recv(), 60))
    if ack.get("type") != "connection_ack":
        raise RuntimeError(f"connection_init refused: {ack}")
    payload = {"query": OFFERED}
    await ws.send(json.dumps({"id": uuid.uuid4().hex, "type": "subscribe", "payload": payload}))
    return Client(partner_id, ws)


def _listeners(owner_url: str) -> int:
    with psycopg.connect(libpq_dsn(owner_url), autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND application_name = %s",
            (APPLICATION_NAME,),
        ).fetchone()
    return int(row[0]) if row else 0


@dataclass(frozen=True)
class LatencyResult:
    subscriptions: int
    connect_seconds: float
    create_ms: list[float]
    """createLead's HTTP round trip."""
    arrival_ms: list[float]
    """Sent to the event at each expected connection."""
    last_ms: list[float]
    """Sent to the event at the last of the offered partner's connections."""
    misdelivered: int
    missed: int
    errors: int


async def _latency(
    owner_url: str, base: str, seeded: Seeded, tokens: list[str], leads: int, processes: int
) -> LatencyResult:
    started = time.perf_counter()
    gate = asyncio.Semaphore(50)

    async def one(n: int) -> Client:
        async with gate:
            partner = seeded.users[n].partner_id
            assert partner is not None
            return await _open(base, tokens[n], partner)

    clients = await asyncio.gather(*(one(n) for n in range(len(seeded.users))))
    tally = Tally()
    for client in clients:
        client.tally = tally
    readers = [asyncio.create_task(client.read()) for client in clients]
    connect_seconds = time.perf_counter() - started
    deadline = time.monotonic() + 30
    while _listeners(owner_url) < processes and time.monotonic() < deadline:  # noqa: ASYNC110 - the database has no event to await
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.0)  # no subscribe acknowledgement in the protocol: let them land

    by_partner: dict[uuid.UUID, list[Client]] = {}
    for client in clients:
        by_partner.setdefault(client.partner_id, []).append(client)
    headers = {"Authorization": f"Bearer {tokens[-1]}"}
    sent: dict[uuid.UUID, float] = {}
    create_ms: list[float] = []
    order: list[uuid.UUID] = []
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as http:
        for n in range(WARMUP_LEADS + leads):
            variables = {"input": {"companyName": f"Realtime {n} {uuid.uuid4().hex[:6]}"}}
            at = time.perf_counter()
            answer = (await http.post("/graphql", json={"query": CREATE_LEAD,
                                                        "variables": variables})).json()  # fmt: skip
            took = time.perf_counter() - at
            payload = (answer.get("data") or {}).get("createLead")
            if not payload or payload["errors"] or payload["lead"]["status"] != "OFFERED":
                raise RuntimeError(f"createLead: {answer}"[:1000])
            lead = _pk(payload["lead"]["id"])
            sent[lead] = at
            order.append(lead)
            if n >= WARMUP_LEADS:
                create_ms.append(took * 1000)
            # The next lead once every connection that should hear this one has.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(10):
                    await tally.until(lead, USERS_PER_PARTNER)
    await asyncio.sleep(1.0)  # anything late or misdirected arrives meanwhile
    for client in clients:
        await client.ws.close()
    await asyncio.gather(*readers, return_exceptions=True)

    with psycopg.connect(libpq_dsn(owner_url)) as conn:
        offered = {
            lead: partner
            for lead, partner in conn.execute(
                "SELECT lead_id, partner_id FROM lead_offers WHERE tenant_id = %s"
                " AND lead_id = ANY(%s)",
                (seeded.tenant_id, order),
            ).fetchall()
        }
    # A misdelivery: an event at a connection of a partner not offered the lead, or
    # naming a partner other than the one offered.
    misdelivered = sum(
        1
        for c in clients
        for _, lead, partner in c.heard
        if c.partner_id != offered.get(lead) or partner != offered.get(lead)
    )
    missed = 0
    arrival_ms: list[float] = []
    last_ms: list[float] = []
    for n, lead in enumerate(order):
        truth = offered.get(lead)
        group = by_partner.get(truth, []) if truth is not None else []
        firsts = [
            min((at for at, heard, _ in client.heard if heard == lead), default=None)
            for client in group
        ]
        arrived = [at for at in firsts if at is not None]
        missed += USERS_PER_PARTNER - len(arrived)
        if n < WARMUP_LEADS or not arrived:
            continue
        arrival_ms.extend((at - sent[lead]) * 1000 for at in arrived)
        if len(arrived) == USERS_PER_PARTNER:
            last_ms.append((max(arrived) - sent[lead]) * 1000)
    errors = sum(len(c.errors) for c in clients)
    return LatencyResult(
        len(clients), connect_seconds, create_ms, arrival_ms, last_ms, misdelivered, missed,
        errors,
    )  # fmt: skip


def measure_latency(
    owner_url: str, workdir: Path, seeded: Seeded, settings: Settings, leads: int, workers: int
) -> LatencyResult:
    issuer = issuer_for(settings)
    tokens = [issuer.issue(user) for user in seeded.users] + [issuer.issue(seeded.admin)]
    with running_server(owner_url, workdir, workers=workers) as base:
        return asyncio.run(_latency(owner_url, base, seeded, tokens, leads, workers))


# --- 2. webhook throughput -----------------------------------------------------------


@dataclass
class Receiver:
    port: int = 0
    count: int = 0
    keys: set[tuple[str, str]] = field(default_factory=set)
    """(path, X-Prm-Event-Id) seen."""
    last: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)


@contextlib.contextmanager
def receiving() -> Iterator[Receiver]:
    """A threaded HTTP/1.1 server on loopback (keep-alive) answering 200 at once."""
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            key = (self.path, self.headers.get("X-Prm-Event-Id") or "")
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")
            with state.lock:
                state.count += 1
                state.keys.add(key)
                state.last = time.perf_counter()

        def log_message(self, format: str, *args: Any) -> None:
            return

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request: Any, client_address: Any) -> None:
            return  # a worker stopping resets its keep-alive connections: not news

    server = Server(("127.0.0.1", 0), Handler)
    state.port = int(server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@dataclass(frozen=True)
class ThroughputResult:
    deliveries: int
    emit_seconds: float
    seconds: float
    received: int
    unique: int
    statuses: dict[str, int]
    retried: int


def _emit(database: Database, tenant_id: uuid.UUID, count: int) -> None:
    for start in range(0, count, EMIT_BATCH):
        with database.sync_session(tenant_id) as session:
            for n in range(start, min(count, start + EMIT_BATCH)):
                emit_sync(
                    session,
                    event(
                        "lead.offered",
                        tenant_id,
                        {"leadId": uuid.uuid4(), "companyName": f"Event {n}"},
                    ),
                )


def _wait_for(receiver: Receiver, count: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if receiver.count >= count:
            return True
        time.sleep(0.05)
    return False


def measure_throughput(
    owner_url: str, workdir: Path, seeded: Seeded, settings: Settings, events: int
) -> ThroughputResult:
    database = Database.from_settings(settings)
    try:
        with receiving() as receiver:

            async def register() -> None:
                async with database.session(seeded.tenant_id) as session:
                    for n in range(ENDPOINTS):
                        await create_endpoint(
                            session,
                            seeded.admin,
                            url=f"http://127.0.0.1:{receiver.port}/hook/{n}",
                            event_types=["lead.offered"],
                            description=f"bench {n}",
                            settings=settings,
                        )
                await database.async_engine.dispose()

            asyncio.run(register())
            with jobs_running(owner_url, workdir):
                _emit(database, seeded.tenant_id, 1)  # warm-up: worker and scheduler are up
                if not _wait_for(receiver, ENDPOINTS, 120):
                    raise RuntimeError("the warm-up event was never delivered")
                time.sleep(0.5)
                with receiver.lock:
                    receiver.count = 0
                    receiver.keys.clear()
                expected = events * ENDPOINTS
                started = time.perf_counter()
                _emit(database, seeded.tenant_id, events)
                emitted = time.perf_counter() - started
                _wait_for(receiver, expected, 420)
                time.sleep(1.0)  # duplicates, if any, show up meanwhile
                seconds = receiver.last - started
        with psycopg.connect(libpq_dsn(owner_url)) as conn:
            statuses = {
                str(status): int(count)
                for status, count in conn.execute(
                    "SELECT status, count(*) FROM webhook_deliveries WHERE tenant_id = %s"
                    " GROUP BY status",
                    (seeded.tenant_id,),
                ).fetchall()
            }
            row = conn.execute(
                "SELECT count(*) FROM webhook_deliveries WHERE tenant_id = %s AND attempts > 1",
                (seeded.tenant_id,),
            ).fetchone()
    finally:
        database.sync_engine.dispose()
    return ThroughputResult(
        expected, emitted, seconds, receiver.count, len(receiver.keys), statuses,
        int(row[0]) if row else 0,
    )  # fmt: skip


# --- the figures ---------------------------------------------------------------------


def _latency_figures(label: str, result: LatencyResult) -> list[Figure]:
    return [
        Figure(NAME, f"{label}: open subscriptions", result.subscriptions, "count"),
        Figure(NAME, f"{label}: connect + init + subscribe all", result.connect_seconds, "s"),
        Figure(NAME, f"{label}: createLead round trip p50", statistics.median(result.create_ms),
               "ms"),
        Figure(NAME, f"{label}: createLead to event p50", statistics.median(result.arrival_ms),
               "ms"),
        Figure(NAME, f"{label}: createLead to event p99", _percentile(result.arrival_ms, 99),
               "ms"),
        Figure(NAME, f"{label}: to partner's 10th connection p50",
               statistics.median(result.last_ms), "ms"),
        Figure(NAME, f"{label}: to partner's 10th connection p99",
               _percentile(result.last_ms, 99), "ms"),
        Figure(NAME, f"{label}: misdelivered events", result.misdelivered, "count"),
        Figure(NAME, f"{label}: missed events", result.missed, "count"),
        Figure(NAME, f"{label}: subscription errors", result.errors, "count"),
    ]  # fmt: skip


def run(owner_url: str, size: str, workdir: Path) -> list[Figure]:
    _raise_file_limit()
    counts = SIZES[size]
    settings = bench_settings(owner_url, workdir)
    seeded = seed(owner_url, settings, counts["partners"])
    figures = [Figure(NAME, "leads timed (per API setup)", counts["leads"], "count")]
    for workers in (1, 2):
        result = measure_latency(owner_url, workdir, seeded, settings, counts["leads"], workers)
        label = "1 API process" if workers == 1 else f"{workers} API processes"
        figures += _latency_figures(label, result)
    hooks = measure_throughput(owner_url, workdir, seeded, settings, counts["events"])
    failed = hooks.statuses.get("FAILED", 0)
    pending = hooks.statuses.get("PENDING", 0)
    figures += [
        Figure(NAME, f"webhooks: deliveries ({ENDPOINTS} endpoints)", hooks.deliveries, "count"),
        Figure(NAME, "webhooks: emit all events", hooks.emit_seconds, "s"),
        Figure(NAME, "webhooks: first emit to last delivery", hooks.seconds, "s"),
        Figure(NAME, "webhooks: deliveries/s", hooks.received / hooks.seconds, "/s"),
        Figure(NAME, "webhooks: received by the receiver", hooks.received, "count"),
        Figure(NAME, "webhooks: duplicates received", hooks.received - hooks.unique, "count"),
        Figure(NAME, "webhooks: FAILED deliveries", failed, "count"),
        Figure(NAME, "webhooks: still PENDING", pending, "count"),
        Figure(NAME, "webhooks: deliveries retried", hooks.retried, "count"),
    ]
    return figures
