"""A small prm deployment in child processes: two `prm serve`, two `prm worker` and one
`prm scheduler` over one scratch database and one broker, as separate machines would run
them (each process has its own data directory, so nothing is shared through files: the
signing key and the webhook key come from the environment, as on real replicas).

Brokers are namespaced per run so parallel runs on a shared Redis or RabbitMQ never take
each other's messages: the queue names are fixed by the job kinds (`default`,
`webhooks`), so Redis gets an empty database number of its own and RabbitMQ a virtual
host of its own (created with `rabbitmqctl`, deleted afterwards).
"""

from __future__ import annotations

import contextlib
import os
import random
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy.engine import make_url

from prm.db.migrate import upgrade
from prm.db.urls import libpq_dsn
from prm.settings import Settings

REDIS_HOST = "127.0.0.1"
REDIS_PORT = 6379
AMQP_HOST = "127.0.0.1"
AMQP_PORT = 5672
AMQP_USER = "guest"
AMQP_PASSWORD = "guest"  # RabbitMQ's default local account
STARTUP_SECONDS = 45
MARKER = "prm-scale-test"
"""Set (SET NX) in the Redis database number a run takes, so two runs never share one."""


@dataclass(frozen=True)
class Deployment:
    owner_url: str
    env: dict[str, str]
    """What every process runs with (`PRM_*`); each adds its own `PRM_DATA_DIR`."""
    workdir: Path
    settings: Settings
    """The same configuration, for seeding and issuing tokens in the test."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _reachable(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1):
        return True
    return False


@contextlib.contextmanager
def scratch_database(beside: str) -> Iterator[str]:
    """A fresh, migrated database on the server of `beside`; dropped afterwards."""
    admin = libpq_dsn(make_url(beside).set(database="postgres").render_as_string(False))
    name = f"prm_scale_{secrets.token_hex(4)}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(beside).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url, Settings(database_url=url))
        yield url
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def redis_namespace() -> Iterator[str]:
    """A Redis URL on a database number nobody uses now; its keys are removed afterwards."""
    import redis

    if not _reachable(REDIS_HOST, REDIS_PORT):
        raise Unavailable(f"Redis is not reachable on {REDIS_HOST}:{REDIS_PORT}")
    numbers = list(range(1, 16))
    random.shuffle(numbers)
    for number in numbers:
        client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=number, socket_timeout=5)
        try:
            # Claim the number with a marker key; SET NX makes the claim atomic.
            if client.dbsize() == 0 and client.set(MARKER, "1", nx=True, ex=600):
                break
        except redis.RedisError:
            client.close()
            continue
        client.close()
    else:
        raise Unavailable("no empty Redis database number to run in")
    try:
        yield f"redis://{REDIS_HOST}:{REDIS_PORT}/{number}"
    finally:
        # Only what this run wrote (Dramatiq's default namespace and the marker): another
        # program may have started using the number meanwhile.
        with contextlib.suppress(redis.RedisError):
            for key in client.scan_iter("dramatiq:*"):
                client.delete(key)
            client.delete(MARKER)
        client.close()


def _rabbitmqctl(*args: str) -> None:
    ctl = shutil.which("rabbitmqctl")
    if ctl is None:
        raise Unavailable("rabbitmqctl is absent (a private virtual host is needed)")
    done = subprocess.run(  # noqa: S603 - a fixed local tool with our own arguments
        [ctl, *args], capture_output=True, text=True, timeout=30, check=False
    )
    if done.returncode != 0:
        raise Unavailable(f"rabbitmqctl {args[0]} failed: {done.stderr.strip()[:200]}")


@contextlib.contextmanager
def rabbitmq_namespace() -> Iterator[str]:
    """An AMQP URL on a virtual host of its own, deleted afterwards."""
    if not _reachable(AMQP_HOST, AMQP_PORT):
        raise Unavailable(f"RabbitMQ is not reachable on {AMQP_HOST}:{AMQP_PORT}")
    vhost = f"prm-scale-{secrets.token_hex(4)}"
    _rabbitmqctl("add_vhost", vhost)
    try:
        _rabbitmqctl("set_permissions", "-p", vhost, AMQP_USER, ".*", ".*", ".*")
        yield f"amqp://{AMQP_USER}:{AMQP_PASSWORD}@{AMQP_HOST}:{AMQP_PORT}/{vhost}"
    finally:
        with contextlib.suppress(Unavailable, subprocess.TimeoutExpired):
            _rabbitmqctl("delete_vhost", vhost)


class Unavailable(Exception):
    """The broker cannot be used here; the test is skipped with this reason."""


@contextlib.contextmanager
def broker_url(kind: str) -> Iterator[str | None]:
    """`None` (PostgreSQL, the default) or a namespaced Redis / RabbitMQ URL; raises
    `Unavailable` when the service is absent."""
    if kind == "postgres":
        yield None
    elif kind == "redis":
        with redis_namespace() as url:
            yield url
    else:
        with rabbitmq_namespace() as url:
            yield url


def _signing_key_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def deployment(owner_url: str, workdir: Path) -> Deployment:
    """One configuration for every process, as replicas on several machines would share
    it: the signing key and the webhook key in the environment, not in a data directory.
    The API processes do not relay the outbox (`PRM_RELAY_OUTBOX_IN_API=false`), so they
    need no broker and serve every broker variant; the scheduler sweeps the outbox."""
    env = {
        "PRM_DATABASE_URL": owner_url,
        "PRM_JWT_PRIVATE_KEY": _signing_key_pem(),
        "PRM_WEBHOOK_SECRET_KEY": Fernet.generate_key().decode(),
        "PRM_LOG_LEVEL": "WARNING",
        "PRM_OUTBOX_POLL_SECONDS": "0.2",
        "PRM_RELAY_OUTBOX_IN_API": "false",
        "PRM_WORKER_THREADS": "4",
    }
    settings = Settings(
        database_url=owner_url,
        data_dir=workdir / "test",
        jwt_private_key=env["PRM_JWT_PRIVATE_KEY"],
        webhook_secret_key=env["PRM_WEBHOOK_SECRET_KEY"],
        log_level="WARNING",
        db_pool_size=20,
    )
    return Deployment(owner_url, env, workdir, settings)


def _prm() -> str:
    """The `prm` entry point installed beside this interpreter."""
    script = Path(sys.executable).parent / "prm"
    return str(script) if script.exists() else "prm"


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
    deadline = time.monotonic() + 20
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _wait_healthy(bases: list[str], processes: list[subprocess.Popen[bytes]]) -> None:
    pending = set(bases)
    deadline = time.monotonic() + STARTUP_SECONDS
    while pending and time.monotonic() < deadline:
        for process in processes:
            if process.poll() is not None:
                raise RuntimeError(f"{process.args!r} exited with {process.returncode}")
        for base in list(pending):
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    pending.discard(base)
        time.sleep(0.2)
    if pending:
        raise RuntimeError(f"servers did not start: {sorted(pending)}")


@contextlib.contextmanager
def _processes(
    deployment: Deployment, commands: dict[str, list[str]], extra: dict[str, str]
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Each named command as a child process (own data directory and log file); all
    terminated afterwards, killed if they do not stop in time."""
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("PRM_")}
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for name, args in commands.items():
            data_dir = deployment.workdir / name
            data_dir.mkdir(parents=True, exist_ok=True)
            env = {**base_env, **deployment.env, **extra, "PRM_DATA_DIR": str(data_dir)}
            with (deployment.workdir / f"{name}.log").open("wb") as log:
                processes.append(
                    subprocess.Popen(  # noqa: S603 - our own entry point
                        [_prm(), *args], env=env, stdout=log, stderr=subprocess.STDOUT
                    )
                )
        yield processes
    finally:
        _stop(processes)


@contextlib.contextmanager
def running_api(deployment: Deployment) -> Iterator[tuple[str, str]]:
    """Two `prm serve` processes on two ports; yields their base URLs once healthy."""
    ports = (_free_port(), _free_port())
    commands = {
        f"api{n}": ["serve", "--no-jobs", "--host", "127.0.0.1", "--port", str(port)]
        for n, port in enumerate(ports)
    }
    with _processes(deployment, commands, {}) as processes:
        bases = [f"http://127.0.0.1:{port}" for port in ports]
        _wait_healthy(bases, processes)
        yield bases[0], bases[1]


@contextlib.contextmanager
def running_jobs(deployment: Deployment, kind: str, broker: str | None) -> Iterator[None]:
    """Two `prm worker` and one `prm scheduler` on `broker` (None: PostgreSQL)."""
    extra = {"PRM_BROKER_URL": broker} if broker else {}
    commands = {
        f"{kind}-worker0": ["worker"],
        f"{kind}-worker1": ["worker"],
        f"{kind}-scheduler": ["scheduler"],
    }
    with _processes(deployment, commands, extra):
        yield
