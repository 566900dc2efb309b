"""Real servers and a real `graphql-transport-ws` client for the subscription tests.

Servers are `prm.app:create_app` under uvicorn in child processes on the test database
(each its own API process, with its own listener); tokens are signed with the key of the
test settings' data dir, which the servers share.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from prm.db.urls import libpq_dsn
from prm.realtime.listener import APPLICATION_NAME

PROTOCOL = "graphql-transport-ws"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def running_server(owner_url: str, data_dir: Path) -> Iterator[str]:
    """One API process; yields its base URL (http://…)."""
    port = _free_port()
    env = {
        **os.environ,
        "PRM_DATABASE_URL": owner_url,
        "PRM_DATA_DIR": str(data_dir),
        "PRM_LOG_LEVEL": "WARNING",
    }
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [
            sys.executable, "-m", "uvicorn", "prm.app:create_app", "--factory",
            "--host", "127.0.0.1", "--port", str(port), "--no-access-log",
            "--log-level", "warning",
        ],
        env=env,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            time.sleep(0.1)
        else:
            raise RuntimeError("the server did not start")
        yield base
    finally:
        process.terminate()
        process.wait(timeout=15)


def listeners(owner_url: str) -> int:
    """How many realtime listener connections the test database has."""
    with psycopg.connect(libpq_dsn(owner_url), autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND application_name = %s",
            (APPLICATION_NAME,),
        ).fetchone()
    return int(row[0]) if row else 0


class Socket:
    """One graphql-transport-ws connection."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(message))

    async def receive(self, wait: float = 10.0) -> dict[str, Any]:
        while True:
            message: dict[str, Any] = json.loads(await asyncio.wait_for(self.ws.recv(), wait))
            if message.get("type") == "ping":
                await self.send({"type": "pong"})
                continue
            return message

    async def subscribe(self, query: str, variables: dict[str, Any] | None = None) -> str:
        op = uuid.uuid4().hex
        payload: dict[str, Any] = {"query": query}
        if variables:
            payload["variables"] = variables
        await self.send({"id": op, "type": "subscribe", "payload": payload})
        return op

    async def next_data(self, wait: float = 10.0) -> dict[str, Any]:
        """The next `next` message's data (fails on anything else)."""
        message = await self.receive(wait)
        assert message["type"] == "next", message
        assert "errors" not in message["payload"], message
        data: dict[str, Any] = message["payload"]["data"]
        return data

    async def nothing_for(self, seconds: float) -> bool:
        """True if no message arrives within `seconds`."""
        try:
            message = await self.receive(seconds)
        except TimeoutError:
            return True
        raise AssertionError(f"unexpected message {message}")

    async def close_code(self, wait: float = 10.0) -> int | None:
        """Wait for the server to close the socket; its close code."""
        try:
            while True:
                await asyncio.wait_for(self.ws.recv(), wait)
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else None


def ws_url(base: str) -> str:
    return base.replace("http://", "ws://") + "/graphql"


@contextlib.asynccontextmanager
async def opened(base: str) -> Any:
    async with connect(ws_url(base), subprotocols=[PROTOCOL], open_timeout=10) as ws:  # type: ignore[list-item]
        yield Socket(ws)


@contextlib.asynccontextmanager
async def authenticated(base: str, token: str) -> Any:
    async with opened(base) as sock:
        await sock.send(
            {"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}
        )
        ack = await sock.receive()
        assert ack["type"] == "connection_ack", ack
        yield sock


async def settle(owner_url: str, processes: int) -> None:
    """Wait until every server's listener is LISTENing, then a little for the server to
    register the subscriptions just sent (the protocol has no subscribe acknowledgement)."""
    deadline = time.monotonic() + 15
    while listeners(owner_url) < processes:
        if time.monotonic() > deadline:
            raise AssertionError("the realtime listeners never connected")
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)
