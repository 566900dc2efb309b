"""`prm serve` as a newcomer runs it: no database configured, so it starts the embedded
PostgreSQL, migrates, creates the demo tenant, serves GraphQL, and keeps the data across a
restart. Runs the real command in a child process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from prm.demo import DEMO_PASSWORD


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def prm_serve(data_dir: Path) -> Iterator[str]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRM_")}
    env.update({"PRM_DATA_DIR": str(data_dir), "PRM_LOG_LEVEL": "WARNING"})
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-c", "from prm.cli import main; main()", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise AssertionError(
                    f"prm serve exited: {process.stdout.read() if process.stdout else ''}"
                )
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        else:
            raise AssertionError("prm serve did not become ready")
        yield base
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def sign_in(base: str) -> str:
    response = httpx.post(
        f"{base}/oauth/token",
        data={
            "grant_type": "password",
            "tenant": "demo",
            "username": "admin@demo.example",
            "password": DEMO_PASSWORD,
        },
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def postmaster_running(pgdata: Path) -> bool:
    pid_file = pgdata / "postmaster.pid"
    if not pid_file.exists():
        return False
    pid = int(pid_file.read_text().splitlines()[0])
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_newcomer_gets_graphql_graphiql_and_the_demo_tenant_and_data_survives_restart(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    data_dir = tmp_path_factory.mktemp("serve")
    data_dir.chmod(0o755)  # the embedded server may run as its own system user
    with prm_serve(data_dir) as base:
        token = sign_in(base)
        me = httpx.post(
            f"{base}/graphql",
            json={"query": "{ me { roles tenant { name } } }"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert me.json() == {"data": {"me": {"roles": ["ADMIN"], "tenant": {"name": "Demo Corp"}}}}
        graphiql = httpx.get(f"{base}/graphql", headers={"Accept": "text/html"}, timeout=30)
        assert graphiql.status_code == 200
        assert "graphiql" in graphiql.text.lower()
    assert not postmaster_running(data_dir / "pgdata"), "the embedded server stops on exit"

    with prm_serve(data_dir) as base:
        sign_in(base)  # the demo tenant and its users survived the restart
