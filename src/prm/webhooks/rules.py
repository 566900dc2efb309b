"""What an endpoint may be and how deliveries are retried: the constants and the
statements both the API (async) and the workers (sync) run."""

from __future__ import annotations

import ipaddress
import random
import socket
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import Delete, Update, case, delete, func, literal, select, update

from prm.errors import InvalidInput
from prm.events.bus import EVENT_TYPES
from prm.settings import Settings
from prm.webhooks.models import DeliveryDue, DeliveryStatus, WebhookDelivery

MAX_URL_LENGTH = 2000
MAX_DESCRIPTION_LENGTH = 500
MAX_ENDPOINTS_PER_TENANT = 50
MAX_ATTEMPTS = 8
"""Attempts per delivery before it is FAILED (about 2 hours of retries in all)."""
FIRST_RETRY = timedelta(seconds=30)
MAX_RETRY_DELAY = timedelta(hours=1)
DISABLE_AFTER_FAILURES = 20
"""Consecutive failed attempts (any delivery) after which an endpoint is disabled."""
MANUAL_DISABLE_REASON = "disabled by an admin"


def retry_delay(attempts: int, rng: random.Random | None = None) -> timedelta:
    """How long to wait after the `attempts`-th failed attempt: 30 s · 2^(attempts-1),
    capped at an hour, less up to a quarter at random (jitter: endpoints that failed
    together, e.g. in one outage, do not all retry in the same second)."""
    base = min(FIRST_RETRY * 2 ** max(attempts - 1, 0), MAX_RETRY_DELAY)
    return base * (1 - 0.25 * (rng or random).random())


def clean_url(url: str, settings: Settings) -> str:
    """The endpoint URL, trimmed, or `InvalidInput` on field `url`: https (http only
    where the settings allow it: development), a host, no credentials, bounded length."""
    url = url.strip()
    if not url:
        raise InvalidInput("url is required", field="url")
    if len(url) > MAX_URL_LENGTH:
        raise InvalidInput(f"url is longer than {MAX_URL_LENGTH} characters", field="url")
    if any(ch.isspace() or ord(ch) < 0x20 for ch in url):
        raise InvalidInput("url must not contain whitespace", field="url")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError on a malformed port)
    except ValueError:
        raise InvalidInput("url is malformed", field="url") from None
    scheme = parts.scheme.lower()
    allowed = ("https", "http") if settings.http_webhooks_allowed else ("https",)
    if scheme not in allowed:
        raise InvalidInput(
            "url must use https" if scheme == "http" else "url must be an https URL", field="url"
        )
    if not parts.hostname:
        raise InvalidInput("url must name a host", field="url")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise InvalidInput("url must not contain credentials", field="url")
    if parts.fragment:
        raise InvalidInput("url must not have a fragment", field="url")
    if not settings.private_webhooks_allowed and _private_literal(parts.hostname):
        raise InvalidInput("url must name a public host", field="url")
    return url


def _non_public(address: str) -> bool:
    return not ipaddress.ip_address(address.split("%")[0]).is_global


def _private_literal(host: str) -> bool:
    """`localhost`, or an IP address that is not globally routable."""
    if host.lower() == "localhost" or host.lower().endswith(".localhost"):
        return True
    try:
        return _non_public(host)
    except ValueError:
        return False  # a name: checked when it is resolved, at each delivery


def resolves_privately(host: str) -> bool:
    """Whether `host` resolves to any address that is not globally routable (checked
    before each delivery, so a name re-pointed at an internal address is refused too).
    An unresolvable name is not private: the send then fails like any unreachable host."""
    if _private_literal(host):
        return True
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return any(_non_public(str(info[4][0])) for info in infos)


def clean_event_types(types: Iterable[str]) -> list[str]:
    """The distinct known event types, in the order given; `InvalidInput` on field
    `eventTypes` for an empty list or an unknown name."""
    cleaned: list[str] = []
    for name in types:
        name = name.strip()
        if name not in EVENT_TYPES:
            raise InvalidInput(f"unknown event type {name!r}", field="eventTypes")
        if name not in cleaned:
            cleaned.append(name)
    if not cleaned:
        raise InvalidInput("subscribe to at least one event type", field="eventTypes")
    return cleaned


def clean_description(description: str | None) -> str | None:
    if description is None or not description.strip():
        return None
    if len(description.strip()) > MAX_DESCRIPTION_LENGTH:
        raise InvalidInput(
            f"description is longer than {MAX_DESCRIPTION_LENGTH} characters", field="description"
        )
    return description.strip()


def fail_pending(
    tenant_id: uuid.UUID, endpoint_id: uuid.UUID, reason: str
) -> Sequence[Delete | Update]:
    """Give up every PENDING delivery of an endpoint (it was disabled): take them off
    the due list and mark them FAILED with `reason`. Run in order, in one transaction."""
    pending = select(WebhookDelivery.id).where(
        WebhookDelivery.tenant_id == tenant_id,
        WebhookDelivery.endpoint_id == endpoint_id,
        WebhookDelivery.status == DeliveryStatus.PENDING,
    )
    return (
        delete(DeliveryDue).where(
            DeliveryDue.tenant_id == tenant_id,
            DeliveryDue.delivery_id.in_(pending.scalar_subquery()),
        ),
        update(WebhookDelivery)
        .where(
            WebhookDelivery.tenant_id == tenant_id,
            WebhookDelivery.endpoint_id == endpoint_id,
            WebhookDelivery.status == DeliveryStatus.PENDING,
        )
        .values(
            status=DeliveryStatus.FAILED,
            next_attempt_at=None,
            last_error=case(
                (WebhookDelivery.last_error.is_(None), literal(reason[:1000])),
                else_=func.left(WebhookDelivery.last_error + "; " + reason, 1000),
            ),
        ),
    )


def disable_reason(failures: int, now: datetime) -> str:
    return f"{failures} consecutive failed deliveries (last at {now.isoformat()})"
