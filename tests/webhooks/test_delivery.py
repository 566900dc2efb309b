"""Sending deliveries to a real receiver on loopback: signed bodies, the retry schedule
(with an injected clock), success after failures, giving up, disabling an endpoint
after repeated failure, and never sending one attempt twice."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text

from prm.db.engine import Database
from prm.settings import Settings
from prm.webhooks import service
from prm.webhooks.delivery import DELIVER, attempt_delivery, enqueue_due_deliveries
from prm.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from prm.webhooks.signing import verify
from prm.workers.actors import run_job
from prm.workers.models import Job, JobStatus
from tests.factories import TenantWithAdmin, make_tenant, principal_of
from tests.webhooks.support import (
    Receiver,
    deliveries,
    due_rows,
    emit_event,
    endpoint_row,
)

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


async def register(
    database: Database,
    settings: Settings,
    tenant: TenantWithAdmin,
    url: str,
    types: tuple[str, ...] = ("lead.offered",),
) -> tuple[uuid.UUID, str]:
    async with database.session(tenant.id) as session:
        endpoint, secret = await service.create_endpoint(
            session,
            principal_of(tenant.admin),
            url=url,
            event_types=list(types),
            description=None,
            settings=settings,
        )
        return endpoint.id, secret


def attempt(
    database: Database, settings: Settings, tenant_id: uuid.UUID, pk: uuid.UUID, now: datetime
) -> object:
    with database.sync_session(tenant_id) as session:
        return attempt_delivery(session, tenant_id, pk, settings=settings, now=now)


def expected_delay_bounds(attempts: int) -> tuple[float, float]:
    """30 s doubling per failed attempt, capped at an hour, less up to 25 % jitter."""
    full = min(30.0 * 2 ** (attempts - 1), 3600.0)
    return 0.75 * full, full


@pytest.mark.asyncio
async def test_a_delivery_is_signed_and_verifiable_with_the_secret(
    database: Database, settings: Settings, receiver: Receiver
) -> None:
    tenant = await make_tenant(database)
    _, secret = await register(database, settings, tenant, receiver.url())
    happened = emit_event(database, tenant.id, leadId=str(uuid.uuid4()), companyName="Acme")
    [delivery] = deliveries(database, tenant.id)

    outcome = attempt(database, settings, tenant.id, delivery.id, T0)

    assert outcome is not None
    [request] = receiver.requests
    assert request.headers["content-type"] == "application/json"
    assert request.headers["x-prm-event-id"] == str(happened.id)
    assert request.headers["x-prm-event-type"] == "lead.offered"
    assert json.loads(request.body) == happened.body()
    timestamp = request.headers["x-prm-timestamp"]
    header = request.headers["x-prm-signature"]
    assert verify(secret, request.body, timestamp, header)
    assert not verify("whsec_wrong", request.body, timestamp, header)
    assert not verify(secret, request.body.replace(b"Acme", b"Evil"), timestamp, header)
    sent = int(timestamp)
    # replay protection: the signed timestamp is only accepted for 5 minutes
    assert verify(secret, request.body, timestamp, header, now=sent + 299)
    assert not verify(secret, request.body, timestamp, header, now=sent + 301)
    assert not verify(secret, request.body, str(sent + 400), header, now=sent + 400)

    [done] = deliveries(database, tenant.id)
    assert done.status is DeliveryStatus.SUCCEEDED
    assert (done.attempts, done.last_status_code, done.delivered_at) == (1, 200, T0)
    assert due_rows(database, tenant.id) == {}


@pytest.mark.asyncio
async def test_failures_back_off_exponentially_then_succeed_and_reset_the_count(
    database: Database, settings: Settings, receiver: Receiver
) -> None:
    tenant = await make_tenant(database)
    endpoint_id, _ = await register(database, settings, tenant, receiver.url())
    emit_event(database, tenant.id)
    [delivery] = deliveries(database, tenant.id)
    receiver.statuses = [500, 503]

    now = T0
    for failed in (1, 2):
        attempt(database, settings, tenant.id, delivery.id, now)
        [row] = deliveries(database, tenant.id)
        assert row.status is DeliveryStatus.PENDING
        assert (row.attempts, row.last_status_code) == (failed, receiver_status(failed))
        assert row.next_attempt_at is not None
        low, high = expected_delay_bounds(failed)
        assert low <= (row.next_attempt_at - now).total_seconds() <= high
        assert due_rows(database, tenant.id) == {delivery.id: row.next_attempt_at}
        assert endpoint_row(database, tenant.id, endpoint_id).failure_count == failed
        # not due before its time: the scan leaves it alone (no lease taken)
        enqueue_due_deliveries(database, now=row.next_attempt_at - timedelta(seconds=1))
        assert due_rows(database, tenant.id) == {delivery.id: row.next_attempt_at}
        now = row.next_attempt_at

    attempt(database, settings, tenant.id, delivery.id, now)
    [row] = deliveries(database, tenant.id)
    assert row.status is DeliveryStatus.SUCCEEDED
    assert (row.attempts, row.last_status_code, row.delivered_at) == (3, 200, now)
    assert len(receiver.requests) == 3
    assert {r.headers["x-prm-event-id"] for r in receiver.requests} == {str(row.event_id)}
    assert endpoint_row(database, tenant.id, endpoint_id).failure_count == 0


def receiver_status(attempts: int) -> int:
    return {1: 500, 2: 503}[attempts]


@pytest.mark.asyncio
async def test_a_delivery_gives_up_after_eight_attempts(
    database: Database, settings: Settings, receiver: Receiver
) -> None:
    tenant = await make_tenant(database)
    await register(database, settings, tenant, receiver.url())
    emit_event(database, tenant.id)
    [delivery] = deliveries(database, tenant.id)
    receiver.statuses = [500] * 20

    now = T0
    for made in range(1, 9):
        attempt(database, settings, tenant.id, delivery.id, now)
        [row] = deliveries(database, tenant.id)
        assert row.attempts == made
        if made < 8:
            assert row.status is DeliveryStatus.PENDING
            assert row.next_attempt_at is not None
            now = row.next_attempt_at
    assert row.status is DeliveryStatus.FAILED
    assert (row.next_attempt_at, row.last_error) == (None, "HTTP 500")
    assert due_rows(database, tenant.id) == {}
    assert attempt(database, settings, tenant.id, delivery.id, now + timedelta(days=1)) is None
    assert len(receiver.requests) == 8


@pytest.mark.asyncio
async def test_redirects_are_not_followed_and_unreachable_receivers_fail(
    database: Database, settings: Settings, receiver: Receiver
) -> None:
    tenant = await make_tenant(database)
    await register(database, settings, tenant, receiver.url())
    emit_event(database, tenant.id)
    receiver.statuses = [302]
    receiver.headers_for = {302: {"Location": receiver.url("/elsewhere")}}
    [delivery] = deliveries(database, tenant.id)

    attempt(database, settings, tenant.id, delivery.id, T0)

    [row] = deliveries(database, tenant.id)
    assert (row.status, row.last_status_code) == (DeliveryStatus.PENDING, 302)
    assert [r.path for r in receiver.requests] == ["/hook"]

    closed = await make_tenant(database)
    await register(database, settings, closed, "http://127.0.0.1:9/nothing-listens")
    emit_event(database, closed.id)
    [unreachable] = deliveries(database, closed.id)
    attempt(database, settings, closed.id, unreachable.id, T0)
    [row] = deliveries(database, closed.id)
    assert row.status is DeliveryStatus.PENDING
    assert (row.attempts, row.last_status_code) == (1, None)
    assert row.last_error


@pytest.mark.asyncio
async def test_an_endpoint_is_disabled_after_twenty_consecutive_failures(
    database: Database, settings: Settings, receiver: Receiver
) -> None:
    tenant = await make_tenant(database)
    endpoint_id, _ = await register(database, settings, tenant, receiver.url())
    for _ in range(4):
        emit_event(database, tenant.id)
    receiver.statuses = [500] * 100
    next_at = {d.id: T0 for d in deliveries(database, tenant.id)}

    failures = 0
    while failures < 20:
        for pk in list(next_at):
            attempt(database, settings, tenant.id, pk, next_at[pk])
            failures += 1
            row = next(d for d in deliveries(database, tenant.id) if d.id == pk)
            endpoint = endpoint_row(database, tenant.id, endpoint_id)
            if failures < 20:
                assert endpoint.active
                assert endpoint.failure_count == failures
                assert row.next_attempt_at is not None
                next_at[pk] = row.next_attempt_at
            if failures == 20:
                break

    endpoint = endpoint_row(database, tenant.id, endpoint_id)
    assert not endpoint.active
    assert endpoint.disabled_at is not None
    assert endpoint.disabled_reason
    assert {d.status for d in deliveries(database, tenant.id)} == {DeliveryStatus.FAILED}
    assert due_rows(database, tenant.id) == {}
    assert len(receiver.requests) == 20
    emit_event(database, tenant.id)  # a disabled endpoint gets no new deliveries
    assert len(deliveries(database, tenant.id)) == 4


@pytest.mark.asyncio
async def test_one_attempt_is_never_sent_twice(
    database: Database, settings: Settings, receiver: Receiver
) -> None:
    tenant = await make_tenant(database)
    await register(database, settings, tenant, receiver.url())
    emit_event(database, tenant.id)
    [delivery] = deliveries(database, tenant.id)

    # another worker holds the row: this one skips it instead of sending
    with database.sync_session(tenant.id) as holder:
        holder.execute(
            select(WebhookDelivery)
            .where(WebhookDelivery.tenant_id == tenant.id, WebhookDelivery.id == delivery.id)
            .with_for_update()
        )
        assert attempt(database, settings, tenant.id, delivery.id, T0) is None
    assert receiver.requests == []

    # a job for an attempt already made (a duplicate) sends nothing
    with database.sync_session(tenant.id) as session:
        made = attempt_delivery(session, tenant.id, delivery.id, settings=settings, attempt=1)
        assert made is not None
    with database.sync_session(tenant.id) as session:
        again = attempt_delivery(session, tenant.id, delivery.id, settings=settings, attempt=1)
        assert again is None
    assert len(receiver.requests) == 1


@pytest.mark.asyncio
async def test_the_scan_enqueues_one_job_per_due_delivery_and_the_job_sends_it(
    database: Database,
    settings: Settings,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("prm.webhooks.delivery.get_settings", lambda: settings)
    tenant = await make_tenant(database)
    _, secret = await register(database, settings, tenant, receiver.url())
    happened = emit_event(database, tenant.id)
    [delivery] = deliveries(database, tenant.id)

    assert enqueue_due_deliveries(database) >= 1
    # leased: a second scan does not ask again while the job is queued
    assert delivery.id in due_rows(database, tenant.id)
    with database.sync_session(tenant.id) as session:
        jobs = list(session.scalars(select(Job).where(Job.kind == DELIVER)))
        lease = session.scalar(
            text("SELECT due_at FROM webhook_delivery_due WHERE delivery_id = :id"),
            {"id": delivery.id},
        )
    assert lease > datetime.now(UTC) + timedelta(minutes=5)
    assert [job.args for job in jobs] == [{"delivery_id": str(delivery.id), "attempt": 1}]

    assert run_job(database, DELIVER, tenant.id, jobs[0].id) is JobStatus.SUCCEEDED

    [request] = receiver.requests
    assert request.headers["x-prm-event-id"] == str(happened.id)
    assert verify(
        secret, request.body, request.headers["x-prm-timestamp"], request.headers["x-prm-signature"]
    )
    assert deliveries(database, tenant.id)[0].status is DeliveryStatus.SUCCEEDED
    assert due_rows(database, tenant.id) == {}


@pytest.mark.asyncio
async def test_in_production_a_name_resolving_to_an_internal_address_is_not_sent_to(
    database: Database, settings: Settings, receiver: Receiver
) -> None:
    """A host that passed registration but now resolves inside the network (here
    `localhost`, written straight into the row as a re-pointed DNS name would be) gets
    nothing; the attempt fails like an unreachable one."""
    production = settings.model_copy(
        update={"environment": "production", "webhooks_allow_http": True}
    )
    tenant = await make_tenant(database)
    endpoint_id, _ = await register(database, settings, tenant, receiver.url())
    with database.sync_session(tenant.id) as session:
        row = session.get(WebhookEndpoint, (tenant.id, endpoint_id))
        assert row is not None
        row.url = f"http://localhost:{receiver.port}/hook"
    emit_event(database, tenant.id)
    [delivery] = deliveries(database, tenant.id)

    outcome = attempt(database, production, tenant.id, delivery.id, T0)

    assert outcome is not None
    assert receiver.requests == []
    [failed] = deliveries(database, tenant.id)
    assert (failed.status, failed.attempts) == (DeliveryStatus.PENDING, 1)
    assert failed.last_error == "refused: localhost resolves to a non-public address"
