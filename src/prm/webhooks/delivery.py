"""Sending deliveries: the scheduler's scan, the `webhooks.deliver` job, one attempt.

Flow. `emit` writes a PENDING delivery and its `webhook_delivery_due` row. Every
`DELIVERY_SCAN_INTERVAL` the scheduler leader runs `enqueue_due_deliveries`: per tenant
with due rows, it takes up to `BATCH` of them (`FOR UPDATE SKIP LOCKED`), pushes their
`due_at` a `LEASE` ahead and enqueues one `webhooks.deliver` job per delivery, naming
the attempt it is for, in that same transaction (so a due row is never lost: if the job
never runs, the lease runs out and the next scan enqueues it again).

One job per delivery rather than per batch: one slow or dead receiver (up to the
timeout per attempt) then holds one worker thread, not a batch of other tenants'
deliveries, and the job machinery's retries, time limits and metrics apply per send.

The job (`deliver`) runs `attempt_delivery` in its transaction: the delivery row is
locked `FOR UPDATE SKIP LOCKED` for the whole attempt, so two workers never send the
same attempt (the second skips), and a job for an attempt already made (a duplicate,
or a re-enqueue after the lease) finds `attempts` moved on and does nothing. The HTTP
outcome is committed with the job; should that commit fail after a send, the attempt
is sent again: delivery is at least once, and receivers de-duplicate on
`X-Prm-Event-Id`.

Outcome: a 2xx is SUCCEEDED (and clears the endpoint's failure count). Anything else
(status, timeout, refused connection; redirects are not followed) counts an attempt and
a consecutive endpoint failure and schedules a retry after `retry_delay`; after
`MAX_ATTEMPTS` the delivery is FAILED; after `DISABLE_AFTER_FAILURES` consecutive
failures the endpoint is disabled and its pending deliveries FAILED.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from prm.auth.principal import Principal
from prm.db.engine import Database
from prm.settings import Settings, get_settings
from prm.webhooks.models import DeliveryDue, DeliveryStatus, WebhookDelivery, WebhookEndpoint
from prm.webhooks.rules import (
    DISABLE_AFTER_FAILURES,
    MAX_ATTEMPTS,
    disable_reason,
    fail_pending,
    resolves_privately,
    retry_delay,
)
from prm.webhooks.secrets import secret_box
from prm.webhooks.signing import signature

log = logging.getLogger(__name__)

DELIVER = "webhooks.deliver"
DELIVERY_SCAN_INTERVAL = timedelta(seconds=2)
BATCH = 500
LEASE = timedelta(minutes=15)
"""Longer than a job may take (its retries included) before the scan asks again."""
USER_AGENT = "prm-webhooks/1"


@dataclass(frozen=True)
class Attempt:
    """What one attempt did (None from `attempt_delivery`: nothing was sent)."""

    delivery_id: uuid.UUID
    status: DeliveryStatus
    status_code: int | None
    error: str | None
    next_attempt_at: datetime | None
    endpoint_disabled: bool = False


def enqueue_due_deliveries(
    database: Database, *, now: datetime | None = None, batch: int = BATCH
) -> int:
    """The scheduler task (see the module doc); returns the number of jobs enqueued."""
    from prm.workers.jobs import enqueue_job_sync

    now = now or datetime.now(UTC)
    with database.sync_session() as session:
        tenants = list(
            session.scalars(
                select(DeliveryDue.tenant_id)
                .where(DeliveryDue.due_at <= now)
                .group_by(DeliveryDue.tenant_id)
            )
        )
    enqueued = 0
    for tenant_id in tenants:
        with database.sync_session(tenant_id) as session:
            taken = (
                select(DeliveryDue.delivery_id)
                .where(DeliveryDue.tenant_id == tenant_id, DeliveryDue.due_at <= now)
                .order_by(DeliveryDue.due_at)
                .limit(batch)
                .with_for_update(skip_locked=True)
            )
            ids = list(
                session.scalars(
                    update(DeliveryDue)
                    .where(
                        DeliveryDue.tenant_id == tenant_id,
                        DeliveryDue.delivery_id.in_(taken.scalar_subquery()),
                    )
                    .values(due_at=now + LEASE)
                    .returning(DeliveryDue.delivery_id)
                )
            )
            if not ids:
                continue
            pending = {
                pk: attempts
                for pk, attempts in session.execute(
                    select(WebhookDelivery.id, WebhookDelivery.attempts).where(
                        WebhookDelivery.tenant_id == tenant_id,
                        WebhookDelivery.id.in_(ids),
                        WebhookDelivery.status == DeliveryStatus.PENDING,
                    )
                )
            }
            stale = [pk for pk in ids if pk not in pending]
            if stale:  # finished meanwhile: nothing to send
                session.execute(
                    delete(DeliveryDue).where(
                        DeliveryDue.tenant_id == tenant_id, DeliveryDue.delivery_id.in_(stale)
                    )
                )
            principal = Principal.system(tenant_id)
            for delivery_id, attempts in pending.items():
                enqueue_job_sync(
                    session,
                    principal,
                    DELIVER,
                    {"delivery_id": str(delivery_id), "attempt": attempts + 1},
                )
                enqueued += 1
    if enqueued:
        log.info("webhooks: enqueued %d deliveries", enqueued)
    return enqueued


def deliver(
    session: Session, principal: Principal, *, delivery_id: str, attempt: int
) -> dict[str, Any]:
    """The `webhooks.deliver` job: attempt number `attempt` of one delivery."""
    outcome = attempt_delivery(
        session,
        principal.tenant_id,
        uuid.UUID(delivery_id),
        attempt=attempt,
        settings=get_settings(),
    )
    if outcome is None:
        return {"sent": False}
    return {"sent": True, "status": outcome.status.value, "statusCode": outcome.status_code}


_clients: dict[float, httpx.Client] = {}
_clients_lock = threading.Lock()


def _client(timeout: float) -> httpx.Client:
    """One pooled client per timeout for the process (httpx clients are thread-safe)."""
    with _clients_lock:
        client = _clients.get(timeout)
        if client is None:
            client = httpx.Client(
                timeout=timeout,
                follow_redirects=False,
                trust_env=False,
                headers={"User-Agent": USER_AGENT},
            )
            _clients[timeout] = client
        return client


def _send(
    client: httpx.Client, url: str, body: bytes, headers: dict[str, str]
) -> tuple[int | None, str | None]:
    """POST without reading the answer's body; (status code, error) with error None on 2xx."""
    try:
        with client.stream("POST", url, content=body, headers=headers) as response:
            code = response.status_code
    except httpx.HTTPError as error:
        return None, (f"{type(error).__name__}: {error}" if str(error) else type(error).__name__)
    if 200 <= code < 300:
        return code, None
    return code, f"HTTP {code}"


def attempt_delivery(
    session: Session,
    tenant_id: uuid.UUID,
    delivery_id: uuid.UUID,
    *,
    settings: Settings,
    attempt: int | None = None,
    now: datetime | None = None,
    client: httpx.Client | None = None,
    rng: random.Random | None = None,
) -> Attempt | None:
    """Send a PENDING delivery once and record the outcome (see the module doc). None,
    sending nothing, if it is not PENDING, is locked by another worker, or (`attempt`
    given) has already had that attempt. `now` is when the attempt counts as made (for
    the retry schedule); the signed timestamp is always the real clock."""
    now = now or datetime.now(UTC)
    row = session.execute(
        select(WebhookDelivery, WebhookEndpoint)
        .join(
            WebhookEndpoint,
            (WebhookEndpoint.tenant_id == WebhookDelivery.tenant_id)
            & (WebhookEndpoint.id == WebhookDelivery.endpoint_id),
        )
        .where(
            WebhookDelivery.tenant_id == tenant_id,
            WebhookDelivery.id == delivery_id,
            WebhookDelivery.status == DeliveryStatus.PENDING,
        )
        .with_for_update(of=WebhookDelivery, skip_locked=True)
    ).first()
    if row is None:
        return None
    delivery, endpoint = row
    if attempt is not None and delivery.attempts + 1 != attempt:
        return None
    if not endpoint.active:  # disabled after this was scheduled
        for statement in fail_pending(tenant_id, endpoint.id, "endpoint disabled"):
            session.execute(statement)
        return Attempt(delivery_id, DeliveryStatus.FAILED, None, "endpoint disabled", None, True)

    body = json.dumps(delivery.payload, separators=(",", ":")).encode()
    code: int | None = None
    failure: str | None = None
    secret = ""
    host = urlsplit(endpoint.url).hostname or ""
    try:
        secret = secret_box(settings).decrypt(endpoint.secret_encrypted)
    except ValueError as error:
        failure = str(error)
    else:
        if not settings.private_webhooks_allowed and resolves_privately(host):
            failure = f"refused: {host} resolves to a non-public address"
    if failure is None:
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "X-Prm-Event-Id": str(delivery.event_id),
            "X-Prm-Event-Type": delivery.event_type,
            "X-Prm-Timestamp": str(timestamp),
            "X-Prm-Signature": signature(secret, timestamp, body),
        }
        code, failure = _send(
            client or _client(settings.webhook_timeout_seconds), endpoint.url, body, headers
        )
    attempts = delivery.attempts + 1
    delivery.attempts = attempts
    delivery.last_attempt_at = now
    delivery.last_status_code = code
    delivery.last_error = failure[:1000] if failure else None
    if failure is None:
        return _succeeded(session, delivery, endpoint, code, now)
    return _failed(session, delivery, endpoint, code, failure, now, rng)


def _succeeded(
    session: Session,
    delivery: WebhookDelivery,
    endpoint: WebhookEndpoint,
    code: int | None,
    now: datetime,
) -> Attempt:
    delivery.status = DeliveryStatus.SUCCEEDED
    delivery.delivered_at = now
    delivery.next_attempt_at = None
    session.execute(_undue(delivery))
    session.execute(
        update(WebhookEndpoint)
        .where(
            WebhookEndpoint.tenant_id == endpoint.tenant_id,
            WebhookEndpoint.id == endpoint.id,
            WebhookEndpoint.failure_count != 0,
        )
        .values(failure_count=0)
    )
    session.flush()
    return Attempt(delivery.id, DeliveryStatus.SUCCEEDED, code, None, None)


def _failed(
    session: Session,
    delivery: WebhookDelivery,
    endpoint: WebhookEndpoint,
    code: int | None,
    failure: str,
    now: datetime,
    rng: random.Random | None,
) -> Attempt:
    if delivery.attempts >= MAX_ATTEMPTS:
        delivery.status = DeliveryStatus.FAILED
        delivery.next_attempt_at = None
        session.execute(_undue(delivery))
    else:
        delivery.next_attempt_at = now + retry_delay(delivery.attempts, rng)
        session.execute(
            update(DeliveryDue)
            .where(
                DeliveryDue.tenant_id == delivery.tenant_id,
                DeliveryDue.delivery_id == delivery.id,
            )
            .values(due_at=delivery.next_attempt_at)
        )
    session.flush()
    failures = session.scalar(
        update(WebhookEndpoint)
        .where(WebhookEndpoint.tenant_id == endpoint.tenant_id, WebhookEndpoint.id == endpoint.id)
        .values(failure_count=WebhookEndpoint.failure_count + 1)
        .returning(WebhookEndpoint.failure_count)
    )
    disabled = False
    if failures is not None and failures >= DISABLE_AFTER_FAILURES:
        reason = disable_reason(failures, now)
        disabled = bool(
            session.execute(
                update(WebhookEndpoint)
                .where(
                    WebhookEndpoint.tenant_id == endpoint.tenant_id,
                    WebhookEndpoint.id == endpoint.id,
                    WebhookEndpoint.active.is_(True),
                )
                .values(active=False, disabled_at=now, disabled_reason=reason)
                .returning(WebhookEndpoint.id)
            ).first()
        )
        if disabled:
            log.warning("webhook endpoint %s disabled: %s", endpoint.id, reason)
            for statement in fail_pending(delivery.tenant_id, endpoint.id, "endpoint disabled"):
                session.execute(statement)
    session.refresh(delivery)
    return Attempt(
        delivery.id,
        delivery.status,
        code,
        failure,
        delivery.next_attempt_at,
        endpoint_disabled=disabled,
    )


def _undue(delivery: WebhookDelivery) -> Any:
    return delete(DeliveryDue).where(
        DeliveryDue.tenant_id == delivery.tenant_id, DeliveryDue.delivery_id == delivery.id
    )
