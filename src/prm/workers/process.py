"""Process plumbing shared by `prm worker` and `prm scheduler`."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

log = logging.getLogger(__name__)

STOP_TIMEOUT_MS = 30_000
"""How long a stopping worker lets in-flight jobs finish before handing them back."""


def wait_for_signal() -> None:
    """Block the main thread until SIGINT or SIGTERM."""
    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        log.info("received signal %d, shutting down", signum)
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        # Wake every second so the main thread runs signal handlers promptly.
        while not stop.wait(1.0):
            continue
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
