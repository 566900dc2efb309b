"""What every benchmark shares: a scratch database, a real server process, a load loop
with latency percentiles, and a SQL statement counter.

Benchmarks print figures; they assert nothing about speed (timed assertions flake on
shared machines). Tests prove behaviour; these numbers go into the README.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
from sqlalchemy import event
from sqlalchemy.engine import make_url

from prm.db.engine import Database
from prm.db.migrate import upgrade
from prm.db.urls import libpq_dsn
from prm.settings import Settings
from prm.tenants.service import create_tenant

PASSWORD = "bench-password-123"


@dataclass(frozen=True)
class Figure:
    bench: str
    metric: str
    value: float
    unit: str


def server_url() -> str:
    """`PRM_BENCH_DATABASE_URL`, else `PRM_TEST_DATABASE_URL`, else the embedded server."""
    url = os.environ.get("PRM_BENCH_DATABASE_URL") or os.environ.get("PRM_TEST_DATABASE_URL")
    if url:
        return url
    from prm.db.embedded import start_embedded

    return start_embedded(Path(tempfile.gettempdir()) / "prm-bench", database="postgres")


@contextlib.contextmanager
def scratch_database() -> Iterator[str]:
    """A fresh, migrated database; dropped afterwards. Yields its owner URL."""
    server = server_url()
    name = f"prm_bench_{secrets.token_hex(4)}"
    with psycopg.connect(libpq_dsn(server), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url, Settings(database_url=url))
        yield url
    finally:
        with psycopg.connect(libpq_dsn(server), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def running_server(owner_url: str, data_dir: Path, *, workers: int = 1) -> Iterator[str]:
    """`prm serve`'s app under uvicorn in a child process; yields its base URL."""
    port = _free_port()
    env = {
        **os.environ,
        "PRM_DATABASE_URL": owner_url,
        "PRM_DATA_DIR": str(data_dir),
        "PRM_LOG_LEVEL": "WARNING",
        # Load from one address is the point of a benchmark, not abuse.
        "PRM_RATE_LIMIT_PER_TOKEN": "0",
        "PRM_RATE_LIMIT_PER_ADDRESS": "0",
    }
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [
            sys.executable, "-m", "uvicorn", "prm.app:create_app", "--factory",
            "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
            "--no-access-log", "--log-level", "warning", "--timeout-keep-alive", "120",
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
            time.sleep(0.2)
        else:
            raise RuntimeError("the server did not start")
        yield base
    finally:
        process.terminate()
        process.wait(timeout=15)


@dataclass(frozen=True)
class LoadResult:
    requests: int
    errors: int
    seconds: float
    latencies: list[float]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]

    @property
    def p50_ms(self) -> float:
        return statistics.median(self.latencies) * 1000

    @property
    def p99_ms(self) -> float:
        return self.percentile(99) * 1000


async def load(
    send: Callable[[httpx.AsyncClient], Awaitable[httpx.Response]],
    *,
    base_url: str,
    concurrency: int,
    total: int,
    warmup: int = 50,
) -> LoadResult:
    """`total` requests from `concurrency` clients at once; a non-2xx or GraphQL error
    answer counts as an error."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30) as client:
        for _ in range(warmup):
            await send(client)
        remaining = total
        latencies: list[float] = []
        errors = 0

        async def one_client() -> None:
            nonlocal remaining, errors
            while remaining > 0:
                remaining -= 1
                started = time.perf_counter()
                response = await send(client)
                latencies.append(time.perf_counter() - started)
                if response.status_code >= 300 or "errors" in response.json():
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(one_client() for _ in range(concurrency)))
        return LoadResult(total, errors, time.perf_counter() - started, latencies)


@contextlib.contextmanager
def count_statements(database: Database) -> Iterator[list[str]]:
    """Collects every SQL statement the app role's async engine runs meanwhile."""
    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(args[2])

    engine = database.async_engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def make_bench_tenant(settings: Settings) -> uuid.UUID:
    """The `bench` tenant with `admin@bench.example` / `PASSWORD` as its admin."""
    db = Database.from_settings(settings)
    try:
        async with db.session() as session:
            tenant, _ = await create_tenant(
                session,
                slug="bench",
                name="Bench",
                admin_email="admin@bench.example",
                admin_password=PASSWORD,
            )
    finally:
        await db.dispose()
    return tenant.id
