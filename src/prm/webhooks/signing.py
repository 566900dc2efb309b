"""Signing deliveries, and verifying them on the receiving side.

Every delivery is a POST whose body is the event as JSON, with:

- `X-Prm-Event-Id`: the event's id, the same on every retry (de-duplicate on it);
- `X-Prm-Event-Type`: e.g. `lead.offered`;
- `X-Prm-Timestamp`: when this attempt was signed, in unix seconds;
- `X-Prm-Signature`: `v1=` and the hex HMAC-SHA256, keyed with the endpoint's secret
  (the whole `whsec_…` string, as UTF-8), of `f"{timestamp}.{body}"`.

A receiver verifies with the raw body bytes (before any JSON parsing) and rejects a
timestamp more than 5 minutes from its own clock: a captured request replayed later
then fails, because the timestamp is inside the signed message. For example, with only
the standard library:

    import hashlib, hmac, time

    def verify(secret: str, body: bytes, timestamp: str, signature: str) -> bool:
        if abs(time.time() - int(timestamp)) > 300:
            return False  # too old (or too far ahead): a replay
        expected = hmac.new(
            secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256
        ).hexdigest()
        given = [part[3:] for part in signature.split(",") if part.startswith("v1=")]
        return any(hmac.compare_digest(expected, candidate) for candidate in given)

`verify` below is that function (a receiver written in Python may import it).
Then answer 2xx quickly; anything else, or no answer within the timeout, is retried.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_VERSION = "v1"
TOLERANCE_SECONDS = 300
"""How far a receiver should accept the timestamp from its own clock (replay window)."""


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The `X-Prm-Signature` header value for `body` sent at `timestamp`."""
    message = str(timestamp).encode() + b"." + body
    digest = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_VERSION}={digest}"


def verify(
    secret: str,
    body: bytes,
    timestamp: str,
    header: str,
    *,
    now: float | None = None,
    tolerance: int = TOLERANCE_SECONDS,
) -> bool:
    """Whether a received delivery is authentic and fresh (see the module doc)."""
    try:
        sent = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs((time.time() if now is None else now) - sent) > tolerance:
        return False
    expected = signature(secret, sent, body).partition("=")[2]
    given = [
        part.strip()[len(SIGNATURE_VERSION) + 1 :]
        for part in header.split(",")
        if part.strip().startswith(f"{SIGNATURE_VERSION}=")
    ]
    return any(hmac.compare_digest(expected, candidate) for candidate in given)
