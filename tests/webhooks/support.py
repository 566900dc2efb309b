"""A real HTTP receiver on loopback that records what it is sent and answers with the
statuses a test programs, and helpers to drive deliveries."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import select

from prm.db.engine import Database
from prm.events.bus import Event, emit_sync, event
from prm.webhooks.models import DeliveryDue, WebhookDelivery, WebhookEndpoint


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    port: int = 0
    requests: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    """Answers to the next requests, in order; 200 once they run out."""
    headers_for: dict[int, dict[str, str]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def answer(self) -> int:
        with self.lock:
            return self.statuses.pop(0) if self.statuses else 200

    def to(self, path: str) -> list[Received]:
        return [request for request in self.requests if request.path == path]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            with state.lock:
                state.requests.append(
                    Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
            status = state.answer()
            self.send_response(status)
            for name, value in state.headers_for.get(status, {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def emit_event(
    database: Database, tenant_id: uuid.UUID, type_: str = "lead.offered", **data: Any
) -> Event:
    happened = event(type_, tenant_id, data or {"leadId": uuid.uuid4(), "companyName": "Acme"})
    with database.sync_session(tenant_id) as session:
        emit_sync(session, happened)
    return happened


def deliveries(database: Database, tenant_id: uuid.UUID) -> list[WebhookDelivery]:
    with database.sync_session(tenant_id) as session:
        return list(
            session.scalars(
                select(WebhookDelivery)
                .where(WebhookDelivery.tenant_id == tenant_id)
                .order_by(WebhookDelivery.created_at, WebhookDelivery.id)
            )
        )


def endpoint_row(database: Database, tenant_id: uuid.UUID, pk: uuid.UUID) -> WebhookEndpoint:
    with database.sync_session(tenant_id) as session:
        row = session.get(WebhookEndpoint, (tenant_id, pk))
        assert row is not None
        return row


def due_rows(database: Database, tenant_id: uuid.UUID) -> dict[uuid.UUID, Any]:
    with database.sync_session(tenant_id) as session:
        return {
            row.delivery_id: row.due_at
            for row in session.scalars(
                select(DeliveryDue).where(DeliveryDue.tenant_id == tenant_id)
            )
        }
