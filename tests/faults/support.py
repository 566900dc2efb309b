"""Child processes for fault tests: real `prm` commands we can kill, and clean-up that
never leaves one behind."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path


def prm_env(owner_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a `prm` process on the test database."""
    return {
        **os.environ,
        "PRM_DATABASE_URL": owner_url,
        "PRM_DATA_DIR": str(data_dir),
        "PRM_LOG_LEVEL": "WARNING",
        "PRM_LOG_JSON": "false",
        **extra,
    }


@contextlib.contextmanager
def child(args: list[str], env: Mapping[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    """Run `python args…`; whatever is still running at the end is killed."""
    process = subprocess.Popen([sys.executable, *args], env=dict(env))  # noqa: S603 - our own interpreter
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
