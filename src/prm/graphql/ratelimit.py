"""Request rate limits per bearer token and per client address (`RATE_LIMITED`, HTTP 429).

Built on the `limits` package (moving windows of one minute). Counters live in memory,
per process, unless `PRM_RATE_LIMIT_STORAGE_URL=redis://…` names a store every process
shares; with N in-memory processes behind a balancer a client gets up to N times the
limit. A limit of 0 disables it. If the shared store is unreachable the request is let
through (and a warning logged): a rate limiter must not turn a Redis outage into an API
outage.

Tokens are counted by a digest, never stored as is. Addresses are keyed like the login
throttle's (`prm.auth.rate_limit.address_key`: IPv6 per /64); behind a proxy the address
is what uvicorn's `--proxy-headers` reports.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, RateLimitItemPerMinute
from limits.aio.strategies import MovingWindowRateLimiter as AsyncMovingWindow
from limits.storage import storage_from_string

from prm.auth.rate_limit import address_key
from prm.settings import Settings

log = logging.getLogger("prm.ratelimit")


def _storage_uri(url: str | None) -> str:
    """`limits`' URI of the async variant of the configured store."""
    uri = url or "memory://"
    return uri if uri.startswith("async+") else f"async+{uri}"


@functools.lru_cache(maxsize=8)
def _async_strategy(url: str | None) -> AsyncMovingWindow:
    """One store per URL and process, shared by every app the process builds."""
    options: dict[str, float | str | bool] = {}
    if url and url.startswith(("redis", "rediss")):
        options["implementation"] = "redispy"  # the `redis` package prm already depends on
    return AsyncMovingWindow(storage_from_string(_storage_uri(url), **options))


def _per_minute(limit: int) -> RateLimitItem | None:
    return RateLimitItemPerMinute(limit) if limit > 0 else None


def token_key(authorization: str | None) -> str | None:
    """The key of a bearer token (a digest: stores never hold credentials)."""
    if not authorization:
        return None
    digest = hashlib.sha256(authorization.strip().encode()).hexdigest()[:32]
    return f"token:{digest}"


def _seconds_until(reset_at: float) -> int:
    return max(1, math.ceil(reset_at - time.time()))


@dataclass(frozen=True)
class RequestLimiter:
    """The `/graphql` limits: `retry_after` counts one request and says how long to wait
    (None: go ahead). The address is checked first, so a flood of made-up tokens from
    one address is still stopped."""

    strategy: AsyncMovingWindow
    per_token: RateLimitItem | None
    per_address: RateLimitItem | None
    namespace: str = "graphql"

    @classmethod
    def from_settings(cls, settings: Settings) -> RequestLimiter:
        return cls(
            strategy=_async_strategy(settings.rate_limit_storage_url),
            per_token=_per_minute(settings.rate_limit_per_token),
            per_address=_per_minute(settings.rate_limit_per_address),
        )

    async def retry_after(self, *, authorization: str | None, address: str | None) -> int | None:
        checks = [
            (self.per_address, address_key(address)),
            (self.per_token, token_key(authorization)),
        ]
        try:
            for item, key in checks:
                if item is None or key is None:
                    continue
                if not await self.strategy.hit(item, self.namespace, key):
                    reset_at, _ = await self.strategy.get_window_stats(item, self.namespace, key)
                    return _seconds_until(reset_at)
        except Exception:  # the shared store is down: let the request through
            log.warning("rate limit store unavailable; request not limited", exc_info=True)
        return None
